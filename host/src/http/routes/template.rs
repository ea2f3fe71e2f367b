//! Route templates on responses, for the request gate's metrics.
//!
//! Metrics count requests by route template (`/incidents/{id}`), never by
//! raw path, and the gate sees only the response. Each route's handlers are
//! wrapped at router build time in a [`Templated`] handler that knows its
//! template, and stamps a [`RouteTemplate`] on the response when the host
//! records metrics. That replaces a middleware (`axum::middleware::from_fn`)
//! that extracted axum's `MatchedPath` for every request: it boxed the
//! route's future and cloned the route for each request (about 2k
//! instructions per request, docs/BENCHMARKS.md).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::handler::Handler;
use axum::response::Response;
use pin_project_lite::pin_project;

use crate::providers::state::AppState;

/// The template of the route that answered, on its response (only while
/// metrics are recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteTemplate(pub &'static str);

/// The template of one route, to wrap each of its handlers with
/// [`Template::handler`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Template(pub &'static str);

impl Template {
    /// `handler`, stamping this template on its responses.
    pub(super) fn handler<H>(self, handler: H) -> Templated<H> {
        Templated {
            template: self.0,
            handler,
        }
    }
}

/// A handler whose responses carry its route's template.
#[derive(Clone)]
pub(super) struct Templated<H> {
    template: &'static str,
    handler: H,
}

impl<H, T> Handler<T, AppState> for Templated<H>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    type Future = TemplatedFuture<H::Future>;

    fn call(self, req: Request, state: AppState) -> Self::Future {
        // A host that records no metrics needs no template.
        let template = state.metrics().map(|_| self.template);
        TemplatedFuture {
            inner: self.handler.call(req, state),
            template,
        }
    }
}

pin_project! {
    /// The response future of a [`Templated`] handler.
    pub(super) struct TemplatedFuture<F> {
        #[pin]
        inner: F,
        template: Option<&'static str>,
    }
}

impl<F: Future<Output = Response>> Future for TemplatedFuture<F> {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx));
        if let Some(template) = *this.template {
            response.extensions_mut().insert(RouteTemplate(template));
        }
        Poll::Ready(response)
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request};
    use tower::ServiceExt;

    use std::sync::Arc;

    use super::RouteTemplate;
    use crate::http::routes::table::{Http, ROUTES};
    use crate::metrics::Metrics;
    use crate::providers::seam::ProviderRegistry;
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
        let router = super::super::router(state(Some(Arc::new(Metrics::new()))));
        let unrecorded = super::super::router(state(None));
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
}
