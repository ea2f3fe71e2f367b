//! The wire rules, each stated once per field type.
//!
//! Every schema struct is declared through [`wire!`], which applies
//! `serde_with::apply` with the rules below to each field by its type, so
//! that no field repeats them:
//!
//! | field type | on output | on input |
//! |---|---|---|
//! | `Vec<_>`, `JsonMap`, `StringMap`, `QueryScope` | left out when empty (Go's `omitempty`) | `null` read as empty (Go writes nil slices and maps as `null`), so published as nullable |
//! | `String` in a `query` | left out when empty | as serde does |
//! | `Option<_>` | left out when `None` | as serde does |
//! | `u32` (every `limit`) | left out when 0 | any whole JSON number (`25.0` too); published as int32: 0 ..= 2147483647 |
//! | `u64` (`step`) | always written | any whole JSON number; published as int64: 0 ..= 9223372036854775807 |
//! | [`NonBlank`] | always written | published as required and not blank |
//! | `Option<NonBlank>` | when `Some` | published as optional, not blank when present |
//!
//! Outside queries, strings are the one type whose rule is per field, as in
//! Go's struct tags: an optional string carries `#[serde(skip_serializing_if =
//! "String::is_empty")]`. A list that is always written (`LogEntries.entries`,
//! `MetricSeries.points`, …) opts out with `#[serde_with(skip_apply)]` and
//! keeps only the `null`-as-empty rule.
//!
//! The published ranges and the not-blank rule are enforced by the host,
//! which checks each request body against the document it publishes; this
//! crate decodes leniently so that adapters see what the host let through.

use serde::de::Unexpected;
use serde::{Deserialize, Deserializer};

/// A request string that must not be blank (empty or only white space).
///
/// An alias, not a new type, so that code reads and builds it as a `String`;
/// it exists so that `wire!` can attach the rule to such fields by type.
/// The OpenAPI document publishes it as `minLength: 1` plus
/// [`NOT_BLANK_PATTERN`], and the host refuses a blank value with 400.
pub type NonBlank = String;

/// The JSON Schema `pattern` of a [`NonBlank`] string: at least one character
/// that is not white space, where white space is exactly what Rust's
/// `char::is_whitespace` (and so `str::trim`) means. Written as an explicit
/// class because `\s` differs between regex dialects (ECMA-262, Python).
pub const NOT_BLANK_PATTERN: &str =
    r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// `skip_serializing_if` for `limit`: Go's `omitempty` drops a zero int.
pub(crate) fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Decodes `null` as the type's default.
///
/// Go encodes a nil slice as `null` even where the field is always present,
/// and Go's decoder accepts `null` anywhere, so both directions need this.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Decodes an integer field (`limit`, `step`) from any JSON number that is
/// a whole number in the type's range, `25.0` and `1e2` included: JSON
/// Schema's `integer`, which the document publishes, counts them as
/// integers, so a client generated from it may send them.
pub(crate) fn whole_number<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    struct Whole<T>(std::marker::PhantomData<T>);
    impl<T: TryFrom<u64>> serde::de::Visitor<'_> for Whole<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(
                f,
                "a non-negative integer of {} bits",
                std::mem::size_of::<T>() * 8
            )
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
            T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
            let n = u64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))?;
            self.visit_u64(n)
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
            // 2^64 is the first f64 beyond u64; `as` would saturate.
            if v.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&v) {
                self.visit_u64(v as u64)
            } else {
                Err(E::invalid_value(Unexpected::Float(v), &self))
            }
        }
    }
    deserializer.deserialize_any(Whole(std::marker::PhantomData))
}

/// Declares a schema struct: serde and (with the `openapi` feature) utoipa
/// derives, `Debug, Clone, PartialEq, Default`, camelCase names, and the
/// rules of this module applied to its fields by type. The word before the
/// name is the decoding policy:
///
/// - `request`: a body a client sends; unknown fields are refused (a typo is
///   a 400, not a silently ignored filter) and missing ones are empty.
/// - `query`: a request of filters only, so every empty field is left out,
///   strings included.
/// - `resource`: what adapters return; unknown and missing fields are
///   accepted, because adapters are written in many languages and versions.
/// - `pub struct`: only the type rules; the struct states its own derives and
///   container attributes.
///
/// Attributes written before the word (docs, extra derives) are kept.
macro_rules! wire {
    ($(#[$attr:meta])* query $name:ident $body:tt) => {
        wire! { @rules [String => #[serde(skip_serializing_if = "String::is_empty")],]
            #[derive(Debug, Clone, PartialEq, Default)]
            #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
            $(#[$attr])* pub struct $name $body }
    };
    ($(#[$attr:meta])* request $name:ident $body:tt) => {
        wire! { @rules []
            #[derive(Debug, Clone, PartialEq, Default)]
            #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
            $(#[$attr])* pub struct $name $body }
    };
    ($(#[$attr:meta])* resource $name:ident $body:tt) => {
        wire! { @rules []
            #[derive(Debug, Clone, PartialEq, Default)]
            #[serde(default, rename_all = "camelCase")]
            $(#[$attr])* pub struct $name $body }
    };
    ($(#[$attr:meta])* pub struct $name:ident $body:tt) => {
        wire! { @rules [] $(#[$attr])* pub struct $name $body }
    };
    (@rules [$($extra:tt)*] $(#[$attr:meta])* pub struct $name:ident $body:tt) => {
        #[serde_with::apply(
            Vec => #[serde(
                skip_serializing_if = "Vec::is_empty",
                deserialize_with = "crate::schema::wire::null_as_default"
            )] #[cfg_attr(feature = "openapi", schema(nullable))],
            JsonMap => #[serde(
                skip_serializing_if = "serde_json::Map::is_empty",
                deserialize_with = "crate::schema::wire::null_as_default"
            )] #[cfg_attr(feature = "openapi", schema(value_type = Object, nullable))],
            StringMap => #[serde(
                skip_serializing_if = "std::collections::BTreeMap::is_empty",
                deserialize_with = "crate::schema::wire::null_as_default"
            )] #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>, nullable))],
            QueryScope => #[serde(
                skip_serializing_if = "crate::schema::QueryScope::is_empty",
                deserialize_with = "crate::schema::wire::null_as_default"
            )] #[cfg_attr(feature = "openapi", schema(nullable))],
            Option => #[serde(skip_serializing_if = "Option::is_none")],
            Option<JsonMap> => #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))],
            u32 => #[serde(
                skip_serializing_if = "crate::schema::wire::is_zero",
                deserialize_with = "crate::schema::wire::whole_number"
            )]
                #[cfg_attr(feature = "openapi", schema(maximum = 2147483647))],
            u64 => #[serde(deserialize_with = "crate::schema::wire::whole_number")]
                #[cfg_attr(feature = "openapi", schema(maximum = 9_223_372_036_854_775_807_i64))],
            // The pattern is NOT_BLANK_PATTERN (an attribute needs a literal;
            // schema/tests/wire/openapi.rs checks they agree).
            NonBlank => #[cfg_attr(feature = "openapi", schema(
                value_type = String,
                required = true,
                min_length = 1,
                pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
            ))],
            // Optional, but never blank when present (an update's title).
            Option<NonBlank> => #[cfg_attr(feature = "openapi", schema(
                value_type = Option<String>,
                min_length = 1,
                pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
            ))],
            $($extra)*
        )]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        $(#[$attr])*
        pub struct $name $body
    };
}
