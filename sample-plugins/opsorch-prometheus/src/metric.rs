//! The `prometheus` metric provider.

use chrono::Utc;
use opsorch_plugin_api::schema::{MetricDescriptor, MetricQuery, MetricSeries, QueryScope};
use opsorch_plugin_api::{async_trait, AsyncMetricProvider, CallContext, Config, Result};

use crate::config::PrometheusConfig;
use crate::prom::{self, Catalogue, MetadataData, RangeData, SeriesContext, Window};
use crate::promql;
use opsorch_adapter_http::client::HttpClient;

const QUERY_RANGE: &str = "/api/v1/query_range";
const SERIES: &str = "/api/v1/series";
const METADATA: &str = "/api/v1/metadata";
const NAMES: &str = "/api/v1/label/__name__/values";

/// Metrics from a Prometheus server (or anything serving its HTTP API).
#[derive(Debug)]
pub struct PrometheusMetrics {
    config: PrometheusConfig,
    client: HttpClient,
}

impl PrometheusMetrics {
    pub fn new(config: &Config) -> Result<PrometheusMetrics> {
        let config = PrometheusConfig::parse(config)?;
        let client = HttpClient::new(config.http.clone())?;
        Ok(PrometheusMetrics { config, client })
    }

    async fn call<T: for<'de> serde::Deserialize<'de>>(
        &self,
        context: &CallContext,
        endpoint: &str,
        form: Option<String>,
    ) -> Result<T> {
        let reply = match form {
            Some(form) => self.client.post_form(context, endpoint, form).await?,
            None => self.client.get(context, endpoint).await?,
        };
        prom::decode(
            self.client.origin(),
            endpoint,
            reply.status(),
            reply.bytes(),
        )
    }

    /// `metric.query`: the expression as PromQL through `query_range`.
    /// Prometheus' own `timeout` is `queryTimeoutMs`, or the time left
    /// until the call's deadline when that is sooner.
    pub async fn query_with(
        &self,
        context: &CallContext,
        query: MetricQuery,
    ) -> Result<Vec<MetricSeries>> {
        let prom_query = promql::build(&query, &self.config.scope_labels)?;
        let window = Window::of(&query, Utc::now())?;
        opsorch_plugin_api::log::debug(format_args!(
            "query_range {} step {}s",
            prom_query.expr, window.step
        ));
        let evaluation = match context.remaining() {
            Some(left) => left.min(self.config.query_timeout),
            None => self.config.query_timeout,
        };
        let form = prom::query_range_form(&prom_query.expr, &window, evaluation);
        let data: RangeData = self.call(context, QUERY_RANGE, Some(form)).await?;
        prom::convert_range(
            data,
            &SeriesContext {
                query: &prom_query,
                window: &window,
                ui: &self.config.ui,
                service_label: &self.config.scope_labels.service,
            },
        )
    }

    /// `metric.describe`: metric names (with their label names when a scope
    /// is given, from the scope's series), typed from `/api/v1/metadata`.
    pub async fn describe_with(
        &self,
        context: &CallContext,
        scope: QueryScope,
    ) -> Result<Vec<MetricDescriptor>> {
        let matchers = promql::scope_matchers(&scope, &self.config.scope_labels)?;
        let catalogue = async {
            if matchers.is_empty() {
                Ok(Catalogue::Names(self.call(context, NAMES, None).await?))
            } else {
                let form = prom::series_form(&matchers);
                Ok::<_, opsorch_plugin_api::Error>(Catalogue::Series(
                    self.call(context, SERIES, Some(form)).await?,
                ))
            }
        };
        let metadata = self.call::<MetadataData>(context, METADATA, None);
        let (catalogue, metadata) = tokio::join!(catalogue, metadata);
        let window = Window::of(&MetricQuery::default(), Utc::now())?;
        Ok(prom::describe(
            catalogue?,
            &metadata?,
            &matchers,
            &self.config.ui,
            &window,
        ))
    }
}

#[async_trait]
impl AsyncMetricProvider for PrometheusMetrics {
    async fn query(&self, context: &CallContext, query: MetricQuery) -> Result<Vec<MetricSeries>> {
        self.query_with(context, query).await
    }

    async fn describe(
        &self,
        context: &CallContext,
        scope: QueryScope,
    ) -> Result<Vec<MetricDescriptor>> {
        self.describe_with(context, scope).await
    }
}
