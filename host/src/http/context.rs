//! Who is calling: the request ID and the actor, from the request's
//! headers. The gate builds one per request; audit records carry it.

use axum::http::HeaderMap;

/// Who is calling, from the contract's actor headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    pub request_id: String,
    pub actor_type: &'static str,
    pub actor_id: String,
}

impl RequestContext {
    pub fn from_headers(request_id: String, headers: &HeaderMap) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let actor_type = match text("x-actor-type") {
            Some(t) if t.eq_ignore_ascii_case("copilot") => "copilot",
            _ => "user",
        };
        let actor_id = ["x-user-id", "x-actor-id", "x-opsorch-actor-id"]
            .into_iter()
            .find_map(text)
            .unwrap_or("unknown")
            .to_owned();
        RequestContext {
            request_id,
            actor_type,
            actor_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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
