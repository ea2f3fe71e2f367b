//! `GET/POST /providers/{cap}`: list registered providers (and the names a
//! stdio plugin in effect reported) and choose one.
//!
//! Choosing applies the provider at once and stores the choice in the secret
//! provider under `providers/<cap>/default`, so it survives a restart. The
//! new provider is built (validated) first, then stored, then swapped in: a
//! failed store leaves the previous provider in effect. The build (a stdio
//! plugin's configuration check, up to seconds) runs before the state's
//! configure lock is taken, so it holds up no other `POST /providers`; the
//! store and the swap run under it, together, so that two POSTs never
//! interleave their writes to the secret store and the choice stored last
//! is the one in effect. A read-only secret
//! store (a read-only file, directory or file system) answers 409
//! `secret_store_read_only`; any other store failure 502
//! `secret_store_error`.

use std::path::PathBuf;

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use opsorch_plugin_api::methods::Capability;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::reply::{json_response, STATUS_OK};
use super::template::Template;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::providers::seam::{Origin, SECRET_STORE_READ_ONLY};
use crate::providers::selection::{self, ProviderChoice};
use crate::providers::state::AppState;

pub fn router() -> Router<AppState> {
    let path = Template("/providers/{cap}");
    Router::new().route(
        path.0,
        get(path.handler(list)).post(path.handler(configure)),
    )
}

/// The body of `POST /providers/{cap}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfigInput {
    /// A registered provider name (required, even with `plugin`).
    #[serde(default)]
    #[schema(
        required = true,
        min_length = 1,
        pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub provider: String,
    /// Passed to the provider; stored in the secret provider.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Map<String, Value>>,
    /// Path of a stdio plugin executable; wins over `provider`.
    #[serde(default)]
    pub plugin: String,
}

/// The capability named by the path. A segment that is not even UTF-8
/// once decoded (`/providers/%FF`) cannot name one either: 404 JSON, not
/// axum's plain-text rejection.
fn capability(name: Result<Path<String>, PathRejection>) -> Result<Capability, ApiError> {
    name.ok()
        .and_then(|Path(name)| Capability::from_route_name(&name))
        .ok_or_else(|| ApiError::NotFound("unknown capability".into()))
}

async fn list(
    State(state): State<AppState>,
    cap: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let cap = capability(cap)?;
    let mut names = state.registry().names(cap);
    // A stdio plugin in effect is not registered: list the names its
    // manifest gave (known once its configuration was checked).
    let current = if cap == Capability::Secret {
        state.secret().cloned()
    } else {
        state.provider(cap).ok()
    };
    if let Some(Origin::Stdio { providers, .. }) =
        current.and_then(|p| p.status()).map(|status| status.origin)
    {
        for name in providers {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
                names.push(name);
            }
        }
    }
    let body = serde_json::json!({ "providers": names });
    Ok(json_response(StatusCode::OK, body.to_string(), None))
}

async fn configure(
    State(state): State<AppState>,
    cap: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let cap = capability(cap)?;
    let secret = state
        .secret()
        .cloned()
        .ok_or(ApiError::SecretProviderMissing)?;
    let JsonBody(input) = JsonBody::<ProviderConfigInput>::from_request(req, &state).await?;
    if input.provider.trim().is_empty() {
        return Err(ApiError::BadRequest("provider required".into()));
    }
    let choice = ProviderChoice {
        provider: Some(input.provider.trim().to_owned()),
        plugin: Some(input.plugin)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        config: input.config.unwrap_or_default(),
    };

    // Built (a stdio plugin's configuration check runs, up to seconds)
    // before the lock: a reconfiguration of another capability, or of this
    // one, does not wait for it.
    let provider = state
        .build_stored_choice(&choice, cap)
        .await
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // The store and the swap happen together under the lock: of two POSTs
    // to one capability, the one that takes it last is both stored and in
    // effect.
    let _configuring = state.configure_guard().await;
    if let Err(err) = selection::store(secret.as_ref(), cap, &choice).await {
        tracing::warn!(capability = %cap, code = %err.code, message = %err.message,
            "cannot store a provider configuration");
        if err.code == SECRET_STORE_READ_ONLY {
            return Err(ApiError::SecretStoreReadOnly);
        }
        return Err(ApiError::SecretStore(
            "cannot store the provider configuration".into(),
        ));
    }
    state.set_provider(cap, Some(provider));
    tracing::info!(capability = %cap, provider = %choice.describe(), "provider configured");
    Ok(json_response(
        StatusCode::OK,
        STATUS_OK,
        Some("provider.configured"),
    ))
}
