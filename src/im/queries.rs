//! Reads: what a reconnecting client missed, history by seq range, the conversation list with
//! unread counts and mention flags, and search. Committed rows only; the in-memory state says
//! which conversations and seq ranges the caller may see.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value, prelude::Uuid};

use super::{
    Im, ImError,
    entities::message,
    model::{ConversationId, ConversationKind, Seq},
    ops::view_of,
    protocol::{ConversationSummary, MessageView},
    search::{self, Query, placeholder},
};
use crate::directory::StaffId;

/// Messages one sync sends per conversation at most; the rest is flagged `truncated`.
pub const SYNC_CAP: i64 = 500;
/// Conversations per query.
const PER_QUERY: usize = 200;

/// A seq range of one conversation to send: `(after, upto]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub conversation: ConversationId,
    pub after: Seq,
    pub upto: Seq,
    pub truncated: bool,
}

fn uuid(id: ConversationId) -> Value {
    Value::Uuid(Some(id.0))
}

/// `(conversation_id = ? AND seq > ? AND seq <= ?) OR ...`, numbering from `values.len()+1`.
fn ranges_clause(backend: DbBackend, ranges: &[Range], values: &mut Vec<Value>) -> String {
    let mut sql = String::from("(");
    for (i, r) in ranges.iter().enumerate() {
        if i > 0 {
            sql.push_str(" OR ");
        }
        values.push(uuid(r.conversation));
        let c = placeholder(backend, values.len());
        values.push(r.after.into());
        let a = placeholder(backend, values.len());
        values.push(r.upto.into());
        let u = placeholder(backend, values.len());
        sql.push_str(&format!(
            "(conversation_id = {c} AND seq > {a} AND seq <= {u})"
        ));
    }
    sql.push(')');
    sql
}

impl Im {
    /// What to send a client that says it has `cursors` (conversation → last seq it holds);
    /// for conversations it does not mention, the last `recent` messages.
    pub fn sync_ranges(
        &self,
        staff: StaffId,
        cursors: &HashMap<ConversationId, Seq>,
        recent: i64,
    ) -> Vec<Range> {
        let state = self.state();
        state
            .conversations_of(staff)
            .filter_map(|conv| {
                let member = conv.members.get(&staff)?;
                let floor = member.joined_seq - 1;
                let after = match cursors.get(&conv.id) {
                    Some(seq) => (*seq).max(floor),
                    None => (conv.last_seq - recent).max(floor),
                };
                (after < conv.last_seq).then(|| {
                    let upto = conv.last_seq.min(after + SYNC_CAP);
                    Range {
                        conversation: conv.id,
                        after,
                        upto,
                        truncated: upto < conv.last_seq,
                    }
                })
            })
            .collect()
    }

    /// The messages of several ranges, grouped by conversation, in seq order.
    pub async fn fetch_ranges(
        &self,
        ranges: &[Range],
    ) -> Result<HashMap<ConversationId, Vec<MessageView>>, ImError> {
        let backend = self.backend();
        let mut out: HashMap<ConversationId, Vec<MessageView>> = HashMap::new();
        for chunk in ranges.chunks(PER_QUERY) {
            let mut values = Vec::with_capacity(chunk.len() * 3);
            let clause = ranges_clause(backend, chunk, &mut values);
            let sql =
                format!("SELECT * FROM im_messages WHERE {clause} ORDER BY conversation_id, seq");
            let rows = message::Model::find_by_statement(Statement::from_sql_and_values(
                backend, sql, values,
            ))
            .all(self.db())
            .await?;
            for row in rows {
                out.entry(ConversationId(row.conversation_id))
                    .or_default()
                    .push(view_of(&row));
            }
        }
        Ok(out)
    }

    /// History of a conversation by seq: after `after` (ascending), or else the `limit`
    /// messages before `before` (default: the newest).
    pub async fn history(
        &self,
        staff: StaffId,
        conversation: ConversationId,
        after: Option<Seq>,
        before: Option<Seq>,
        limit: i64,
    ) -> Result<Vec<MessageView>, ImError> {
        let limit = limit.clamp(1, 500);
        let (floor, last) = {
            let state = self.state();
            let conv = state
                .get(conversation)
                .ok_or_else(|| ImError::NotFound("conversation".into()))?;
            let member = conv.members.get(&staff).ok_or(ImError::NotMember)?;
            (member.joined_seq - 1, conv.last_seq)
        };
        let (from, upto) = match (after, before) {
            (Some(after), before) => {
                let after = after.max(floor);
                (
                    after,
                    before
                        .map_or(last, |b| b.saturating_sub(1))
                        .min(after.saturating_add(limit))
                        .min(last),
                )
            }
            (None, before) => {
                let upto = before.map_or(last, |b| b.saturating_sub(1)).min(last);
                (upto.saturating_sub(limit).max(floor), upto)
            }
        };
        if upto <= from {
            return Ok(Vec::new());
        }
        let range = Range {
            conversation,
            after: from,
            upto,
            truncated: false,
        };
        Ok(self
            .fetch_ranges(&[range])
            .await?
            .remove(&conversation)
            .unwrap_or_default())
    }

    /// The caller's conversations, most recently active first, with unread counts, mention
    /// flags and last messages.
    pub async fn summaries(&self, staff: StaffId) -> Result<Vec<ConversationSummary>, ImError> {
        let now = super::model::now_millis();
        let mut items: Vec<ConversationSummary> = {
            let state = self.state();
            let replica = self.directory.read();
            state
                .conversations_of(staff)
                .filter_map(|conv| {
                    let member = conv.members.get(&staff)?;
                    let peer = conv.peer_of(staff);
                    let name = match conv.kind {
                        ConversationKind::Direct => peer
                            .and_then(|p| replica.staff(p))
                            .map(|p| p.display_name.clone())
                            .unwrap_or_default(),
                        ConversationKind::Department => conv
                            .department
                            .and_then(|d| replica.department(d))
                            .map_or_else(|| conv.name.clone(), |d| d.name.clone()),
                        _ => conv.name.clone(),
                    };
                    Some(ConversationSummary {
                        id: conv.id,
                        kind: conv.kind,
                        name,
                        department: conv.department,
                        peer,
                        role: member.role,
                        members: conv.members.len(),
                        last_seq: conv.last_seq,
                        read_seq: member.read_seq.max(member.joined_seq - 1),
                        unread: 0,
                        mention: false,
                        muted: member.muted_until > now,
                        mute_all: conv.mute_all,
                        announcement: conv.announcement.clone(),
                        last_message: None,
                    })
                })
                .collect()
        };
        self.fill_unread(staff, &mut items).await?;
        let lasts: Vec<Range> = items
            .iter()
            .filter(|s| s.last_seq > 0)
            .map(|s| Range {
                conversation: s.id,
                after: s.last_seq - 1,
                upto: s.last_seq,
                truncated: false,
            })
            .collect();
        let mut found = self.fetch_ranges(&lasts).await?;
        for item in &mut items {
            item.last_message = found.remove(&item.id).and_then(|mut v| v.pop());
        }
        items.sort_by_key(|s| std::cmp::Reverse(s.last_message.as_ref().map_or(0, |m| m.ts)));
        Ok(items)
    }

    async fn fill_unread(
        &self,
        staff: StaffId,
        items: &mut [ConversationSummary],
    ) -> Result<(), ImError> {
        let backend = self.backend();
        let ranges: Vec<Range> = items
            .iter()
            .filter(|s| s.last_seq > s.read_seq)
            .map(|s| Range {
                conversation: s.id,
                after: s.read_seq,
                upto: s.last_seq,
                truncated: false,
            })
            .collect();
        let mut counts: HashMap<ConversationId, (u64, bool)> = HashMap::new();
        for chunk in ranges.chunks(PER_QUERY) {
            let mut values = vec![Value::String(Some(format!("%{}%", staff.0.hyphenated())))];
            let like = placeholder(backend, 1);
            let clause = ranges_clause(backend, chunk, &mut values);
            values.push(Value::Uuid(Some(staff.0)));
            let me = placeholder(backend, values.len());
            let sql = format!(
                "SELECT conversation_id, COUNT(*) AS n, \
                 CAST(MAX(CASE WHEN mentions LIKE {like} OR mentions = '\"all\"' THEN 1 ELSE 0 END) AS BIGINT) AS m \
                 FROM im_messages WHERE {clause} \
                 AND kind IN ('text','image','file','voice','location','custom','card') \
                 AND (sender_id IS NULL OR sender_id <> {me}) GROUP BY conversation_id"
            );
            for row in self
                .db()
                .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
                .await?
            {
                let id: Uuid = row.try_get("", "conversation_id")?;
                let n: i64 = row.try_get("", "n")?;
                let m: i64 = row.try_get::<Option<i64>>("", "m")?.unwrap_or(0);
                counts.insert(ConversationId(id), (n.max(0) as u64, m > 0));
            }
        }
        for item in items {
            if let Some((n, m)) = counts.get(&item.id) {
                item.unread = *n;
                item.mention = *m;
            }
        }
        Ok(())
    }

    /// Messages of the caller's conversations matching `text`, newest first.
    pub async fn search(
        &self,
        staff: StaffId,
        text: &str,
        conversation: Option<ConversationId>,
        limit: u64,
    ) -> Result<Vec<MessageView>, ImError> {
        let query = Query::parse(text)?;
        let limit = limit.clamp(1, 100);
        let floors: HashMap<ConversationId, Seq> = {
            let state = self.state();
            match conversation {
                Some(id) => {
                    let member = state.member(id, staff).ok_or(ImError::NotMember)?;
                    [(id, member.joined_seq)].into()
                }
                None => state
                    .conversations_of(staff)
                    .filter_map(|c| c.members.get(&staff).map(|m| (c.id, m.joined_seq)))
                    .collect(),
            }
        };
        if query.terms.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<ConversationId> = floors.keys().copied().collect();
        // Large memberships are filtered here rather than in a huge IN list.
        let (filter, fetch) = if ids.len() <= 500 {
            (Some(ids.as_slice()), limit * 2)
        } else {
            (None, limit * 20)
        };
        let rows = search::find(self.db(), &query, filter, fetch).await?;
        Ok(rows
            .iter()
            .filter(|r| {
                floors
                    .get(&ConversationId(r.conversation_id))
                    .is_some_and(|floor| r.seq >= *floor)
            })
            .filter(|r| query.confirms(r.body.as_deref().unwrap_or_default()))
            .take(limit as usize)
            .map(view_of)
            .collect())
    }

    /// Who has read a message: in a direct chat, whether the peer has; in groups, how many.
    pub fn read_count(
        &self,
        staff: StaffId,
        conversation: ConversationId,
        seq: Seq,
    ) -> Result<(usize, usize), ImError> {
        let state = self.state();
        let conv = state
            .get(conversation)
            .ok_or_else(|| ImError::NotFound("conversation".into()))?;
        if !conv.members.contains_key(&staff) {
            return Err(ImError::NotMember);
        }
        let others = conv.members.len().saturating_sub(1);
        let read = conv
            .members
            .iter()
            .filter(|(s, m)| **s != staff && m.read_seq >= seq)
            .count();
        Ok((read, others))
    }
}
