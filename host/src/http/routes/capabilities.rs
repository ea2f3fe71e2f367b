//! `GET /capabilities`: for each capability, the provider in effect and
//! how it is doing. Never shows configuration values.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use opsorch_plugin_api::methods::Capability;
use serde::Serialize;

use super::reply::json_response;
use super::template::Template;
use crate::http::error::ApiError;
use crate::providers::seam::Provider;
use crate::providers::seam::{LastError, Origin, Source};
use crate::providers::state::AppState;

pub fn router() -> Router<AppState> {
    let path = Template("/capabilities");
    Router::new().route(path.0, get(path.handler(list)))
}

/// The body of `GET /capabilities`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CapabilitiesReply {
    /// Every capability, the secret store last.
    pub capabilities: Vec<CapabilityStatus>,
}

/// One capability and the provider in effect for it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityStatus {
    /// The capability (`incident`, …, `secret`).
    pub capability: &'static str,
    /// Whether a provider is in effect (if not, its routes answer 501).
    pub configured: bool,
    /// The provider name: a registered name, or a stdio plugin's file name.
    pub provider: Option<String>,
    /// `library`, `stdio` or `builtin`.
    pub transport: Option<&'static str>,
    /// `environment` or `stored` (the secret store, written by `POST /providers`).
    #[schema(value_type = Option<String>)]
    pub source: Option<Source>,
    /// The adapter library, for the library transport.
    pub library: Option<LibraryStatus>,
    /// The plugin executable and its processes, for the stdio transport.
    pub plugin: Option<PluginStatus>,
    /// Processes started to replace a failed one (stdio).
    pub restarts: u64,
    /// The last error the provider returned.
    pub last_error: Option<LastError>,
    /// Calls running now.
    pub in_flight: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LibraryStatus {
    pub file: String,
    pub name: String,
    pub version: String,
    pub interface_version: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PluginStatus {
    pub path: String,
    /// The plugin processes running now (they start on the first call).
    pub pids: Vec<u32>,
}

/// The status of `cap` served by `provider` (if any).
pub fn status_of(cap: Capability, provider: Option<&dyn Provider>) -> CapabilityStatus {
    let mut status = CapabilityStatus {
        capability: cap.name(),
        configured: provider.is_some(),
        provider: None,
        transport: None,
        source: None,
        library: None,
        plugin: None,
        restarts: 0,
        last_error: None,
        in_flight: 0,
    };
    let Some(provider) = provider else {
        return status;
    };
    let processes = provider.processes();
    if let Some(known) = provider.status() {
        status.provider = Some(known.name);
        status.transport = Some(known.origin.transport());
        status.source = Some(known.source);
        status.last_error = known.last_error;
        status.in_flight = known.in_flight;
        match known.origin {
            Origin::Builtin => {}
            Origin::Library {
                file,
                name,
                version,
                interface_version,
            } => {
                status.library = Some(LibraryStatus {
                    file: file.display().to_string(),
                    name,
                    version,
                    interface_version,
                })
            }
            Origin::Stdio { path, .. } => {
                status.plugin = Some(PluginStatus {
                    path: path.display().to_string(),
                    pids: processes
                        .as_ref()
                        .map(|p| p.pids.clone())
                        .unwrap_or_default(),
                })
            }
        }
    }
    status.restarts = processes.map(|p| p.restarts).unwrap_or(0);
    status
}

async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut capabilities: Vec<CapabilityStatus> = Capability::ROUTED
        .into_iter()
        .map(|cap| status_of(cap, state.provider(cap).ok().as_deref()))
        .collect();
    capabilities.push(status_of(
        Capability::Secret,
        state.secret().map(|s| s.as_ref()),
    ));
    let body = serde_json::to_vec(&CapabilitiesReply { capabilities })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json_response(StatusCode::OK, body, None))
}
