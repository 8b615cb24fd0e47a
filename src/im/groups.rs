//! Group management as the REST API and the server API call it: the checks that need the
//! contact views happen here (one may only invite people one can see); the rest is decided by
//! the structural operations at commit time.

use serde::Serialize;
use utoipa::ToSchema;

use super::{
    Im, ImError,
    conversations::{
        AddMembers, CreateGroup, Dissolve, Leave, RemoveMember, SetMember, UpdateGroup,
    },
    model::{ConversationId, ConversationKind, Role, Sender, Seq},
    ops::Done,
};
use crate::directory::{DepartmentId, StaffId};

/// The longest group name and announcement.
const MAX_NAME: usize = 100;
/// The longest group announcement, in characters.
pub const MAX_ANNOUNCEMENT: usize = 4000;

/// A member as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberInfo {
    pub staff: StaffId,
    pub role: Role,
    pub joined_seq: Seq,
    pub read_seq: Seq,
    pub muted_until: i64,
}

/// A conversation with its members.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationInfo {
    pub id: ConversationId,
    pub kind: ConversationKind,
    pub name: String,
    pub announcement: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<DepartmentId>,
    pub mute_all: bool,
    pub dissolved: bool,
    pub last_seq: Seq,
    pub members: Vec<MemberInfo>,
}

fn check_name(name: &str) -> Result<String, ImError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ImError::invalid(
            "name",
            format!("1 to {MAX_NAME} characters"),
        ));
    }
    Ok(name.to_owned())
}

fn check_announcement(text: &str) -> Result<String, ImError> {
    if text.chars().count() > MAX_ANNOUNCEMENT {
        return Err(ImError::invalid(
            "announcement",
            format!("at most {MAX_ANNOUNCEMENT} characters"),
        ));
    }
    Ok(text.to_owned())
}

fn conversation_of(done: Done) -> Result<ConversationId, ImError> {
    match done {
        Done::Conversation(id) => Ok(id),
        _ => Err(ImError::Internal("no conversation in the answer".into())),
    }
}

impl Im {
    /// People the inviter may add: active, and (for a person inviting) in their contacts.
    fn invitable(&self, by: Sender, staff: &[StaffId]) -> Result<Vec<StaffId>, ImError> {
        let mut out = Vec::with_capacity(staff.len());
        for id in staff {
            let active = self
                .directory
                .read()
                .staff(*id)
                .is_some_and(|s| s.is_active());
            let visible = match by {
                Sender::System => true,
                Sender::Staff(me) => *id == me || self.contacts.sees(me, *id),
            };
            if !active || !visible {
                return Err(ImError::NotFound(format!("person {id}")));
            }
            out.push(*id);
        }
        Ok(out)
    }

    /// Creates a group owned by `owner`.
    pub async fn create_group(
        &self,
        by: Sender,
        owner: StaffId,
        name: &str,
        announcement: &str,
        members: &[StaffId],
    ) -> Result<ConversationId, ImError> {
        let name = check_name(name)?;
        let announcement = check_announcement(announcement)?;
        let mut members = self.invitable(by, members)?;
        members.extend(self.invitable(Sender::System, &[owner])?);
        let done = self
            .run(Box::new(CreateGroup {
                owner,
                by,
                name,
                announcement,
                members,
            }))
            .await?;
        conversation_of(done)
    }

    pub async fn invite(
        &self,
        by: Sender,
        id: ConversationId,
        staff: &[StaffId],
    ) -> Result<(), ImError> {
        let staff = self.invitable(by, staff)?;
        self.run(Box::new(AddMembers {
            by,
            conversation: id,
            staff,
        }))
        .await
        .map(|_| ())
    }

    pub async fn remove_member(
        &self,
        by: Sender,
        id: ConversationId,
        staff: StaffId,
    ) -> Result<(), ImError> {
        self.run(Box::new(RemoveMember {
            by,
            conversation: id,
            staff,
        }))
        .await
        .map(|_| ())
    }

    pub async fn leave(&self, staff: StaffId, id: ConversationId) -> Result<(), ImError> {
        self.run(Box::new(Leave {
            staff,
            conversation: id,
        }))
        .await
        .map(|_| ())
    }

    pub async fn dissolve(&self, by: Sender, id: ConversationId) -> Result<(), ImError> {
        self.run(Box::new(Dissolve {
            by,
            conversation: id,
        }))
        .await
        .map(|_| ())
    }

    pub async fn update_group(
        &self,
        by: Sender,
        id: ConversationId,
        name: Option<&str>,
        announcement: Option<&str>,
        mute_all: Option<bool>,
    ) -> Result<(), ImError> {
        let name = name.map(check_name).transpose()?;
        let announcement = announcement.map(check_announcement).transpose()?;
        self.run(Box::new(UpdateGroup {
            by,
            conversation: id,
            name,
            announcement,
            mute_all,
        }))
        .await
        .map(|_| ())
    }

    pub async fn set_member(
        &self,
        by: Sender,
        id: ConversationId,
        staff: StaffId,
        role: Option<Role>,
        muted_until: Option<i64>,
    ) -> Result<(), ImError> {
        self.run(Box::new(SetMember {
            by,
            conversation: id,
            staff,
            role,
            muted_until,
        }))
        .await
        .map(|_| ())
    }

    /// A conversation with its members, for one of them.
    pub fn conversation_info(
        &self,
        staff: Option<StaffId>,
        id: ConversationId,
    ) -> Result<ConversationInfo, ImError> {
        let state = self.state();
        let conv = state
            .get(id)
            .ok_or_else(|| ImError::NotFound("conversation".into()))?;
        if let Some(staff) = staff
            && !conv.members.contains_key(&staff)
        {
            return Err(ImError::NotMember);
        }
        let mut members: Vec<MemberInfo> = conv
            .members
            .iter()
            .map(|(s, m)| MemberInfo {
                staff: *s,
                role: m.role,
                joined_seq: m.joined_seq,
                read_seq: m.read_seq,
                muted_until: m.muted_until,
            })
            .collect();
        members.sort_by_key(|m| (std::cmp::Reverse(m.role), m.joined_seq, m.staff));
        let name = match conv
            .department
            .and_then(|d| self.directory.read().department(d).map(|d| d.name.clone()))
        {
            Some(name) => name,
            None => conv.name.clone(),
        };
        Ok(ConversationInfo {
            id,
            kind: conv.kind,
            name,
            announcement: conv.announcement.clone(),
            department: conv.department,
            mute_all: conv.mute_all,
            dissolved: conv.dissolved,
            last_seq: conv.last_seq,
            members,
        })
    }

    /// The conversation of a department (for people and tools that know the department).
    pub fn department_conversation(&self, department: DepartmentId) -> Option<ConversationId> {
        self.state().by_department(department)
    }
}
