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
    assert_eq!(schema["type"], "string");
    assert_eq!(schema["format"], "date-time");
}

#[test]
fn maps_are_objects_and_string_maps_hold_strings() {
    let entry = schema_of::<LogEntry>();
    assert_eq!(entry["properties"]["fields"]["type"], "object");
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
