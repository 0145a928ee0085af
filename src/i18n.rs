//! French and English text. Every user-facing string lives in `locales/<lang>/*.ftl` (Fluent),
//! compiled into the binary; this module looks messages up and formats money and dates the way
//! each language writes them.

pub mod format;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid};
use serde::{Deserialize, Serialize};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Fluent wraps every placeable in Unicode isolation marks by default; in a chat they
        // turn into invisible characters inside references and amounts.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// A language billbot speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Fr,
    #[default]
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    /// The language for a client's language code (`fr`, `fr-SN`, `fr_FR.UTF-8`): French for any
    /// `fr*`, English otherwise.
    pub fn from_code(code: &str) -> Lang {
        if code.trim().get(..2).is_some_and(|p| p.eq_ignore_ascii_case("fr")) { Lang::Fr } else { Lang::En }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    fn langid(self) -> LanguageIdentifier {
        match self {
            Lang::Fr => langid!("fr"),
            Lang::En => langid!("en"),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;

    /// Exactly `fr` or `en` (any case): what `--lang` and `/lang` accept.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fr" => Ok(Lang::Fr),
            "en" => Ok(Lang::En),
            other => Err(format!("unknown language {other:?} (expected fr or en)")),
        }
    }
}

/// A message argument.
pub type Arg<'a> = FluentValue<'a>;

/// The message `id` in `lang`, with `args`. A message missing in `lang` falls back to English;
/// one missing everywhere is a bug: it is logged and its id returned, which the locale tests catch.
pub fn message(lang: Lang, id: &str, args: &[(&'static str, Arg<'_>)]) -> String {
    let args: Option<HashMap<Cow<'static, str>, Arg<'_>>> =
        (!args.is_empty()).then(|| args.iter().map(|(k, v)| (Cow::Borrowed(*k), v.clone())).collect());
    LOCALES.try_lookup_complete(&lang.langid(), id, args.as_ref()).unwrap_or_else(|| {
        tracing::error!(id, lang = %lang, "missing message");
        id.to_owned()
    })
}

/// Whether `id` exists in `lang` itself (without falling back to English).
pub fn has_message(lang: Lang, id: &str) -> bool {
    match LOCALES.lookup_single_language::<&str>(&lang.langid(), id, None) {
        Ok(_) => true,
        // A message with placeables formats with errors when given no arguments, but exists.
        // fluent-templates does not export its error type, so the variant is told by name.
        Err(e) => format!("{e:?}").starts_with("FluentError"),
    }
}

/// `t!(lang, "id")` or `t!(lang, "id", name = value, …)`: a localized message.
#[macro_export]
macro_rules! t {
    ($lang:expr, $id:expr) => {
        $crate::i18n::message($lang, $id, &[])
    };
    ($lang:expr, $id:expr, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::i18n::message($lang, $id, &[$((stringify!($name), $crate::i18n::Arg::from($value))),+])
    };
}
