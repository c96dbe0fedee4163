//! Untrusted text made safe to show: frame names, comms, event names and input lines
//! come from the recorded program and from files, and a raw ESC or BEL in them would
//! command the terminal (retitle it, move the cursor) or make an SVG invalid XML.
//!
//! One rule everywhere: C0 controls, DEL, C1 controls, the non-characters U+FFFE and
//! U+FFFF and the bidirectional formatting characters are shown escaped (`\x1b`,
//! `\u{9b}`, `\u{202e}`), never passed through. Terminals act on the controls; XML 1.0
//! forbids all of them but tab, newline and carriage return; and a right-to-left
//! override in a comm would show the rest of a message reversed, so a thread could
//! make its line read as something it is not.

use std::borrow::Cow;
use std::io::{self, Write};

/// Whether layout whitespace may pass through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One item on one line: newline, tab and carriage return become spaces.
    OneLine,
    /// A whole message: newline and tab pass, everything else is escaped.
    Lines,
}

fn needs_escape(c: char, layout: Layout) -> bool {
    match c {
        '\n' | '\t' => layout == Layout::OneLine,
        '\r' => true,
        '\u{fffe}' | '\u{ffff}' => true,
        c => c.is_control() || is_bidi_format(c),
    }
}

/// Unicode's explicit directional marks, embeddings, overrides and isolates.
fn is_bidi_format(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

fn escape(s: &str, layout: Layout) -> Cow<'_, str> {
    // Printable ASCII never needs escaping, and most text is that: a byte test is
    // much cheaper than decoding characters.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(|c| needs_escape(c, layout)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs_escape(c, layout) {
            out.push(c);
            continue;
        }
        match c {
            // Layout whitespace is harmless; on one line it is a space.
            '\n' | '\t' | '\r' if layout == Layout::OneLine => out.push(' '),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// One untrusted item (a frame, a comm, a line of input) for a terminal or an XML file:
/// newline, tab and carriage return become spaces, so the item stays on one line, and
/// every other control character is shown escaped, so it cannot command the terminal.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    escape(s, Layout::OneLine)
}

/// A message of several lines: newline and tab pass, every other control is escaped.
pub fn escape_message(s: &str) -> Cow<'_, str> {
    escape(s, Layout::Lines)
}

/// A writer that applies [`escape_message`] to everything written through it, for
/// standard error and for standard output on a terminal: whatever a message quotes,
/// no control but newline and tab reaches the terminal. Bytes that are not UTF-8 are
/// shown as `\xNN`.
pub struct TerminalWriter<W: Write> {
    inner: W,
    enabled: bool,
    /// The start of a UTF-8 character split across two writes.
    pending: Vec<u8>,
}

impl<W: Write> TerminalWriter<W> {
    /// Wraps `inner`; with `enabled` false the bytes pass unchanged (a pipe or a file
    /// that wants the data as it is).
    pub fn new(inner: W, enabled: bool) -> Self {
        TerminalWriter {
            inner,
            enabled,
            pending: Vec::new(),
        }
    }

    fn write_escaped(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        loop {
            match std::str::from_utf8(bytes) {
                Ok(s) => return self.inner.write_all(escape_message(s).as_bytes()),
                Err(e) => {
                    let (good, rest) = bytes.split_at(e.valid_up_to());
                    // Valid by construction: `valid_up_to` bytes are UTF-8.
                    let good = std::str::from_utf8(good).unwrap_or_default();
                    self.inner.write_all(escape_message(good).as_bytes())?;
                    match e.error_len() {
                        Some(n) => {
                            for b in &rest[..n] {
                                write!(self.inner, "\\x{b:02x}")?;
                            }
                            bytes = &rest[n..];
                        }
                        None => {
                            // An incomplete character at the end: wait for the rest.
                            self.pending.extend_from_slice(rest);
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}

impl<W: Write> Write for TerminalWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.enabled {
            return self.inner.write(buf);
        }
        if self.pending.is_empty() {
            self.write_escaped(buf)?;
        } else {
            let mut joined = std::mem::take(&mut self.pending);
            joined.extend_from_slice(buf);
            self.write_escaped(&joined)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            for b in std::mem::take(&mut self.pending) {
                write!(self.inner, "\\x{b:02x}")?;
            }
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for TerminalWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_escaped() {
        assert_eq!(
            escape_controls("o\x1b]0;pwned\x07k"),
            "o\\x1b]0;pwned\\x07k"
        );
        assert_eq!(escape_controls("a\nb\tc\rd\x7f"), "a b c d\\x7f");
        assert_eq!(escape_message("a\r\n"), "a\\r\n");
        assert_eq!(escape_controls("csi\u{9b}31m"), "csi\\u{9b}31m");
        assert_eq!(escape_controls("nc\u{fffe}"), "nc\\u{fffe}");
        assert_eq!(
            escape_controls("worker\u{202e}exe.tab\u{2066}"),
            "worker\\u{202e}exe.tab\\u{2066}"
        );
        assert!(matches!(
            escape_controls("עברית rtl text"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(escape_controls("plain ünïcode"), Cow::Borrowed(_)));
        assert_eq!(
            escape_message("two\nlines\tand \x1b"),
            "two\nlines\tand \\x1b"
        );
    }

    #[test]
    fn every_control_is_escaped() {
        let all: String = (0u32..0x20)
            .chain(0x7f..0xa0)
            .filter_map(char::from_u32)
            .collect();
        let out = escape_controls(&all);
        assert!(out.chars().all(|c| !c.is_control()), "{out}");
        let out = escape_message(&all);
        assert!(
            out.chars()
                .all(|c| !c.is_control() || c == '\n' || c == '\t'),
            "{out}"
        );
    }

    #[test]
    fn writer_escapes_split_and_invalid_bytes() {
        let mut w = TerminalWriter::new(Vec::new(), true);
        w.write_all(b"a\x1bb\xc2").unwrap();
        w.write_all(b"\x9bc\xff\n").unwrap();
        w.flush().unwrap();
        assert_eq!(w.inner, b"a\\x1bb\\u{9b}c\\xff\n");
        let mut w = TerminalWriter::new(Vec::new(), false);
        w.write_all(b"raw\x1b").unwrap();
        assert_eq!(w.inner, b"raw\x1b");
    }
}

/// `1 sample`, `2 samples`: a count with its noun, singular for one.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod count_tests {
    #[test]
    fn one_is_singular() {
        assert_eq!(super::count(1, "sample"), "1 sample");
        assert_eq!(super::count(0, "sample"), "0 samples");
        assert_eq!(super::count(12, "sample"), "12 samples");
    }
}
