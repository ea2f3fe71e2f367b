//! Timestamp must encode exactly like Go's `time.Time` in JSON.

use chrono::{DateTime, TimeZone, Timelike, Utc};
use opsorch_schema::Timestamp;
use serde_json::json;

fn encode(t: Timestamp) -> String {
    serde_json::to_string(&t).unwrap()
}

fn decode(s: &str) -> Result<Timestamp, serde_json::Error> {
    serde_json::from_str(s)
}

#[test]
fn nanoseconds_round_trip_byte_for_byte() {
    let wire = r#""2026-11-29T07:37:53.909586661Z""#;
    let t = decode(wire).unwrap();
    assert_eq!(t.as_datetime().timestamp_subsec_nanos(), 909_586_661);
    assert_eq!(encode(t), wire);
}

#[test]
fn trailing_fraction_zeros_are_trimmed_like_go() {
    let cases = [
        ("2023-10-01T00:00:00.000Z", "2023-10-01T00:00:00Z"),
        ("2023-10-01T00:00:00.500Z", "2023-10-01T00:00:00.5Z"),
        ("2023-10-01T00:00:00.120000Z", "2023-10-01T00:00:00.12Z"),
        (
            "2023-10-01T00:00:00.000000001Z",
            "2023-10-01T00:00:00.000000001Z",
        ),
        ("2023-10-01T00:00:00Z", "2023-10-01T00:00:00Z"),
    ];
    for (input, want) in cases {
        let t = Timestamp::parse_rfc3339(input).unwrap();
        assert_eq!(t.to_string(), want, "input {input}");
        assert_eq!(encode(t), format!("\"{want}\""), "input {input}");
    }
}

#[test]
fn offsets_are_converted_to_utc_keeping_nanoseconds() {
    let t = decode(r#""2026-11-29T09:37:53.909586661+02:00""#).unwrap();
    assert_eq!(encode(t), r#""2026-11-29T07:37:53.909586661Z""#);

    let t = decode(r#""2026-11-28T23:00:00-08:30""#).unwrap();
    assert_eq!(t.to_string(), "2026-11-29T07:30:00Z");
}

#[test]
fn zero_time_is_default_and_encodes_as_go_zero() {
    let zero = Timestamp::default();
    assert!(zero.is_zero());
    assert_eq!(zero, Timestamp::ZERO);
    assert_eq!(encode(zero), r#""0001-01-01T00:00:00Z""#);
    assert!(decode(r#""0001-01-01T00:00:00Z""#).unwrap().is_zero());
}

#[test]
fn null_decodes_as_zero() {
    assert!(decode("null").unwrap().is_zero());
}

#[test]
fn malformed_times_are_errors() {
    for bad in [
        r#""""#,
        r#""yesterday""#,
        r#""2026-11-29""#,
        r#""2026-11-29T07:37:53""#,
        r#""2026-13-29T07:37:53Z""#,
        "1700000000",
        "{}",
    ] {
        assert!(decode(bad).is_err(), "{bad} should not decode");
    }
}

#[test]
fn now_is_not_zero_and_converts_to_and_from_chrono() {
    let now = Timestamp::now();
    assert!(!now.is_zero());

    let dt: DateTime<Utc> = Utc.with_ymd_and_hms(2024, 2, 29, 12, 0, 1).unwrap();
    let t = Timestamp::from(dt);
    assert_eq!(*t.as_datetime(), dt);
    assert_eq!(DateTime::<Utc>::from(t), dt);
    assert_eq!(t.into_inner(), dt);
    assert_eq!(t.to_string(), "2024-02-29T12:00:01Z");
}

#[test]
fn display_and_from_str_agree_with_serde() {
    let t: Timestamp = "2026-11-29T07:37:53.9Z".parse().unwrap();
    assert_eq!(json!(t), json!(t.to_string()));
    assert_eq!(t.to_string(), "2026-11-29T07:37:53.9Z");
}

#[test]
fn ordering_follows_time() {
    let a = Timestamp::parse_rfc3339("2026-11-29T07:37:53.1Z").unwrap();
    let b = Timestamp::parse_rfc3339("2026-11-29T09:37:53.2+02:00").unwrap();
    assert!(Timestamp::ZERO < a);
    assert!(a < b);
}

#[test]
fn encoding_matches_a_reference_over_many_instants() {
    // A reference built from chrono's own formatting, over years 0..=9999
    // and fractions of every length, including leap-second nanoseconds.
    fn reference(t: &DateTime<Utc>) -> String {
        let nanos = t.timestamp_subsec_nanos() % 1_000_000_000;
        let fraction = if nanos == 0 {
            String::new()
        } else {
            format!(".{}", format!("{nanos:09}").trim_end_matches('0'))
        };
        // chrono's %S says 60 in a leap second; Go, with no leap seconds,
        // stays at 59 and folds the extra second into the fraction.
        format!(
            "{}:{:02}{fraction}Z",
            t.format("%Y-%m-%dT%H:%M"),
            t.second()
        )
    }
    let first = Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap().timestamp();
    let last = Utc
        .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .unwrap()
        .timestamp();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 11
    };
    for i in 0..100_000u64 {
        let secs = first + (next() % (last - first + 1) as u64) as i64;
        let nanos = match i % 4 {
            0 => 0,
            1 => (next() % 1000) as u32 * 1_000_000,
            2 => (next() % 1_000_000_000) as u32,
            _ => 1_000_000_000 + (next() % 1_000_000_000) as u32,
        };
        let Some(t) = DateTime::from_timestamp(secs, nanos) else {
            continue;
        };
        let want = reference(&t);
        let stamp = Timestamp::from(t);
        assert_eq!(stamp.to_string(), want);
        assert_eq!(encode(stamp), format!("\"{want}\""));
    }
}
