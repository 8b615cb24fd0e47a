//! Read positions, typing and presence: hints around the messages, not messages. Read
//! positions are kept in memory and written once a second; typing and presence are never
//! stored.

use crate::locks::{MutexExt, RwLockExt};
use axum::extract::ws::Utf8Bytes;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait, sea_query::Expr};

use super::Im;
use crate::{
    directory::StaffId,
    im::{
        ImError,
        entities::member,
        hub::Outbound,
        model::{ConversationId, Seq},
        protocol::{self, PresenceFrame, PresenceItem, ReadFrame, TypingFrame},
    },
};

impl Im {
    /// Tells someone's direct peers (and the webhooks) that they came online or went away.
    pub(super) fn presence_changed(&self, staff: StaffId, online: bool) {
        let peers = self.state.read_or_recover().direct_peers(staff);
        if !peers.is_empty() {
            let frame = protocol::to_text(&PresenceFrame {
                frame_type: "presence".into(),
                id: None,
                items: vec![PresenceItem { staff, online }],
            });
            self.hub
                .deliver(&peers, &Outbound::Frame(Utf8Bytes::from(frame)));
        }
        self.webhooks.presence(staff, online);
    }

    /// Moves a member's read position forward and tells their other devices (and, in a
    /// direct chat, the peer: a read receipt).
    pub fn read(
        &self,
        staff: StaffId,
        conversation: ConversationId,
        seq: Seq,
    ) -> Result<(), ImError> {
        let (seq, mut notify) = {
            let mut state = self.state.write_or_recover();
            let conv = state
                .get_mut(conversation)
                .ok_or_else(|| ImError::NotFound("conversation".into()))?;
            let last = conv.last_seq;
            let peer = conv.peer_of(staff);
            let member = conv.members.get_mut(&staff).ok_or(ImError::NotMember)?;
            let seq = seq.min(last);
            if seq <= member.read_seq {
                return Ok(());
            }
            member.read_seq = seq;
            (seq, peer.into_iter().collect::<Vec<_>>())
        };
        self.reads
            .lock_or_recover()
            .insert((conversation, staff), seq);
        notify.push(staff);
        let frame = protocol::to_text(&ReadFrame {
            frame_type: "read".into(),
            conversation,
            staff,
            seq,
        });
        self.hub
            .deliver(&notify, &Outbound::Frame(Utf8Bytes::from(frame)));
        Ok(())
    }

    /// Writes the read positions that moved since the last flush.
    pub async fn flush_reads(&self) {
        let dirty = std::mem::take(&mut *self.reads.lock_or_recover());
        if dirty.is_empty() {
            return;
        }
        let result = async {
            let txn = self.db.begin().await?;
            for ((conversation, staff), seq) in &dirty {
                member::Entity::update_many()
                    .col_expr(member::Column::ReadSeq, Expr::value(*seq))
                    .filter(member::Column::ConversationId.eq(conversation.0))
                    .filter(member::Column::StaffId.eq(staff.0))
                    .filter(member::Column::ReadSeq.lt(*seq))
                    .exec(&txn)
                    .await?;
            }
            txn.commit().await
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, "saving read positions failed; retrying");
            let mut reads = self.reads.lock_or_recover();
            for (key, seq) in dirty {
                let entry = reads.entry(key).or_insert(seq);
                *entry = (*entry).max(seq);
            }
        }
    }

    /// Tells the other members someone is typing (not stored; skipped in very large chats).
    pub fn typing(&self, staff: StaffId, conversation: ConversationId) -> Result<(), ImError> {
        let others: Vec<StaffId> = {
            let state = self.state.read_or_recover();
            let conv = state
                .get(conversation)
                .ok_or_else(|| ImError::NotFound("conversation".into()))?;
            if !conv.members.contains_key(&staff) {
                return Err(ImError::NotMember);
            }
            if conv.members.len() > 500 {
                return Ok(());
            }
            conv.members
                .keys()
                .copied()
                .filter(|s| *s != staff)
                .collect()
        };
        let frame = protocol::to_text(&TypingFrame {
            frame_type: "typing".into(),
            conversation,
            staff,
        });
        self.hub
            .deliver(&others, &Outbound::Frame(Utf8Bytes::from(frame)));
        Ok(())
    }

    /// Online state of people the caller shares a direct chat with or sees in contacts.
    pub fn presence(&self, staff: StaffId, ids: &[StaffId]) -> Vec<PresenceItem> {
        let peers: std::collections::HashSet<StaffId> = self
            .state
            .read_or_recover()
            .direct_peers(staff)
            .into_iter()
            .collect();
        ids.iter()
            .take(500)
            .filter(|id| peers.contains(id) || self.contacts.sees(staff, **id))
            .map(|id| PresenceItem {
                staff: *id,
                online: self.hub.online(*id),
            })
            .collect()
    }
}
