//! Outside text made safe to print: for logs (capped, control characters escaped) and for
//! terminals (`traffic tail`, `wallet pending`), where an ID with ESC, NUL, a newline or a
//! bidirectional override would otherwise rewrite the operator's screen.

use std::borrow::Cow;
use std::fmt::Write;

/// Longest outside value written into one log field, in characters.
pub const LOG_FIELD_MAX: usize = 128;

/// Escapes characters a terminal would act on rather than show (see [`needs_escape`]) as
/// `\u{…}` (`\n`, `\r`, `\t` as themselves escaped), leaving everything else as is.
pub fn escape_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Cut to [`LOG_FIELD_MAX`] characters with a note of the full length, then
/// [`escape_terminal`].
pub fn for_log(text: &str) -> Cow<'_, str> {
    let count = text.chars().count();
    if count <= LOG_FIELD_MAX {
        return escape_terminal(text);
    }
    let head: String = text.chars().take(LOG_FIELD_MAX).collect();
    Cow::Owned(format!("{}… ({count} chars)", escape_terminal(&head)))
}

/// Cuts `text` to `max` characters, saying how long it was: `abc… (200000 chars)`.
pub fn clip(text: Cow<'_, str>, max: usize) -> Cow<'_, str> {
    let count = text.chars().count();
    if count <= max {
        return text;
    }
    let head: String = text.chars().take(max).collect();
    Cow::Owned(format!("{head}… ({count} chars)"))
}

/// Header values the traffic log never keeps: credentials and session cookies (requests and
/// answers, both directions). The name stays, so a reader sees that one was sent.
pub const MASKED_HEADERS: &[&str] =
    &["authorization", "proxy-authorization", "cookie", "set-cookie", "agent-token", "x-api-key"];

/// A header value as the traffic log records it: `***` for [`MASKED_HEADERS`] (compared
/// case-insensitively), else the value.
pub fn mask_header(name: &str, value: &str) -> String {
    if MASKED_HEADERS.iter().any(|m| m.eq_ignore_ascii_case(name)) {
        "***".to_string()
    } else {
        value.to_string()
    }
}

/// Control characters (C0, DEL, C1) and the Unicode format characters that reorder or hide text
/// (bidirectional marks, embeddings, overrides and isolates; zero-width characters; BOM).
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_control_and_bidi_but_keeps_plain_text() {
        assert_eq!(escape_terminal("pay-123 咖啡"), "pay-123 咖啡");
        assert_eq!(escape_terminal("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape_terminal("a\0b\nc"), "a\\u{0}b\\nc");
        assert_eq!(escape_terminal("x\u{202e}gpj.exe"), "x\\u{202e}gpj.exe");
    }

    #[test]
    fn logs_are_capped_with_the_full_length() {
        let long = "x".repeat(200_000);
        let logged = for_log(&long);
        assert!(logged.chars().count() < LOG_FIELD_MAX + 30, "{}", logged.len());
        assert!(logged.ends_with("… (200000 chars)"));
    }
}
