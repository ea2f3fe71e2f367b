//! The stdio framing (README.md, "Stdio plugins"): encoding request lines, reading bounded
//! lines and turning a response line into a result or a provider error.
//!
//! Parsing is lenient where plugins written for the Go host differ and strict
//! where the stream can no longer be trusted: an answer is `{"result": …}`,
//! `{"error": {…}}`, `{"error": "text"}`, or `{}`/`{"result": null}` for no
//! result; an empty error (`""` or `{"code":"","message":""}`, which Go
//! structs without `omitempty` produce) counts as no error. Anything that is
//! not a JSON object is bad output. Error texts never quote the plugin's
//! output, which may hold upstream payloads.

use opsorch_plugin_api::protocol::{StdioRequest, StdioResponse, WireError};
use serde_json::value::RawValue;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::providers::seam::ProviderError;

/// Encodes one request line, newline included.
///
/// The payload comes from the host's own serialisation, but a raw newline
/// would break the framing, so any is replaced by a space: in valid JSON a
/// raw newline can only be whitespace between tokens.
pub(crate) fn encode_request(
    method: &str,
    config: &RawValue,
    payload: &str,
) -> Result<Vec<u8>, ProviderError> {
    let payload = match payload.trim() {
        "" => "null",
        text => text,
    };
    let flattened;
    let payload = if payload.contains(['\n', '\r']) {
        flattened = payload.replace(['\n', '\r'], " ");
        flattened.as_str()
    } else {
        payload
    };
    let payload: &RawValue = serde_json::from_str(payload).map_err(|e| {
        ProviderError::new(
            "bad_request",
            format!("payload is not valid JSON (column {})", e.column()),
        )
    })?;
    let request = StdioRequest {
        method,
        config,
        payload,
    };
    let mut line = Vec::with_capacity(method.len() + config.get().len() + payload.get().len() + 40);
    serde_json::to_writer(&mut line, &request)
        .map_err(|e| ProviderError::new("", format!("internal: cannot encode request: {e}")))?;
    line.push(b'\n');
    Ok(line)
}

/// What one line from a plugin's stdout means.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// A well-formed answer: the result (`null` when omitted) or the
    /// plugin's error.
    Answer(Result<Box<RawValue>, ProviderError>),
    /// An empty line; not an answer, skipped.
    Blank,
    /// Not a response; the reason never quotes the line.
    Bad(String),
}

/// Parses one line (without its newline).
pub(crate) fn parse_response(line: &[u8]) -> Parsed {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Parsed::Blank;
    }
    // serde would also read a struct from a JSON array, positionally.
    if line.first() != Some(&b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(line) {
            Ok(_) => Parsed::Bad("plugin wrote a JSON line that is not a response object".into()),
            Err(e) => Parsed::Bad(format!(
                "plugin wrote a line that is not valid JSON (column {})",
                e.column()
            )),
        };
    }
    let response: StdioResponse = match serde_json::from_slice(line) {
        Ok(response) => response,
        Err(e) if e.is_data() => {
            return Parsed::Bad("plugin wrote a JSON line that is not a response object".into())
        }
        Err(e) => {
            return Parsed::Bad(format!(
                "plugin wrote a line that is not valid JSON (column {})",
                e.column()
            ))
        }
    };
    match response.error {
        Some(error) if !is_empty_error(&error) => Parsed::Answer(Err(provider_error(error))),
        _ => Parsed::Answer(Ok(response.result.unwrap_or_else(null_value))),
    }
}

fn is_empty_error(error: &WireError) -> bool {
    error.code().is_empty() && error.message().is_empty()
}

fn provider_error(error: WireError) -> ProviderError {
    match error {
        WireError::Object { code, message } if message.is_empty() => {
            let message = format!("plugin reported error `{code}`");
            ProviderError::new(code, message)
        }
        WireError::Object { code, message } => ProviderError::new(code, message),
        WireError::Text(message) => ProviderError::new("", message),
    }
}

/// The JSON `null`, which the host turns into the method's empty value.
pub(crate) fn null_value() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

/// How a bounded line read ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LineRead {
    /// A whole line is in the buffer, newline stripped.
    Line,
    /// The stream ended after some bytes with no newline; they are in the buffer.
    Partial,
    /// The stream ended.
    Eof,
    /// The line is longer than the bound. The buffer holds its first `max`
    /// bytes or so; the rest is still unread.
    TooLong,
}

/// Reads one line into `buf` (cleared first), never buffering more than
/// about `max` bytes of it.
pub(crate) async fn read_line_bounded<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<LineRead> {
    buf.clear();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if buf.is_empty() {
                LineRead::Eof
            } else {
                LineRead::Partial
            });
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(end) => {
                if buf.len() + end > max {
                    let room = max.saturating_sub(buf.len());
                    buf.extend_from_slice(&available[..room]);
                    reader.consume(room);
                    return Ok(LineRead::TooLong);
                }
                buf.extend_from_slice(&available[..end]);
                reader.consume(end + 1);
                return Ok(LineRead::Line);
            }
            None => {
                let len = available.len();
                if buf.len() + len > max {
                    let room = max.saturating_sub(buf.len());
                    buf.extend_from_slice(&available[..room]);
                    reader.consume(room);
                    return Ok(LineRead::TooLong);
                }
                buf.extend_from_slice(available);
                reader.consume(len);
            }
        }
    }
}

/// Consumes the rest of the current line (through its newline).
pub(crate) async fn skip_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<()> {
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(());
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(());
            }
            None => {
                let len = available.len();
                reader.consume(len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &str) -> Result<String, ProviderError> {
        match parse_response(line.as_bytes()) {
            Parsed::Answer(result) => result.map(|raw| raw.get().to_owned()),
            other => panic!("{line:?} is not an answer: {other:?}"),
        }
    }

    fn bad(line: &[u8]) -> String {
        match parse_response(line) {
            Parsed::Bad(why) => why,
            other => panic!("{line:?} should be bad output: {other:?}"),
        }
    }

    #[test]
    fn results_pass_through_untouched() {
        assert_eq!(
            answer(r#"{"result":{"at":"2026-11-29T07:37:53.909586661Z","n":1.50}}"#).unwrap(),
            r#"{"at":"2026-11-29T07:37:53.909586661Z","n":1.50}"#
        );
        assert_eq!(answer(r#"{"result":[]}"#).unwrap(), "[]");
        assert_eq!(answer(r#"{"result":"s3"}"#).unwrap(), r#""s3""#);
        // Windows line endings and surrounding blanks.
        assert_eq!(answer("  {\"result\":[1]}\r").unwrap(), "[1]");
    }

    #[test]
    fn omitted_and_null_results_are_null() {
        assert_eq!(answer("{}").unwrap(), "null");
        assert_eq!(answer(r#"{"result":null}"#).unwrap(), "null");
        assert_eq!(answer(r#"{"result":null,"error":null}"#).unwrap(), "null");
    }

    #[test]
    fn errors_as_objects_or_strings() {
        let e =
            answer(r#"{"error":{"code":"not_found","message":"no such incident"}}"#).unwrap_err();
        assert_eq!(e, ProviderError::new("not_found", "no such incident"));
        let e = answer(r#"{"error":"not found"}"#).unwrap_err();
        assert_eq!(e, ProviderError::new("", "not found"));
        let e = answer(r#"{"error":{"message":"boom"}}"#).unwrap_err();
        assert_eq!(e, ProviderError::new("", "boom"));
        let e = answer(r#"{"error":{"code":"rate_limited"}}"#).unwrap_err();
        assert_eq!(e.code, "rate_limited");
        assert!(!e.message.is_empty());
        // The error wins over a result sent alongside it.
        assert!(answer(r#"{"result":[],"error":"partial failure"}"#).is_err());
    }

    #[test]
    fn empty_errors_from_go_structs_are_no_error() {
        assert_eq!(answer(r#"{"result":[1],"error":""}"#).unwrap(), "[1]");
        assert_eq!(
            answer(r#"{"result":{"id":"x"},"error":{"code":"","message":""}}"#).unwrap(),
            r#"{"id":"x"}"#
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        assert_eq!(
            answer(r#"{"result":1,"id":7,"jsonrpc":"2.0"}"#).unwrap(),
            "1"
        );
    }

    #[test]
    fn blank_lines_are_skipped() {
        assert!(matches!(parse_response(b""), Parsed::Blank));
        assert!(matches!(parse_response(b" \r"), Parsed::Blank));
    }

    #[test]
    fn bad_output_never_quotes_the_line() {
        let why = bad(b"panic: runtime error: token=hunter2");
        assert!(
            why.contains("not valid JSON") && !why.contains("hunter2"),
            "{why}"
        );
        let why = bad(b"[\"hunter2\"]");
        assert!(
            why.contains("not a response") && !why.contains("hunter2"),
            "{why}"
        );
        bad(b"\"just a string\"");
        bad(b"42");
        bad(b"{\"result\":1");
        bad(b"{\"error\":42}");
        bad(&[b'{', 0xff, 0xfe, b'}']);
    }

    #[test]
    fn requests_are_one_compact_line() {
        let config = RawValue::from_string(r#"{"url":"http://x"}"#.into()).unwrap();
        let line = encode_request("incident.get", &config, r#"{"id":"INC-1"}"#).unwrap();
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"method\":\"incident.get\",\"config\":{\"url\":\"http://x\"},\"payload\":{\"id\":\"INC-1\"}}\n"
        );
        let line = encode_request("incident.list", &config, "").unwrap();
        assert!(line.ends_with(b"\"payload\":null}\n"));
        // Pretty JSON is flattened; escaped newlines inside strings stay.
        let line = encode_request("incident.get", &config, "{\n  \"id\": \"a\\nb\"\r\n}").unwrap();
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let text = String::from_utf8(line).unwrap();
        let back: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(back["payload"]["id"], "a\nb");
        let err = encode_request("incident.get", &config, "{nope").unwrap_err();
        assert_eq!(err.code, "bad_request");
    }

    async fn read_all(input: &[u8], max: usize) -> Vec<(LineRead, Vec<u8>)> {
        let mut reader = tokio::io::BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            let read = read_line_bounded(&mut reader, &mut buf, max).await.unwrap();
            let done = read == LineRead::Eof;
            if read == LineRead::TooLong {
                skip_line(&mut reader).await.unwrap();
            }
            out.push((read, buf.clone()));
            if done {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn lines_are_bounded() {
        let got = read_all(b"ab\n0123456789\ncd\nlast", 6).await;
        assert_eq!(
            got,
            vec![
                (LineRead::Line, b"ab".to_vec()),
                (LineRead::TooLong, b"012345".to_vec()),
                (LineRead::Line, b"cd".to_vec()),
                (LineRead::Partial, b"last".to_vec()),
                (LineRead::Eof, Vec::new()),
            ]
        );
        // Exactly at the bound is fine.
        let got = read_all(b"123456\n", 6).await;
        assert_eq!(got[0], (LineRead::Line, b"123456".to_vec()));
    }

    mod fuzz {
        //! Property tests of the response parser: any bytes a plugin may
        //! write. `PROPTEST_CASES` sets the case count (`scripts/fuzz` runs
        //! many more than `cargo test`'s default).

        use super::super::*;
        use proptest::prelude::*;
        use serde_json::Value;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Value::from),
                ".{0,16}".prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 32, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::btree_map(".{0,8}", inner, 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            /// Nothing a plugin writes panics the parser, and a rejected
            /// line is explained without quoting it.
            #[test]
            fn any_bytes_are_answered_or_refused(line in prop::collection::vec(any::<u8>(), 0..256)) {
                match parse_response(&line) {
                    Parsed::Bad(why) => prop_assert!(why.starts_with("plugin wrote"), "{}", why),
                    Parsed::Blank => prop_assert!(line.trim_ascii().is_empty()),
                    Parsed::Answer(_) => prop_assert_eq!(line.trim_ascii().first(), Some(&b'{')),
                }
            }

            /// Any result value passes through byte for byte.
            #[test]
            fn results_round_trip(value in json_value()) {
                let text = serde_json::to_string(&value).unwrap();
                let line = format!("{{\"result\":{text}}}");
                match parse_response(line.as_bytes()) {
                    Parsed::Answer(Ok(raw)) => prop_assert_eq!(raw.get(), text.as_str()),
                    other => prop_assert!(false, "{:?}", other),
                }
            }

            /// Object and string errors keep their code and message.
            #[test]
            fn errors_keep_code_and_message(code in ".{0,12}", message in ".{0,40}") {
                let line = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
                match parse_response(line.as_bytes()) {
                    Parsed::Answer(Err(e)) => {
                        prop_assert_eq!(&e.code, &code);
                        if !message.is_empty() {
                            prop_assert_eq!(&e.message, &message);
                        }
                    }
                    Parsed::Answer(Ok(_)) => prop_assert!(code.is_empty() && message.is_empty()),
                    other => prop_assert!(false, "{:?}", other),
                }
                let line = serde_json::json!({"error": message}).to_string();
                match parse_response(line.as_bytes()) {
                    Parsed::Answer(Err(e)) => {
                        prop_assert_eq!(e.code.as_str(), "");
                        prop_assert_eq!(&e.message, &message);
                    }
                    Parsed::Answer(Ok(_)) => prop_assert!(message.is_empty()),
                    other => prop_assert!(false, "{:?}", other),
                }
            }
        }
    }
}
