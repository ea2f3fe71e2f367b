//! The Alertmanager v2 API: `alert.query` as `/api/v2/alerts` parameters,
//! and its alerts as OpsOrch alerts.
//!
//! Statuses, as OpsOrch reports them and as filters accept them:
//!
//! | OpsOrch status | Alertmanager | filters that select it |
//! |---|---|---|
//! | `firing` | state `active` | `firing`, `active`, `open` |
//! | `silenced` | state `suppressed`, silenced | `silenced`, `acknowledged`, `suppressed` |
//! | `inhibited` | state `suppressed`, inhibited only | `inhibited`, `suppressed` |
//! | `pending` | state `unprocessed` | `pending`, `unprocessed` |
//!
//! `resolved` and `closed` are accepted and select nothing: Alertmanager's
//! API never returns resolved alerts.

use std::collections::BTreeMap;

use opsorch_plugin_api::schema::{Alert, AlertQuery, JsonMap, Timestamp};
use opsorch_plugin_api::{Error, Result};
use serde::Deserialize;
use serde_json::Value;

use opsorch_adapter_http::config::BaseUrl;

use crate::config::AlertmanagerConfig;

/// An OpsOrch alert status this provider reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Firing,
    Silenced,
    Inhibited,
    Pending,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Silenced => "silenced",
            Status::Inhibited => "inhibited",
            Status::Pending => "pending",
        }
    }
}

/// The statuses a query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusSet {
    pub firing: bool,
    pub silenced: bool,
    pub inhibited: bool,
    pub pending: bool,
}

impl StatusSet {
    pub const ALL: StatusSet = StatusSet {
        firing: true,
        silenced: true,
        inhibited: true,
        pending: true,
    };

    /// The statuses named by `statuses`; all of them when the list is empty.
    pub fn parse(statuses: &[String]) -> Result<StatusSet> {
        if statuses.is_empty() {
            return Ok(StatusSet::ALL);
        }
        let mut set = StatusSet::default();
        for status in statuses {
            match status.trim().to_ascii_lowercase().as_str() {
                "firing" | "active" | "open" => set.firing = true,
                "silenced" | "acknowledged" => set.silenced = true,
                "inhibited" => set.inhibited = true,
                "suppressed" => {
                    set.silenced = true;
                    set.inhibited = true;
                }
                "pending" | "unprocessed" => set.pending = true,
                "resolved" | "closed" => {}
                _ => {
                    return Err(Error::bad_request(format!(
                        "unsupported alert status {status:?} (use firing, silenced, inhibited, suppressed, pending or resolved)"
                    )))
                }
            }
        }
        Ok(set)
    }

    pub fn is_empty(&self) -> bool {
        *self == StatusSet::default()
    }

    pub fn contains(&self, status: Status) -> bool {
        match status {
            Status::Firing => self.firing,
            Status::Silenced => self.silenced,
            Status::Inhibited => self.inhibited,
            Status::Pending => self.pending,
        }
    }
}

/// An Alertmanager matcher value in double quotes: `\`, `"` and newlines
/// escaped as its parser unescapes them; everything else as it is.
pub fn am_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The query string of `GET /api/v2/alerts` for `query`, or `None` when the
/// statuses asked for cannot match anything (only `resolved`).
///
/// - Status filters set `active`, `silenced`, `inhibited` and `unprocessed`.
///   An alert both silenced and inhibited is reported `silenced`, so when
///   either is asked for both flags are sent and the provider keeps only
///   the alerts whose reported status was asked for.
/// - Each severity and scope field becomes a `filter` label matcher; several
///   severities become one regex matcher (Alertmanager ANDs filters).
pub fn query_params(query: &AlertQuery, config: &AlertmanagerConfig) -> Result<Option<String>> {
    let statuses = StatusSet::parse(&query.statuses)?;
    if statuses.is_empty() {
        return Ok(None);
    }
    let mut form = form_urlencoded::Serializer::new(String::new());
    if statuses != StatusSet::ALL {
        let suppressed = statuses.silenced || statuses.inhibited;
        form.append_pair("active", bool_str(statuses.firing));
        form.append_pair("silenced", bool_str(suppressed));
        form.append_pair("inhibited", bool_str(suppressed));
        form.append_pair("unprocessed", bool_str(statuses.pending));
    }
    let severities: Vec<&str> = query
        .severities
        .iter()
        .map(|s| s.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    match severities.as_slice() {
        [] => {}
        [one] => {
            form.append_pair(
                "filter",
                &format!("{}={}", config.severity_label, am_quote(one)),
            );
        }
        many => {
            let alternatives: Vec<String> = many.iter().map(|s| regex_syntax::escape(s)).collect();
            form.append_pair(
                "filter",
                &format!(
                    "{}=~{}",
                    config.severity_label,
                    am_quote(&alternatives.join("|"))
                ),
            );
        }
    }
    let labels = &config.scope_labels;
    for (label, value) in [
        (&labels.service, &query.scope.service),
        (&labels.team, &query.scope.team),
        (&labels.environment, &query.scope.environment),
    ] {
        if !value.is_empty() {
            form.append_pair("filter", &format!("{label}={}", am_quote(value)));
        }
    }
    Ok(Some(form.finish()))
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// A gettable alert of `/api/v2/alerts`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmAlert {
    pub fingerprint: String,
    #[serde(default)]
    pub status: AmStatus,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
    #[serde(default)]
    pub receivers: Vec<AmReceiver>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmStatus {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub silenced_by: Vec<String>,
    #[serde(default)]
    pub inhibited_by: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AmReceiver {
    #[serde(default)]
    pub name: String,
}

/// The status OpsOrch reports for an Alertmanager alert; `None` for a state
/// this version does not know.
pub fn status_of(alert: &AmAlert) -> Option<Status> {
    match alert.status.state.as_str() {
        "active" => Some(Status::Firing),
        "suppressed" if !alert.status.silenced_by.is_empty() => Some(Status::Silenced),
        "suppressed" if !alert.status.inhibited_by.is_empty() => Some(Status::Inhibited),
        "suppressed" => Some(Status::Silenced),
        "unprocessed" => Some(Status::Pending),
        _ => None,
    }
}

/// A link to the alert in the Alertmanager UI: its alerts page filtered on
/// all of the alert's labels, suppressed alerts shown.
pub fn ui_link(ui: &BaseUrl, labels: &BTreeMap<String, String>) -> String {
    let matchers: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", am_quote(v)))
        .collect();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("silenced", "true")
        .append_pair("inhibited", "true")
        .append_pair("active", "true")
        .append_pair("filter", &format!("{{{}}}", matchers.join(",")))
        .finish();
    format!("{}/#/alerts?{query}", ui.as_str())
}

fn time_of(raw: &str) -> Timestamp {
    Timestamp::parse_rfc3339(raw).unwrap_or_default()
}

fn string_map(map: &BTreeMap<String, String>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// Converts one Alertmanager alert.
///
/// Title: the `alertname` label (else the `summary` annotation, else the
/// fingerprint). Description: the configured annotation, else `summary`.
/// Severity, service: the configured labels. Times: `startsAt` and
/// `updatedAt`. `fields` keeps the labels, annotations, state, silences,
/// inhibitors, receivers, `endsAt` and the generator URL.
pub fn convert(alert: AmAlert, config: &AlertmanagerConfig) -> Alert {
    let status = status_of(&alert)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| alert.status.state.clone());
    let title = alert
        .labels
        .get("alertname")
        .or_else(|| alert.annotations.get("summary"))
        .cloned()
        .unwrap_or_else(|| alert.fingerprint.clone());
    let description = alert
        .annotations
        .get(&config.description_annotation)
        .filter(|d| !d.is_empty())
        .or_else(|| alert.annotations.get("summary"))
        .cloned()
        .unwrap_or_default();
    let label = |name: &str| alert.labels.get(name).cloned().unwrap_or_default();
    let mut fields = JsonMap::new();
    fields.insert("labels".into(), string_map(&alert.labels));
    fields.insert("annotations".into(), string_map(&alert.annotations));
    fields.insert("state".into(), Value::String(alert.status.state.clone()));
    fields.insert(
        "silencedBy".into(),
        serde_json::json!(alert.status.silenced_by),
    );
    fields.insert(
        "inhibitedBy".into(),
        serde_json::json!(alert.status.inhibited_by),
    );
    fields.insert(
        "receivers".into(),
        Value::Array(
            alert
                .receivers
                .iter()
                .map(|r| Value::String(r.name.clone()))
                .collect(),
        ),
    );
    if !alert.ends_at.is_empty() {
        fields.insert("endsAt".into(), Value::String(alert.ends_at.clone()));
    }
    if !alert.generator_url.is_empty() {
        fields.insert(
            "generatorURL".into(),
            Value::String(alert.generator_url.clone()),
        );
    }
    let mut metadata = JsonMap::new();
    metadata.insert("source".into(), Value::String("prometheus".into()));
    metadata.insert(
        "fingerprint".into(),
        Value::String(alert.fingerprint.clone()),
    );
    Alert {
        severity: label(&config.severity_label),
        service: label(&config.scope_labels.service),
        url: ui_link(&config.ui, &alert.labels),
        created_at: time_of(&alert.starts_at),
        updated_at: time_of(&alert.updated_at),
        id: alert.fingerprint,
        title,
        description,
        status,
        fields,
        metadata,
    }
}

/// Applies what Alertmanager cannot filter: the reported status, the free
/// text `query` (case-insensitive, in title and description), then `limit`.
pub fn select(
    alerts: Vec<AmAlert>,
    query: &AlertQuery,
    config: &AlertmanagerConfig,
) -> Result<Vec<Alert>> {
    let statuses = StatusSet::parse(&query.statuses)?;
    let text = query.query.trim().to_lowercase();
    let mut out = Vec::new();
    for alert in alerts {
        if let Some(status) = status_of(&alert) {
            if !statuses.contains(status) {
                continue;
            }
        }
        let converted = convert(alert, config);
        if !text.is_empty()
            && !converted.title.to_lowercase().contains(&text)
            && !converted.description.to_lowercase().contains(&text)
        {
            continue;
        }
        out.push(converted);
        if query.limit > 0 && out.len() >= query.limit as usize {
            break;
        }
    }
    Ok(out)
}

/// An alert id must look like a fingerprint (hex) to be looked up.
pub fn is_fingerprint(id: &str) -> bool {
    !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsorch_plugin_api::ErrorKind;

    fn config() -> AlertmanagerConfig {
        AlertmanagerConfig::parse(
            &serde_json::from_str(r#"{"alertmanagerURL": "http://am.example:9093"}"#).unwrap(),
        )
        .unwrap()
    }

    fn pairs(query: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn params(query: AlertQuery) -> Vec<(String, String)> {
        pairs(&query_params(&query, &config()).unwrap().unwrap())
    }

    fn p(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn no_filters_no_parameters() {
        assert!(params(AlertQuery::default()).is_empty());
    }

    #[test]
    fn statuses_become_state_flags_not_matchers() {
        assert_eq!(
            params(AlertQuery {
                statuses: vec!["firing".into()],
                ..Default::default()
            }),
            vec![
                p("active", "true"),
                p("silenced", "false"),
                p("inhibited", "false"),
                p("unprocessed", "false")
            ]
        );
        assert_eq!(
            params(AlertQuery {
                statuses: vec!["silenced".into(), "pending".into()],
                ..Default::default()
            }),
            vec![
                p("active", "false"),
                p("silenced", "true"),
                p("inhibited", "true"),
                p("unprocessed", "true")
            ]
        );
        // Every status named is the same as none.
        assert!(params(AlertQuery {
            statuses: vec!["active".into(), "suppressed".into(), "unprocessed".into()],
            ..Default::default()
        })
        .is_empty());
        // Only resolved: nothing to ask.
        assert_eq!(
            query_params(
                &AlertQuery {
                    statuses: vec!["resolved".into()],
                    ..Default::default()
                },
                &config()
            )
            .unwrap(),
            None
        );
        let err = query_params(
            &AlertQuery {
                statuses: vec!["state=\"active\"".into()],
                ..Default::default()
            },
            &config(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
    }

    #[test]
    fn severities_and_scope_become_filter_matchers() {
        let got = params(AlertQuery {
            severities: vec!["critical".into()],
            scope: opsorch_plugin_api::schema::QueryScope {
                service: "checkout".into(),
                team: "payments".into(),
                environment: "prod".into(),
            },
            ..Default::default()
        });
        assert_eq!(
            got,
            vec![
                p("filter", r#"severity="critical""#),
                p("filter", r#"service="checkout""#),
                p("filter", r#"team="payments""#),
                p("filter", r#"env="prod""#),
            ]
        );
        let got = params(AlertQuery {
            severities: vec!["critical".into(), "warn.ing|x".into()],
            ..Default::default()
        });
        assert_eq!(
            got,
            vec![p("filter", r#"severity=~"critical|warn\\.ing\\|x""#)]
        );
    }

    #[test]
    fn configured_label_names_are_used() {
        let config = AlertmanagerConfig::parse(
            &serde_json::from_str(
                r#"{"alertmanagerURL": "http://am:9093", "severityLabel": "priority",
                    "serviceLabel": "app", "environmentLabel": "environment"}"#,
            )
            .unwrap(),
        )
        .unwrap();
        let q = AlertQuery {
            severities: vec!["P1".into()],
            scope: opsorch_plugin_api::schema::QueryScope {
                service: "api".into(),
                environment: "staging".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            pairs(&query_params(&q, &config).unwrap().unwrap()),
            vec![
                p("filter", r#"priority="P1""#),
                p("filter", r#"app="api""#),
                p("filter", r#"environment="staging""#),
            ]
        );
    }

    #[test]
    fn hostile_matcher_values_are_quoted() {
        assert_eq!(am_quote("plain"), r#""plain""#);
        assert_eq!(am_quote(r#"a"b"#), r#""a\"b""#);
        assert_eq!(am_quote(r"a\b"), r#""a\\b""#);
        assert_eq!(am_quote("a\nb"), r#""a\nb""#);
        assert_eq!(am_quote("日本 🚀"), "\"日本 🚀\"");
        let got = params(AlertQuery {
            scope: opsorch_plugin_api::schema::QueryScope {
                service: "x\",severity=~\".*".into(),
                ..Default::default()
            },
            ..Default::default()
        });
        assert_eq!(got, vec![p("filter", r#"service="x\",severity=~\".*""#)]);
    }

    fn am_alert(json: &str) -> AmAlert {
        serde_json::from_str(json).unwrap()
    }

    const FIRING: &str = r#"{
        "fingerprint": "a1b2c3d4e5f60718",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        "labels": {"alertname": "HighLatency", "severity": "critical", "service": "checkout"},
        "annotations": {"description": "p99 above 2s", "summary": "Checkout slow"},
        "startsAt": "2026-11-01T00:00:00.000Z",
        "endsAt": "2026-11-01T01:00:00.000Z",
        "updatedAt": "2026-11-01T00:05:00.123Z",
        "generatorURL": "http://prom/graph?g0.expr=x",
        "receivers": [{"name": "default"}]
    }"#;

    #[test]
    fn alerts_map_to_the_schema() {
        let alert = convert(am_alert(FIRING), &config());
        assert_eq!(alert.id, "a1b2c3d4e5f60718");
        assert_eq!(alert.title, "HighLatency");
        assert_eq!(alert.description, "p99 above 2s");
        assert_eq!(alert.status, "firing");
        assert_eq!(alert.severity, "critical");
        assert_eq!(alert.service, "checkout");
        assert_eq!(
            alert.created_at,
            Timestamp::parse_rfc3339("2026-11-01T00:00:00Z").unwrap()
        );
        assert_eq!(
            alert.updated_at,
            Timestamp::parse_rfc3339("2026-11-01T00:05:00.123Z").unwrap()
        );
        assert_eq!(alert.fields["receivers"], serde_json::json!(["default"]));
        assert_eq!(alert.fields["labels"]["alertname"], "HighLatency");
        assert_eq!(alert.fields["endsAt"], "2026-11-01T01:00:00.000Z");
        assert_eq!(alert.metadata["fingerprint"], "a1b2c3d4e5f60718");
        assert_eq!(
            alert.url,
            "http://am.example:9093/#/alerts?silenced=true&inhibited=true&active=true&filter=\
             %7Balertname%3D%22HighLatency%22%2Cservice%3D%22checkout%22%2Cseverity%3D%22critical%22%7D"
        );
    }

    #[test]
    fn states_map_to_statuses() {
        let mut a = am_alert(FIRING);
        assert_eq!(status_of(&a), Some(Status::Firing));
        a.status.state = "suppressed".into();
        a.status.silenced_by = vec!["s1".into()];
        a.status.inhibited_by = vec!["i1".into()];
        assert_eq!(status_of(&a), Some(Status::Silenced));
        a.status.silenced_by.clear();
        assert_eq!(status_of(&a), Some(Status::Inhibited));
        a.status.state = "unprocessed".into();
        assert_eq!(status_of(&a), Some(Status::Pending));
        a.status.state = "new-state".into();
        assert_eq!(status_of(&a), None);
        assert_eq!(convert(a, &config()).status, "new-state");
    }

    #[test]
    fn titles_and_descriptions_fall_back() {
        let a = am_alert(
            r#"{"fingerprint": "ff", "status": {"state": "active"},
                "labels": {}, "annotations": {"summary": "Disk full"}}"#,
        );
        let alert = convert(a, &config());
        assert_eq!(alert.title, "Disk full");
        assert_eq!(alert.description, "Disk full");
        assert!(alert.created_at.is_zero());
        let a = am_alert(r#"{"fingerprint": "ff"}"#);
        assert_eq!(convert(a, &config()).title, "ff");
    }

    #[test]
    fn select_filters_status_text_and_limit() {
        let mut silenced_and_inhibited = am_alert(FIRING);
        silenced_and_inhibited.fingerprint = "02".into();
        silenced_and_inhibited.status.state = "suppressed".into();
        silenced_and_inhibited.status.silenced_by = vec!["s".into()];
        silenced_and_inhibited.status.inhibited_by = vec!["i".into()];
        let mut inhibited = am_alert(FIRING);
        inhibited.fingerprint = "03".into();
        inhibited.status.state = "suppressed".into();
        inhibited.status.inhibited_by = vec!["i".into()];
        let mut other = am_alert(FIRING);
        other.fingerprint = "04".into();
        other.labels.insert("alertname".into(), "DiskFull".into());
        other.annotations.clear();
        let all = vec![am_alert(FIRING), silenced_and_inhibited, inhibited, other];
        let ids = |q: AlertQuery| -> Vec<String> {
            select(all.clone(), &q, &config())
                .unwrap()
                .into_iter()
                .map(|a| a.id)
                .collect()
        };
        assert_eq!(ids(AlertQuery::default()).len(), 4);
        assert_eq!(
            ids(AlertQuery {
                statuses: vec!["inhibited".into()],
                ..Default::default()
            }),
            vec!["03"]
        );
        assert_eq!(
            ids(AlertQuery {
                statuses: vec!["silenced".into()],
                ..Default::default()
            }),
            vec!["02"]
        );
        assert_eq!(
            ids(AlertQuery {
                statuses: vec!["firing".into()],
                limit: 1,
                ..Default::default()
            }),
            vec!["a1b2c3d4e5f60718"]
        );
        assert_eq!(
            ids(AlertQuery {
                query: "DISK".into(),
                ..Default::default()
            }),
            vec!["04"]
        );
        assert_eq!(
            ids(AlertQuery {
                query: "p99".into(),
                ..Default::default()
            })
            .len(),
            3
        );
    }

    #[test]
    fn fingerprints() {
        assert!(is_fingerprint("a1b2c3d4e5f60718"));
        assert!(!is_fingerprint(""));
        assert!(!is_fingerprint("../../etc"));
        assert!(!is_fingerprint("ALR-1"));
    }
}
