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

use chrono::{DateTime, SecondsFormat, Utc};
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

/// Seconds from the Unix epoch to `0000-01-01T00:00:00Z`, the first instant
/// Go encodes.
const FIRST_SECOND: i64 = -62_167_219_200;
/// Seconds from the Unix epoch to `9999-12-31T23:59:59Z`, the last whole
/// second Go encodes.
const LAST_SECOND: i64 = 253_402_300_799;
/// Days from `0000-01-01` to `0000-03-01` (year 0 is a leap year): the
/// calendar below starts its years in March, so a leap day ends a year.
const MARCH_FIRST_OF_YEAR_0: u32 = 60;
/// Days in 400 Gregorian years, the calendar's full cycle.
const DAYS_PER_ERA: u32 = 146_097;

/// `"00"` to `"99"`, two bytes each.
const TWO_DIGITS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `value` (below 100) as two digits at `buf[at..at + 2]`.
fn put2(buf: &mut [u8; TEXT_MAX], at: usize, value: u32) {
    let i = value as usize * 2;
    buf[at] = TWO_DIGITS[i];
    buf[at + 1] = TWO_DIGITS[i + 1];
}

/// The proleptic Gregorian `(year, month, day)` of a day counted from
/// `0000-01-01` (day 0), for days of years 0 to 9999: Howard Hinnant's
/// `civil_from_days`, in unsigned arithmetic, with one 400-year cycle
/// added so that January and February of year 0 count from a March too.
fn civil_from_days(days: u32) -> (u32, u32, u32) {
    // Days from -0400-03-01: year 0's March 1st, one cycle earlier.
    let z = days + DAYS_PER_ERA - MARCH_FIRST_OF_YEAR_0;
    let era = z / DAYS_PER_ERA;
    // 0..=146096
    let day_of_era = z - era * DAYS_PER_ERA;
    // 0..=399
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146_096) / 365;
    // 0..=365, counted from March 1st.
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // 0..=11, March to February.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    // The added cycle comes off again; January and February end a
    // March-based year, so they carry the next calendar year's number.
    let year = year_of_era + u32::from(month <= 2) + era * 400 - 400;
    (year, month, day)
}

impl Timestamp {
    /// Writes Go's RFC3339Nano form into `buf` and returns it, or `None` for
    /// a year outside 0..=9999, which Go refuses to encode. Hand-rolled from
    /// the seconds since the epoch (civil date by integer arithmetic, digits
    /// two at a time from a table): a timestamp is in nearly every record
    /// and in every audit line, and neither `core::fmt` nor chrono's
    /// calendar fields (each of which re-applies the UTC offset) are used.
    fn encode_into<'b>(&self, buf: &'b mut [u8; TEXT_MAX]) -> Option<&'b str> {
        let seconds = self.0.timestamp();
        if !(FIRST_SECOND..=LAST_SECOND).contains(&seconds) {
            return None;
        }
        // In range, so non-negative and below 2^39: the day fits a u32.
        let since_year_0 = (seconds - FIRST_SECOND) as u64;
        let days = (since_year_0 / 86_400) as u32;
        let second_of_day = (since_year_0 % 86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        put2(buf, 0, year / 100);
        put2(buf, 2, year % 100);
        buf[4] = b'-';
        put2(buf, 5, month);
        buf[7] = b'-';
        put2(buf, 8, day);
        buf[10] = b'T';
        put2(buf, 11, second_of_day / 3600);
        buf[13] = b':';
        put2(buf, 14, second_of_day / 60 % 60);
        buf[16] = b':';
        put2(buf, 17, second_of_day % 60);
        let mut len = 19;
        // chrono stores a leap second as nanosecond >= 1e9 (its second stays
        // 59); Go has no leap seconds, so fold it into the fraction's range.
        let nanos = self.0.timestamp_subsec_nanos() % 1_000_000_000;
        if nanos != 0 {
            buf[19] = b'.';
            buf[20] = b'0' + (nanos / 100_000_000) as u8;
            let rest = nanos % 100_000_000;
            put2(buf, 21, rest / 1_000_000);
            put2(buf, 23, rest / 10_000 % 100);
            put2(buf, 25, rest / 100 % 100);
            put2(buf, 27, rest % 100);
            // Trailing zeros trimmed: the fraction is only as long as it
            // needs to be. A digit is non-zero, so this stops before '.'.
            len = 29;
            while buf[len - 1] == b'0' {
                len -= 1;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};

    /// The encoder as it was before the direct-arithmetic one: chrono's
    /// calendar fields, written digit by digit. The reference every test
    /// here compares against.
    fn encode_with_chrono<'b>(t: &Timestamp, buf: &'b mut [u8; TEXT_MAX]) -> Option<&'b str> {
        let t = &t.0;
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
        let mut nanos = t.nanosecond() % 1_000_000_000;
        if nanos != 0 {
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
        std::str::from_utf8(&buf[..len]).ok()
    }

    /// The Display text as it was: the reference encoder, else chrono's.
    fn reference_text(t: &Timestamp) -> String {
        match encode_with_chrono(t, &mut [0; TEXT_MAX]) {
            Some(text) => text.to_owned(),
            None => t.0.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        }
    }

    /// The new encoder agrees with the reference on `t`, both in whether it
    /// encodes and in every byte, and so do Display and Serialize.
    fn check(t: Timestamp) {
        let mut new = [0; TEXT_MAX];
        let mut old = [0; TEXT_MAX];
        assert_eq!(
            t.encode_into(&mut new),
            encode_with_chrono(&t, &mut old),
            "{:?}",
            t.0
        );
        let text = reference_text(&t);
        assert_eq!(t.to_string(), text, "{:?}", t.0);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            format!("\"{text}\""),
            "{:?}",
            t.0
        );
    }

    fn at(seconds: i64, nanos: u32) -> Timestamp {
        Timestamp(DateTime::from_timestamp(seconds, nanos).expect("representable"))
    }

    fn midnight(year: i32, month: u32, day: u32) -> i64 {
        NaiveDate::from_ymd_opt(year, month, day)
            .unwrap()
            .and_time(NaiveTime::MIN)
            .and_utc()
            .timestamp()
    }

    /// Nanosecond values with 0 to 9 significant digits, with and without
    /// zeros inside.
    fn fractions() -> Vec<u32> {
        let mut all = vec![0];
        for digits in 1..=9u32 {
            let scale = 10u32.pow(9 - digits);
            all.push(123_456_789 / scale * scale);
            all.push(scale); // a single 1 in the last place
            all.push(999_999_999 / scale * scale);
            all.push(100_000_001 / scale * scale);
        }
        all
    }

    #[test]
    fn known_texts() {
        assert_eq!(at(0, 0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp::ZERO.to_string(), "0001-01-01T00:00:00Z");
        assert_eq!(at(-1, 500_000_000).to_string(), "1969-12-31T23:59:59.5Z");
        assert_eq!(
            at(1_764_681_900, 123_400_000).to_string(),
            "2025-12-02T13:25:00.1234Z"
        );
        assert_eq!(at(951_782_400, 0).to_string(), "2000-02-29T00:00:00Z");
        assert_eq!(at(FIRST_SECOND, 0).to_string(), "0000-01-01T00:00:00Z");
        assert_eq!(
            at(LAST_SECOND, 999_999_999).to_string(),
            "9999-12-31T23:59:59.999999999Z"
        );
        assert_eq!(at(FIRST_SECOND - 1, 0).to_string(), "-0001-12-31T23:59:59Z");
        assert_eq!(at(LAST_SECOND + 1, 0).to_string(), "+10000-01-01T00:00:00Z");
    }

    #[test]
    fn every_day_boundary_matches_the_reference() {
        // Every day from 1600 to 2400 (1970-2100 included), at its first
        // and last second, with and without a fraction.
        let first = midnight(1600, 1, 1);
        let last = midnight(2401, 1, 1);
        let mut day = first;
        while day <= last {
            check(at(day, 0));
            check(at(day - 1, 0));
            check(at(day - 1, 999_999_999));
            day += 86_400;
        }
        // Every day of the leap years and their neighbours around 1970-2100,
        // with every second 0 and 59 of a few hours and every fraction length.
        let fractions = fractions();
        for year in 1970..=2100 {
            let mut day = midnight(year, 1, 1);
            let end = midnight(year + 1, 1, 1);
            while day < end {
                for offset in [0, 59, 3600 + 59, 12 * 3600 + 60, 86_400 - 60, 86_399] {
                    check(at(day + offset, 0));
                }
                day += 86_400;
            }
            for &nanos in &fractions {
                check(at(midnight(year, 2, 28) + 86_399, nanos));
                check(at(midnight(year, 3, 1), nanos));
                check(at(midnight(year, 12, 31) + 86_399, nanos));
            }
        }
        // Samples across 400-year cycles and century years.
        for year in [
            0, 1, 3, 4, 99, 100, 399, 400, 401, 1000, 1582, 1599, 1600, 1700, 1800, 1900, 2000,
            2100, 2200, 2300, 2400, 4000, 8000, 9000, 9999,
        ] {
            for (month, day) in [(1, 1), (2, 28), (3, 1), (12, 31)] {
                let midnight = midnight(year, month, day);
                for &nanos in &fractions {
                    check(at(midnight, nanos));
                    check(at(midnight + 59, nanos));
                    check(at(midnight + 86_399, nanos));
                }
            }
            if NaiveDate::from_ymd_opt(year, 2, 29).is_some() {
                check(at(midnight(year, 2, 29), 0));
            }
        }
    }

    #[test]
    fn edges_match_the_reference() {
        let fractions = fractions();
        for seconds in [
            0,
            -1,
            1,
            -86_400,
            -86_401,
            FIRST_SECOND - 86_400,
            FIRST_SECOND - 1,
            FIRST_SECOND,
            FIRST_SECOND + 1,
            Timestamp::ZERO.0.timestamp(),
            LAST_SECOND - 1,
            LAST_SECOND,
            LAST_SECOND + 1,
            LAST_SECOND + 86_400,
        ] {
            for &nanos in &fractions {
                check(at(seconds, nanos));
            }
        }
        check(Timestamp::ZERO);
        check(Timestamp(DateTime::<Utc>::MIN_UTC));
        check(Timestamp(DateTime::<Utc>::MAX_UTC));
        check(Timestamp(DateTime::<Utc>::UNIX_EPOCH));
        // A leap second (chrono's nanosecond >= 1e9), trimmed like any other.
        for nanos in [1_000_000_000, 1_500_000_000, 1_999_999_999, 1_000_000_010] {
            let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
                .unwrap()
                .and_time(NaiveTime::from_hms_nano_opt(23, 59, 59, nanos).unwrap())
                .and_utc();
            check(Timestamp(leap));
        }
    }

    #[test]
    fn pseudo_random_instants_match_the_reference() {
        // A 64-bit LCG (Knuth's MMIX constants): deterministic, no crate.
        let mut state: u64 = 0x5eed_0f05_c0de;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 11
        };
        let min = DateTime::<Utc>::MIN_UTC.timestamp();
        let max = DateTime::<Utc>::MAX_UTC.timestamp();
        for i in 0..60_000u32 {
            let r = next();
            let seconds = match i % 3 {
                // Across years 0 to 9999, the fast path.
                0 | 1 => FIRST_SECOND + (r % (LAST_SECOND - FIRST_SECOND + 1) as u64) as i64,
                // Across everything chrono can hold, fallback included.
                _ => min + (r % (max - min + 1) as u64) as i64,
            };
            let nanos = (next() % 1_000_000_000) as u32;
            // Every fraction length, not only the nine digits most random
            // values have.
            let nanos = nanos / 10u32.pow(i % 10) * 10u32.pow(i % 10);
            check(at(seconds, nanos));
        }
    }
}
