//! Messaging: direct, group and department conversations over WebSocket with durable, ordered,
//! exactly-once-visible delivery, offline sync, multi-device, receipts, recall and edit,
//! files, search, a server API and webhooks.
//!
//! It owns the `im_*` tables and the files under `<data>/im-files/`. Every write goes through
//! one writer task (group commit; acks only after the commit); fan-out goes through the
//! [`Hub`] trait. It reads the directory, contact views and auth through their public
//! interfaces only, and never touches another module's tables.

mod admin;
mod announce;
pub mod apps;
pub mod config;
mod conversations;
pub mod deliveries;
mod departments;
mod dispatch;
mod entities;
mod error;
mod files;
pub mod gateway;
mod group_admin;
mod groups;
pub mod hub;
mod messages;
pub mod model;
pub mod offline;
mod ops;
mod presence;
pub mod protocol;
mod queries;
pub mod search;
mod service;
mod session;
mod state;
mod stats;
mod timings;
pub mod webhooks;
mod writer;

pub use admin::{API_KEY_PREFIX, ApiKeyInfo};
pub use announce::{Audience, Reach, check_text as announce_text};
pub use config::{ImConfig, Settings};
pub use deliveries::{Delivery, DeliveryStatus};
pub use error::ImError;
pub use files::FileInfo;
pub use group_admin::{GroupPage, GroupQuery, GroupSummary};
pub use groups::{ConversationInfo, MAX_ANNOUNCEMENT, MemberInfo};
pub use hub::{Hub, LocalHub, Sessions};
pub use model::{ConversationId, ConversationKind, MessageKind, Role, Sender, Seq};
pub use offline::{OfflineListener, OfflineMessage};
pub use ops::{Done, Reply};
pub use service::Im;
pub use stats::DayCount;
pub use webhooks::Webhook;
