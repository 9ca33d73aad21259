//! Every error code the server can send has a readable message and a way forward in the
//! browser client (`assets/messages.js`), so a new `ErrorCode` cannot silently reach people as
//! raw text. The codes come from the enum itself (the names serde accepts on the wire), not from
//! a list kept by hand. No browser needed.

use std::collections::BTreeSet;

use serde::de::{self, Deserialize, Visitor};
use tessera_protocol::ErrorCode;

/// A deserializer that only records the variant names an enum asks it for.
struct VariantNames(Option<&'static [&'static str]>);

#[derive(Debug)]
struct Done;

impl std::fmt::Display for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("variant names recorded")
    }
}
impl std::error::Error for Done {}
impl de::Error for Done {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Done
    }
}

impl<'de> de::Deserializer<'de> for &mut VariantNames {
    type Error = Done;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Done> {
        Err(Done)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Done> {
        self.0 = Some(variants);
        Err(Done)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// The wire names of every [`ErrorCode`].
fn error_codes() -> BTreeSet<&'static str> {
    let mut names = VariantNames(None);
    let _ = ErrorCode::deserialize(&mut names);
    let codes: BTreeSet<&str> = names.0.expect("ErrorCode deserializes as an enum").iter().copied().collect();
    // Each name really is a code the server sends (and the reverse of serialisation).
    for code in &codes {
        let parsed: ErrorCode = serde_json::from_value(serde_json::json!(code)).unwrap();
        assert_eq!(serde_json::to_value(parsed).unwrap(), *code);
    }
    codes
}

/// The `SERVER_ERRORS` table of `assets/messages.js` (strict JSON between its braces).
fn client_table() -> serde_json::Map<String, serde_json::Value> {
    let js = include_str!("../../assets/messages.js");
    let start = js.find("export const SERVER_ERRORS = {").expect("SERVER_ERRORS in messages.js");
    let body = &js[start + "export const SERVER_ERRORS = ".len()..];
    let end = body.find("\n};").expect("the table ends with `};` on its own line");
    serde_json::from_str(&body[..=end + 1]).expect("SERVER_ERRORS is strict JSON")
}

#[test]
fn every_server_error_code_has_a_readable_message_and_a_way_forward() {
    let codes = error_codes();
    let table = client_table();
    println!("{} codes in ErrorCode: {codes:?}", codes.len());
    assert!(codes.len() >= 18, "ErrorCode lost variants? {codes:?}");
    for code in &codes {
        let entry = table.get(*code).unwrap_or_else(|| panic!("assets/messages.js has no message for `{code}`"));
        let then = entry["then"].as_str().unwrap_or_default();
        let text = entry["text"].as_str().unwrap_or_default();
        println!("{code:>18}: {then:<6} {text}");
        assert!(["leave", "rejoin", "notice"].contains(&then), "`{code}`: unknown action {then:?}");
        // Readable: a sentence for a person, not the code or the server's wording.
        assert!(text.len() >= 15 && text.ends_with('.'), "`{code}`: {text:?} is not a sentence");
        assert!(text.starts_with(|c: char| c.is_uppercase()), "`{code}`: {text:?}");
        assert!(!text.contains(code), "`{code}`: {text:?} shows the code itself");
    }
    let stale: Vec<&String> = table.keys().filter(|k| !codes.contains(k.as_str())).collect();
    assert!(stale.is_empty(), "messages.js has codes the server does not send: {stale:?}");
    // The decisions the page depends on: a removed person goes back to the form; a server that
    // failed their join is tried again rather than leaving the page waiting.
    let then = |code: &str| table[code]["then"].as_str().unwrap().to_owned();
    for code in ["kicked", "room_closed", "invalid_room", "invalid_name"] {
        assert_eq!(then(code), "leave", "{code}");
    }
    for code in ["internal_error", "server_shutdown", "not_joined", "already_joined", "media_timeout", "media_error"] {
        assert_eq!(then(code), "rejoin", "{code}");
    }
    for code in ["layout_locked", "invalid_layout"] {
        assert_eq!(then(code), "notice", "{code}: dismissable, the call goes on");
    }
}
