//! Offline push: the devices people register, and notifications of their new messages sent to
//! a push gateway (the Matrix push gateway's shape) while they have no session online.
//!
//! It owns the `push_*` tables. It hears messaging through `Im::on_offline_message` (the
//! dispatcher's one offline rule) and revocations through auth's listener, and reads names,
//! unread counts and presence through their public interfaces. Nothing waits on the gateway:
//! every notification is a row of the outbox first, sent by one worker with retries.

mod devices;
mod entities;
mod error;
mod outbox;
mod service;
mod worker;

pub use devices::{Device, DeviceInput, MAX_DEVICES, Mute, MuteInput, Platform};
pub use error::PushError;
pub use service::Push;
