//! Who is calling: the request ID and the actor, from the request's
//! headers. The gate builds one per request; audit records carry it.

use axum::http::{HeaderMap, HeaderValue};

/// Who is calling, from the contract's actor headers, borrowed from the
/// request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestContext<'a> {
    pub request_id: &'a str,
    pub actor_type: &'static str,
    pub actor_id: &'a str,
}

/// A header's text, trimmed, when it is text and not blank.
pub(crate) fn actor_text(value: &HeaderValue) -> Option<&str> {
    value.to_str().ok().map(str::trim).filter(|v| !v.is_empty())
}

/// The headers that say who is calling, found in one pass over the
/// request's headers: a lookup by name hashes the name, and most requests
/// carry none of these eight, so eight lookups cost more than one pass
/// (about 1k instructions of the host's `/health`, see
/// docs/BENCHMARKS.md).
pub(crate) struct CallerHeaders<'a> {
    /// The first of `X-Request-ID`, `X-Amzn-Trace-Id`, `X-Correlation-ID`
    /// and `X-Trace-ID` the request carries (its first value, maybe empty).
    pub request_id: Option<&'a HeaderValue>,
    /// `copilot` when `X-Actor-Type` says so, else `user`.
    pub actor_type: &'static str,
    /// The first of `X-User-ID`, `X-Actor-ID` and `X-OpsOrch-Actor-ID`
    /// whose (first) value is text and not blank.
    pub actor_id: Option<&'a HeaderValue>,
}

impl<'a> CallerHeaders<'a> {
    pub(crate) fn scan(headers: &'a HeaderMap) -> Self {
        // Slots in order of precedence; each keeps a header's first value.
        let mut ids: [Option<&HeaderValue>; 4] = [None; 4];
        let mut actor_ids: [Option<&HeaderValue>; 3] = [None; 3];
        let mut actor_type = None;
        for (name, value) in headers {
            let slot = match name.as_str() {
                "x-request-id" => &mut ids[0],
                "x-amzn-trace-id" => &mut ids[1],
                "x-correlation-id" => &mut ids[2],
                "x-trace-id" => &mut ids[3],
                "x-user-id" => &mut actor_ids[0],
                "x-actor-id" => &mut actor_ids[1],
                "x-opsorch-actor-id" => &mut actor_ids[2],
                "x-actor-type" => &mut actor_type,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        let actor_type = match actor_type.and_then(actor_text) {
            Some(t) if t.eq_ignore_ascii_case("copilot") => "copilot",
            _ => "user",
        };
        CallerHeaders {
            request_id: ids.into_iter().flatten().next(),
            actor_type,
            actor_id: actor_ids
                .into_iter()
                .flatten()
                .find(|v| actor_text(v).is_some()),
        }
    }
}

/// A header map from name/value pairs, for the unit tests of the request
/// gate's parts (context, gate, browser guard).
#[cfg(test)]
pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The actor as the gate records it.
    struct Actor {
        actor_type: &'static str,
        actor_id: String,
    }

    fn actor(headers: &HeaderMap) -> Actor {
        let caller = CallerHeaders::scan(headers);
        Actor {
            actor_type: caller.actor_type,
            actor_id: caller
                .actor_id
                .and_then(actor_text)
                .unwrap_or("unknown")
                .to_owned(),
        }
    }

    #[test]
    fn actors() {
        let c = actor(&HeaderMap::new());
        assert_eq!((c.actor_type, c.actor_id.as_str()), ("user", "unknown"));
        let c = actor(&headers(&[
            ("x-actor-type", "Copilot"),
            ("x-actor-id", "bot-1"),
        ]));
        assert_eq!((c.actor_type, c.actor_id.as_str()), ("copilot", "bot-1"));
        let c = actor(&headers(&[
            ("x-actor-type", "robot"),
            ("x-opsorch-actor-id", "c"),
            ("x-user-id", "alice"),
        ]));
        assert_eq!((c.actor_type, c.actor_id.as_str()), ("user", "alice"));
        // A blank actor ID falls through to the next header.
        let c = actor(&headers(&[
            ("x-user-id", "  "),
            ("x-opsorch-actor-id", "c"),
        ]));
        assert_eq!(c.actor_id, "c");
    }

    #[test]
    fn request_id_precedence() {
        let h = headers(&[("x-trace-id", "t"), ("x-correlation-id", "c")]);
        assert_eq!(CallerHeaders::scan(&h).request_id.unwrap(), "c");
        let mut h = headers(&[("x-trace-id", "t"), ("x-request-id", "r")]);
        h.append("x-request-id", HeaderValue::from_static("second"));
        assert_eq!(CallerHeaders::scan(&h).request_id.unwrap(), "r");
        // The first present header is taken even when empty.
        let h = headers(&[("x-request-id", ""), ("x-trace-id", "t")]);
        assert_eq!(CallerHeaders::scan(&h).request_id.unwrap(), "");
        assert!(CallerHeaders::scan(&HeaderMap::new()).request_id.is_none());
    }
}
