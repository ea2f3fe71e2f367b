//! The `openapi` feature describes the wire shapes, not the Rust ones.
#![cfg(feature = "openapi")]

use opsorch_schema::*;
use serde_json::{json, Value};
use utoipa::PartialSchema;

fn schema_of<T: PartialSchema>() -> Value {
    serde_json::to_value(T::schema()).unwrap()
}

#[test]
fn timestamp_is_a_date_time_string() {
    let schema = schema_of::<Timestamp>();
    // `null` is read as the zero time, so the document allows it.
    assert_eq!(schema["type"], json!(["string", "null"]));
    assert_eq!(schema["format"], "date-time");
}

#[test]
fn maps_are_objects_and_string_maps_hold_strings() {
    let entry = schema_of::<LogEntry>();
    // Go writes nil maps as `null`; both directions read it as empty.
    assert_eq!(
        entry["properties"]["fields"]["type"],
        json!(["object", "null"])
    );
    assert_eq!(
        entry["properties"]["labels"]["additionalProperties"],
        json!({"type": "string"})
    );
    let incident = schema_of::<Incident>();
    assert!(incident["properties"]["createdAt"]
        .to_string()
        .contains("Timestamp"));
}

#[test]
fn request_schemas_forbid_unknown_properties() {
    assert_eq!(schema_of::<IncidentQuery>()["additionalProperties"], false);
    assert_eq!(
        schema_of::<UpdateTicketInput>()["additionalProperties"],
        false
    );
    assert!(schema_of::<Incident>()
        .get("additionalProperties")
        .is_none());
}

#[test]
fn message_block_type_lists_the_lowercase_values() {
    assert_eq!(
        schema_of::<MessageBlockType>()["enum"],
        json!(["header", "section", "divider"])
    );
    assert_eq!(schema_of::<MessageBlock>()["required"], json!(["type"]));
}

#[test]
fn required_request_strings_are_published_as_not_blank() {
    for (schema, field) in [
        (schema_of::<CreateIncidentInput>(), "title"),
        (schema_of::<CreateTicketInput>(), "title"),
        (schema_of::<TimelineAppendInput>(), "body"),
        (schema_of::<Message>(), "body"),
        (schema_of::<StartRunInput>(), "planId"),
        (schema_of::<MetricExpression>(), "metricName"),
    ] {
        let property = &schema["properties"][field];
        assert_eq!(property["type"], "string", "{field}");
        assert_eq!(property["minLength"], 1, "{field}");
        assert_eq!(property["pattern"], NOT_BLANK_PATTERN, "{field}");
        assert!(
            schema["required"]
                .as_array()
                .unwrap()
                .contains(&json!(field)),
            "{field} is not required in {schema}"
        );
    }
    // An update may leave the title out, but not set it blank: a title is
    // never blank, as on create.
    for update in [
        schema_of::<UpdateIncidentInput>(),
        schema_of::<UpdateTicketInput>(),
    ] {
        let title = &update["properties"]["title"];
        assert_eq!(title["minLength"], 1, "{update}");
        assert_eq!(title["pattern"], NOT_BLANK_PATTERN, "{update}");
        assert!(update.get("required").is_none(), "{update}");
        // Other strings of an update may be cleared with "".
        assert!(update["properties"]["description"].get("pattern").is_none());
    }
    // Adapters may take a query without an expression (a raw query in
    // `metadata`) or a message without a channel (a webhook's own), so
    // neither is required by the host.
    assert!(schema_of::<MetricQuery>().get("required").is_none());
    assert_eq!(schema_of::<Message>()["required"], json!(["body"]));
}

/// The published pattern's class is exactly Rust's white space, the one the
/// host (`str::trim`) and the mock adapter use.
#[test]
fn not_blank_pattern_matches_rust_white_space() {
    let class = NOT_BLANK_PATTERN
        .strip_prefix("[^")
        .and_then(|c| c.strip_suffix(']'))
        .unwrap();
    let mut chars = Vec::new();
    let mut rest = class;
    while !rest.is_empty() {
        let (c, tail) = match rest.strip_prefix("\\u") {
            Some(hex) => (
                char::from_u32(u32::from_str_radix(&hex[..4], 16).unwrap()).unwrap(),
                &hex[4..],
            ),
            None => match rest.strip_prefix('\\') {
                Some(esc) => (
                    match esc.as_bytes()[0] {
                        b't' => '\t',
                        b'r' => '\r',
                        other => panic!("unexpected escape {}", other as char),
                    },
                    &esc[1..],
                ),
                None => (rest.chars().next().unwrap(), &rest[1..]),
            },
        };
        chars.push(c);
        rest = tail;
    }
    let mut set = std::collections::BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        if i + 2 < chars.len() && chars[i + 1] == '-' {
            set.extend(chars[i]..=chars[i + 2]);
            i += 3;
        } else {
            set.insert(chars[i]);
            i += 1;
        }
    }
    let rust: std::collections::BTreeSet<char> = (char::MIN..=char::MAX)
        .filter(|c| c.is_whitespace())
        .collect();
    assert_eq!(set, rust);
}

#[test]
fn integers_are_published_with_the_ranges_the_host_enforces() {
    let query = schema_of::<IncidentQuery>();
    assert_eq!(query["properties"]["limit"]["minimum"], 0);
    assert_eq!(query["properties"]["limit"]["maximum"], i32::MAX);
    let metric = schema_of::<MetricQuery>();
    assert_eq!(metric["properties"]["step"]["minimum"], 0);
    assert_eq!(metric["properties"]["step"]["maximum"], i64::MAX);
}

#[test]
fn what_go_may_send_as_null_is_published_as_nullable() {
    let query = schema_of::<IncidentQuery>();
    assert_eq!(
        query["properties"]["statuses"]["type"],
        json!(["array", "null"])
    );
    assert!(query["properties"]["scope"].to_string().contains("null"));
    assert_eq!(
        query["properties"]["metadata"]["type"],
        json!(["object", "null"])
    );
    // A plain string field is not: serde refuses `null` for it.
    assert_eq!(query["properties"]["query"]["type"], "string");
}
