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
//!
//! A body is checked as the JSON parser reads it ([`Walk`]), without
//! building a `serde_json::Value`; the errors are those a walk of the
//! parsed value reports (object properties in key order).

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use opsorch_schema::NOT_BLANK_PATTERN;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::table::SchemaFn;
use crate::http::error::ApiError;
use crate::unique_keys::Key;

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
    /// `properties`, searched in order (a body names a few).
    properties: Vec<(String, Rule)>,
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

    fn allows(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    /// Whether a number fits: any for `number`, an integral one for
    /// `integer`.
    fn fit_number(self, n: &Number) -> bool {
        self.allows(Self::NUMBER)
            || (self.allows(Self::INTEGER) && n.as_f64().is_some_and(|f| f.fract() == 0.0))
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

    /// Checks a body that has already been decoded strictly (so no object
    /// repeats a key).
    pub(crate) fn check(&self, body: &[u8]) -> Result<(), ApiError> {
        let malformed = || ApiError::BadRequest("malformed JSON body".into());
        let mut de = serde_json::Deserializer::from_slice(body);
        let walk = Walk {
            rules: self,
            rule: Some(&self.root),
            path: Path::Body,
        };
        let found = walk.deserialize(&mut de).map_err(|_| malformed())?;
        de.end().map_err(|_| malformed())?;
        found.error.map_or(Ok(()), Err)
    }

    /// The checks a rule stands for, for a value that is null or not.
    fn resolve<'a>(&'a self, mut rule: &'a Rule, null: bool) -> Option<&'a Checks> {
        loop {
            match rule {
                Rule::Ref(index) => rule = self.components.get(*index)?,
                Rule::NullOr(_) if null => return None,
                Rule::NullOr(branch) => rule = branch,
                Rule::Checks(checks) => return Some(checks),
                Rule::Any => return None,
            }
        }
    }
}

/// What walking one value found.
#[derive(Default)]
struct Found {
    /// The value is null or a blank string: a required property given so
    /// counts as missing.
    missing: bool,
    /// The first rule the value breaks.
    error: Option<ApiError>,
}

impl Found {
    fn error(error: Option<ApiError>) -> Found {
        Found {
            missing: false,
            error,
        }
    }
}

/// Checks one value against a rule (`None`: nothing to check) while the
/// parser reads it. The value is read to its end whatever it breaks, so
/// that a body that is not JSON is still told apart.
struct Walk<'r, 'p> {
    rules: &'r BodyRules,
    rule: Option<&'r Rule>,
    path: Path<'p>,
}

impl<'r> Walk<'r, '_> {
    fn checks(&self, null: bool) -> Option<&'r Checks> {
        self.rule.and_then(|rule| self.rules.resolve(rule, null))
    }

    fn wrong_type(&self) -> Option<ApiError> {
        Some(ApiError::BadRequest(match self.path {
            Path::Body => "the body has the wrong JSON type".to_owned(),
            path => format!("{path} has the wrong JSON type"),
        }))
    }

    /// Whether the checks, if any, allow the type `bit`.
    fn fits(checks: Option<&Checks>, bit: u8) -> bool {
        checks.is_none_or(|c| c.types.is_none_or(|types| types.allows(bit)))
    }

    fn null(self) -> Found {
        let error = match Self::fits(self.checks(true), Types::NULL) {
            true => None,
            false => self.wrong_type(),
        };
        Found {
            missing: true,
            error,
        }
    }

    fn number(self, n: Number) -> Found {
        let Some(checks) = self.checks(false) else {
            return Found::default();
        };
        if checks.types.is_some_and(|types| !types.fit_number(&n)) {
            return Found::error(self.wrong_type());
        }
        let below = |bound: &Number| compare(&n, bound).is_some_and(|o| o.is_lt());
        let above = |bound: &Number| compare(&n, bound).is_some_and(|o| o.is_gt());
        let (min, max) = (checks.minimum.as_ref(), checks.maximum.as_ref());
        if min.is_some_and(below) || max.is_some_and(above) {
            let range = |b: Option<&Number>| b.map(Number::to_string).unwrap_or_default();
            return Found::error(Some(ApiError::BadRequest(format!(
                "{} must be between {} and {}",
                self.path,
                range(min),
                range(max)
            ))));
        }
        Found::default()
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = Found;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Found, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = Found;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Found, E> {
        Ok(self.null())
    }

    fn visit_none<E>(self) -> Result<Found, E> {
        Ok(self.null())
    }

    fn visit_bool<E>(self, _: bool) -> Result<Found, E> {
        Ok(match Self::fits(self.checks(false), Types::BOOLEAN) {
            true => Found::default(),
            false => Found::error(self.wrong_type()),
        })
    }

    fn visit_i64<E>(self, v: i64) -> Result<Found, E> {
        Ok(self.number(Number::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Found, E> {
        Ok(self.number(Number::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Found, E> {
        // A float JSON cannot hold stands for null, as in a parsed value.
        match Number::from_f64(v) {
            Some(n) => Ok(self.number(n)),
            None => Ok(self.null()),
        }
    }

    fn visit_str<E>(self, text: &str) -> Result<Found, E> {
        let missing = is_blank(text);
        let Some(checks) = self.checks(false) else {
            return Ok(Found {
                missing,
                error: None,
            });
        };
        let error = if !Self::fits(Some(checks), Types::STRING) {
            self.wrong_type()
        } else if (checks.not_blank && missing) || (text.chars().count() as u64) < checks.min_length
        {
            Some(ApiError::BadRequest(format!(
                "{} must not be blank",
                self.path
            )))
        } else {
            None
        };
        Ok(Found { missing, error })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Found, A::Error> {
        let checks = self.checks(false);
        let item_rule = match checks {
            _ if !Self::fits(checks, Types::ARRAY) => {
                while seq.next_element_seed(Skip)?.is_some() {}
                return Ok(Found::error(self.wrong_type()));
            }
            Some(Checks {
                items: Some(rule), ..
            }) => rule,
            _ => {
                while seq.next_element_seed(Skip)?.is_some() {}
                return Ok(Found::default());
            }
        };
        // The first item that breaks a rule.
        let mut error = None;
        for index in 0.. {
            let item = Walk {
                rules: self.rules,
                rule: Some(item_rule),
                path: Path::Item(&self.path, index),
            };
            match seq.next_element_seed(item)? {
                None => break,
                Some(found) => {
                    if error.is_none() {
                        error = found.error;
                    }
                }
            }
        }
        Ok(Found::error(error))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let checks = self.checks(false);
        if !Self::fits(checks, Types::OBJECT) {
            while map
                .next_entry_seed(PhantomData::<IgnoredAny>, Skip)?
                .is_some()
            {}
            return Ok(Found::error(self.wrong_type()));
        }
        let Some(checks) = checks else {
            while map
                .next_entry_seed(PhantomData::<IgnoredAny>, Skip)?
                .is_some()
            {}
            return Ok(Found::default());
        };
        // Which required properties are given (not null, not blank).
        let mut given = vec![false; checks.required.len()];
        // The error of the property whose name sorts first: a parsed
        // object's properties are walked in key order.
        let mut first: Option<(String, ApiError)> = None;
        while let Some(Key(name)) = map.next_key()? {
            let property = checks
                .properties
                .iter()
                .find(|(n, _)| *n == *name)
                .map(|(_, rule)| rule);
            let required = checks.required.iter().any(|n| *n == *name);
            if property.is_none() && !required {
                map.next_value_seed(Skip)?;
                continue;
            }
            let found = map.next_value_seed(Walk {
                rules: self.rules,
                rule: property,
                path: Path::Field(&self.path, &name),
            })?;
            if required {
                for (n, given) in checks.required.iter().zip(&mut given) {
                    if *n == *name {
                        *given = !found.missing;
                    }
                }
            }
            if let Some(error) = found.error {
                if first.as_ref().is_none_or(|(n, _)| *name < **n) {
                    first = Some((name.into_owned(), error));
                }
            }
        }
        if let Some(index) = given.iter().position(|g| !g) {
            let at = Path::Field(&self.path, &checks.required[index]);
            return Ok(Found::error(Some(ApiError::BadRequest(format!(
                "{at} is required"
            )))));
        }
        Ok(Found::error(first.map(|(_, error)| error)))
    }
}

/// Reads a value no rule applies to. It is read as a value is parsed,
/// not skipped over (`IgnoredAny`), so that nesting too deep for the
/// parser is malformed here too.
#[derive(Clone, Copy)]
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map
            .next_entry_seed(PhantomData::<IgnoredAny>, Skip)?
            .is_some()
        {}
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
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

    /// The checks as they were made before bodies were checked while
    /// parsed: a `serde_json::Value` walked, objects in key order.
    fn value_walk(rules: &BodyRules, body: &str) -> Option<String> {
        fn walk(rules: &BodyRules, rule: &Rule, value: &Value, path: Path<'_>) -> Option<String> {
            let checks = rules.resolve(rule, value.is_null())?;
            let fit = |types: Types| match value {
                Value::Null => types.allows(Types::NULL),
                Value::Bool(_) => types.allows(Types::BOOLEAN),
                Value::Number(n) => types.fit_number(n),
                Value::String(_) => types.allows(Types::STRING),
                Value::Array(_) => types.allows(Types::ARRAY),
                Value::Object(_) => types.allows(Types::OBJECT),
            };
            if checks.types.is_some_and(|types| !fit(types)) {
                return Some(match path {
                    Path::Body => "the body has the wrong JSON type".to_owned(),
                    path => format!("{path} has the wrong JSON type"),
                });
            }
            match value {
                Value::Object(map) => {
                    for name in &checks.required {
                        let given = map.get(name).filter(|v| !v.is_null());
                        if given.is_none() || given.and_then(Value::as_str).is_some_and(is_blank) {
                            return Some(format!("{} is required", Path::Field(&path, name)));
                        }
                    }
                    map.iter().find_map(|(name, item)| {
                        let (_, property) = checks.properties.iter().find(|(n, _)| n == name)?;
                        walk(rules, property, item, Path::Field(&path, name))
                    })
                }
                Value::Array(items) => checks.items.as_ref().and_then(|rule| {
                    items
                        .iter()
                        .enumerate()
                        .find_map(|(i, item)| walk(rules, rule, item, Path::Item(&path, i)))
                }),
                Value::String(text) => ((checks.not_blank && is_blank(text))
                    || (text.chars().count() as u64) < checks.min_length)
                    .then(|| format!("{path} must not be blank")),
                Value::Number(n) => {
                    let below = |b: &Number| compare(n, b).is_some_and(|o| o.is_lt());
                    let above = |b: &Number| compare(n, b).is_some_and(|o| o.is_gt());
                    let (min, max) = (checks.minimum.as_ref(), checks.maximum.as_ref());
                    let range = |b: Option<&Number>| b.map(Number::to_string).unwrap_or_default();
                    (min.is_some_and(below) || max.is_some_and(above)).then(|| {
                        format!("{path} must be between {} and {}", range(min), range(max))
                    })
                }
                Value::Null | Value::Bool(_) => None,
            }
        }
        match serde_json::from_slice::<Value>(body.as_bytes()) {
            Err(_) => Some("malformed JSON body".into()),
            Ok(value) => walk(rules, &rules.root, &value, Path::Body),
        }
    }

    /// Checking while parsing reports what walking the parsed value did:
    /// the same first error (required before the properties, properties in
    /// key order whatever the document's order, items in order), and a
    /// body that is not JSON is malformed whatever rule it breaks first.
    #[test]
    fn checking_while_parsing_reports_what_the_parsed_value_walk_did() {
        // Nesting deeper than the parser allows, where no rule applies, in
        // a value of the wrong type and in a free-form object.
        let nested = |at: &str| {
            let (open, close) = ("[".repeat(200), "]".repeat(200));
            format!(r#"{{"{at}":{open}1{close},"limit":-1}}"#)
        };
        let deep = nested("x");
        let deep_wrong = nested("scope");
        let deep_free = format!(r#"{{"metadata":{{"a":{}}}}}"#, &nested("x"));
        let cases: &[(SchemaFn, &[&str])] = &[
            (
                schema::<IncidentQuery>,
                &[
                    r#"{"limit":5}"#,
                    r#"{"scope":["x"],"limit":-1}"#,
                    r#"{"limit":-1,"scope":["x"]}"#,
                    r#"{"statuses":["a",1],"severities":[2],"limit":1}"#,
                    r#"{"severities":[2],"statuses":"a"}"#,
                    r#"{"scope":{"team":1,"service":2},"query":3}"#,
                    r#"{"scope":null,"limit":1e2,"metadata":{"a":[1,{"b":null}]}}"#,
                    r#"{"limit":1e12}"#,
                    r#"{"limit":-0}"#,
                    r#"{"limit":-0.0}"#,
                    r#"{"limit":0.5e1}"#,
                    r#"{"limit":18446744073709551616}"#,
                    r#"{"limit":-9223372036854775809}"#,
                    r#"{"limit":-1}"#,
                    r#"{"limit":true}"#,
                    r#"{"limit":{}}"#,
                    r#"{"limit":-1,"#,
                    r#"{"limit":-1} x"#,
                    r#"{"limit":1e400}"#,
                    r#"["#,
                    r#"[1,2]"#,
                    "7",
                    "null",
                    "",
                    &deep,
                    &deep_wrong,
                    &deep_free,
                ],
            ),
            (
                schema::<CreateIncidentInput>,
                &[
                    r#"{"title":"t"}"#,
                    r#"{"severity":5,"title":""}"#,
                    r#"{"severity":5,"title":"t","status":6}"#,
                    r#"{"title":" 	"}"#,
                    r#"{"title":7}"#,
                    r#"{"title":[]}"#,
                    r#"{"title":null,"metadata":[]}"#,
                    r#"{"metadata":{"title":""},"title":"x"}"#,
                ],
            ),
            (
                list::<CreateIncidentInput>,
                &[
                    r#"[]"#,
                    r#"[{"title":"a"},{"title":" "},{"title":5}]"#,
                    r#"[{"title":"a"},{},7]"#,
                    r#"[null,{"title":"a"}]"#,
                    r#"[{"title":"a"},{"title":"b","status":[]},"c"]"#,
                    r#"{"0":{"title":""}}"#,
                ],
            ),
            (
                schema::<MetricQuery>,
                &[
                    r#"{"expression":{"metricName":" "},"step":-1}"#,
                    r#"{"step":9223372036854775808,"expression":{"metricName":"cpu"}}"#,
                    r#"{"expression":{"metricName":"cpu","filters":[{"label":1}]}}"#,
                    r#"{"expression":null}"#,
                    r#"{"expression":[]}"#,
                ],
            ),
            (
                schema::<UpdateTicketInput>,
                &[
                    r#"{}"#,
                    r#"{"title":""}"#,
                    r#"{"title":null,"description":""}"#,
                    r#"{"title":"x","fields":3}"#,
                ],
            ),
        ];
        for (schema, bodies) in cases {
            let rules = BodyRules::new(*schema);
            for body in bodies.iter() {
                assert_eq!(message(&rules, body), value_walk(&rules, body), "{body}");
            }
        }
        // The cases above reach each kind of error.
        let rules = BodyRules::new(schema::<IncidentQuery>);
        assert_eq!(
            message(&rules, r#"{"scope":["x"],"limit":-1}"#).as_deref(),
            Some("limit must be between 0 and 2147483647")
        );
        assert_eq!(
            message(&rules, r#"{"severities":[2],"statuses":"a"}"#).as_deref(),
            Some("severities.0 has the wrong JSON type")
        );
        assert_eq!(
            message(&rules, r#"{"limit":-1,"#).as_deref(),
            Some("malformed JSON body")
        );
        for body in [&deep, &deep_wrong, &deep_free] {
            assert_eq!(
                message(&rules, body).as_deref(),
                Some("malformed JSON body")
            );
        }
        let rules = BodyRules::new(schema::<CreateIncidentInput>);
        assert_eq!(
            message(&rules, r#"{"severity":5,"title":""}"#).as_deref(),
            Some("title is required")
        );
        let rules = BodyRules::new(list::<CreateIncidentInput>);
        assert_eq!(
            message(&rules, r#"[{"title":"a"},{"title":" "},{"title":5}]"#).as_deref(),
            Some("1.title is required")
        );
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
                let checks = rules.resolve(&rules.root, false);
                assert!(checks.is_some_and(|c| c.types.is_some()), "{}", route.path);
            }
        }
    }
}
