//! One session's frame handling: parsing client frames (bad ones get an `error` frame, the
//! connection stays), the rate limit, sync, and the filter that writes every stored message
//! to the client once and in order.

use std::{collections::HashMap, sync::Arc};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use serde_json::Value;
use tokio::time::Instant;

use super::{
    Im,
    hub::{Outbound, SessionLink},
    model::{ConversationId, Sender, Seq},
    ops::Reply,
    protocol::{
        self, CLIENT_FRAME_TYPES, ClientFrame, ConversationsFrame, FrameHead, MessagesFrame,
        PresenceFrame, ReqId, SyncDone, close,
    },
};

/// A `messages` frame is cut when it grows past this (clients have frame limits too).
const MESSAGES_FRAME_BYTES: usize = 256 * 1024;
/// Frames over the rate limit tolerated in a row before the session is closed.
const STRIKES: u32 = 100;
/// Typing cues per conversation at most this often.
const TYPING_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Parses a client frame, or says precisely what is wrong with it.
pub fn parse(text: &str) -> Result<ClientFrame, (Option<ReqId>, &'static str, String)> {
    let error = match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) => return Ok(frame),
        Err(error) => error,
    };
    let Ok(head) = serde_json::from_str::<FrameHead>(text) else {
        return Err((None, "bad_frame", format!("not a JSON object: {error}")));
    };
    Err(match head.frame_type {
        None => (head.id, "bad_frame", "missing \"type\"".into()),
        Some(Value::String(t)) if !CLIENT_FRAME_TYPES.contains(&t.as_str()) => {
            (head.id, "unknown_type", format!("unknown frame type '{t}'"))
        }
        Some(Value::String(t)) => (head.id, "bad_frame", format!("bad '{t}' frame: {error}")),
        Some(_) => (head.id, "bad_frame", "\"type\" must be a string".into()),
    })
}

/// The per-session state the loop keeps.
pub struct Session {
    im: Arc<Im>,
    link: Arc<SessionLink>,
    /// Until the client syncs, live messages are not written (its sync will include them).
    synced: bool,
    /// The last seq written per conversation: a message at or below it is not written again.
    sent: HashMap<ConversationId, Seq>,
    tokens: f64,
    refilled: Instant,
    strikes: u32,
    typing: HashMap<ConversationId, Instant>,
}

impl Session {
    pub fn new(im: Arc<Im>, link: Arc<SessionLink>) -> Self {
        let burst = f64::from(im.config.rate_burst);
        Self {
            im,
            link,
            synced: false,
            sent: HashMap::new(),
            tokens: burst,
            refilled: Instant::now(),
            strikes: 0,
            typing: HashMap::new(),
        }
    }

    /// What to write for a queued item (`None`: nothing, it was already sent or not wanted).
    pub fn admit(&mut self, item: Outbound) -> Option<Utf8Bytes> {
        self.link.taken(&item);
        match item {
            Outbound::Frame(frame) => Some(frame),
            Outbound::Ack {
                conversation,
                seq,
                frame,
            } => {
                if self.synced {
                    let sent = self.sent.entry(conversation).or_insert(seq);
                    *sent = (*sent).max(seq);
                }
                Some(frame)
            }
            Outbound::Event {
                conversation,
                seq,
                frame,
                skip,
            } => {
                if !self.synced {
                    return None;
                }
                let sent = self.sent.entry(conversation).or_insert(seq - 1);
                if seq <= *sent {
                    return None;
                }
                *sent = seq;
                (skip != Some(self.link.id)).then_some(frame)
            }
        }
    }

    fn take_token(&mut self) -> bool {
        let now = Instant::now();
        let rate = f64::from(self.im.config.rate_per_sec);
        let burst = f64::from(self.im.config.rate_burst);
        self.tokens =
            (self.tokens + now.duration_since(self.refilled).as_secs_f64() * rate).min(burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    async fn write(&self, socket: &mut WebSocket, text: String) -> Result<(), u16> {
        socket
            .send(Message::Text(Utf8Bytes::from(text)))
            .await
            .map_err(|_| close::NORMAL)
    }

    async fn error(
        &self,
        socket: &mut WebSocket,
        id: Option<ReqId>,
        code: &str,
        message: String,
    ) -> Result<(), u16> {
        self.write(socket, protocol::error_frame(id, None, code, message))
            .await
    }

    /// Handles one message from the client; `Err` carries the close code.
    pub async fn on_message(
        &mut self,
        socket: &mut WebSocket,
        message: Message,
    ) -> Result<(), u16> {
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => {
                return self
                    .error(
                        socket,
                        None,
                        "bad_frame",
                        "binary frames are not supported; send JSON text".into(),
                    )
                    .await;
            }
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
            Message::Close(_) => return Err(close::NORMAL),
        };
        if text.len() > self.im.config.max_frame_bytes {
            return Err(close::TOO_BIG);
        }
        if !self.take_token() {
            self.strikes += 1;
            if self.strikes > STRIKES {
                return Err(close::RATE_LIMITED);
            }
            let id = serde_json::from_str::<FrameHead>(&text)
                .ok()
                .and_then(|h| h.id);
            return self
                .error(
                    socket,
                    id,
                    "rate_limited",
                    format!("at most {} frames per second", self.im.config.rate_per_sec),
                )
                .await;
        }
        self.strikes = 0;
        match parse(&text) {
            Ok(frame) => self.handle(socket, frame).await,
            Err((id, code, message)) => self.error(socket, id, code, message).await,
        }
    }

    async fn handle(&mut self, socket: &mut WebSocket, frame: ClientFrame) -> Result<(), u16> {
        let staff = self.link.staff;
        let im = self.im.clone();
        match frame {
            ClientFrame::Ping { id } => self.write(socket, protocol::reply("pong", id)).await,
            ClientFrame::Sync {
                id,
                cursors,
                recent,
            } => {
                let recent = i64::from(recent.unwrap_or(20).min(200));
                self.sync(socket, id, &cursors, recent).await
            }
            ClientFrame::Send(frame) => {
                self.link
                    .inflight
                    .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                let reply = Reply::Session {
                    link: self.link.clone(),
                    id: frame.id.clone(),
                    client_msg_id: Some(frame.client_msg_id.clone()),
                };
                im.send(Sender::Staff(staff), frame, reply).await;
                Ok(())
            }
            ClientFrame::Read {
                id,
                conversation,
                seq,
            } => match im.read(staff, conversation, seq) {
                Ok(()) if id.is_some() => self.write(socket, protocol::reply("ok", id)).await,
                Ok(()) => Ok(()),
                Err(e) => self.error(socket, id, e.code(), e.public_message()).await,
            },
            ClientFrame::Recall {
                id,
                conversation,
                seq,
            } => {
                self.link
                    .inflight
                    .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                let reply = Reply::Session {
                    link: self.link.clone(),
                    id,
                    client_msg_id: None,
                };
                im.recall(Sender::Staff(staff), conversation, seq, reply)
                    .await;
                Ok(())
            }
            ClientFrame::Edit {
                id,
                conversation,
                seq,
                body,
            } => {
                self.link
                    .inflight
                    .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                let reply = Reply::Session {
                    link: self.link.clone(),
                    id,
                    client_msg_id: None,
                };
                im.edit(staff, conversation, seq, &body, reply).await;
                Ok(())
            }
            ClientFrame::Typing { conversation } => {
                let now = Instant::now();
                if self
                    .typing
                    .get(&conversation)
                    .is_some_and(|t| now.duration_since(*t) < TYPING_EVERY)
                {
                    return Ok(());
                }
                if self.typing.len() > 1000 {
                    self.typing.clear();
                }
                self.typing.insert(conversation, now);
                match im.typing(staff, conversation) {
                    Ok(()) => Ok(()),
                    Err(e) => self.error(socket, None, e.code(), e.public_message()).await,
                }
            }
            ClientFrame::Presence { id, staff: ids } => {
                let items = im.presence(staff, &ids);
                let frame = PresenceFrame {
                    frame_type: "presence".into(),
                    id,
                    items,
                };
                self.write(socket, protocol::to_text(&frame)).await
            }
            ClientFrame::Action {
                id,
                conversation,
                seq,
                action,
                comment,
            } => {
                self.link
                    .inflight
                    .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                let reply = Reply::Session {
                    link: self.link.clone(),
                    id,
                    client_msg_id: None,
                };
                im.act(staff, conversation, seq, &action, comment.as_deref(), reply)
                    .await;
                Ok(())
            }
            ClientFrame::Conversations { id } => match im.summaries(staff).await {
                Ok(items) => {
                    let frame = ConversationsFrame {
                        frame_type: "conversations".into(),
                        id,
                        items,
                    };
                    self.write(socket, protocol::to_text(&frame)).await
                }
                Err(e) => self.error(socket, id, e.code(), e.public_message()).await,
            },
        }
    }

    /// Sends what the client missed, in order, then `sync.done` with the conversation list.
    /// Live messages queued meanwhile are written after, each only if newer than what the
    /// sync sent.
    async fn sync(
        &mut self,
        socket: &mut WebSocket,
        id: Option<ReqId>,
        cursors: &HashMap<ConversationId, Seq>,
        recent: i64,
    ) -> Result<(), u16> {
        self.synced = true;
        self.sent.clear();
        let ranges = self.im.sync_ranges(self.link.staff, cursors, recent);
        let mut found = match self.im.fetch_ranges(&ranges).await {
            Ok(found) => found,
            Err(e) => return self.error(socket, id, e.code(), e.public_message()).await,
        };
        for range in &ranges {
            let items = found.remove(&range.conversation).unwrap_or_default();
            // Until the client asks again, nothing past a cut is written: no gaps.
            let mark = if range.truncated {
                Seq::MAX
            } else {
                range.upto
            };
            self.sent.insert(range.conversation, mark);
            let mut batch = Vec::new();
            let mut size = 0;
            let count = items.len();
            for (i, item) in items.into_iter().enumerate() {
                size += item.body.get().len() + 200;
                batch.push(item);
                if size >= MESSAGES_FRAME_BYTES || i + 1 == count {
                    let frame = MessagesFrame {
                        frame_type: "messages".into(),
                        id: id.clone(),
                        conversation: range.conversation,
                        items: std::mem::take(&mut batch),
                        truncated: range.truncated && i + 1 == count,
                    };
                    self.write(socket, protocol::to_text(&frame)).await?;
                    size = 0;
                }
            }
        }
        let conversations = match self.im.summaries(self.link.staff).await {
            Ok(list) => list,
            Err(e) => return self.error(socket, id, e.code(), e.public_message()).await,
        };
        let done = SyncDone {
            frame_type: "sync.done".into(),
            id,
            conversations,
        };
        self.write(socket, protocol::to_text(&done)).await
    }
}
