//! Text that came from a client, an adapter or a plugin, made safe to log
//! and to quote in an error message.
//!
//! Three rules, applied wherever such text is written:
//! - **Escaped.** C0 controls (the line break included), DEL, the C1 range,
//!   U+2028/U+2029 and the bidirectional overrides are written as `\n`,
//!   `\r`, `\t` or `\u{..}`. A value can therefore neither end a log line
//!   nor start a new one, nor send an ANSI sequence (it starts with ESC)
//!   to a terminal.
//! - **Bounded.** A quoted value is cut to [`MAX_QUOTED_CHARS`] characters,
//!   a logged one to [`MAX_LOGGED_CHARS`], and the cut is marked with `…`.
//! - **Delimited.** In the human log format ([`SafeFields`]) every field
//!   value that is not a plain word is written in double quotes, so text
//!   inside a value cannot pass for another `name=value` field.
//!
//! Audit records escape the same characters in their JSON strings
//! ([`json_string`]).

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;

/// The longest value an error message quotes (a path, a field name, a
/// provider name), in characters.
pub const MAX_QUOTED_CHARS: usize = 128;

/// The longest value one log field holds, in characters. Plugin stderr
/// lines are cut at 16 KiB before they get here; this bounds the rest.
pub const MAX_LOGGED_CHARS: usize = 17 * 1024;

/// What marks a value that was cut.
pub const ELLIPSIS: char = '…';

/// Whether `c` is written escaped rather than as itself.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Appends `text` to `out` escaped and cut to `max_chars`. With `quoting`,
/// `"` and `\` are escaped too, for a value written between double quotes.
pub fn escape_into(out: &mut String, text: &str, max_chars: usize, quoting: bool) {
    for (count, c) in text.chars().enumerate() {
        if count == max_chars {
            out.push(ELLIPSIS);
            return;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '"' | '\\' if quoting => {
                out.push('\\');
                out.push(c);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// `text` escaped and cut to [`MAX_QUOTED_CHARS`], for quoting a client's
/// value in an error message or a log line.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_QUOTED_CHARS + 8));
    escape_into(&mut out, text, MAX_QUOTED_CHARS, false);
    out
}

/// `text` escaped (not cut), for a message built from several values that
/// were each bounded already.
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text, usize::MAX, false);
    out
}

/// Appends `text` as a JSON string whose every unsafe character is a
/// `\u` escape: valid JSON, and one line whatever the text holds.
pub fn json_string(out: &mut Vec<u8>, text: &str, max_chars: usize) {
    out.push(b'"');
    // Printable ASCII other than `"` and `\` is written as it is: copied
    // in one piece, up to the first byte that is not (most values are all
    // such bytes; one char each, so the count below stays right).
    let head = &text.as_bytes()[..text.len().min(max_chars)];
    let plain = plain_prefix(head);
    out.extend_from_slice(&text.as_bytes()[..plain]);
    let mut buf = [0u8; 4];
    for (count, c) in text[plain..].chars().enumerate() {
        if plain + count == max_chars {
            out.extend_from_slice(ELLIPSIS.encode_utf8(&mut buf).as_bytes());
            break;
        }
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            // Every unsafe character is in the Basic Multilingual Plane.
            c if is_unsafe(c) => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            c => out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
        }
    }
    out.push(b'"');
}

/// The length of the longest prefix of `bytes` that a JSON string holds as
/// it is: printable ASCII other than `"` and `\\`.
///
/// Eight bytes are tested at a time, as one little-endian `u64`, with the
/// classic "has a byte below n" and "has a zero byte" word tricks. Their
/// result can mark a byte wrongly only above (after) a byte marked rightly,
/// so the lowest mark is the first byte to escape. The last bytes are
/// tested as a word padded with a plain byte. Every audit record runs each
/// of its names and values through here: byte by byte, the scan was about
/// 3% of a library call's instructions (`scripts/callgrind`,
/// docs/BENCHMARKS.md).
fn plain_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    // Marks the bytes of `word` below `n` (n <= 0x80).
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * n as u64) & !word & HIGH;
    let equal = |word: u64, b: u8| below(word ^ (ONES * b as u64), 1);
    let special = |word: [u8; 8]| {
        let word = u64::from_le_bytes(word);
        below(word, b' ')
            | (word & HIGH)
            | equal(word, b'"')
            | equal(word, b'\\')
            | equal(word, 0x7f)
    };
    let mut start = 0;
    let mut words = bytes.chunks_exact(8);
    for chunk in &mut words {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let marks = special(word);
        if marks != 0 {
            return start + (marks.trailing_zeros() / 8) as usize;
        }
        start += 8;
    }
    let rest = words.remainder();
    let mut word = [b' '; 8];
    word[..rest.len()].copy_from_slice(rest);
    let marks = special(word);
    start + ((marks.trailing_zeros() / 8) as usize).min(rest.len())
}

/// Whether a field value can be written bare: a plain word that cannot be
/// read as the end of one field and the start of another.
fn is_plain(value: &str) -> bool {
    !value.is_empty()
        && value.chars().count() <= MAX_LOGGED_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/@+,%[]()".contains(&b))
}

/// The field formatter of the human log lines: the message first, escaped,
/// then ` name=value` for each field, with every value that is not a plain
/// word escaped and in double quotes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SafeFields;

impl<'w> FormatFields<'w> for SafeFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = SafeVisitor {
            writer,
            line: String::new(),
        };
        fields.record(&mut visitor);
        visitor.writer.write_str(&visitor.line)
    }
}

struct SafeVisitor<'w> {
    writer: Writer<'w>,
    line: String,
}

impl SafeVisitor<'_> {
    fn field(&mut self, name: &str, value: &str) {
        if !self.line.is_empty() {
            self.line.push(' ');
        }
        if name == "message" {
            escape_into(&mut self.line, value, MAX_LOGGED_CHARS, false);
            return;
        }
        self.line.push_str(name.strip_prefix("r#").unwrap_or(name));
        self.line.push('=');
        if is_plain(value) {
            self.line.push_str(value);
        } else {
            self.line.push('"');
            escape_into(&mut self.line, value, MAX_LOGGED_CHARS, true);
            self.line.push('"');
        }
    }
}

impl Visit for SafeVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field.name(), &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_line_breaking_and_terminal_character() {
        let nasty = "a\nb\rc\td\u{1b}[31me\u{7f}f\u{85}g\u{9b}h\u{2028}i\u{2029}j\u{202e}k";
        let out = escaped(nasty);
        assert_eq!(
            out,
            "a\\nb\\rc\\td\\u{1b}[31me\\u{7f}f\\u{85}g\\u{9b}h\\u{2028}i\\u{2029}j\\u{202e}k"
        );
        assert!(!out.chars().any(is_unsafe));
        // Ordinary text, non-ASCII letters included, is untouched.
        assert_eq!(escaped("héllo wörld ✓"), "héllo wörld ✓");
    }

    #[test]
    fn cuts_long_values_with_an_ellipsis() {
        let long = "x".repeat(1000);
        let q = quoted(&long);
        assert_eq!(q.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(q.ends_with(ELLIPSIS));
        assert_eq!(quoted("short"), "short");
        // Cut on characters, never inside one.
        let wide = "é".repeat(MAX_QUOTED_CHARS + 5);
        assert_eq!(quoted(&wide).chars().count(), MAX_QUOTED_CHARS + 1);
    }

    #[test]
    fn json_strings_stay_on_one_line_and_parse_back() {
        let text = "id \"1\"\n\\ \u{1} \u{85} \u{2028} é";
        let mut out = Vec::new();
        json_string(&mut out, text, usize::MAX);
        let written = String::from_utf8(out).unwrap();
        assert!(!written.chars().any(is_unsafe), "{written}");
        let back: String = serde_json::from_str(&written).unwrap();
        assert_eq!(back, text);
        let mut out = Vec::new();
        json_string(&mut out, "abcdef", 3);
        assert_eq!(out, "\"abc…\"".as_bytes());
        // The cut counts characters, across the plain prefix and the rest.
        for (text, max, written) in [
            ("abc", 3, "\"abc\""),
            ("abcd", 3, "\"abc…\""),
            ("ab\"cd", 3, "\"ab\\\"…\""),
            ("abé", 2, "\"ab…\""),
            ("aé\nb", 3, "\"aé\\n…\""),
            ("é", 1, "\"é\""),
            ("", 0, "\"\""),
            ("a", 0, "\"…\""),
        ] {
            let mut out = Vec::new();
            json_string(&mut out, text, max);
            assert_eq!(String::from_utf8(out).unwrap(), written, "{text:?} {max}");
        }
    }

    #[test]
    fn the_plain_prefix_ends_at_the_first_byte_json_would_escape() {
        // The word-at-a-time scan agrees with the byte-by-byte rule for
        // every byte value at every position of a word and of the tail.
        let is_plain = |b: u8| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\';
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 24] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    let expected = if is_plain(b) { len } else { at };
                    assert_eq!(
                        plain_prefix(&bytes),
                        expected,
                        "byte {b:#x} at {at} of {len}"
                    );
                }
            }
            assert_eq!(plain_prefix(&vec![b'~'; len]), len);
        }
        // Two bytes at any two places: the first special one wins, however
        // the word tricks carry between neighbouring bytes.
        let edges = [
            0x00, 0x01, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7e, 0x7f, 0x80, 0xc3,
            0xff,
        ];
        for first in 0..12 {
            for second in first + 1..12 {
                for a in edges {
                    for b in edges {
                        let mut bytes = vec![b'a'; 12];
                        bytes[first] = a;
                        bytes[second] = b;
                        let expected = bytes.iter().position(|&c| !is_plain(c)).unwrap_or(12);
                        assert_eq!(plain_prefix(&bytes), expected, "{bytes:?}");
                    }
                }
            }
        }
        // The first special byte wins when a word holds several.
        assert_eq!(plain_prefix(b"abc\"\nxyz0123"), 3);
        assert_eq!(plain_prefix("0123456789é".as_bytes()), 10);
    }

    #[test]
    fn plain_values_are_bare_and_the_rest_quoted() {
        assert!(is_plain("incident"));
        assert!(is_plain("/tmp/plugins/x-1.2"));
        assert!(!is_plain(""));
        assert!(!is_plain("a b"));
        assert!(!is_plain("status=200"));
        assert!(!is_plain("a\"b"));
    }
}
