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

use std::collections::HashMap;
use std::fmt;

use opsorch_schema::NOT_BLANK_PATTERN;
use serde_json::{Map, Number, Value};

use super::table::SchemaFn;
use crate::http::error::ApiError;

/// A body schema, compiled once from the JSON Schema the document
/// publishes into the checks it asks for: a request then walks plain
/// structs instead of looking keywords up in JSON objects (a tenth of a
/// fast call's CPU when it did).
pub(crate) struct BodyRules {
    root: Rule,
    /// The component schemas, by the index a [`Rule::Ref`] holds.
    components: Vec<Rule>,
}

/// One schema.
enum Rule {
    /// A `$ref` to a component schema.
    Ref(usize),
    /// A `oneOf` (utoipa writes a nullable reference as `oneOf: [null,
    /// ref]` and a described one as `oneOf: [ref]`): nothing is checked for
    /// a null value, else the first branch that is not `type: null`.
    NullOr(Box<Rule>),
    /// Checks of the value itself.
    Checks(Box<Checks>),
    /// Nothing to check (an unknown reference, a `oneOf` of nulls only).
    Any,
}

#[derive(Default)]
struct Checks {
    /// The JSON types allowed (`type`), when given as a name or a list.
    types: Option<Types>,
    /// `required` property names.
    required: Vec<String>,
    /// `properties`.
    properties: HashMap<String, Rule>,
    /// `items`.
    items: Option<Rule>,
    /// `minLength`.
    min_length: u64,
    /// `pattern` is `NOT_BLANK_PATTERN`.
    not_blank: bool,
    minimum: Option<Number>,
    maximum: Option<Number>,
}

/// A set of JSON Schema type names.
#[derive(Clone, Copy, Default)]
struct Types(u8);

impl Types {
    /// The type names, by bit: looked up only when compiling.
    const NAMES: [&'static str; 7] = [
        "null", "boolean", "number", "integer", "string", "array", "object",
    ];
    const NULL: u8 = 1 << 0;
    const BOOLEAN: u8 = 1 << 1;
    const NUMBER: u8 = 1 << 2;
    const INTEGER: u8 = 1 << 3;
    const STRING: u8 = 1 << 4;
    const ARRAY: u8 = 1 << 5;
    const OBJECT: u8 = 1 << 6;

    fn with(self, name: &str) -> Types {
        match Self::NAMES.iter().position(|n| *n == name) {
            Some(bit) => Types(self.0 | 1 << bit),
            None => self,
        }
    }

    fn fit(self, value: &Value) -> bool {
        let allows = |bit: u8| self.0 & bit != 0;
        match value {
            Value::Null => allows(Self::NULL),
            Value::Bool(_) => allows(Self::BOOLEAN),
            Value::Number(n) => {
                allows(Self::NUMBER)
                    || (allows(Self::INTEGER) && n.as_f64().is_some_and(|f| f.fract() == 0.0))
            }
            Value::String(_) => allows(Self::STRING),
            Value::Array(_) => allows(Self::ARRAY),
            Value::Object(_) => allows(Self::OBJECT),
        }
    }
}

/// Builds [`Rule`]s from JSON Schema values.
struct Compiler<'a> {
    names: HashMap<&'a str, usize>,
}

impl Compiler<'_> {
    fn rule(&self, schema: &Value) -> Rule {
        if let Some(name) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            return match self.names.get(name) {
                Some(&index) => Rule::Ref(index),
                None => Rule::Any,
            };
        }
        if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
            return match branches
                .iter()
                .find(|b| b.get("type").and_then(Value::as_str) != Some("null"))
            {
                Some(branch) => Rule::NullOr(Box::new(self.rule(branch))),
                None => Rule::Any,
            };
        }
        let types = match schema.get("type") {
            Some(Value::String(name)) => Some(Types::default().with(name)),
            Some(Value::Array(names)) => Some(
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .fold(Types::default(), Types::with),
            ),
            _ => None,
        };
        let number = |key: &str| schema.get(key).and_then(Value::as_number).cloned();
        Rule::Checks(Box::new(Checks {
            types,
            required: schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            properties: schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(name, property)| (name.clone(), self.rule(property)))
                .collect(),
            items: schema.get("items").map(|items| self.rule(items)),
            min_length: schema.get("minLength").and_then(Value::as_u64).unwrap_or(0),
            not_blank: schema.get("pattern").and_then(Value::as_str) == Some(NOT_BLANK_PATTERN),
            minimum: number("minimum"),
            maximum: number("maximum"),
        }))
    }
}

/// Where a value is in the body, spelled out only for an error message:
/// `expression.metricName`, `items.0`, or empty for the body itself.
#[derive(Clone, Copy)]
enum Path<'a> {
    Body,
    Field(&'a Path<'a>, &'a str),
    Item(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (parent, write): (&Path, &dyn fmt::Display) = match self {
            Path::Body => return Ok(()),
            Path::Field(parent, name) => (parent, name),
            Path::Item(parent, index) => (parent, index),
        };
        if let Path::Body = parent {
            write.fmt(f)
        } else {
            write!(f, "{parent}.{write}")
        }
    }
}

impl BodyRules {
    pub(crate) fn new(schema: SchemaFn) -> BodyRules {
        let mut set = Vec::new();
        let root = schema(&mut set);
        let to_value = |s| serde_json::to_value(s).unwrap_or(Value::Null);
        let root = to_value(root);
        let components: Map<String, Value> =
            set.into_iter().map(|(n, s)| (n, to_value(s))).collect();
        let compiler = Compiler {
            names: components
                .keys()
                .enumerate()
                .map(|(index, name)| (name.as_str(), index))
                .collect(),
        };
        BodyRules {
            root: compiler.rule(&root),
            components: components.values().map(|c| compiler.rule(c)).collect(),
        }
    }

    /// Checks a body that has already been decoded strictly.
    pub(crate) fn check(&self, body: &[u8]) -> Result<(), ApiError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|_| ApiError::BadRequest("malformed JSON body".into()))?;
        self.walk(&self.root, &value, Path::Body)
    }

    /// The checks a rule stands for, for this value.
    fn resolve<'a>(&'a self, mut rule: &'a Rule, value: &Value) -> Option<&'a Checks> {
        loop {
            match rule {
                Rule::Ref(index) => rule = self.components.get(*index)?,
                Rule::NullOr(_) if value.is_null() => return None,
                Rule::NullOr(branch) => rule = branch,
                Rule::Checks(checks) => return Some(checks),
                Rule::Any => return None,
            }
        }
    }

    fn walk(&self, rule: &Rule, value: &Value, path: Path<'_>) -> Result<(), ApiError> {
        let Some(checks) = self.resolve(rule, value) else {
            return Ok(());
        };
        if checks.types.is_some_and(|types| !types.fit(value)) {
            return Err(ApiError::BadRequest(match path {
                Path::Body => "the body has the wrong JSON type".to_owned(),
                path => format!("{path} has the wrong JSON type"),
            }));
        }
        match value {
            Value::Object(map) => {
                for name in &checks.required {
                    let given = map.get(name).filter(|v| !v.is_null());
                    let blank = given.and_then(Value::as_str).is_some_and(is_blank);
                    if given.is_none() || blank {
                        let at = Path::Field(&path, name);
                        return Err(ApiError::BadRequest(format!("{at} is required")));
                    }
                }
                for (name, item) in map {
                    if let Some(property) = checks.properties.get(name) {
                        self.walk(property, item, Path::Field(&path, name))?;
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_rule) = &checks.items {
                    for (i, item) in items.iter().enumerate() {
                        self.walk(item_rule, item, Path::Item(&path, i))?;
                    }
                }
            }
            Value::String(text) => {
                if (checks.not_blank && is_blank(text))
                    || (text.chars().count() as u64) < checks.min_length
                {
                    return Err(ApiError::BadRequest(format!("{path} must not be blank")));
                }
            }
            Value::Number(n) => {
                let below = |bound: &Number| compare(n, bound).is_some_and(|o| o.is_lt());
                let above = |bound: &Number| compare(n, bound).is_some_and(|o| o.is_gt());
                let (min, max) = (checks.minimum.as_ref(), checks.maximum.as_ref());
                if min.is_some_and(below) || max.is_some_and(above) {
                    let range = |b: Option<&Number>| b.map(Number::to_string).unwrap_or_default();
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
fn compare(n: &Number, bound: &Number) -> Option<std::cmp::Ordering> {
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
    use crate::http::routes::table::{list, schema, ROUTES};
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

    #[test]
    fn items_and_nested_fields_are_named_by_path_and_types_are_checked_everywhere() {
        let rules = BodyRules::new(list::<CreateIncidentInput>);
        assert_eq!(message(&rules, r#"[{"title":"a"},{"title":"b"}]"#), None);
        assert_eq!(
            message(&rules, r#"[{"title":"a"},{"title":" "}]"#).as_deref(),
            Some("1.title is required")
        );
        assert_eq!(
            message(&rules, r#"[{"title":"a"},"b"]"#).as_deref(),
            Some("1 has the wrong JSON type")
        );
        assert_eq!(
            message(&rules, r#"{"title":"a"}"#).as_deref(),
            Some("the body has the wrong JSON type")
        );
        let rules = BodyRules::new(schema::<IncidentQuery>);
        // `limit` is a plain integer: null, a string or a fraction do not fit.
        assert_eq!(
            message(&rules, r#"{"limit":null}"#).as_deref(),
            Some("limit has the wrong JSON type")
        );
        assert_eq!(
            message(&rules, r#"{"limit":"5"}"#).as_deref(),
            Some("limit has the wrong JSON type")
        );
        assert_eq!(
            message(&rules, r#"{"limit":1.5}"#).as_deref(),
            Some("limit has the wrong JSON type")
        );
        assert_eq!(
            message(&rules, r#"{"scope":{"service":7}}"#).as_deref(),
            Some("scope.service has the wrong JSON type")
        );
        assert_eq!(message(&rules, "[1,"), Some("malformed JSON body".into()));
    }

    /// The bits a check reads are the ones compiling a name sets.
    #[test]
    fn type_bits_follow_the_names() {
        for (bit, name) in Types::NAMES.iter().enumerate() {
            assert_eq!(Types::default().with(name).0, 1 << bit, "{name}");
        }
        let bits = [
            Types::NULL,
            Types::BOOLEAN,
            Types::NUMBER,
            Types::INTEGER,
            Types::STRING,
            Types::ARRAY,
            Types::OBJECT,
        ];
        for (bit, value) in bits.iter().enumerate() {
            assert_eq!(*value, 1 << bit);
        }
    }

    /// Every route body's rules resolve (the document's patterns are checked
    /// in `http/openapi.rs`).
    #[test]
    fn every_route_body_resolves() {
        for route in ROUTES {
            if let Some(body) = route.body {
                let rules = BodyRules::new(body);
                let object = Value::Object(Map::new());
                let checks = rules.resolve(&rules.root, &object);
                assert!(checks.is_some_and(|c| c.types.is_some()), "{}", route.path);
            }
        }
    }
}
