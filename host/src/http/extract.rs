//! Reading request bodies: the one place a body becomes a typed value.
//!
//! Any content type is accepted and read as JSON, as the Go implementation
//! does (`curl -d` sends a form content type, and existing clients rely on
//! that). Decoding is strict: malformed JSON, an unknown field, a wrong type
//! or trailing data → 400 `bad_request`; a body over the limit → 413. Both
//! are [`ApiError`]s, never axum's plain-text rejections.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use bytes::BytesMut;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::http::error::ApiError;
use crate::safe_text::quoted;

/// A JSON body decoded strictly into `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        decode_strict(&bytes).map(JsonBody)
    }
}

/// Reads the whole body, honouring the `DefaultBodyLimit` layer.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            unreadable()
        }
    })
}

/// Reads the whole of `body`, refusing it with 413 as soon as its data,
/// however it is chunked, comes to more than `limit` bytes: what
/// [`read_body`] answers under a `DefaultBodyLimit` of `limit`, without
/// boxing the body again to count.
pub async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut data = body.into_data_stream();
    // The first chunk as it came; later ones are joined after it.
    let mut first: Option<Bytes> = None;
    let mut joined = BytesMut::new();
    let mut total: usize = 0;
    while let Some(chunk) = data.next().await {
        let chunk = chunk.map_err(|_| unreadable())?;
        total = total.saturating_add(chunk.len());
        if total > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        match first.take() {
            None if joined.is_empty() => first = Some(chunk),
            None => joined.extend_from_slice(&chunk),
            Some(head) => {
                joined.extend_from_slice(&head);
                joined.extend_from_slice(&chunk);
            }
        }
    }
    Ok(first.unwrap_or_else(|| joined.freeze()))
}

fn unreadable() -> ApiError {
    ApiError::BadRequest("cannot read the request body".into())
}

/// Decodes `bytes` as exactly one JSON object of type `T`, rejecting fields
/// `T` does not know (whether or not `T` itself denies them) and any object
/// that names a key twice.
///
/// Every request body of the API is an object. serde would also accept an
/// array for a struct (its fields in order); Go's decoder does not, and
/// neither do we.
pub fn decode_strict<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(ApiError::BadRequest("request body is empty".into())),
        Some(b'{') => {}
        Some(_) => {
            return Err(ApiError::BadRequest(
                "request body must be a JSON object".into(),
            ))
        }
    }
    // The common case, a body that decodes, pays for no path tracking; a
    // body that does not is decoded again with it, which fails at the same
    // place (decoding is deterministic) and names the path in the message.
    let mut unknown: Option<String> = None;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let decoded = {
        let mut note = |path: serde_ignored::Path<'_>| note_unknown(&mut unknown, path);
        T::deserialize(serde_ignored::Deserializer::new(&mut de, &mut note))
    };
    let value = match decoded {
        Ok(value) => value,
        Err(err) => return Err(decode_error::<T>(bytes, &err)),
    };
    de.end()
        .map_err(|_| ApiError::BadRequest("malformed JSON body: trailing characters".into()))?;
    if let Some(path) = unknown {
        let path = quoted(&path);
        return Err(ApiError::BadRequest(format!("unknown field `{path}`")));
    }
    // Struct fields are unique by now; free-form objects (`config`,
    // `metadata`) would keep the last of two equal keys.
    crate::unique_keys::check(bytes)
        .map_err(|dup| ApiError::BadRequest(format!("invalid request body: {dup}")))?;
    Ok(value)
}

/// Keeps the first field `T` does not know, as a client would spell its
/// path: serde_ignored writes `?` for an Option level, which means nothing
/// to a client.
fn note_unknown(unknown: &mut Option<String>, path: serde_ignored::Path<'_>) {
    unknown.get_or_insert_with(|| {
        let text = path.to_string();
        text.split('.')
            .filter(|s| *s != "?")
            .collect::<Vec<_>>()
            .join(".")
    });
}

/// Why `bytes` does not decode as `T` (`err`, from a decode without path
/// tracking), with the path where it failed: decodes again, tracking the
/// path, the same way the first attempt did.
fn decode_error<T: DeserializeOwned>(bytes: &[u8], err: &serde_json::Error) -> ApiError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut ignore = |_: serde_ignored::Path<'_>| {};
    let tracked = serde_ignored::Deserializer::new(&mut de, &mut ignore);
    match serde_path_to_error::deserialize::<_, T>(tracked) {
        Err(err) => describe(&err.path().to_string(), err.inner()),
        // Not reached: the same bytes failed to decode a moment ago.
        Ok(_) => describe(".", err),
    }
}

/// The message for a decoding error `inner` at `path` (`.` for the body).
fn describe(path: &str, inner: &serde_json::Error) -> ApiError {
    let path = quoted(path);
    let message = match inner.classify() {
        Category::Syntax | Category::Eof | Category::Io => format!("malformed JSON body: {inner}"),
        Category::Data => {
            let what = without_values(&inner.to_string());
            if path == "." {
                format!("invalid request body: {what}")
            } else {
                format!("invalid request body at `{path}`: {what}")
            }
        }
    };
    ApiError::BadRequest(message)
}

/// serde's data errors quote the offending value (`invalid type: string
/// "…", expected u32`). Request bodies may carry credentials, and these
/// messages are logged, so keep only what the schema says.
fn without_values(message: &str) -> String {
    if let Some(kind) = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find(|k| message.starts_with(**k))
    {
        let rest = &message[kind.len()..];
        let name = quoted(rest.split('`').next().unwrap_or_default());
        return format!("{kind}{name}`");
    }
    // An enum value the client sent is a value, not a name of the schema.
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let after = rest.split_once('`').map(|(_, a)| a).unwrap_or_default();
        return format!("unknown variant{after}");
    }
    match (message.split_once(':'), message.rfind(", expected ")) {
        (Some((kind, _)), Some(at)) if kind.len() < at => {
            format!("{kind}{}", &message[at..])
        }
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        n: u32,
    }
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Big,
        Small,
    }
    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        name: String,
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(default)]
        list: Vec<Inner>,
        #[serde(default)]
        kind: Option<Kind>,
        #[serde(default)]
        map: std::collections::BTreeMap<String, Inner>,
    }

    fn bad(body: &str) -> String {
        match decode_strict::<Outer>(body.as_bytes()) {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("expected bad request, got {other:?}"),
        }
    }

    /// The message decoding with path tracking from the start gives (what
    /// `decode_strict` did for every body before it tracked paths only
    /// after a failure).
    fn tracked_from_the_start(body: &str) -> String {
        let mut de = serde_json::Deserializer::from_slice(body.as_bytes());
        let mut ignore = |_: serde_ignored::Path<'_>| {};
        let tracked = serde_ignored::Deserializer::new(&mut de, &mut ignore);
        match serde_path_to_error::deserialize::<_, Outer>(tracked) {
            Err(err) => match describe(&err.path().to_string(), err.inner()) {
                ApiError::BadRequest(m) => m,
                other => panic!("{other:?}"),
            },
            Ok(v) => panic!("decoded {v:?}"),
        }
    }

    #[test]
    fn decoding_errors_name_the_path_where_decoding_failed() {
        let cases = [
            (
                r#"{"name":"a","inner":{"n":"x"}}"#,
                "invalid request body at `inner.n`: invalid type, expected u32 at line 1 column 28",
            ),
            (
                r#"{"name":"a","list":[{"n":1},{"n":-1}]}"#,
                "invalid request body at `list[1].n`: invalid value, expected u32 at line 1 column 35",
            ),
            (
                r#"{"name":"a","list":[{"n":1},{}]}"#,
                "invalid request body at `list[1]`: missing field `n`",
            ),
            (
                r#"{"name":"a","map":{"k":{"n":true}}}"#,
                "invalid request body at `map.k.n`: invalid type, expected u32 at line 1 column 32",
            ),
            (
                r#"{"name":"a","kind":"hunter2"}"#,
                "invalid request body at `kind`: unknown variant, expected `big` or `small` at line 1 column 28",
            ),
            (
                r#"{"name":7}"#,
                "invalid request body at `name`: invalid type, expected a string at line 1 column 9",
            ),
            (
                r#"{"name":"a","inner":{"n":1"#,
                "malformed JSON body: EOF while parsing an object at line 1 column 26",
            ),
            (
                r#"{"name":"a","list":[1,]}"#,
                "invalid request body at `list[0]`: invalid type, expected struct Inner at line 1 column 21",
            ),
            (
                r#"{"inner":null}"#,
                "invalid request body: missing field `name`",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(bad(body), expected, "{body}");
            assert_eq!(tracked_from_the_start(body), expected, "{body}");
        }
        let v: Outer =
            decode_strict(br#"{"name":"a","list":[{"n":1}],"kind":"big","map":{"k":{"n":2}}}"#)
                .unwrap();
        assert_eq!(v.list, [Inner { n: 1 }]);
        assert_eq!(v.kind, Some(Kind::Big));
        assert_eq!(v.map["k"], Inner { n: 2 });
    }

    /// A body of `chunks`, each a data frame, as hyper hands a chunked
    /// request over.
    fn chunked(chunks: &[&'static [u8]]) -> Body {
        let frames = chunks
            .iter()
            .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c)))
            .collect::<Vec<_>>();
        Body::from_stream(futures_util::stream::iter(frames))
    }

    /// The body as `read_body` reads it under `DefaultBodyLimit::max(limit)`.
    async fn through_the_layer(chunks: &[&'static [u8]], limit: usize) -> Result<Bytes, ApiError> {
        use tower::{Layer, ServiceExt};
        let service = tower::service_fn(|req: Request| async move {
            Ok::<_, std::convert::Infallible>(read_body(req, &()).await)
        });
        let service = axum::extract::DefaultBodyLimit::max(limit).layer(service);
        service
            .oneshot(Request::new(chunked(chunks)))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn reading_with_a_limit_answers_as_the_body_limit_layer_does() {
        let cases: &[&[&'static [u8]]] = &[
            &[],
            &[b""],
            &[b"{}"],
            &[b"0123456789"],
            &[b"01234", b"56789"],
            &[b"01234", b"", b"56789"],
            &[b"0123", b"4567", b"89"],
            &[b"01234567890"],
            &[b"0123456789", b"0"],
            &[b"012345", b"6789", b"0", b"1"],
        ];
        for chunks in cases {
            let direct = read_limited(chunked(chunks), 10).await;
            let layered = through_the_layer(chunks, 10).await;
            let whole: Vec<u8> = chunks.concat();
            match (direct, layered) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "{chunks:?}");
                    assert_eq!(a, whole, "{chunks:?}");
                }
                (Err(ApiError::PayloadTooLarge), Err(ApiError::PayloadTooLarge)) => {
                    assert!(whole.len() > 10, "{chunks:?}")
                }
                other => panic!("{chunks:?}: {other:?}"),
            }
        }
        // A body that fails to arrive is a bad request, either way.
        let broken = || {
            Body::from_stream(futures_util::stream::iter([
                Ok(Bytes::from_static(b"01")),
                Err(std::io::Error::other("reset")),
            ]))
        };
        for result in [
            read_limited(broken(), 10).await,
            read_body(Request::new(broken()), &()).await,
        ] {
            match result {
                Err(ApiError::BadRequest(m)) => assert_eq!(m, "cannot read the request body"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn accepts_exact_bodies() {
        let v: Outer = decode_strict(br#" {"name":"a","inner":{"n":1}} "#).unwrap();
        assert_eq!(v.inner, Some(Inner { n: 1 }));
    }

    #[test]
    fn rejects_everything_else() {
        assert_eq!(bad(""), "request body is empty");
        assert_eq!(bad(r#"["a"]"#), "request body must be a JSON object");
        assert_eq!(bad("null"), "request body must be a JSON object");
        assert!(bad("{").starts_with("malformed JSON body"));
        assert!(bad(r#"{"name":"a"} x"#).contains("trailing"));
        assert_eq!(bad(r#"{"name":"a","extra":1}"#), "unknown field `extra`");
        assert_eq!(
            bad(r#"{"name":"a","inner":{"n":1,"m":2}}"#),
            "unknown field `inner.m`"
        );
        let m = bad(r#"{"name":"a","inner":{"n":"hunter2"}}"#);
        assert!(
            m.starts_with("invalid request body at `inner.n`: invalid type, expected u32"),
            "{m}"
        );
        assert!(!m.contains("hunter2"));
        assert!(bad("{}").contains("missing field `name`"));
        assert_eq!(
            bad(r#"{"name":"a","inner":{"n":1},"name":"b"}"#),
            "invalid request body: duplicate field `name`"
        );
        assert_eq!(
            without_values(
                "unknown variant `hunter2`, expected one of `a`, `b` at line 1 column 9"
            ),
            "unknown variant, expected one of `a`, `b` at line 1 column 9"
        );
        // Only a kind before the first colon is kept; a message whose first
        // colon comes after ", expected" is left as it is.
        for message in [
            "invalid length 1, expected a pair: got 3",
            "invalid value, expected a date: 2026",
        ] {
            assert_eq!(without_values(message), message);
        }
    }
}
