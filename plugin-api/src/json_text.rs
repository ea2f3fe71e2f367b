//! [`JsonText`]: the text of one JSON value, valid by construction.
//!
//! Every result the SDK hands to the host is either encoded by serde from a
//! typed value or a `JsonText` an `encoded_answer` returned. Both are one
//! JSON value whatever the adapter does, so a library built with this SDK
//! says so in its manifest (`resultsChecked`) and the host takes its
//! results without parsing them again. That is why this type has no way to
//! wrap unchecked text: it is built by encoding ([`JsonText::encode`]), by
//! checking ([`JsonText::parse`]) or from other `JsonText`s
//! ([`JsonText::array`]).

use std::fmt;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::Error;

/// This module's result: `sdk::Result` would make an import cycle (the
/// SDK uses this module).
type Result<T> = std::result::Result<T, Error>;

/// The text of exactly one JSON value (with no surrounding whitespace when
/// it was encoded or joined; as given when it was parsed).
///
/// The text is kept in the `String` it was built in, spare capacity
/// included: [`JsonText::into_string`] hands that `String` over without
/// copying, and [`JsonText::array`] does not shrink (reallocate) its output
/// first.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct JsonText(String);

impl JsonText {
    /// Encodes a value as serde_json does. Fails (`internal`) only for
    /// values serde_json cannot encode, such as a map with non-string keys.
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<JsonText> {
        serde_json::to_string(value)
            .map(JsonText)
            .map_err(|e| Error::internal(format!("encoding JSON: {e}")))
    }

    /// Checks that `text` is one JSON value (surrounding whitespace
    /// allowed) and keeps it as given. Anything else is `internal`: the
    /// text comes from the adapter, not from the API client.
    pub fn parse(text: impl Into<String>) -> Result<JsonText> {
        let text = text.into();
        match serde_json::from_str::<&RawValue>(&text) {
            Ok(_) => Ok(JsonText(text)),
            Err(e) => Err(Error::internal(format!("not one JSON value: {e}"))),
        }
    }

    /// The JSON array of `items`, in order: `[a,b,…]`.
    pub fn array<'a>(items: impl IntoIterator<Item = &'a JsonText>) -> JsonText {
        let mut out = String::with_capacity(4096);
        out.push('[');
        for (n, item) in items.into_iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(&item.0);
        }
        out.push(']');
        JsonText(out)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned (the `String` it was built in, not a copy).
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JsonText").field(&&*self.0).finish()
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for JsonText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn one_value(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn encoding_gives_serde_json_s_text() {
        let value = json!({"id": "INC-1", "n": [1, 2.5, null], "s": "a\"\\\n\u{1}é"});
        let text = JsonText::encode(&value).unwrap();
        assert_eq!(text.as_str(), serde_json::to_string(&value).unwrap());
        assert_eq!(one_value(text.as_str()), value);
        // A non-finite float is encoded as null, still JSON.
        assert_eq!(JsonText::encode(&f64::NAN).unwrap().as_str(), "null");
    }

    #[test]
    fn what_serde_json_cannot_encode_is_an_internal_error() {
        let map: std::collections::HashMap<Vec<u8>, u8> = [(vec![1], 1)].into();
        let error = JsonText::encode(&map).unwrap_err();
        assert_eq!(error.code(), "internal");
        assert!(error.message().starts_with("encoding JSON:"), "{error:?}");
    }

    #[test]
    fn parsing_keeps_one_value_as_given_and_refuses_anything_else() {
        for good in ["null", " [1, 2] ", "\"x\"", "{\"a\":{}}", "-0.5e3"] {
            assert_eq!(JsonText::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", " ", "[1,", "{} {}", "nul", "'x'", "[1,]", "\"\u{1}\""] {
            let error = JsonText::parse(bad).unwrap_err();
            assert_eq!(error.code(), "internal", "{bad:?}");
            assert!(error.message().starts_with("not one JSON value"), "{bad:?}");
        }
    }

    #[test]
    fn arrays_join_their_items_in_order() {
        let items: Vec<JsonText> = [json!({"a": 1}), json!("x,]"), json!([]), json!(null)]
            .iter()
            .map(|v| JsonText::encode(v).unwrap())
            .collect();
        let joined = JsonText::array(&items);
        assert_eq!(joined.as_str(), r#"[{"a":1},"x,]",[],null]"#);
        assert_eq!(
            one_value(joined.as_str()),
            json!([{"a": 1}, "x,]", [], null])
        );
        assert_eq!(JsonText::array([]).as_str(), "[]");
        let one = JsonText::array(&items[..1]);
        assert_eq!(
            JsonText::array([&one, &one]).as_str(),
            r#"[[{"a":1}],[{"a":1}]]"#
        );
        assert_eq!(one.clone().into_string(), one.to_string());
    }

    #[test]
    fn the_text_is_handed_over_without_copying_or_shrinking() {
        let items: Vec<JsonText> = (0..3).map(|n| JsonText::encode(&n).unwrap()).collect();
        let joined = JsonText::array(&items);
        let at = joined.as_str().as_ptr();
        let text = joined.into_string();
        assert_eq!(text, "[0,1,2]");
        assert_eq!(text.as_ptr(), at, "into_string copied the text");
        assert!(
            text.capacity() > text.len(),
            "array shrank its output: {}",
            text.capacity()
        );
        let parsed = JsonText::parse(String::from(" [1] ")).unwrap();
        let at = parsed.as_str().as_ptr();
        let text = parsed.into_string();
        assert_eq!(text.as_ptr(), at, "into_string copied the text");
    }
}
