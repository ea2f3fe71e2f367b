//! The providers' own config keys; the upstream keys (`url`,
//! credentials, `caFile`, `timeoutMs`, `maxResponseBytes`, `uiURL`) are read
//! by [`opsorch_adapter_http::config`].

use std::time::Duration;

use opsorch_adapter_http::config::{BaseUrl, HttpSettings, Reader};
use opsorch_plugin_api::{Config, Error, Result};

/// A label name (Prometheus syntax) under `key`, defaulting to `default`.
fn label_name(reader: &Reader<'_>, key: &str, default: &str) -> Result<String> {
    match reader.string(key)? {
        None => Ok(default.to_string()),
        Some(name) if crate::promql::is_label_name(name) => Ok(name.to_string()),
        Some(_) => Err(Error::bad_request(format!(
            "config.{key} must be a label name ([a-zA-Z_][a-zA-Z0-9_]*)"
        ))),
    }
}

/// The label names scope fields map to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeLabels {
    pub service: String,
    pub team: String,
    pub environment: String,
}

impl ScopeLabels {
    /// `serviceLabel`, `teamLabel`, `environmentLabel`; defaults `service`,
    /// `team`, `env` (the Go adapter's fixed names).
    pub fn read(reader: &Reader<'_>) -> Result<ScopeLabels> {
        Ok(ScopeLabels {
            service: label_name(reader, "serviceLabel", "service")?,
            team: label_name(reader, "teamLabel", "team")?,
            environment: label_name(reader, "environmentLabel", "env")?,
        })
    }
}

/// Config of the `prometheus` metric provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusConfig {
    pub http: HttpSettings,
    /// Base of the graph deep links (`uiURL`, default `url`).
    pub ui: BaseUrl,
    pub scope_labels: ScopeLabels,
    /// Prometheus' own evaluation timeout (`queryTimeoutMs`, default the
    /// per-call timeout), sent as the `timeout` parameter.
    pub query_timeout: Duration,
}

impl PrometheusConfig {
    pub fn parse(config: &Config) -> Result<PrometheusConfig> {
        let reader = Reader::new(config);
        let http = reader.http("url")?;
        let query_timeout = reader
            .positive_u64("queryTimeoutMs")?
            .map(Duration::from_millis)
            .unwrap_or(http.timeout);
        Ok(PrometheusConfig {
            ui: reader.ui_url(&http.base)?,
            scope_labels: ScopeLabels::read(&reader)?,
            query_timeout,
            http,
        })
    }
}

/// Config of the `alertmanager` alert provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertmanagerConfig {
    pub http: HttpSettings,
    /// Base of the UI deep links (`uiURL`, default `alertmanagerURL`).
    pub ui: BaseUrl,
    pub scope_labels: ScopeLabels,
    /// Label holding the severity (`severityLabel`, default `severity`).
    pub severity_label: String,
    /// Annotation holding the description (`descriptionAnnotation`, default
    /// `description`, falling back to `summary`).
    pub description_annotation: String,
}

impl AlertmanagerConfig {
    pub fn parse(config: &Config) -> Result<AlertmanagerConfig> {
        let reader = Reader::new(config);
        // `alertmanagerURL` is the Go adapter's key; `url` is accepted too.
        let key = if reader.string("alertmanagerURL")?.is_some() || reader.string("url")?.is_none()
        {
            "alertmanagerURL"
        } else {
            "url"
        };
        let http = reader.http(key)?;
        let description_annotation = match reader.string("descriptionAnnotation")? {
            Some(name) => name.to_string(),
            None => "description".to_string(),
        };
        Ok(AlertmanagerConfig {
            ui: reader.ui_url(&http.base)?,
            scope_labels: ScopeLabels::read(&reader)?,
            severity_label: label_name(&reader, "severityLabel", "severity")?,
            description_annotation,
            http,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsorch_adapter_http::config::{Auth, Secret, DEFAULT_TIMEOUT};
    use opsorch_plugin_api::ErrorKind;

    fn config(json: &str) -> Config {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn prometheus_takes_url_and_defaults() {
        let err = PrometheusConfig::parse(&config("{}")).unwrap_err();
        assert_eq!(err.message(), "missing required config field: url");
        let c = PrometheusConfig::parse(&config(r#"{"url": "http://127.0.0.1:9090/"}"#)).unwrap();
        assert_eq!(c.http.base.as_str(), "http://127.0.0.1:9090");
        assert_eq!(c.ui, c.http.base);
        assert_eq!(c.http.timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.query_timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.http.auth, Auth::None);
        assert_eq!(c.scope_labels.service, "service");
        assert_eq!(c.scope_labels.team, "team");
        assert_eq!(c.scope_labels.environment, "env");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let c = PrometheusConfig::parse(&config(
            r#"{"url": "https://p.example/secret-path", "username": "u", "password": "pw-456"}"#,
        ))
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("pw-456"), "{shown}");
        assert!(!shown.contains("secret-path"), "{shown}");
        let c = AlertmanagerConfig::parse(&config(
            r#"{"alertmanagerURL": "https://am.example", "bearerToken": "tok-789"}"#,
        ))
        .unwrap();
        assert_eq!(c.http.auth, Auth::Bearer(Secret::new("tok-789")));
        assert!(!format!("{c:?}").contains("tok-789"));
    }

    #[test]
    fn timeouts_and_labels() {
        let c = PrometheusConfig::parse(&config(
            r#"{"url": "http://p:9090", "timeoutMs": "2500", "queryTimeoutMs": 100,
                "serviceLabel": "app", "teamLabel": "owner", "environmentLabel": "environment",
                "uiURL": "https://grafana.example/prom"}"#,
        ))
        .unwrap();
        assert_eq!(c.http.timeout, Duration::from_millis(2500));
        assert_eq!(c.query_timeout, Duration::from_millis(100));
        assert_eq!(c.scope_labels.service, "app");
        assert_eq!(c.scope_labels.team, "owner");
        assert_eq!(c.scope_labels.environment, "environment");
        assert_eq!(c.ui.as_str(), "https://grafana.example/prom");
        for bad in [
            r#"{"url": "http://p", "queryTimeoutMs": 0}"#,
            r#"{"url": "http://p", "serviceLabel": "not a label"}"#,
            r#"{"url": "http://p", "environmentLabel": "1env"}"#,
            r#"{"url": "http://p", "teamLabel": 7}"#,
        ] {
            let err = PrometheusConfig::parse(&config(bad)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadRequest, "{bad}");
        }
    }

    #[test]
    fn alertmanager_takes_the_go_key_or_url() {
        let c =
            AlertmanagerConfig::parse(&config(r#"{"alertmanagerURL": "http://am:9093"}"#)).unwrap();
        assert_eq!(c.http.base.as_str(), "http://am:9093");
        assert_eq!(c.severity_label, "severity");
        assert_eq!(c.description_annotation, "description");
        let c = AlertmanagerConfig::parse(&config(r#"{"url": "http://am2:9093"}"#)).unwrap();
        assert_eq!(c.http.base.as_str(), "http://am2:9093");
        let err = AlertmanagerConfig::parse(&config("{}")).unwrap_err();
        assert_eq!(
            err.message(),
            "missing required config field: alertmanagerURL"
        );
        let c = AlertmanagerConfig::parse(&config(
            r#"{"alertmanagerURL": "http://am:9093", "severityLabel": "priority",
                "descriptionAnnotation": "summary"}"#,
        ))
        .unwrap();
        assert_eq!(c.severity_label, "priority");
        assert_eq!(c.description_annotation, "summary");
        let err = AlertmanagerConfig::parse(&config(
            r#"{"alertmanagerURL": "http://am:9093", "severityLabel": "a-b"}"#,
        ))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
    }
}
