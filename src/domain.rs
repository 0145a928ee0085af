//! Pure domain types: no I/O, and every constructor validates, so a value you hold is a valid one.

pub mod bill;
pub mod biller;
pub mod chat;
pub mod limits;
pub mod money;
pub mod order;
pub mod paid;
pub mod privacy;
pub mod reference;
pub mod seen_bills;
pub mod separators;

pub use bill::{Bill, InquiryResult, Meter};
pub use biller::{Biller, BillerKind, ReferenceKind, UnknownServiceCode};
pub use chat::{Capabilities, Channel, ChatKey, Role};
pub use money::{Currency, Money};
pub use order::{MerchantFields, Order, OrderNo, OrderNoError, OrderStatus};
pub use reference::{CustomerReference, ReferenceError};
