//! The directory: departments, staff, memberships and custom fields.
//!
//! It owns the `departments`, `staff`, `memberships` and `field_definitions` tables and the
//! in-memory replica of them. Every change goes through [`Directory::write`], which commits
//! under a new journal version and then tells listeners (contact views, chats) what changed.
//! It never reads or writes another module's tables.

mod error;
mod fields;
mod input;
mod model;
mod phonetic;
pub mod query;
mod replica;
mod service;
mod stage;
mod store;

pub use error::DirectoryError;
pub use fields::FieldSchema;
pub use input::{
    DeleteDepartment, DepartmentPatch, MembershipInput, NewDepartment, NewStaff, StaffPatch,
};
pub use model::{
    CustomFields, Department, DepartmentId, DisabledBy, FieldDefinition, FieldEntity, FieldType,
    LdapRef, Membership, RecordSource, Staff, StaffId, StaffStatus, parse_login,
};
pub use phonetic::spell;
pub use replica::{Change, Replica};
pub use service::{Directory, DirectoryListener};
pub use stage::Stage;
