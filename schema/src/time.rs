//! The one time type every schema uses, so that all timestamps match Go's
//! `time.Time` JSON encoding.

use std::fmt;

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant with nanosecond precision that encodes like Go's `time.Time`.
///
/// Go writes RFC 3339 with trailing fractional zeros trimmed and uses
/// `0001-01-01T00:00:00Z` for "no time"; clients and plugins written against
/// the Go host compare these strings, so we reproduce them exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// Go's zero `time.Time`, which the contract uses for "unset".
    pub const ZERO: Timestamp = match DateTime::from_timestamp(-62_135_596_800, 0) {
        Some(t) => Timestamp(t),
        None => panic!("0001-01-01T00:00:00Z is representable"),
    };

    /// The current time.
    pub fn now() -> Self {
        Timestamp(Utc::now())
    }

    /// Whether this is the zero time, i.e. the field was unset or `null`.
    pub fn is_zero(&self) -> bool {
        *self == Self::ZERO
    }

    /// The inner chrono value.
    pub fn as_datetime(&self) -> &DateTime<Utc> {
        &self.0
    }

    /// Consumes the wrapper, returning the chrono value.
    pub fn into_inner(self) -> DateTime<Utc> {
        self.0
    }

    /// Parses any RFC 3339 time and converts it to UTC, keeping nanoseconds.
    pub fn parse_rfc3339(s: &str) -> Result<Self, chrono::ParseError> {
        DateTime::parse_from_rfc3339(s).map(|t| Timestamp(t.with_timezone(&Utc)))
    }
}

impl Default for Timestamp {
    fn default() -> Self {
        Self::ZERO
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Timestamp(t)
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

impl AsRef<DateTime<Utc>> for Timestamp {
    fn as_ref(&self) -> &DateTime<Utc> {
        &self.0
    }
}

/// Go's RFC3339Nano: seconds always, fraction only as long as it needs to be.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.0;
        if !(0..=9999).contains(&t.year()) {
            // Go refuses to encode such years; chrono's signed form is the
            // least surprising thing we can do instead of failing.
            return f.write_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        }
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        // chrono stores a leap second as nanosecond >= 1e9; Go has no leap
        // seconds, so fold it into the fraction's range.
        let nanos = t.nanosecond() % 1_000_000_000;
        if nanos != 0 {
            let digits = format!("{nanos:09}");
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

impl std::str::FromStr for Timestamp {
    type Err = chrono::ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_rfc3339(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Go leaves a time.Time untouched on `null`, i.e. zero; match that.
        match Option::<std::borrow::Cow<'de, str>>::deserialize(deserializer)? {
            None => Ok(Self::ZERO),
            Some(s) => Self::parse_rfc3339(&s).map_err(|e| {
                serde::de::Error::custom(format_args!("invalid RFC 3339 time {s:?}: {e}"))
            }),
        }
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
        use utoipa::openapi::KnownFormat;
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .examples([serde_json::json!("2026-11-29T07:37:53.909586661Z")])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Timestamp {}
