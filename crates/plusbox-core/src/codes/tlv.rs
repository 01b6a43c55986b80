//! A character cursor shared by the GPLD and EMV parsers.
//!
//! Both formats count lengths in characters, not bytes (EMV vector 8 has `最佳运输` with length
//! `04`), so the cursor walks `char`s and reports offsets as character positions.

/// Cursor over a string that hands out fixed-width pieces counted in characters.
pub(crate) struct Cursor<'a> {
    rest: &'a str,
    /// Characters consumed so far; used in error messages.
    pub(crate) offset: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Cursor { rest: text, offset: 0 }
    }

    /// True when nothing is left.
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Number of characters left (walks the remainder; inputs are small).
    pub(crate) fn remaining_chars(&self) -> usize {
        self.rest.chars().count()
    }

    /// Takes exactly `n` characters, or returns `None` (and consumes nothing) if fewer are left.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a str> {
        let end = if n == 0 {
            0
        } else {
            match self.rest.char_indices().nth(n - 1) {
                Some((index, ch)) => index + ch.len_utf8(),
                None => return None,
            }
        };
        let (head, tail) = self.rest.split_at(end);
        self.rest = tail;
        self.offset += n;
        Some(head)
    }

    /// Takes `n` characters that must all be ASCII digits and returns their value.
    ///
    /// `Err(Some(text))` when the characters are there but not digits, `Err(None)` when the input
    /// ends first.
    pub(crate) fn take_number(&mut self, n: usize) -> Result<usize, Option<String>> {
        let start = self.rest;
        let start_offset = self.offset;
        let Some(text) = self.take(n) else {
            return Err(None);
        };
        if text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(text.bytes().fold(0usize, |acc, b| acc * 10 + usize::from(b - b'0')))
        } else {
            // Rewind so the caller's error names the start of the bad field.
            self.rest = start;
            self.offset = start_offset;
            Err(Some(text.to_string()))
        }
    }
}
