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
