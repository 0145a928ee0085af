//! The channels: thin adapters between a chat network and the conversation core.
//!
//! A channel parses what its network sends into an [`Inbound`](intake::Inbound) and gives it to
//! the one [`intake`], which stores, orders, admits and queues it and runs the core's turn; the
//! channel's [`Edge`](intake::Edge) renders and delivers the replies, and its
//! [`Notifier`](crate::outbox::Notifier) the outbox's notices. What the core may assume of a
//! channel is in [`Capabilities`](crate::domain::Capabilities).

pub mod intake;
pub mod queue;
pub mod telegram;
pub mod terminal;
pub mod text;
pub mod web;
pub mod whatsapp;

pub use queue::{Admission, ChatQueues, Flood};
