//! What the OpenAPI document publishes about a request body beyond what
//! strict decoding already refuses: JSON types (serde reads an array as a
//! struct, field by field; the document says object), required properties,
//! not-blank strings (`minLength` and `opsorch_schema`'s
//! `NOT_BLANK_PATTERN`) and integer ranges (`minimum`, `maximum`).
//!
//! The rules are read from the same component schemas the document is built
//! from (the route table's body schema), so the host refuses exactly what
//! the document calls invalid. Unknown properties, enums and date-times are
//! left to serde, which has already decoded the body.

use opsorch_schema::NOT_BLANK_PATTERN;
use serde_json::{Map, Value};

use super::table::SchemaFn;
use crate::http::error::ApiError;

/// A body schema with the component schemas it refers to.
pub(crate) struct BodyRules {
    root: Value,
    components: Map<String, Value>,
}

impl BodyRules {
    pub(crate) fn new(schema: SchemaFn) -> BodyRules {
        let mut set = Vec::new();
        let root = schema(&mut set);
        let to_value = |s| serde_json::to_value(s).unwrap_or(Value::Null);
        BodyRules {
            root: to_value(root),
            components: set.into_iter().map(|(n, s)| (n, to_value(s))).collect(),
        }
    }

    /// Checks a body that has already been decoded strictly.
    pub(crate) fn check(&self, body: &[u8]) -> Result<(), ApiError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|_| ApiError::BadRequest("malformed JSON body".into()))?;
        self.walk(&self.root, &value, "")
    }

    /// The schema a `$ref` or a one-branch `oneOf` stands for.
    fn resolve<'a>(&'a self, mut schema: &'a Value, value: &Value) -> Option<&'a Value> {
        loop {
            if let Some(name) = schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                schema = self.components.get(name)?;
            } else if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
                // utoipa writes a nullable reference as `oneOf: [null, ref]`
                // and a described one as `oneOf: [ref]`.
                if value.is_null() {
                    return None;
                }
                schema = branches
                    .iter()
                    .find(|b| b.get("type").and_then(Value::as_str) != Some("null"))?;
            } else {
                return Some(schema);
            }
        }
    }

    fn walk(&self, schema: &Value, value: &Value, path: &str) -> Result<(), ApiError> {
        let Some(schema) = self.resolve(schema, value) else {
            return Ok(());
        };
        if let Some(expected) = schema.get("type") {
            let allowed = |t: &str| match expected {
                Value::String(e) => e == t,
                Value::Array(list) => list.iter().any(|e| e == t),
                _ => true,
            };
            let fits = match value {
                Value::Null => allowed("null"),
                Value::Bool(_) => allowed("boolean"),
                Value::Number(n) => {
                    allowed("number")
                        || (allowed("integer") && n.as_f64().is_some_and(|f| f.fract() == 0.0))
                }
                Value::String(_) => allowed("string"),
                Value::Array(_) => allowed("array"),
                Value::Object(_) => allowed("object"),
            };
            if !fits {
                let what = if path.is_empty() { "the body" } else { path };
                return Err(ApiError::BadRequest(format!(
                    "{what} has the wrong JSON type"
                )));
            }
        }
        let at = |name: &str| {
            if path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            }
        };
        match value {
            Value::Object(map) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                for name in schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    let given = map.get(name).filter(|v| !v.is_null());
                    let blank = given.and_then(Value::as_str).is_some_and(is_blank);
                    if given.is_none() || blank {
                        return Err(ApiError::BadRequest(format!("{} is required", at(name))));
                    }
                }
                for (name, item) in map {
                    if let Some(property) = properties.and_then(|p| p.get(name)) {
                        self.walk(property, item, &at(name))?;
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.walk(item_schema, item, &at(&i.to_string()))?;
                    }
                }
            }
            Value::String(text) => {
                let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
                let not_blank =
                    schema.get("pattern").and_then(Value::as_str) == Some(NOT_BLANK_PATTERN);
                if (not_blank && is_blank(text)) || (text.chars().count() as u64) < min {
                    return Err(ApiError::BadRequest(format!("{path} must not be blank")));
                }
            }
            Value::Number(n) => {
                let below = |bound: &Value| compare(n, bound).is_some_and(|o| o.is_lt());
                let above = |bound: &Value| compare(n, bound).is_some_and(|o| o.is_gt());
                let (min, max) = (schema.get("minimum"), schema.get("maximum"));
                if min.is_some_and(below) || max.is_some_and(above) {
                    let range = |b: Option<&Value>| b.map(Value::to_string).unwrap_or_default();
                    return Err(ApiError::BadRequest(format!(
                        "{path} must be between {} and {}",
                        range(min),
                        range(max)
                    )));
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
        Ok(())
    }
}

/// Empty or only white space, in Rust's sense, which `NOT_BLANK_PATTERN`
/// spells out for other regex dialects.
fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// `n` against a bound, exactly for integers.
fn compare(n: &serde_json::Number, bound: &Value) -> Option<std::cmp::Ordering> {
    let bound = bound.as_number()?;
    if let (Some(a), Some(b)) = (n.as_i64(), bound.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (n.as_u64(), bound.as_u64()) {
        return Some(a.cmp(&b));
    }
    // A u64 beyond i64 against a negative bound, or a float.
    if n.as_u64().is_some() && bound.as_i64().is_some() {
        return Some(std::cmp::Ordering::Greater);
    }
    n.as_f64()?.partial_cmp(&bound.as_f64()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::routes::table::{schema, ROUTES};
    use opsorch_schema::{CreateIncidentInput, IncidentQuery, MetricQuery, UpdateTicketInput};

    fn message(rules: &BodyRules, body: &str) -> Option<String> {
        match rules.check(body.as_bytes()) {
            Ok(()) => None,
            Err(ApiError::BadRequest(m)) => Some(m),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn required_strings_must_be_given_and_not_blank() {
        let rules = BodyRules::new(schema::<CreateIncidentInput>);
        assert_eq!(message(&rules, r#"{"title":"t"}"#), None);
        for body in [
            r#"{}"#,
            r#"{"title":""}"#,
            r#"{"title":" \t\u3000"}"#,
            r#"{"title":null}"#,
        ] {
            assert_eq!(
                message(&rules, body).as_deref(),
                Some("title is required"),
                "{body}"
            );
        }
        // An update may leave the title out, not set it blank; other
        // strings may be cleared with "".
        let rules = BodyRules::new(schema::<UpdateTicketInput>);
        for body in [r#"{}"#, r#"{"title":null}"#, r#"{"description":""}"#] {
            assert_eq!(message(&rules, body), None, "{body}");
        }
        for body in [r#"{"title":""}"#, r#"{"title":" \t"}"#] {
            assert_eq!(
                message(&rules, body).as_deref(),
                Some("title must not be blank"),
                "{body}"
            );
        }
    }

    #[test]
    fn nested_required_fields_are_named_by_path() {
        let rules = BodyRules::new(schema::<MetricQuery>);
        assert_eq!(message(&rules, r#"{}"#), None);
        assert_eq!(
            message(&rules, r#"{"expression":{"metricName":" "}}"#).as_deref(),
            Some("expression.metricName is required")
        );
        assert_eq!(
            message(&rules, r#"{"expression":{"metricName":"cpu"}}"#),
            None
        );
    }

    #[test]
    fn an_array_is_not_an_object() {
        // serde would read `["svc"]` as a QueryScope with service "svc".
        let rules = BodyRules::new(schema::<IncidentQuery>);
        assert_eq!(
            message(&rules, r#"{"scope":["svc"]}"#).as_deref(),
            Some("scope has the wrong JSON type")
        );
        assert_eq!(message(&rules, r#"{"scope":null,"limit":5.0}"#), None);
        assert_eq!(message(&rules, r#"{"scope":{"service":"svc"}}"#), None);
    }

    #[test]
    fn integers_outside_the_published_range_are_refused() {
        let rules = BodyRules::new(schema::<IncidentQuery>);
        assert_eq!(message(&rules, r#"{"limit":2147483647}"#), None);
        assert_eq!(
            message(&rules, r#"{"limit":2147483648}"#).as_deref(),
            Some("limit must be between 0 and 2147483647")
        );
        let rules = BodyRules::new(schema::<MetricQuery>);
        let m = r#""expression":{"metricName":"cpu"}"#;
        assert_eq!(
            message(&rules, &format!(r#"{{{m},"step":9223372036854775807}}"#)),
            None
        );
        assert!(message(&rules, &format!(r#"{{{m},"step":9223372036854775808}}"#)).is_some());
    }

    /// Every route body's rules resolve (the document's patterns are checked
    /// in `http/openapi.rs`).
    #[test]
    fn every_route_body_resolves() {
        for route in ROUTES {
            if let Some(body) = route.body {
                assert!(BodyRules::new(body).root.is_object(), "{}", route.path);
            }
        }
    }
}
