//! The in-memory picture of every conversation and its members, loaded at start and moved
//! forward only by the writer after each commit, so authorisation and fan-out never touch SQL.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QuerySelect, Statement,
    prelude::Uuid,
};

use super::{
    ImError,
    entities::{conversation, member},
    model::{ConversationId, ConversationKind, Role, Seq},
};
use crate::directory::{DepartmentId, StaffId};

/// One member of one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub role: Role,
    /// The first seq this member may read (they see history from when they joined).
    pub joined_seq: Seq,
    pub read_seq: Seq,
    /// Muted until this time (milliseconds since the epoch); 0 = not muted.
    pub muted_until: i64,
    /// Whether they ever sent a message here (lets the peer of a direct chat answer).
    pub has_sent: bool,
}

impl Member {
    pub fn new(role: Role, joined_seq: Seq) -> Self {
        Self {
            role,
            joined_seq,
            read_seq: joined_seq.saturating_sub(1),
            muted_until: 0,
            has_sent: false,
        }
    }
}

/// A conversation and its members.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: ConversationId,
    pub kind: ConversationKind,
    pub name: String,
    pub announcement: String,
    pub department: Option<DepartmentId>,
    pub pair_key: Option<String>,
    pub mute_all: bool,
    pub dissolved: bool,
    pub created_at: i64,
    pub last_seq: Seq,
    pub members: HashMap<StaffId, Member>,
    /// The members as a shared list, rebuilt on membership changes, so fan-out of many
    /// messages does not copy the member set each time.
    recipients: Arc<[StaffId]>,
}

impl Conversation {
    pub fn new(id: ConversationId, kind: ConversationKind, created_at: i64) -> Self {
        Self {
            id,
            kind,
            name: String::new(),
            announcement: String::new(),
            department: None,
            pair_key: None,
            mute_all: false,
            dissolved: false,
            created_at,
            last_seq: 0,
            members: HashMap::new(),
            recipients: Arc::from(Vec::new()),
        }
    }

    pub fn recipients(&self) -> Arc<[StaffId]> {
        self.recipients.clone()
    }

    fn refresh_recipients(&mut self) {
        self.recipients = self.members.keys().copied().collect::<Vec<_>>().into();
    }

    /// The other person of a direct conversation.
    pub fn peer_of(&self, staff: StaffId) -> Option<StaffId> {
        (self.kind == ConversationKind::Direct)
            .then(|| self.members.keys().copied().find(|s| *s != staff))
            .flatten()
    }

    pub fn owner(&self) -> Option<StaffId> {
        self.members
            .iter()
            .find(|(_, m)| m.role == Role::Owner)
            .map(|(s, _)| *s)
    }
}

/// The key of the one direct conversation between two people.
pub fn pair_key(a: StaffId, b: StaffId) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    format!("{}:{}", x.0.simple(), y.0.simple())
}

/// The key of a person's system-notice conversation.
pub fn system_key(staff: StaffId) -> String {
    format!("system:{}", staff.0.simple())
}

/// Every conversation, indexed the ways the service looks them up.
#[derive(Debug, Default)]
pub struct ImState {
    convs: HashMap<ConversationId, Conversation>,
    by_staff: HashMap<StaffId, HashSet<ConversationId>>,
    by_pair: HashMap<String, ConversationId>,
    by_department: HashMap<DepartmentId, ConversationId>,
    /// The next global message number (the search index refers to it).
    pub next_gid: i64,
}

impl ImState {
    /// Loads every conversation and member, and each conversation's last seq.
    pub async fn load(db: &DatabaseConnection) -> Result<Self, ImError> {
        let mut state = Self {
            next_gid: 1,
            ..Self::default()
        };
        for row in conversation::Entity::find().all(db).await? {
            let kind = ConversationKind::parse(&row.kind)
                .ok_or_else(|| ImError::Internal(format!("conversation kind '{}'", row.kind)))?;
            let mut conv = Conversation::new(ConversationId(row.id), kind, row.created_at);
            conv.name = row.name;
            conv.announcement = row.announcement;
            conv.department = row.department_id.map(DepartmentId);
            conv.pair_key = row.pair_key;
            conv.mute_all = row.mute_all;
            conv.dissolved = row.dissolved;
            state.insert(conv);
        }
        let rows: Vec<member::Model> = member::Entity::find().all(db).await?;
        for row in rows {
            let role = Role::parse(&row.role).unwrap_or(Role::Member);
            let id = ConversationId(row.conversation_id);
            let Some(conv) = state.convs.get_mut(&id) else {
                continue;
            };
            conv.members.insert(
                StaffId(row.staff_id),
                Member {
                    role,
                    joined_seq: row.joined_seq,
                    read_seq: row.read_seq,
                    muted_until: row.muted_until,
                    has_sent: row.has_sent,
                },
            );
            state
                .by_staff
                .entry(StaffId(row.staff_id))
                .or_default()
                .insert(id);
        }
        for conv in state.convs.values_mut() {
            conv.refresh_recipients();
        }
        let backend = db.get_database_backend();
        let lasts = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT conversation_id, MAX(seq) AS last_seq FROM im_messages GROUP BY conversation_id",
            ))
            .await?;
        for row in lasts {
            let id: Uuid = row.try_get("", "conversation_id")?;
            let last: i64 = row.try_get("", "last_seq")?;
            if let Some(conv) = state.convs.get_mut(&ConversationId(id)) {
                conv.last_seq = last;
            }
        }
        let max_gid: Option<i64> = super::entities::message::Entity::find()
            .select_only()
            .column_as(super::entities::message::Column::Gid.max(), "gid")
            .into_tuple::<Option<i64>>()
            .one(db)
            .await?
            .flatten();
        state.next_gid = max_gid.unwrap_or(0) + 1;
        Ok(state)
    }

    pub fn get(&self, id: ConversationId) -> Option<&Conversation> {
        self.convs.get(&id)
    }

    pub fn get_mut(&mut self, id: ConversationId) -> Option<&mut Conversation> {
        self.convs.get_mut(&id)
    }

    pub fn member(&self, id: ConversationId, staff: StaffId) -> Option<&Member> {
        self.convs.get(&id).and_then(|c| c.members.get(&staff))
    }

    pub fn by_pair(&self, key: &str) -> Option<ConversationId> {
        self.by_pair.get(key).copied()
    }

    pub fn by_department(&self, department: DepartmentId) -> Option<ConversationId> {
        self.by_department.get(&department).copied()
    }

    pub fn departments(&self) -> impl Iterator<Item = (DepartmentId, ConversationId)> + '_ {
        self.by_department.iter().map(|(d, c)| (*d, *c))
    }

    /// The conversations a person is a member of.
    pub fn conversations_of(&self, staff: StaffId) -> impl Iterator<Item = &Conversation> + '_ {
        self.by_staff
            .get(&staff)
            .into_iter()
            .flatten()
            .filter_map(|id| self.convs.get(id))
    }

    /// People who share a direct conversation with `staff` (who see their presence).
    pub fn direct_peers(&self, staff: StaffId) -> Vec<StaffId> {
        self.conversations_of(staff)
            .filter_map(|c| c.peer_of(staff))
            .collect()
    }

    /// Adds (or replaces) a conversation with its members.
    pub fn insert(&mut self, mut conv: Conversation) {
        if let Some(key) = &conv.pair_key {
            self.by_pair.insert(key.clone(), conv.id);
        }
        if let Some(department) = conv.department
            && !conv.dissolved
        {
            self.by_department.insert(department, conv.id);
        }
        for staff in conv.members.keys() {
            self.by_staff.entry(*staff).or_default().insert(conv.id);
        }
        conv.refresh_recipients();
        self.convs.insert(conv.id, conv);
    }

    pub fn add_member(&mut self, id: ConversationId, staff: StaffId, member: Member) {
        if let Some(conv) = self.convs.get_mut(&id) {
            conv.members.insert(staff, member);
            conv.refresh_recipients();
            self.by_staff.entry(staff).or_default().insert(id);
        }
    }

    pub fn remove_member(&mut self, id: ConversationId, staff: StaffId) {
        if let Some(conv) = self.convs.get_mut(&id) {
            conv.members.remove(&staff);
            conv.refresh_recipients();
        }
        if let Some(set) = self.by_staff.get_mut(&staff) {
            set.remove(&id);
            if set.is_empty() {
                self.by_staff.remove(&staff);
            }
        }
    }

    /// Marks a conversation dissolved: it stays readable but takes no more messages.
    pub fn dissolve(&mut self, id: ConversationId) {
        if let Some(conv) = self.convs.get_mut(&id) {
            conv.dissolved = true;
            if let Some(department) = conv.department
                && self.by_department.get(&department) == Some(&id)
            {
                self.by_department.remove(&department);
            }
        }
    }
}
