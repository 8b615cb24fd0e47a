//! The WebSocket endpoint `/ws`: checks the token, then runs one task per session that reads
//! client frames (with size and rate limits), writes what the hub queued for it (in order,
//! each stored message once), answers heartbeats, closes idle sessions and sessions whose
//! token expired, and keeps a slow client from growing server memory (bounded queue, then
//! close 4008).

use std::{sync::Arc, time::Duration};

use axum::{
    extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade},
    response::Response,
};
use tokio::time::Instant;
use tracing::Instrument;

use super::{
    Im,
    hub::{Outbound, SessionLink},
    protocol::{PROTOCOL_VERSION, Welcome, close},
    session::Session,
};
use crate::{auth::AuthError, directory::StaffId};

/// How often a session checks its token and its idleness.
const TICK: Duration = Duration::from_secs(5);
/// How often the token is checked again (expiry, revocation, disabled person).
const TOKEN_CHECK: Duration = Duration::from_secs(30);
/// Frames written in one go before flushing.
const WRITE_BATCH: usize = 64;

/// Query parameters of `/ws`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct WsParams {
    /// The bearer token (browsers cannot set headers on WebSocket requests).
    pub token: Option<String>,
    /// A name for the device; a second session of the same device replaces the first.
    pub device: Option<String>,
    /// The protocol version the client speaks (default 1).
    pub v: Option<u32>,
}

/// Why a session cannot start: sent as a close code right after the upgrade, so every client
/// library sees the reason the same way.
fn refusal(
    im: &Im,
    token: Option<&str>,
    params: &WsParams,
) -> Result<(StaffId, String), (u16, String)> {
    if params.v.is_some_and(|v| v != PROTOCOL_VERSION) {
        return Err((
            close::UNSUPPORTED_VERSION,
            format!("this server speaks version {PROTOCOL_VERSION}"),
        ));
    }
    if im.draining() {
        return Err((close::GOING_AWAY, "the server is shutting down".into()));
    }
    let token = token.ok_or((close::UNAUTHORIZED, "missing token".to_owned()))?;
    let principal = im.auth.authenticate(token).map_err(|e| match e {
        AuthError::Expired => (close::TOKEN_EXPIRED, "token expired".to_owned()),
        other => (close::UNAUTHORIZED, other.to_string()),
    })?;
    let staff = principal.staff_id.ok_or((
        close::UNAUTHORIZED,
        "this account is not a person in the directory".to_owned(),
    ))?;
    let device: String = params
        .device
        .as_deref()
        .unwrap_or("default")
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    Ok((staff, device))
}

/// Upgrades the request and runs the session.
pub fn upgrade(
    im: Arc<Im>,
    ws: WebSocketUpgrade,
    params: WsParams,
    header_token: Option<String>,
) -> Response {
    let token = header_token.or_else(|| params.token.clone());
    let outcome = refusal(&im, token.as_deref(), &params);
    let max = im.config.max_frame_bytes;
    ws.read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(4 * 1024 * 1024)
        // A little slack, so a frame just over our limit reaches us and gets the documented
        // close code rather than a protocol error.
        .max_message_size(max + 1024)
        .max_frame_size(max + 1024)
        .on_upgrade(move |mut socket| async move {
            match outcome {
                Err((code, reason)) => {
                    tracing::debug!(code, %reason, "websocket refused");
                    close_socket(&mut socket, code, &reason).await;
                }
                Ok((staff, device)) => {
                    let token = token.unwrap_or_default();
                    run(im, socket, staff, device, token).await;
                }
            }
        })
}

/// Sends a close frame (without waiting long for a client that does not read).
pub async fn close_socket(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.to_owned()),
    }));
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = socket.send(frame).await;
        // Read (and drop) what the client still sends until its answering close: closing a
        // socket with unread data resets it, and the client might lose the close frame.
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while let Some(Ok(message)) = socket.recv().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    })
    .await;
}

fn close_reason(code: u16) -> &'static str {
    match code {
        close::GOING_AWAY => "server shutting down",
        close::TOO_BIG => "frame too large",
        close::IDLE => "idle timeout",
        close::TOKEN_EXPIRED => "token expired",
        close::UNAUTHORIZED => "unauthorized",
        close::REPLACED => "replaced by a newer session of this device",
        close::TOO_SLOW => "client too slow: outbound queue full",
        close::RATE_LIMITED => "rate limit exceeded",
        _ => "closing",
    }
}

async fn run(im: Arc<Im>, socket: WebSocket, staff: StaffId, device: String, token: String) {
    let (link, rx) = im.open_session(staff, device);
    let span = tracing::info_span!("ws", %staff, session = link.id, device = %link.device);
    async move {
        tracing::debug!("session open");
        let code = drive(im.clone(), socket, link.clone(), rx, token).await;
        im.close_session(&link);
        tracing::debug!(code, "session closed");
    }
    .instrument(span)
    .await;
}

/// The session loop; returns the close code.
async fn drive(
    im: Arc<Im>,
    mut socket: WebSocket,
    link: Arc<SessionLink>,
    mut rx: tokio::sync::mpsc::Receiver<Outbound>,
    token: String,
) -> u16 {
    let settings = im.settings();
    let welcome = super::protocol::to_text(&Welcome {
        frame_type: "welcome".into(),
        v: PROTOCOL_VERSION,
        session: link.id.to_string(),
        staff: link.staff,
        server_time: super::model::now_millis(),
        max_frame_bytes: im.config.max_frame_bytes,
        rate_per_sec: im.config.rate_per_sec,
        idle_secs: im.config.idle.as_secs(),
        recall_window_secs: settings.recall_window_secs,
        edit_window_secs: settings.edit_window_secs,
    });
    if socket
        .send(Message::Text(Utf8Bytes::from(welcome)))
        .await
        .is_err()
    {
        return close::NORMAL;
    }
    // A revocation that committed between the handshake's token check and this session
    // joining the hub was announced before the hub knew the session: check once more.
    match im.auth.authenticate(&token) {
        Ok(_) => {}
        Err(AuthError::Expired) => return close::TOKEN_EXPIRED,
        Err(_) => return close::UNAUTHORIZED,
    }
    let expires_at = token_expiry(&token);
    let mut session = Session::new(im.clone(), link.clone());
    let mut last_heard = Instant::now();
    let mut last_token_check = Instant::now();
    let mut pinged = false;
    let tick = tokio::time::sleep(TICK);
    tokio::pin!(tick);
    let code = loop {
        let may_read =
            link.inflight.load(std::sync::atomic::Ordering::Acquire) < im.config.max_inflight;
        tokio::select! {
            biased;
            () = link.closed() => break link.closing().unwrap_or(close::NORMAL),
            item = rx.recv() => {
                let Some(item) = item else { break close::NORMAL };
                if let Err(code) = write_batch(&mut socket, &link, &mut session, &mut rx, item).await {
                    break code;
                }
            }
            message = socket.recv(), if may_read => {
                let Some(message) = message else { break close::NORMAL };
                last_heard = Instant::now();
                pinged = false;
                let message = match message {
                    Ok(message) => message,
                    Err(error) => break read_error_code(&error),
                };
                match session.on_message(&mut socket, message).await {
                    Ok(()) => {}
                    Err(code) => break code,
                }
            }
            () = &mut tick => {
                tick.as_mut().reset(Instant::now() + TICK);
                let quiet = last_heard.elapsed();
                if quiet >= im.config.idle {
                    break close::IDLE;
                }
                if quiet >= im.config.idle / 2 && !pinged {
                    pinged = true;
                    let _ = socket.send(Message::Ping(Default::default())).await;
                }
                if expires_at.is_some_and(|exp| super::model::now_millis() / 1000 >= exp) {
                    break close::TOKEN_EXPIRED;
                }
                if last_token_check.elapsed() >= TOKEN_CHECK {
                    last_token_check = Instant::now();
                    match im.auth.authenticate(&token) {
                        Ok(_) => {}
                        Err(AuthError::Expired) => break close::TOKEN_EXPIRED,
                        Err(_) => break close::UNAUTHORIZED,
                    }
                }
            }
        }
    };
    close_socket(&mut socket, code, close_reason(code)).await;
    code
}

/// When a (verified) token expires, from its claims, so the session ends on time rather than
/// at the next periodic check.
fn token_expiry(token: &str) -> Option<i64> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let body = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
    serde_json::from_slice::<crate::auth::Claims>(&bytes)
        .ok()
        .map(|c| c.exp)
}

/// A read failed: an oversized frame gets 1009; anything else just ends the session.
fn read_error_code(error: &axum::Error) -> u16 {
    use tokio_tungstenite::tungstenite::{Error, error::CapacityError};
    let inner = std::error::Error::source(error);
    let capacity = inner
        .and_then(|e| e.downcast_ref::<Error>())
        .is_some_and(|e| matches!(e, Error::Capacity(CapacityError::MessageTooLong { .. })))
        || error.to_string().contains("Message too long")
        || error.to_string().contains("too long");
    if capacity {
        close::TOO_BIG
    } else {
        close::NORMAL
    }
}

/// Writes one queued item and whatever else is already queued, then flushes once.
async fn write_batch(
    socket: &mut WebSocket,
    link: &SessionLink,
    session: &mut Session,
    rx: &mut tokio::sync::mpsc::Receiver<Outbound>,
    first: Outbound,
) -> Result<(), u16> {
    let mut next = Some(first);
    let mut written = 0;
    while let Some(item) = next.take() {
        if let Some(text) = session.admit(item) {
            // `feed` buffers without flushing; a failure means the peer is gone.
            use futures_util::SinkExt;
            if socket.feed(Message::Text(text)).await.is_err() {
                return Err(close::NORMAL);
            }
            written += 1;
        }
        if written < WRITE_BATCH {
            next = rx.try_recv().ok();
        }
    }
    use futures_util::SinkExt;
    // A client that stops reading blocks the flush; the close signal still gets through.
    tokio::select! {
        result = socket.flush() => result.map_err(|_| close::NORMAL),
        () = link.closed() => Err(link.closing().unwrap_or(close::NORMAL)),
    }
}

/// Ends a person's open sessions the moment their tokens are revoked (logout, new password,
/// disabled, admin rights removed), with the documented close code 4003.
pub struct RevokedSessions(pub Arc<super::hub::Sessions>);

impl crate::auth::RevocationListener for RevokedSessions {
    fn revoked(&self, staff: StaffId) {
        self.0.each(staff, |link| link.close(close::UNAUTHORIZED));
    }
}
