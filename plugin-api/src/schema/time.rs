//! The one time type every schema uses, so that all timestamps match Go's
//! `time.Time` JSON encoding.
//!
//! Parsing is chrono's (`DateTime::parse_from_rfc3339`). Encoding is written
//! here rather than left to chrono: chrono's `to_rfc3339_opts` pads a
//! fraction to 3, 6 or 9 digits where Go trims it to the shortest, and the
//! `write!`-with-padding version that did Go's form on top of chrono cost a
//! third of the SDK's result-encoding time (docs/BENCHMARKS.md, "Result
//! encoding"), so the text is written digit by digit into a stack buffer.

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

/// The longest Go RFC3339Nano text of a four-digit year:
/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
const TEXT_MAX: usize = 30;

impl Timestamp {
    /// Writes Go's RFC3339Nano form into `buf` and returns it, or `None` for
    /// a year outside 0..=9999, which Go refuses to encode. Hand-rolled: a
    /// timestamp is in nearly every record, and `write!` with padding
    /// showed up as a tenth of an adapter's encoding time.
    fn encode_into<'b>(&self, buf: &'b mut [u8; TEXT_MAX]) -> Option<&'b str> {
        let t = &self.0;
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        fn put(buf: &mut [u8], at: usize, value: u32, width: usize) {
            let mut value = value;
            for i in (0..width).rev() {
                buf[at + i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        put(buf, 0, year, 4);
        buf[4] = b'-';
        put(buf, 5, t.month(), 2);
        buf[7] = b'-';
        put(buf, 8, t.day(), 2);
        buf[10] = b'T';
        put(buf, 11, t.hour(), 2);
        buf[13] = b':';
        put(buf, 14, t.minute(), 2);
        buf[16] = b':';
        put(buf, 17, t.second(), 2);
        let mut len = 19;
        // chrono stores a leap second as nanosecond >= 1e9; Go has no leap
        // seconds, so fold it into the fraction's range.
        let mut nanos = t.nanosecond() % 1_000_000_000;
        if nanos != 0 {
            // Trailing zeros trimmed: the fraction is only as long as it
            // needs to be.
            let mut digits = 9;
            while nanos.is_multiple_of(10) {
                nanos /= 10;
                digits -= 1;
            }
            buf[len] = b'.';
            put(buf, len + 1, nanos, digits);
            len += 1 + digits;
        }
        buf[len] = b'Z';
        len += 1;
        // Only ASCII digits and punctuation were written.
        std::str::from_utf8(&buf[..len]).ok()
    }
}

/// Go's RFC3339Nano: seconds always, fraction only as long as it needs to be.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.encode_into(&mut [0; TEXT_MAX]) {
            Some(text) => f.write_str(text),
            // Go refuses to encode such years; chrono's signed form is the
            // least surprising thing we can do instead of failing.
            None => f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        }
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
        match self.encode_into(&mut [0; TEXT_MAX]) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.collect_str(self),
        }
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
        use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, SchemaType, Type};
        use utoipa::openapi::KnownFormat;
        // `null` is accepted on input and read as the zero time.
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .examples([serde_json::json!("2026-11-29T07:37:53.909586661Z")])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Timestamp {}
