//! Refusing JSON objects that repeat a key.
//!
//! serde refuses a repeated struct field, but a free-form object (`config`,
//! `metadata`) decodes into a map where the last value silently wins. Two
//! readers of the same document could then disagree about what it says (a
//! proxy that keeps the first value, the host the last), so every object of
//! a request body or a configuration, at any depth, must name each key once.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::safe_text;

/// The first repeated key of a JSON document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("duplicate key `{key}` at line {line} column {column}")]
pub struct DuplicateKey {
    /// The key, escaped and bounded for quoting.
    pub key: String,
    pub line: usize,
    pub column: usize,
}

/// Checks that no object in `bytes` repeats a key. A document that is not
/// valid JSON passes: the decoder that reads it says what is wrong.
pub fn check(bytes: &[u8]) -> Result<(), DuplicateKey> {
    let repeated = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match (
        Unique(&repeated).deserialize(&mut de),
        repeated.into_inner(),
    ) {
        (Err(err), Some(key)) => Err(DuplicateKey {
            key,
            line: err.line(),
            column: err.column(),
        }),
        // Valid, or not JSON at all.
        _ => Ok(()),
    }
}

/// Visits any JSON value, keeping each object's keys; the first repeated
/// key goes into the cell (escaped and bounded) and ends the walk.
#[derive(Clone, Copy)]
struct Unique<'a>(&'a RefCell<Option<String>>);

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Seen::default();
        while let Some(Key(key)) = map.next_key()? {
            if let Err(key) = seen.add(key) {
                *self.0.borrow_mut() = Some(safe_text::quoted(&key));
                return Err(de::Error::custom("duplicate key"));
            }
            map.next_value_seed(self)?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// How many keys of one object [`Seen`] keeps in a list before it hashes.
const FEW: usize = 8;

/// The keys of one object seen so far. Most objects have a few keys: those
/// are kept on the stack and compared one by one; an object with more
/// moves them into a hash set.
#[derive(Default)]
struct Seen<'de> {
    few: [Cow<'de, str>; FEW],
    /// How many of `few` are keys.
    len: usize,
    /// Every key, once there are more than [`FEW`].
    many: HashSet<Cow<'de, str>>,
}

impl<'de> Seen<'de> {
    /// Adds `key`, or gives it back when the object named it before.
    fn add(&mut self, key: Cow<'de, str>) -> Result<(), Cow<'de, str>> {
        if self.len < FEW {
            if self.few[..self.len].contains(&key) {
                return Err(key);
            }
            self.few[self.len] = key;
            self.len += 1;
            return Ok(());
        }
        if self.many.is_empty() {
            self.many.extend(self.few.iter_mut().map(std::mem::take));
        }
        if self.many.contains(&key) {
            return Err(key);
        }
        self.many.insert(key);
        Ok(())
    }
}

/// An object key, borrowed from the input when it has no escapes.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(v.to_owned().into()))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_repeats_at_any_depth() {
        assert_eq!(
            check(br#"{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}"#),
            Ok(())
        );
        let err = check(br#"{"a":1,"a":2}"#).unwrap_err();
        assert_eq!(err.key, "a");
        assert_eq!(err.to_string(), "duplicate key `a` at line 1 column 10");
        let err = check(br#"{"x":{"config":{"s":1,"s":2}}}"#).unwrap_err();
        assert_eq!(err.key, "s");
        let err = check(br#"[{"k":1},{"q":[{"z":1,"z":1}]}]"#).unwrap_err();
        assert_eq!(err.key, "z");
        // The same key spelled with an escape is the same key.
        let err = check(br#"{"ab":1,"a\u0062":2}"#).unwrap_err();
        assert_eq!(err.key, "ab");
    }

    /// Objects with more keys than the short list holds are checked as
    /// well, whichever key repeats and however it is spelled.
    #[test]
    fn finds_repeats_in_objects_of_any_size() {
        for size in [1, FEW - 1, FEW, FEW + 1, 3 * FEW] {
            let keys: Vec<String> = (0..size).map(|i| format!("k{i}")).collect();
            let fields: Vec<String> = keys.iter().map(|k| format!(r#""{k}":1"#)).collect();
            let doc = format!("{{{}}}", fields.join(","));
            assert_eq!(check(doc.as_bytes()), Ok(()), "{doc}");
            for repeated in &keys {
                for spelling in [repeated.clone(), format!("\\u006b{}", &repeated[1..])] {
                    let doc = format!(r#"{{{},"{spelling}":2,"z":3}}"#, fields.join(","));
                    let err = check(doc.as_bytes()).unwrap_err();
                    assert_eq!(err.key, *repeated, "{doc}");
                    // The column of the repeated key's closing quote.
                    let column = doc.find(r#"":2,"#).unwrap() + 1;
                    assert_eq!((err.line, err.column), (1, column), "{doc}");
                }
            }
        }
        // Escaped keys that differ stay different.
        assert_eq!(
            check(br#"{"a\u0062":1,"a\u0063":2,"ab":{}}"#)
                .unwrap_err()
                .key,
            "ab"
        );
    }

    #[test]
    fn quotes_keys_escaped_and_bounded() {
        let long = "k".repeat(500);
        let doc = format!(r#"{{"{long}":1,"{long}":2}}"#);
        let err = check(doc.as_bytes()).unwrap_err();
        assert!(err.key.ends_with('…') && err.key.chars().count() < 200);
        let err = check(br#"{"a\nb":1,"a\nb":2}"#).unwrap_err();
        assert_eq!(err.key, "a\\nb");
    }

    #[test]
    fn invalid_json_is_left_to_the_decoder() {
        assert_eq!(check(b"{"), Ok(()));
        assert_eq!(check(b"nope"), Ok(()));
        assert_eq!(check(b""), Ok(()));
    }
}
