//! The channels: thin adapters between a chat network and the conversation core.

pub mod telegram;
pub mod terminal;
