//! HTTP routes. Provider-backed routes come from the [`table`]; the
//! provider-configuration API and the meta routes (`/`, `/health`,
//! `/openapi.json`) have their own small modules.

mod body_rules;
pub mod capabilities;
mod meta;
pub(crate) mod providers;
mod reply;
pub mod table;
mod template;

pub use template::RouteTemplate;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Request, State};
use axum::response::Response;
use axum::routing::{get, patch, post, MethodRouter};
use axum::Router;
use bytes::Bytes;
use std::sync::Arc;

use crate::http::error::ApiError;
use crate::http::extract::read_limited;
use crate::providers::seam::call_normalised;
use crate::providers::state::AppState;
use body_rules::BodyRules;
use reply::{json_response, STATUS_OK};
use table::{Http, Reply, Route, RouteInput, ROUTES};
use template::Template;

/// Every route, with the state applied. Unknown paths and wrong methods
/// answer 404 JSON. Every route's handlers carry its template
/// ([`RouteTemplate`], for the gate's metrics).
pub fn router(state: AppState) -> Router {
    let max_body = state.http().max_body_bytes;
    let mut router = Router::new();
    for route in ROUTES {
        router = router.route(route.path, method_router(route));
    }
    // The body limit layer wraps only the routes that read their body
    // through axum's extractors (`POST /providers/{cap}`). The table routes
    // count the same limit themselves (`dispatch`), and the others read no
    // body: none of them pays the layer's per-request step (about 1.2k
    // instructions of a library call, docs/BENCHMARKS.md).
    router
        .merge(providers::router().layer(DefaultBodyLimit::max(max_body)))
        .merge(capabilities::router())
        .merge(meta::router())
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(state)
}

fn method_router(route: &'static Route) -> MethodRouter<AppState> {
    let rules = route.body.map(|schema| Arc::new(BodyRules::new(schema)));
    let has_params = route.path_params().next().is_some();
    let handler =
        Template(route.path).handler(move |State(state): State<AppState>, req: Request| {
            dispatch(route, has_params, rules.clone(), state, req)
        });
    match route.http {
        Http::Get => get(handler),
        Http::Post => post(handler),
        Http::Patch => patch(handler),
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route not found".into())
}

/// The one handler behind every table route: find the provider, build the
/// payload, call, shape the reply. `has_params` says whether the route's
/// path has `{param}` segments; a route without any skips the `Path`
/// extractor, which could only give it no parameters.
async fn dispatch(
    route: &'static Route,
    has_params: bool,
    rules: Option<Arc<BodyRules>>,
    state: AppState,
    req: Request,
) -> Result<Response, ApiError> {
    // 501 comes first: an unconfigured capability says so whatever the body.
    let provider = state.provider(route.method.capability())?;
    let (mut parts, body) = req.into_parts();
    let params = if has_params {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(&mut parts, &state)
            .await
            .map_err(|_| ApiError::BadRequest("invalid path parameter".into()))?;
        params
    } else {
        Vec::new()
    };
    let query = parts.uri.query().map(str::to_owned);
    // The limit the `DefaultBodyLimit` layer sets for `POST
    // /providers/{cap}`, from the same settings.
    let body = read_limited(body, state.http().max_body_bytes).await?;
    let input = RouteInput {
        params,
        query,
        body,
    };
    let payload = (route.payload)(&input)?;
    // What the document publishes beyond types: required, not blank, ranges.
    if let Some(rules) = rules {
        rules.check(&input.body)?;
    }
    let result = call_normalised(provider.as_ref(), route.method, payload).await?;
    let body = match route.reply {
        Reply::Raw(_) => result.into_bytes(),
        Reply::StatusOk => Bytes::from_static(STATUS_OK.as_bytes()),
        Reply::Wrapped(key, _) => format!(r#"{{"{key}":{}}}"#, result.get()).into(),
    };
    Ok(json_response(
        route.status,
        body,
        Some(route.audit_action()),
    ))
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use opsorch_plugin_api::methods::{Capability, Method as ApiMethod};
    use tower::ServiceExt;

    use std::sync::{Arc, Mutex};

    use super::table::{Http, ROUTES};
    use super::RouteTemplate;
    use crate::metrics::Metrics;
    use crate::providers::seam::{Json, Provider, ProviderFuture, ProviderRegistry};
    use crate::providers::state::{AppState, HttpSettings, NoPlugins};

    /// With metrics, every route answers with its own template, whatever
    /// the answer (most of these are 501: no provider is configured); a
    /// request no route matches carries none. Without metrics, none does.
    #[tokio::test]
    async fn every_route_stamps_its_template_when_metrics_are_recorded() {
        let state = |metrics| {
            AppState::with_plugins(
                ProviderRegistry::new(),
                Arc::new(NoPlugins),
                None,
                HttpSettings::default(),
                metrics,
            )
        };
        let router = super::router(state(Some(Arc::new(Metrics::new()))));
        let unrecorded = super::router(state(None));
        let mut cases: Vec<(Method, &str, String)> = ROUTES
            .iter()
            .map(|route| {
                let method = match route.http {
                    Http::Get => Method::GET,
                    Http::Post => Method::POST,
                    Http::Patch => Method::PATCH,
                };
                let path = route.path.replace('{', "x").replace('}', "");
                (method, route.path, path)
            })
            .collect();
        for (method, template, path) in [
            (Method::GET, "/", "/"),
            (Method::GET, "/health", "/health"),
            (Method::GET, "/openapi.json", "/openapi.json"),
            (Method::GET, "/capabilities", "/capabilities"),
            (Method::GET, "/providers/{cap}", "/providers/incident"),
            (Method::POST, "/providers/{cap}", "/providers/incident"),
        ] {
            cases.push((method, template, path.to_owned()));
        }
        assert!(cases.len() > 30, "{}", cases.len());
        for (method, template, path) in cases {
            let request = Request::builder()
                .method(method.clone())
                .uri(&path)
                .body(Body::from("{}"))
                .unwrap();
            let (parts, body) = request.into_parts();
            let again = Request::from_parts(parts.clone(), Body::from("{}"));
            let request = Request::from_parts(parts, body);
            let response = router.clone().oneshot(request).await.unwrap();
            assert_eq!(
                response.extensions().get::<RouteTemplate>(),
                Some(&RouteTemplate(template)),
                "{method} {path}: {}",
                response.status()
            );
            let response = unrecorded.clone().oneshot(again).await.unwrap();
            assert_eq!(response.extensions().get::<RouteTemplate>(), None);
        }
        let request = Request::get("/nowhere").body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.extensions().get::<RouteTemplate>(), None);
    }

    /// Answers every method with its empty value and keeps each payload.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(ApiMethod, String)>>);

    impl Provider for Recorder {
        fn call(&self, method: ApiMethod, payload: String) -> ProviderFuture<'_> {
            self.0.lock().unwrap().push((method, payload));
            Box::pin(async move { Ok(Json::check(method.result_kind().empty_json()).unwrap()) })
        }
    }

    /// A route without `{param}` segments answers without the `Path`
    /// extractor; one with them still gets its percent-decoded parameters,
    /// and a segment that does not decode to UTF-8 is still a 400 `invalid
    /// path parameter` that reaches no provider.
    #[tokio::test]
    async fn path_parameters_only_where_the_route_has_them() {
        assert!(ROUTES.iter().any(|r| r.path_params().next().is_none()));
        assert!(ROUTES.iter().any(|r| r.path_params().count() == 2));
        let recorder = Arc::new(Recorder::default());
        let state = AppState::new(ProviderRegistry::new(), None, HttpSettings::default());
        for cap in [Capability::Incident, Capability::Orchestration] {
            state.set_provider(cap, Some(recorder.clone()));
        }
        let router = super::router(state);
        let send = |method: Method, path: &str, body: &'static str| {
            let request = Request::builder()
                .method(method)
                .uri(path)
                .body(Body::from(body))
                .unwrap();
            router.clone().oneshot(request)
        };
        let text = |response: axum::response::Response| async move {
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        };
        let taken = || std::mem::take(&mut *recorder.0.lock().unwrap());

        let response = send(Method::POST, "/incidents/query", r#"{"limit":5}"#)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(text(response).await, "[]");
        let calls = taken();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, ApiMethod::IncidentQuery);
        assert!(calls[0].1.contains(r#""limit":5"#), "{}", calls[0].1);

        let response = send(Method::GET, "/incidents/in%20c%2F1%C3%A9", "")
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            taken(),
            [(
                ApiMethod::IncidentGet,
                "{\"id\":\"in c/1\u{e9}\"}".to_owned()
            )]
        );

        let response = send(
            Method::POST,
            "/orchestration/runs/r%201/steps/s%2F2/complete",
            "{}",
        )
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let calls = taken();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, ApiMethod::OrchestrationRunsStepsComplete);
        assert!(calls[0].1.contains(r#""runId":"r 1""#), "{}", calls[0].1);
        assert!(calls[0].1.contains(r#""stepId":"s/2""#), "{}", calls[0].1);

        for (method, path) in [
            (Method::GET, "/incidents/%FF"),
            (Method::GET, "/incidents/%C3/timeline"),
            (Method::POST, "/orchestration/runs/r1/steps/%E9/complete"),
        ] {
            let response = send(method, path, "{}").await.unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
            let body = text(response).await;
            assert!(
                body.contains(r#""invalid path parameter""#),
                "{path}: {body}"
            );
            assert!(taken().is_empty(), "{path}");
        }
    }
}
