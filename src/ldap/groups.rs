//! What a run changes in the access policy: LDAP group members (nested groups resolved) and
//! the `group_roles` links, which every run checks — a role created after the first sync
//! reaches its group at the next run, whether or not a group changed.

use super::{dn::normalize_dn, mapping::RecordFailure, remote::Remote, sync};
use crate::{
    access::{Assignment, Policy, PolicyChange, Subject},
    config::ldap::LdapConfig,
    directory::Replica,
};

/// The policy changes a run makes, and what it could not do.
#[derive(Debug, Default)]
pub struct GroupPlan {
    pub changes: Vec<PolicyChange>,
    /// Groups whose members were resolved (0 when no group was read).
    pub groups: usize,
    pub failures: Vec<RecordFailure>,
}

pub fn plan(config: &LdapConfig, remote: &Remote, replica: &Replica, policy: &Policy) -> GroupPlan {
    let mut out = GroupPlan::default();
    if config.groups.is_some() && remote.groups_read {
        let members = sync::group_members(remote, replica);
        out.groups = members.len();
        out.changes.extend(
            members
                .into_iter()
                .filter(|(group, set)| {
                    policy.group_members.get(group).cloned().unwrap_or_default() != *set
                })
                .map(|(group, set)| PolicyChange::SetGroupMembers(group, set)),
        );
    }
    for (group, role_name) in &config.group_roles {
        match policy.roles.values().find(|r| &r.name == role_name) {
            Some(role) => {
                let assignment = Assignment {
                    role_id: role.id,
                    subject: Subject::Group(normalize_dn(group)),
                };
                if !policy.assignments.contains(&assignment) {
                    out.changes.push(PolicyChange::Assign(assignment));
                }
            }
            None => out.failures.push(RecordFailure {
                dn: group.clone(),
                reason: format!(
                    "ldap.group_roles gives this group the role \"{role_name}\", which does not exist; create the role (POST /api/v1/admin/roles) or fix the name"
                ),
            }),
        }
    }
    out
}
