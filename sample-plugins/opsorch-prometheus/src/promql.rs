//! `MetricExpression` → PromQL.
//!
//! Every piece of user input is either checked against PromQL's grammar
//! (metric and label names, operators, aggregations) or written as an
//! escaped string literal (label values), so no input can change the shape
//! of the query. Regex values are parsed first and refused when they are
//! not valid RE2 or would compile to something huge.

use std::fmt::Write;

use opsorch_plugin_api::schema::{MetricExpression, MetricQuery, QueryScope};
use opsorch_plugin_api::{Error, Result};
use regex_syntax::ast::{self, Ast, RepetitionKind, RepetitionRange};

use crate::config::ScopeLabels;

/// Longest regex value accepted, in bytes.
pub const MAX_REGEX_LEN: usize = 4096;
/// Largest repetition count (`a{n}`), Go's RE2 limit.
pub const MAX_REPEAT: u32 = 1000;
/// Deepest nesting of groups and repetitions.
const REGEX_NEST_LIMIT: u32 = 64;

/// The aggregation operators accepted in `aggregation` (those that take no
/// parameter).
pub const AGGREGATIONS: [&str; 8] = [
    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "group",
];

/// A metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `value` as a PromQL double-quoted string literal. PromQL unquotes with
/// Go's rules, so `\\`, `\"` and control characters are escaped; any other
/// Unicode is written as it is.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A label matcher operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    pub fn parse(op: &str) -> Option<MatchOp> {
        match op.trim() {
            "=" | "==" => Some(MatchOp::Equal),
            "!=" => Some(MatchOp::NotEqual),
            "=~" => Some(MatchOp::Regex),
            "!~" => Some(MatchOp::NotRegex),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }

    pub fn is_regex(self) -> bool {
        matches!(self, MatchOp::Regex | MatchOp::NotRegex)
    }
}

/// One `label op "value"` matcher, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub label: String,
    pub op: MatchOp,
    pub value: String,
}

impl Matcher {
    /// Checks the label name and, for regex operators, the regex.
    pub fn new(label: &str, op: MatchOp, value: &str) -> Result<Matcher> {
        if !is_label_name(label) {
            return Err(Error::bad_request(format!(
                "invalid label name {label:?}: must match [a-zA-Z_][a-zA-Z0-9_]*"
            )));
        }
        if op.is_regex() {
            check_regex(value)?;
        }
        Ok(Matcher {
            label: label.to_string(),
            op,
            value: value.to_string(),
        })
    }

    pub fn render(&self) -> String {
        format!("{}{}{}", self.label, self.op.as_str(), quote(&self.value))
    }
}

/// Refuses a regex that is not valid RE2 syntax or that would compile to
/// something huge (long, deeply nested, or with large repetition counts).
pub fn check_regex(value: &str) -> Result<()> {
    if value.len() > MAX_REGEX_LEN {
        return Err(Error::bad_request(format!(
            "regex is longer than {MAX_REGEX_LEN} bytes"
        )));
    }
    let ast = ast::parse::ParserBuilder::new()
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .parse(value)
        .map_err(|e| Error::bad_request(format!("invalid regex {value:?}: {}", e.kind())))?;
    ast::visit(&ast, RepeatLimit).map_err(|n| {
        Error::bad_request(format!(
            "invalid regex {value:?}: repetition count {n} exceeds {MAX_REPEAT}"
        ))
    })?;
    regex_syntax::hir::translate::TranslatorBuilder::new()
        .utf8(true)
        .build()
        .translate(value, &ast)
        .map_err(|e| Error::bad_request(format!("invalid regex {value:?}: {}", e.kind())))?;
    Ok(())
}

/// Fails on the first `{n}`, `{n,}` or `{n,m}` above [`MAX_REPEAT`].
struct RepeatLimit;

impl ast::Visitor for RepeatLimit {
    type Output = ();
    type Err = u32;

    fn finish(self) -> std::result::Result<(), u32> {
        Ok(())
    }

    fn visit_pre(&mut self, node: &Ast) -> std::result::Result<(), u32> {
        if let Ast::Repetition(rep) = node {
            if let RepetitionKind::Range(range) = &rep.op.kind {
                let largest = match *range {
                    RepetitionRange::Exactly(n) | RepetitionRange::AtLeast(n) => n,
                    RepetitionRange::Bounded(a, b) => a.max(b),
                };
                if largest > MAX_REPEAT {
                    return Err(largest);
                }
            }
        }
        Ok(())
    }
}

/// How a PromQL query was made; decides the deep link of each series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryShape {
    /// A plain selector: each result series is one stored series.
    Selector,
    /// An aggregation over a selector.
    Aggregated,
    /// Raw PromQL from `metadata.query`.
    Raw,
}

/// A PromQL query built from a `MetricQuery`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromQuery {
    pub expr: String,
    pub shape: QueryShape,
    /// The metric name asked for (empty for raw queries).
    pub metric_name: String,
}

/// The scope as matchers (`=`), in the order service, team, environment.
pub fn scope_matchers(scope: &QueryScope, labels: &ScopeLabels) -> Result<Vec<Matcher>> {
    let mut out = Vec::new();
    for (label, value) in [
        (&labels.service, &scope.service),
        (&labels.team, &scope.team),
        (&labels.environment, &scope.environment),
    ] {
        if !value.is_empty() {
            out.push(Matcher::new(label, MatchOp::Equal, value)?);
        }
    }
    Ok(out)
}

/// `name{m1,m2}`; `name` alone without matchers, `{m1}` without a name.
pub fn selector(metric_name: &str, matchers: &[Matcher]) -> String {
    let mut out = metric_name.to_string();
    if !matchers.is_empty() || metric_name.is_empty() {
        out.push('{');
        for (i, m) in matchers.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&m.render());
        }
        out.push('}');
    }
    out
}

/// Builds the PromQL for `query`.
///
/// - `metadata.query` (a non-empty string) is used as it is, as the Go
///   adapter does; scope and expression are then ignored.
/// - Otherwise the expression's metric name, its filters and the scope (as
///   labels named by `labels`) make the selector, and `aggregation` with
///   `groupBy` wraps it as `agg by (l1, l2) (selector)`. `groupBy` without
///   an aggregation sums.
pub fn build(query: &MetricQuery, labels: &ScopeLabels) -> Result<PromQuery> {
    match query.metadata.get("query") {
        Some(serde_json::Value::String(raw)) if !raw.trim().is_empty() => {
            return Ok(PromQuery {
                expr: raw.clone(),
                shape: QueryShape::Raw,
                metric_name: String::new(),
            });
        }
        Some(serde_json::Value::String(_)) | Some(serde_json::Value::Null) | None => {}
        Some(_) => return Err(Error::bad_request("metadata.query must be a string")),
    }
    let expression = query
        .expression
        .as_ref()
        .ok_or_else(|| Error::bad_request("missing query expression"))?;
    build_expression(expression, &query.scope, labels)
}

fn build_expression(
    expression: &MetricExpression,
    scope: &QueryScope,
    labels: &ScopeLabels,
) -> Result<PromQuery> {
    let name = expression.metric_name.trim();
    if !name.is_empty() && !is_metric_name(name) {
        return Err(Error::bad_request(format!(
            "invalid metric name {name:?}: must match [a-zA-Z_:][a-zA-Z0-9_:]*"
        )));
    }
    let mut matchers = Vec::with_capacity(expression.filters.len() + 3);
    for filter in &expression.filters {
        let op = MatchOp::parse(&filter.operator).ok_or_else(|| {
            Error::bad_request(format!(
                "unsupported filter operator {:?} (use =, !=, =~ or !~)",
                filter.operator
            ))
        })?;
        matchers.push(Matcher::new(filter.label.trim(), op, &filter.value)?);
    }
    matchers.extend(scope_matchers(scope, labels)?);
    if name.is_empty() && matchers.is_empty() {
        return Err(Error::bad_request(
            "expression.metricName is required (or a filter, or metadata.query)",
        ));
    }
    let sel = selector(name, &matchers);

    let aggregation = expression.aggregation.trim().to_ascii_lowercase();
    if aggregation.is_empty() && expression.group_by.is_empty() {
        return Ok(PromQuery {
            expr: sel,
            shape: QueryShape::Selector,
            metric_name: name.to_string(),
        });
    }
    let aggregation = if aggregation.is_empty() {
        "sum".to_string()
    } else if AGGREGATIONS.contains(&aggregation.as_str()) {
        aggregation
    } else {
        return Err(Error::bad_request(format!(
            "unsupported aggregation {:?} (use one of {})",
            expression.aggregation,
            AGGREGATIONS.join(", ")
        )));
    };
    for label in &expression.group_by {
        if !is_label_name(label) {
            return Err(Error::bad_request(format!(
                "invalid groupBy label {label:?}: must match [a-zA-Z_][a-zA-Z0-9_]*"
            )));
        }
    }
    let expr = if expression.group_by.is_empty() {
        format!("{aggregation}({sel})")
    } else {
        format!(
            "{aggregation} by ({}) ({sel})",
            expression.group_by.join(", ")
        )
    };
    Ok(PromQuery {
        expr,
        shape: QueryShape::Aggregated,
        metric_name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsorch_plugin_api::schema::MetricFilter;
    use opsorch_plugin_api::ErrorKind;

    fn labels() -> ScopeLabels {
        ScopeLabels {
            service: "service".into(),
            team: "team".into(),
            environment: "env".into(),
        }
    }

    fn filter(label: &str, op: &str, value: &str) -> MetricFilter {
        MetricFilter {
            label: label.into(),
            operator: op.into(),
            value: value.into(),
        }
    }

    fn query(expression: MetricExpression) -> MetricQuery {
        MetricQuery {
            expression: Some(expression),
            ..Default::default()
        }
    }

    fn expr_of(expression: MetricExpression) -> String {
        build(&query(expression), &labels()).unwrap().expr
    }

    fn refused(expression: MetricExpression) -> Error {
        let err = build(&query(expression), &labels()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest, "{err}");
        err
    }

    #[test]
    fn names() {
        for ok in ["up", "http_requests_total", "job:rate5m:sum", "_x", ":a"] {
            assert!(is_metric_name(ok), "{ok}");
        }
        for bad in ["", "1up", "up{}", "a-b", "up or vector(1)", "é"] {
            assert!(!is_metric_name(bad), "{bad}");
        }
        for ok in ["job", "_x", "__name__", "a1"] {
            assert!(is_label_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a:b", "a b", "a\"", "ü"] {
            assert!(!is_label_name(bad), "{bad}");
        }
    }

    #[test]
    fn quoting_escapes_what_go_unquotes() {
        assert_eq!(quote("plain"), r#""plain""#);
        assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
        assert_eq!(quote(r"a\b"), r#""a\\b""#);
        assert_eq!(quote("a\nb\r\tc"), r#""a\nb\r\tc""#);
        assert_eq!(quote("nul\0bell\x07del\x7f"), r#""nul\x00bell\x07del\x7f""#);
        assert_eq!(quote("日本 ☃ 🚀"), "\"日本 ☃ 🚀\"");
        assert_eq!(quote(r#"\""#), r#""\\\"""#);
        assert_eq!(quote(""), r#""""#);
    }

    #[test]
    fn plain_selector_with_filters_and_scope() {
        let mut q = query(MetricExpression {
            metric_name: "http_requests_total".into(),
            filters: vec![
                filter("method", "=", "POST"),
                filter("status", "=~", "5.."),
                filter("path", "!=", "/health"),
                filter("code", "!~", "2.*|3.*"),
            ],
            ..Default::default()
        });
        q.scope = QueryScope {
            service: "checkout".into(),
            team: "payments".into(),
            environment: "prod".into(),
        };
        let built = build(&q, &labels()).unwrap();
        assert_eq!(
            built.expr,
            r#"http_requests_total{method="POST",status=~"5..",path!="/health",code!~"2.*|3.*",service="checkout",team="payments",env="prod"}"#
        );
        assert_eq!(built.shape, QueryShape::Selector);
        assert_eq!(built.metric_name, "http_requests_total");
    }

    #[test]
    fn scope_label_names_are_configurable() {
        let mut q = query(MetricExpression {
            metric_name: "up".into(),
            ..Default::default()
        });
        q.scope.service = "api".into();
        q.scope.environment = "staging".into();
        let custom = ScopeLabels {
            service: "app".into(),
            team: "owner".into(),
            environment: "environment".into(),
        };
        assert_eq!(
            build(&q, &custom).unwrap().expr,
            r#"up{app="api",environment="staging"}"#
        );
    }

    #[test]
    fn bare_metric_and_name_less_selector() {
        assert_eq!(
            expr_of(MetricExpression {
                metric_name: "up".into(),
                ..Default::default()
            }),
            "up"
        );
        assert_eq!(
            expr_of(MetricExpression {
                filters: vec![filter("__name__", "=~", "http_.*")],
                ..Default::default()
            }),
            r#"{__name__=~"http_.*"}"#
        );
        let err = refused(MetricExpression::default());
        assert!(err.message().contains("metricName is required"), "{err}");
        let err = build(&MetricQuery::default(), &labels()).unwrap_err();
        assert_eq!(err.message(), "missing query expression");
    }

    #[test]
    fn aggregation_and_group_by() {
        assert_eq!(
            expr_of(MetricExpression {
                metric_name: "http_requests_total".into(),
                aggregation: "SUM".into(),
                group_by: vec!["method".into(), "status".into()],
                ..Default::default()
            }),
            "sum by (method, status) (http_requests_total)"
        );
        assert_eq!(
            expr_of(MetricExpression {
                metric_name: "cpu".into(),
                aggregation: "avg".into(),
                filters: vec![filter("env", "=", "prod")],
                ..Default::default()
            }),
            r#"avg(cpu{env="prod"})"#
        );
        // groupBy alone sums.
        let built = build(
            &query(MetricExpression {
                metric_name: "cpu".into(),
                group_by: vec!["host".into()],
                ..Default::default()
            }),
            &labels(),
        )
        .unwrap();
        assert_eq!(built.expr, "sum by (host) (cpu)");
        assert_eq!(built.shape, QueryShape::Aggregated);
        for agg in AGGREGATIONS {
            assert_eq!(
                expr_of(MetricExpression {
                    metric_name: "m".into(),
                    aggregation: agg.into(),
                    ..Default::default()
                }),
                format!("{agg}(m)")
            );
        }
    }

    #[test]
    fn raw_query_override() {
        let mut q = query(MetricExpression {
            metric_name: "ignored".into(),
            ..Default::default()
        });
        q.metadata.insert(
            "query".into(),
            serde_json::Value::String("rate(http_requests_total[5m])".into()),
        );
        q.scope.service = "ignored-too".into();
        let built = build(&q, &labels()).unwrap();
        assert_eq!(built.expr, "rate(http_requests_total[5m])");
        assert_eq!(built.shape, QueryShape::Raw);
        // Raw alone, without an expression, is enough.
        q.expression = None;
        assert_eq!(build(&q, &labels()).unwrap().shape, QueryShape::Raw);
        q.metadata.insert("query".into(), serde_json::json!(5));
        assert_eq!(
            build(&q, &labels()).unwrap_err().kind(),
            ErrorKind::BadRequest
        );
    }

    #[test]
    fn hostile_values_are_escaped_not_interpreted() {
        for value in [
            r#"a"} or vector(1) #"#,
            "\"",
            "\\",
            "\\\"",
            "line1\nline2",
            "tab\tcr\r",
            "日本語",
            "emoji 🚀",
            "}",
            "{",
            ",x=\"y\"",
            "",
        ] {
            let built = expr_of(MetricExpression {
                metric_name: "up".into(),
                filters: vec![filter("job", "=", value)],
                ..Default::default()
            });
            assert_eq!(built, format!("up{{job={}}}", quote(value)));
            assert!(!built.contains('\n'), "{built:?}");
            // The literal ends at the closing brace: only escaped quotes inside.
            let inner = &built["up{job=\"".len()..built.len() - 2];
            let mut escaped = false;
            for c in inner.chars() {
                assert!(escaped || c != '"', "unescaped quote in {built:?}");
                escaped = !escaped && c == '\\';
            }
        }
    }

    #[test]
    fn hostile_names_operators_and_aggregations_are_refused() {
        refused(MetricExpression {
            metric_name: "up or vector(1)".into(),
            ..Default::default()
        });
        refused(MetricExpression {
            metric_name: "up".into(),
            filters: vec![filter("job\"}", "=", "x")],
            ..Default::default()
        });
        for op in ["", "~", "like", "=!", "<"] {
            let err = refused(MetricExpression {
                metric_name: "up".into(),
                filters: vec![filter("job", op, "x")],
                ..Default::default()
            });
            assert!(err.message().contains("operator"), "{err}");
        }
        for agg in ["topk", "quantile", "sum(up) + sum", "count_values"] {
            refused(MetricExpression {
                metric_name: "up".into(),
                aggregation: agg.into(),
                ..Default::default()
            });
        }
        refused(MetricExpression {
            metric_name: "up".into(),
            aggregation: "sum".into(),
            group_by: vec!["job) (vector(1)".into()],
            ..Default::default()
        });
    }

    #[test]
    fn regexes_are_parsed_and_bounded() {
        for ok in [
            "5..",
            "a|b|c",
            "(?i)error",
            r"\d+\.\d+",
            "[[:alpha:]]+",
            r"\p{Greek}+",
            "a{2,1000}",
            "日本.*",
            "",
        ] {
            check_regex(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "(",
            "a)",
            "[z-a]",
            "*x",
            r"(a)\1",
            "(?=x)",
            "(?<!x)y",
            "a{1001}",
            "(a{500}){1001}",
            "x{2000,}",
        ] {
            let err = check_regex(bad).expect_err(bad);
            assert_eq!(err.kind(), ErrorKind::BadRequest, "{bad}");
        }
        let deep = format!("{}a{}", "(".repeat(200), ")".repeat(200));
        assert!(check_regex(&deep).is_err());
        let long = "a".repeat(MAX_REGEX_LEN + 1);
        assert!(check_regex(&long).is_err());
        // Through the builder: refused, with the reason.
        let err = refused(MetricExpression {
            metric_name: "up".into(),
            filters: vec![filter("job", "=~", "(unclosed")],
            ..Default::default()
        });
        assert!(err.message().contains("invalid regex"), "{err}");
        // The same text is fine as a plain value.
        assert_eq!(
            expr_of(MetricExpression {
                metric_name: "up".into(),
                filters: vec![filter("job", "=", "(unclosed")],
                ..Default::default()
            }),
            r#"up{job="(unclosed"}"#
        );
    }
}
