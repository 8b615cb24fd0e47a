//! After the commit: one task takes the writer's committed batches in order, answers the
//! senders and fans every message out through the hub (and to the webhooks). Running apart
//! from the writer lets the next transaction start while this one is being delivered, and
//! keeps every session's frames in commit order.

use std::{sync::Arc, time::Instant};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{mpsc, oneshot};

use super::{
    ImError,
    hub::{Hub, Outbound},
    model::{ConversationKind, MessageKind},
    ops::{Done, NewMessage, Reply},
    protocol::{self, Ack},
    timings::SendTimings,
    webhooks::Webhooks,
};
use crate::directory::StaffId;

/// One item of a committed batch.
pub enum Dispatch {
    /// A stored message for the members (and the extra people), answering its sender.
    Message {
        row: NewMessage,
        kind: ConversationKind,
        to: Arc<[StaffId]>,
        extra: Vec<StaffId>,
        reply: Reply,
        committed: Instant,
    },
    /// An answer without a new message (errors, resends, structural results).
    Reply(Reply, Result<Done, ImError>),
    Flushed(oneshot::Sender<()>),
}

/// Answers a caller.
pub fn answer(reply: Reply, result: Result<Done, ImError>) {
    match reply {
        Reply::Session {
            link,
            id,
            client_msg_id,
        } => {
            link.inflight
                .fetch_update(
                    std::sync::atomic::Ordering::AcqRel,
                    std::sync::atomic::Ordering::Acquire,
                    |n| Some(n.saturating_sub(1)),
                )
                .ok();
            let frame = match result {
                Ok(Done::Ack(ack)) => {
                    let conversation = ack.conversation;
                    let seq = ack.seq;
                    let text = protocol::to_text(&Ack { id, ..ack });
                    Outbound::Ack {
                        conversation,
                        seq,
                        frame: Utf8Bytes::from(text),
                    }
                }
                Ok(_) => Outbound::Frame(Utf8Bytes::from(protocol::reply("ok", id))),
                Err(error) => {
                    if matches!(error.code(), "internal") {
                        tracing::error!(%error, "messaging operation failed");
                    }
                    Outbound::Frame(Utf8Bytes::from(protocol::error_frame(
                        id,
                        client_msg_id,
                        error.code(),
                        error.public_message(),
                    )))
                }
            };
            link.push(frame);
        }
        Reply::Channel(tx) => {
            let _ = tx.send(result);
        }
        Reply::Nobody => {}
    }
}

/// Runs until the writer is gone.
pub async fn run(
    mut batches: mpsc::Receiver<Vec<Dispatch>>,
    hub: Arc<dyn Hub>,
    webhooks: Arc<Webhooks>,
    timings: Arc<SendTimings>,
) {
    while let Some(batch) = batches.recv().await {
        for item in batch {
            match item {
                Dispatch::Message {
                    row,
                    kind,
                    to,
                    extra,
                    reply,
                    committed,
                } => {
                    deliver(&*hub, &webhooks, row, kind, &to, &extra, reply);
                    timings.fanout.observe(committed.elapsed());
                }
                Dispatch::Reply(reply, result) => answer(reply, result),
                Dispatch::Flushed(done) => {
                    let _ = done.send(());
                }
            }
        }
    }
}

fn deliver(
    hub: &dyn Hub,
    webhooks: &Webhooks,
    row: NewMessage,
    kind: ConversationKind,
    to: &[StaffId],
    extra: &[StaffId],
    reply: Reply,
) {
    let view = row.view();
    let frame = Utf8Bytes::from(protocol::message_frame(&view));
    let skip = match &reply {
        Reply::Session { link, .. } => Some(link.id),
        _ => None,
    };
    let event = Outbound::Event {
        conversation: row.conversation,
        seq: row.seq,
        frame,
        skip,
    };
    hub.deliver(to, &event);
    if !extra.is_empty() {
        hub.deliver(extra, &event);
    }
    if webhooks.active() {
        webhooks.message(kind, &view);
    }
    if webhooks.wants_offline() {
        let personal = !matches!(
            row.kind,
            MessageKind::System | MessageKind::Recall | MessageKind::Edit | MessageKind::CardUpdate
        );
        if personal {
            let offline: Vec<StaffId> = to
                .iter()
                .copied()
                .filter(|s| Some(*s) != row.sender && !hub.online(*s))
                .collect();
            if !offline.is_empty() {
                webhooks.offline(kind, &row, &offline);
            }
        }
    }
    answer(reply, Ok(Done::Ack(row.ack(None))));
}
