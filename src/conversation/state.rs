//! The dialogue states: where each chat is in its conversation. Stored per chat (serde, in the
//! store's `dialogue` tree); an unreadable stored state reads as [`State::Menu`].

use serde::{Deserialize, Serialize};

use crate::domain::{Biller, CustomerReference, OrderNo};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum State {
    /// At the main menu: a reference or an order number typed here is understood.
    #[default]
    Menu,
    /// The biller buttons are shown.
    ChoosingBiller,
    /// Waiting for a reference of `biller`.
    AwaitingReference { biller: Biller },
    /// A bill of `biller` was just shown: a number typed now is looked up with the same biller
    /// (anything else is understood as at the menu).
    AfterBill { biller: Biller },
    /// Waiting for an order number.
    AwaitingOrderNo,
    /// The language buttons are shown.
    ChoosingLanguage,
    /// Waiting for a nickname for a saved reference (any text; /cancel keeps it unnamed).
    NamingReference { reference: CustomerReference },
    /// Waiting for the last 4 digits of the recipient of an order the chat does not own.
    AwaitingProof { order_no: OrderNo },
    /// Asked whether to erase everything kept about the chat.
    ConfirmingForget,
    /// Asked for the question to send to support ("Talk to an agent"), about what (an order
    /// number or a reference, as agents read it) when it came after an error.
    AwaitingQuestion {
        #[serde(default)]
        about: Option<String>,
    },
}
