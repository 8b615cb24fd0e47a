//! The one sending worker. It takes due mails from the outbox, one at a time, hands each to the
//! SMTP server under a timeout, and records the outcome; a failure is retried with exponential
//! backoff (`retry_base`, doubling, capped at `retry_cap`) until `max_attempts`, a permanent
//! refusal (5xx) at once gives up. Nothing else waits for it: a slow or dead server only makes
//! mails wait.
//!
//! Guarantee: a mail is handed to the server at least once while attempts remain, and at most
//! once — except when the process stops after the server accepted a mail and before `sent` was
//! recorded; the row is then still `sending`, its lease runs out, and it is sent again with
//! the same Message-ID (so duplicates can be recognised). A graceful stop that cuts an attempt
//! short (after 5 s) queues that mail again at once, with the same caveat.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Mailbox, MultiPart,
        header::{HeaderName, HeaderValue},
    },
    transport::smtp::{PoolConfig, authentication::Credentials},
};

use super::{
    Mail, MailError,
    entities::outbox as row,
    outbox::{self, now_ms},
    settings::{Security, Settings},
};

use crate::locks::MutexExt;

type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// The longest the worker sleeps: leases that ran out are noticed within this.
const POLL: Duration = Duration::from_secs(15);
/// Mails taken from the outbox per query.
const BATCH: u64 = 20;

/// Why one attempt failed.
struct Failure {
    message: String,
    /// Trying again cannot help (a refused address, a malformed mail).
    permanent: bool,
}

pub(crate) async fn run(mail: Arc<Mail>) {
    let mut transport: Option<(u64, Transport)> = None;
    let mut last_prune = 0;
    loop {
        if mail.stopping() {
            return;
        }
        let wait = match pass(&mail, &mut transport).await {
            Ok(wait) => wait,
            Err(error) => {
                tracing::warn!(%error, "mail outbox pass failed; trying again shortly");
                Duration::from_secs(5)
            }
        };
        if now_ms() - last_prune > 3_600_000 {
            last_prune = now_ms();
            let month_ago = now_ms() - 30 * 86_400_000;
            match outbox::prune(&mail.db, month_ago).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "old mails removed from the outbox"),
                Err(error) => tracing::warn!(%error, "pruning the mail outbox failed"),
            }
        }
        tokio::select! {
            () = mail.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Sends everything due; returns how long to sleep until something may be due.
async fn pass(
    mail: &Mail,
    transport: &mut Option<(u64, Transport)>,
) -> Result<Duration, MailError> {
    let db = &mail.db;
    let requeued = outbox::requeue_expired(db, now_ms()).await?;
    if requeued > 0 {
        tracing::warn!(
            requeued,
            "mails left 'sending' by a stopped process are queued again (the server may have them already)"
        );
    }
    let settings = mail.current();
    if settings.configured() {
        'batches: loop {
            let due = outbox::due(db, now_ms(), BATCH).await?;
            if due.is_empty() {
                break;
            }
            for row in due {
                if mail.stopping() {
                    break 'batches;
                }
                send_one(mail, &settings, transport, row).await?;
            }
        }
    }
    let pending = outbox::pending(db).await?;
    mail.metrics.pending.store(pending, Ordering::Relaxed);
    let wait = match outbox::next_due(db).await? {
        Some(at) => Duration::from_millis((at - now_ms()).clamp(0, POLL.as_millis() as i64) as u64),
        None => POLL,
    };
    Ok(wait)
}

async fn send_one(
    mail: &Mail,
    settings: &Settings,
    transport: &mut Option<(u64, Transport)>,
    row: row::Model,
) -> Result<(), MailError> {
    let db = &mail.db;
    let timeout = mail.config.smtp_timeout;
    // Longer than any attempt can take: a live worker finishes (or gives up) before another
    // may take the mail over.
    let lease = now_ms() + 2 * timeout.as_millis() as i64 + 10_000;
    if !outbox::claim(db, row.id, lease).await? {
        return Ok(());
    }
    *mail.in_flight.lock_or_recover() = Some(row.id);
    let result = attempt(mail, settings, transport, row).await;
    *mail.in_flight.lock_or_recover() = None;
    result
}

async fn attempt(
    mail: &Mail,
    settings: &Settings,
    transport: &mut Option<(u64, Transport)>,
    row: row::Model,
) -> Result<(), MailError> {
    let db = &mail.db;
    let timeout = mail.config.smtp_timeout;
    let attempts = row.attempts + 1;
    let generation = mail.generation.load(Ordering::Acquire);
    if transport.as_ref().is_none_or(|(g, _)| *g != generation) {
        *transport = match build_transport(settings, timeout) {
            Ok(built) => Some((generation, built)),
            Err(failure) => {
                return record(mail, &row, attempts, failure).await;
            }
        };
    }
    let outcome = match (message(&row, settings), transport.as_ref()) {
        (Err(failure), _) => Err(failure),
        (Ok(_), None) => Err(Failure {
            message: "no SMTP transport".into(),
            permanent: false,
        }),
        (Ok(message), Some((_, smtp))) => {
            // lettre applies the timeout per command; this bounds the whole conversation.
            match tokio::time::timeout(timeout * 2, smtp.send(message)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(error)) => Err(Failure {
                    permanent: error.is_permanent(),
                    message: error.to_string(),
                }),
                Err(_) => Err(Failure {
                    message: format!("the SMTP server did not finish within {timeout:?}"),
                    permanent: false,
                }),
            }
        }
    };
    match outcome {
        Ok(()) => {
            outbox::mark_sent(db, &row).await?;
            mail.metrics.sent.fetch_add(1, Ordering::Relaxed);
            tracing::info!(kind = %row.kind, id = %row.id, message_id = %row.message_id, "mail sent");
            Ok(())
        }
        Err(failure) => {
            // A broken connection in the pool must not fail the next mail too.
            *transport = None;
            record(mail, &row, attempts, failure).await
        }
    }
}

async fn record(
    mail: &Mail,
    row: &row::Model,
    attempts: i32,
    failure: Failure,
) -> Result<(), MailError> {
    let config = &mail.config;
    let give_up = failure.permanent || attempts as u32 >= config.max_attempts;
    let next = (!give_up).then(|| {
        now_ms()
            + crate::retry::backoff(config.retry_base, config.retry_cap, attempts).as_millis()
                as i64
    });
    outbox::mark_failed_attempt(&mail.db, row.id, &failure.message, next).await?;
    if give_up {
        mail.metrics.failed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(kind = %row.kind, id = %row.id, attempts, error = %failure.message, "mail given up");
    } else {
        mail.metrics.retried.fetch_add(1, Ordering::Relaxed);
        tracing::info!(kind = %row.kind, id = %row.id, attempts, error = %failure.message, "mail not sent; will retry");
    }
    Ok(())
}

fn build_transport(settings: &Settings, timeout: Duration) -> Result<Transport, Failure> {
    let failure = |message: String| Failure {
        message,
        permanent: false,
    };
    let host = settings
        .smtp_host
        .as_deref()
        .ok_or_else(|| failure("no SMTP host".into()))?;
    let builder = match settings.smtp_security {
        Security::None => Transport::builder_dangerous(host),
        Security::Starttls => Transport::starttls_relay(host)
            .map_err(|e| failure(format!("STARTTLS to {host}: {e}")))?,
        Security::Tls => {
            Transport::relay(host).map_err(|e| failure(format!("TLS to {host}: {e}")))?
        }
    };
    let mut builder = builder
        .port(settings.smtp_port)
        .timeout(Some(timeout))
        .pool_config(
            PoolConfig::new()
                .max_size(2)
                .idle_timeout(Duration::from_secs(60)),
        );
    if let Some(user) = &settings.smtp_username {
        let password = settings
            .smtp_password
            .as_ref()
            .map(|p| p.expose().to_owned())
            .unwrap_or_default();
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

fn message(row: &row::Model, settings: &Settings) -> Result<Message, Failure> {
    let permanent = |message: String| Failure {
        message,
        permanent: true,
    };
    let from_address = settings
        .from_address
        .as_deref()
        .ok_or_else(|| permanent("no sender address".into()))?;
    let from = Mailbox::new(
        Some(settings.from_name.clone()),
        from_address
            .parse()
            .map_err(|e| permanent(format!("sender {from_address}: {e}")))?,
    );
    let to = Mailbox::new(
        None,
        row.recipient
            .parse()
            .map_err(|e| permanent(format!("recipient {}: {e}", row.recipient)))?,
    );
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(row.message_id.clone()))
        .date_now()
        // RFC 3834: no auto-replies (out-of-office) to these.
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ));
    let extra: Vec<(String, String)> = serde_json::from_str(&row.headers).unwrap_or_default();
    for (name, value) in extra {
        let name =
            HeaderName::new_from_ascii(name).map_err(|_| permanent("a bad header name".into()))?;
        builder = builder.raw_header(HeaderValue::new(name, value));
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            row.body_text.clone(),
            row.body_html.clone(),
        ))
        .map_err(|e| permanent(format!("the mail cannot be built: {e}")))
}
