//! Groups as administrators see them: every group conversation, paged from the database (a
//! company may have tens of thousands), and the changes IT makes from the portal or the admin
//! API — a new owner, a member removed or added, the group dissolved. Each change is made as the
//! system (the structural operations' own checks and notices; members see `by: null`) and
//! written to the audit log under the administrator's name.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    ConversationInfo, Im, ImError,
    model::{ConversationId, ConversationKind, Role, Sender},
    search::placeholder,
};
use crate::{
    directory::StaffId,
    store::{Actor, AuditEntry, EntityKind},
};

/// The most groups one page lists.
pub const MAX_PAGE: u64 = 200;

/// A group as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupSummary {
    pub id: ConversationId,
    pub name: String,
    /// `null` only for a group whose owner's row is missing (never made by the service).
    pub owner: Option<StaffId>,
    /// The owner's display name, from the directory.
    pub owner_name: Option<String>,
    pub members: i64,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// The time of the newest message or notice (milliseconds since the epoch).
    pub last_activity: Option<i64>,
}

/// One page of groups, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupPage {
    /// Groups matching the search, over all pages.
    pub total: i64,
    pub items: Vec<GroupSummary>,
}

/// What to list: active groups whose name contains `q` (any case), `limit` from `offset`.
#[derive(Debug, Clone, Default)]
pub struct GroupQuery {
    pub q: String,
    pub limit: u64,
    pub offset: u64,
}

/// `%text%` for LIKE, with the pattern characters of the text escaped (by `\`).
fn contains_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The `WHERE` of the listing, its values appended to `values`.
fn filter(backend: DbBackend, query: &GroupQuery, values: &mut Vec<Value>) -> String {
    values.push(ConversationKind::Group.as_str().into());
    let kind = placeholder(backend, values.len());
    values.push(false.into());
    let dissolved = placeholder(backend, values.len());
    let mut sql = format!("c.kind = {kind} AND c.dissolved = {dissolved}");
    if !query.q.trim().is_empty() {
        values.push(contains_pattern(&query.q).into());
        let pattern = placeholder(backend, values.len());
        sql.push_str(&format!(" AND LOWER(c.name) LIKE {pattern} ESCAPE '\\'"));
    }
    sql
}

impl Im {
    /// A page of active groups, newest first; the member count, owner and last activity come
    /// from the same query (index lookups per listed group, never a scan of messages).
    pub async fn admin_groups(&self, query: &GroupQuery) -> Result<GroupPage, ImError> {
        let backend = self.db.get_database_backend();
        let mut values = Vec::new();
        let clause = filter(backend, query, &mut values);
        let count = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                format!("SELECT COUNT(*) AS n FROM im_conversations c WHERE {clause}"),
                values.clone(),
            ))
            .await?;
        let total: i64 = match count {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        // A constant of ours, written into the text: SQLite numbers `?` in the order they
        // appear, and the filter's values come after the select list.
        let owner = format!("'{}'", Role::Owner.as_str());
        values.push((query.limit.min(MAX_PAGE) as i64).into());
        let limit = placeholder(backend, values.len());
        values.push((query.offset as i64).into());
        let offset = placeholder(backend, values.len());
        let sql = format!(
            "SELECT c.id, c.name, c.created_at, \
               (SELECT COUNT(*) FROM im_members m WHERE m.conversation_id = c.id) AS members, \
               (SELECT m.staff_id FROM im_members m WHERE m.conversation_id = c.id \
                  AND m.role = {owner} LIMIT 1) AS owner, \
               (SELECT x.ts FROM im_messages x WHERE x.conversation_id = c.id \
                  ORDER BY x.seq DESC LIMIT 1) AS last_at \
             FROM im_conversations c WHERE {clause} \
             ORDER BY c.created_at DESC, c.id DESC LIMIT {limit} OFFSET {offset}"
        );
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        let replica = self.directory.read();
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let owner: Option<uuid::Uuid> = row.try_get("", "owner")?;
            let owner = owner.map(StaffId);
            items.push(GroupSummary {
                id: ConversationId(row.try_get("", "id")?),
                name: row.try_get("", "name")?,
                owner,
                owner_name: owner
                    .and_then(|o| replica.staff(o))
                    .map(|s| s.display_name.clone()),
                members: row.try_get("", "members")?,
                created_at: row.try_get("", "created_at")?,
                last_activity: row.try_get("", "last_at")?,
            });
        }
        Ok(GroupPage { total, items })
    }

    /// One group with its members, for an administrator (other kinds of conversation are not
    /// theirs to see: `NotFound`).
    pub fn admin_group(&self, id: ConversationId) -> Result<ConversationInfo, ImError> {
        let info = self.conversation_info(None, id)?;
        if info.kind != ConversationKind::Group {
            return Err(ImError::NotFound("group".into()));
        }
        Ok(info)
    }

    /// Writes an administrator's audit line for a change the writer has committed.
    pub(crate) async fn audit_admin(
        &self,
        actor: &Actor,
        action: &'static str,
        conversation: Option<ConversationId>,
        after: serde_json::Value,
    ) -> Result<(), ImError> {
        self.directory
            .journal()
            .audit_only(
                actor,
                vec![AuditEntry {
                    action,
                    entity_kind: EntityKind::Conversation,
                    entity_id: conversation.map(|c| c.0),
                    before: None,
                    after: AuditEntry::json(&after),
                }],
            )
            .await
            .map(|_| ())
            .map_err(|e| ImError::Internal(format!("audit: {e}")))
    }

    /// Hands a group to one of its members (the former owner becomes an admin).
    pub async fn admin_set_owner(
        &self,
        actor: &Actor,
        id: ConversationId,
        staff: StaffId,
    ) -> Result<(), ImError> {
        let before = self.state().get(id).and_then(|c| c.owner());
        self.set_member(Sender::System, id, staff, Some(Role::Owner), None)
            .await?;
        self.audit_admin(
            actor,
            "conversation.owner",
            Some(id),
            serde_json::json!({"owner": staff, "previous_owner": before}),
        )
        .await
    }

    /// Removes a member (not the owner: hand the group over first).
    pub async fn admin_remove_member(
        &self,
        actor: &Actor,
        id: ConversationId,
        staff: StaffId,
    ) -> Result<(), ImError> {
        self.remove_member(Sender::System, id, staff).await?;
        self.audit_admin(
            actor,
            "conversation.remove_member",
            Some(id),
            serde_json::json!({"staff": staff}),
        )
        .await
    }

    /// Adds active people to a group.
    pub async fn admin_add_members(
        &self,
        actor: &Actor,
        id: ConversationId,
        staff: &[StaffId],
    ) -> Result<(), ImError> {
        self.invite(Sender::System, id, staff).await?;
        self.audit_admin(
            actor,
            "conversation.add_members",
            Some(id),
            serde_json::json!({"staff": staff}),
        )
        .await
    }

    /// Dissolves a group: it stays readable, takes no more messages.
    pub async fn admin_dissolve(&self, actor: &Actor, id: ConversationId) -> Result<(), ImError> {
        let name = self.state().get(id).map(|c| c.name.clone());
        self.dissolve(Sender::System, id).await?;
        self.audit_admin(
            actor,
            "conversation.dissolve",
            Some(id),
            serde_json::json!({"name": name, "dissolved": true}),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_matched_literally() {
        assert_eq!(contains_pattern(" 项目 "), "%项目%");
        assert_eq!(contains_pattern("50%_a\\B"), "%50\\%\\_a\\\\b%");
    }
}
