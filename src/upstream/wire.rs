//! The providers' JSON, field for field, shared by the clients (which decode it) and the sandbox
//! (which encodes it), so the two cannot drift apart.
//!
//! Decoding is tolerant of everything the documents' samples show: amounts as numbers or as
//! strings, `null` anywhere, `refunded` as `0`/`1`/`false`/`true`, and unknown extra fields.
//! Encoding follows the documents: numbers in the inquiry API, strings in the status API.

pub mod inquiry;
pub mod lenient;
pub mod status;
