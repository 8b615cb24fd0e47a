//! Access control: roles, visibility rules, role assignments (to staff and LDAP groups), the
//! casbin enforcer that holds them, and the per-role profiles that view classes are built
//! from. It owns the `roles`, `access_rules`, `role_assignments` and `group_members` tables.
//! It never evaluates casbin per directory entry on a serving path.

mod adapter;
mod admin_watch;
mod error;
mod model;
mod plan;
mod policy;
mod profile;
mod service;
mod snapshot;
mod store;

pub use admin_watch::AdminWatch;
pub use error::AccessError;
pub use model::{
    Assignment, Effect, MaskedField, Object, Role, RoleId, Rule, RuleId, Subject, role_subject,
    staff_subject,
};
pub use policy::Policy;
pub use profile::{ClassProfile, Deny, GlobalMask, Grants, Masks, RoleProfile};
pub use service::{Access, MODEL, PolicyChange, PolicyListener, own_departments, sees_anything};
pub use snapshot::PolicySnapshot;
