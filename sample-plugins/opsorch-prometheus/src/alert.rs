//! The `alertmanager` alert provider.

use opsorch_plugin_api::schema::{Alert, AlertQuery};
use opsorch_plugin_api::{async_trait, AsyncAlertProvider, CallContext, Config, Error, Result};

use crate::alertmanager::{self, AmAlert};
use crate::config::AlertmanagerConfig;
use opsorch_adapter_http::client::{status_error, HttpClient};

const ALERTS: &str = "/api/v2/alerts";

/// Alerts from an Alertmanager (API v2).
#[derive(Debug)]
pub struct AlertmanagerAlerts {
    config: AlertmanagerConfig,
    client: HttpClient,
}

impl AlertmanagerAlerts {
    pub fn new(config: &Config) -> Result<AlertmanagerAlerts> {
        let config = AlertmanagerConfig::parse(config)?;
        let client = HttpClient::new(config.http.clone())?;
        Ok(AlertmanagerAlerts { config, client })
    }

    async fn fetch(&self, context: &CallContext, params: &str) -> Result<Vec<AmAlert>> {
        let path = if params.is_empty() {
            ALERTS.to_string()
        } else {
            format!("{ALERTS}?{params}")
        };
        let reply = self.client.get(context, &path).await?;
        let origin = self.client.origin();
        let status = reply.status();
        if status == 400 {
            // Alertmanager explains a refused filter in a JSON string.
            let why =
                serde_json::from_slice::<String>(reply.bytes()).unwrap_or_else(|_| reply.text());
            let why: String = why.trim().chars().take(300).collect();
            return Err(Error::bad_request(format!(
                "alertmanager refused the query: {why}"
            )));
        }
        if let Some(err) = status_error(origin, ALERTS, status) {
            return Err(err);
        }
        serde_json::from_slice(reply.bytes()).map_err(|e| {
            Error::upstream(format!(
                "alertmanager at {origin} answered {ALERTS} with something that is not a list of alerts ({e})"
            ))
        })
    }

    /// `alert.query`.
    pub async fn query_with(&self, context: &CallContext, query: AlertQuery) -> Result<Vec<Alert>> {
        let Some(params) = alertmanager::query_params(&query, &self.config)? else {
            return Ok(Vec::new());
        };
        let alerts = self.fetch(context, &params).await?;
        alertmanager::select(alerts, &query, &self.config)
    }

    /// `alert.get`: the alert whose fingerprint is `id`, in any state.
    pub async fn get_with(&self, context: &CallContext, id: &str) -> Result<Alert> {
        let not_found = || Error::not_found(format!("alert {id:?} not found"));
        if !alertmanager::is_fingerprint(id) {
            return Err(not_found());
        }
        let alerts = self.fetch(context, "").await?;
        alerts
            .into_iter()
            .find(|a| a.fingerprint == id)
            .map(|a| alertmanager::convert(a, &self.config))
            .ok_or_else(not_found)
    }
}

#[async_trait]
impl AsyncAlertProvider for AlertmanagerAlerts {
    async fn query(&self, context: &CallContext, query: AlertQuery) -> Result<Vec<Alert>> {
        self.query_with(context, query).await
    }

    async fn get(&self, context: &CallContext, id: &str) -> Result<Alert> {
        self.get_with(context, id).await
    }
}
