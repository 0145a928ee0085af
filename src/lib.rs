//! billbot: look up Senegalese bills (SenEau, Senelec, Woyofal) and order statuses, by chat.
//!
//! The crate is laid out by concept: `domain` holds the pure types, `upstream` the two provider
//! clients, `sandbox` a simulation of both providers, `i18n` the French and English text, and
//! `cli` the operator commands.

pub mod app;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod config;
pub mod conversation;
pub mod domain;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod http;
pub mod i18n;
pub mod ops;
pub mod outbox;
pub mod providers;
pub mod reminders;
pub mod retention;
pub mod sandbox;
pub mod store;
pub mod telemetry;
pub mod tracking;
pub mod upstream;
pub mod views;
