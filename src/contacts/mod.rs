//! Contact views: what each person may see of the directory, kept per view class, and the
//! snapshot / delta protocol clients sync with. It owns the `view_*` and `contacts_meta`
//! tables (derived data and the history that makes deltas survive restarts). It reads the
//! directory and the policy through their public interfaces only.

mod backlog;
mod class;
mod frozen;
mod index;
mod moves;
mod project;
mod service;
mod slots;
mod snapshots;
mod state;
mod store;
mod wire;

pub use class::ClassKey;
pub use index::{EntryKey, EntryKind};
pub use project::{ContactDepartment, ContactMembership, ContactStaff};
pub use service::{Contacts, ViewStats};
pub use snapshots::SnapshotBody;
pub use state::{DeltaEntry, PolicyEffect, ViewError};
pub use wire::{Delta, DeltaChange, DeltaOp, EntryData, SearchResult, Snapshot};
