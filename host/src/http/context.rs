//! Who is calling: the request ID and the actor, from the request's
//! headers. The gate builds one per request; audit records carry it.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// Who is calling, from the contract's actor headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    pub request_id: String,
    pub actor_type: &'static str,
    pub actor_id: String,
}

impl RequestContext {
    pub fn from_headers(request_id: String, headers: &HeaderMap) -> Self {
        let (actor_type, actor_id) = actor(headers);
        RequestContext {
            request_id,
            actor_type,
            actor_id: actor_id
                .as_ref()
                .and_then(actor_text)
                .unwrap_or("unknown")
                .to_owned(),
        }
    }
}

static X_ACTOR_TYPE: HeaderName = HeaderName::from_static("x-actor-type");

/// Where the actor ID may come from, first present wins.
static ACTOR_ID_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-user-id"),
    HeaderName::from_static("x-actor-id"),
    HeaderName::from_static("x-opsorch-actor-id"),
];

/// A header's text, trimmed, when it is text and not blank.
pub(crate) fn actor_text(value: &HeaderValue) -> Option<&str> {
    value.to_str().ok().map(str::trim).filter(|v| !v.is_empty())
}

/// The actor type (`copilot` or `user`) and the header holding the actor
/// ID, kept as a header value (a reference-counted clone) so that the gate
/// makes the text only for an audit record.
pub(crate) fn actor(headers: &HeaderMap) -> (&'static str, Option<HeaderValue>) {
    let actor_type = match headers.get(&X_ACTOR_TYPE).and_then(actor_text) {
        Some(t) if t.eq_ignore_ascii_case("copilot") => "copilot",
        _ => "user",
    };
    let actor_id = ACTOR_ID_HEADERS
        .iter()
        .filter_map(|name| headers.get(name))
        .find(|v| actor_text(v).is_some())
        .cloned();
    (actor_type, actor_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn actors() {
        let c = RequestContext::from_headers("r".into(), &HeaderMap::new());
        assert_eq!((c.actor_type, c.actor_id.as_str()), ("user", "unknown"));
        let c = RequestContext::from_headers(
            "r".into(),
            &headers(&[("x-actor-type", "Copilot"), ("x-actor-id", "bot-1")]),
        );
        assert_eq!((c.actor_type, c.actor_id.as_str()), ("copilot", "bot-1"));
        let c = RequestContext::from_headers(
            "r".into(),
            &headers(&[
                ("x-actor-type", "robot"),
                ("x-opsorch-actor-id", "c"),
                ("x-user-id", "alice"),
            ]),
        );
        assert_eq!((c.actor_type, c.actor_id.as_str()), ("user", "alice"));
    }
}
