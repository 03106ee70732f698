//! [`FieldLines`]: the fields a middleware adds to a response start, written once as the
//! `name: value\r\n` lines they will be in the head.
//!
//! The rule: every line in a [`FieldLines`] was checked when it was written (its name when the
//! program was built, as a [`FieldName`] constant, or when a [`FieldLine`] was made; its value
//! when pushed), so the server copies the lines into the head whole and checks nothing per
//! field. A name is never one of the fields the server reads to frame the response
//! (`content-length`, `transfer-encoding`, `connection`): those stay in [`Headers`], where the
//! server looks for them.
//!
//! The lines' buffer comes from a per-thread spare and goes back to it when the lines are
//! dropped, so a response's lines cost no allocation of their own.

use std::cell::Cell;

use bytes::{Bytes, BytesMut};
use rasgi_output::{put_field, put_piece};

use crate::Headers;

/// Names a [`FieldName`] or [`FieldLine`] may not have: the server reads them to frame the
/// response.
const FRAMING_NAMES: [&str; 3] = ["content-length", "transfer-encoding", "connection"];

/// A field name checked when the program is built: lowercase token characters, and not one of
/// the framing fields. Make one a `const`, so that the check runs at compile time (a bad name
/// is then a compile error):
///
/// ```
/// use rasgi_protocol::FieldName;
/// const X_TRACE: FieldName = FieldName::new("x-trace");
/// assert_eq!(X_TRACE.as_str(), "x-trace");
/// ```
///
/// ```compile_fail,E0080
/// use rasgi_protocol::FieldName;
/// const BAD: FieldName = FieldName::new("x trace");
/// let _ = BAD;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldName {
    name: &'static str,
    /// The name's mark in [`FieldLines`]' summary of the names it holds.
    mark: u32,
}

impl FieldName {
    /// `name`, checked. Panics (at compile time, in a `const`) when it is not lowercase token
    /// characters or is a framing field.
    pub const fn new(name: &'static str) -> FieldName {
        assert!(valid_name(name.as_bytes()), "not a lowercase field name");
        let mut i = 0;
        while i < FRAMING_NAMES.len() {
            assert!(
                !same(name.as_bytes(), FRAMING_NAMES[i].as_bytes()),
                "a framing field is the server's"
            );
            i += 1;
        }
        FieldName {
            name,
            mark: mark(name.as_bytes()),
        }
    }

    /// The name.
    pub const fn as_str(&self) -> &'static str {
        self.name
    }
}

/// A whole field checked once, for a field added to many responses (a constant, or a
/// configured header): pushing it is a copy, with no check.
///
/// ```
/// use rasgi_protocol::{FieldLine, FieldLines};
/// const VARY_ORIGIN: FieldLine = FieldLine::from_static("vary", "Origin");
/// let mut lines = FieldLines::new();
/// lines.push_line(&VARY_ORIGIN);
/// assert_eq!(lines.as_bytes(), b"vary: Origin\r\n");
/// ```
///
/// A value that would end the line early is a compile error:
///
/// ```compile_fail,E0080
/// use rasgi_protocol::FieldLine;
/// const SPLIT: FieldLine = FieldLine::from_static("x-a", "b\r\nx-injected: c");
/// let _ = SPLIT;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldLine(LineRepr);

#[derive(Debug, Clone, PartialEq, Eq)]
enum LineRepr {
    /// Checked at compile time.
    Static {
        name: FieldName,
        value: &'static str,
    },
    /// `name: value\r\n`, checked when made.
    Owned {
        line: Box<[u8]>,
        name_len: usize,
        mark: u32,
    },
}

/// Why a field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidField {
    /// The name is empty, holds a byte that is not a token character, or is a framing field.
    #[error("invalid field name")]
    Name,
    /// The value holds a control character (CR, LF and NUL among them) or DEL.
    #[error("invalid field value")]
    Value,
}

impl FieldLine {
    /// `name: value`, both known when the program is built. Panics (at compile time, in a
    /// `const`) when the name is not as [`FieldName::new`] wants it or the value holds a
    /// control character.
    pub const fn from_static(name: &'static str, value: &'static str) -> FieldLine {
        let name = FieldName::new(name);
        let bytes = value.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            assert!(
                b == b'\t' || (b >= 0x20 && b != 0x7f),
                "a control character in a field value"
            );
            i += 1;
        }
        FieldLine(LineRepr::Static { name, value })
    }

    /// `name: value`, checked (the name is lowercased).
    pub fn new(name: &str, value: &str) -> Result<FieldLine, InvalidField> {
        let name = name.to_ascii_lowercase();
        if !valid_name(name.as_bytes()) || FRAMING_NAMES.contains(&name.as_str()) {
            return Err(InvalidField::Name);
        }
        if !is_field_value(value.as_bytes()) {
            return Err(InvalidField::Value);
        }
        let line = format!("{name}: {value}\r\n");
        Ok(FieldLine(LineRepr::Owned {
            line: line.into_bytes().into_boxed_slice(),
            name_len: name.len(),
            mark: mark(name.as_bytes()),
        }))
    }

    /// The name.
    pub fn name(&self) -> &[u8] {
        match &self.0 {
            LineRepr::Static { name, .. } => name.name.as_bytes(),
            LineRepr::Owned { line, name_len, .. } => &line[..*name_len],
        }
    }

    /// The value.
    pub fn value(&self) -> &[u8] {
        match &self.0 {
            LineRepr::Static { value, .. } => value.as_bytes(),
            LineRepr::Owned { line, name_len, .. } => &line[name_len + 2..line.len() - 2],
        }
    }
}

thread_local! {
    /// A buffer from lines that were dropped on this thread, for the next response's lines.
    static SPARE: Cell<Option<BytesMut>> = const { Cell::new(None) };
}

/// Room kept in a buffer that goes back to the spare: what a response's middleware fields take,
/// with some left over. A buffer that grew past the largest kept is dropped.
const FIRST_ROOM: usize = 256;
const LARGEST_KEPT: usize = 4096;

/// Checked fields written as the lines of a head, in the order they were pushed.
#[derive(Debug, Default)]
pub struct FieldLines {
    buf: BytesMut,
    /// The marks of the names pushed (see [`mark`]): a lookup of a name whose mark is not
    /// among them is answered without reading a line.
    marks: u32,
}

impl Clone for FieldLines {
    fn clone(&self) -> FieldLines {
        FieldLines {
            buf: BytesMut::from(&self.buf[..]),
            marks: self.marks,
        }
    }
}

impl PartialEq for FieldLines {
    fn eq(&self, other: &FieldLines) -> bool {
        self.buf == other.buf
    }
}

impl Eq for FieldLines {}

impl FieldLines {
    /// No lines (and no buffer yet).
    pub fn new() -> FieldLines {
        FieldLines {
            buf: BytesMut::new(),
            marks: 0,
        }
    }

    /// Push `name: value`. A value holding a control character or DEL is refused, and
    /// nothing is written.
    #[inline]
    pub fn push(&mut self, name: FieldName, value: &[u8]) -> Result<(), InvalidField> {
        if !is_field_value(value) {
            return Err(InvalidField::Value);
        }
        self.room();
        self.marks |= name.mark;
        put_field(&mut self.buf, name.name.as_bytes(), value);
        Ok(())
    }

    /// Push a field checked when it was made.
    #[inline(always)]
    pub fn push_line(&mut self, line: &FieldLine) {
        self.room();
        match &line.0 {
            LineRepr::Static { name, value } => {
                self.marks |= name.mark;
                put_field(&mut self.buf, name.name.as_bytes(), value.as_bytes())
            }
            LineRepr::Owned { line, mark, .. } => {
                self.marks |= mark;
                put_piece(&mut self.buf, line)
            }
        }
    }

    /// Take this thread's spare buffer for the first line.
    #[inline]
    fn room(&mut self) {
        if self.buf.capacity() == 0 {
            self.take_spare();
        }
    }

    #[inline(never)]
    fn take_spare(&mut self) {
        self.buf = SPARE
            .take()
            .unwrap_or_else(|| BytesMut::with_capacity(FIRST_ROOM));
    }

    /// The lines, each `name: value\r\n`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Whether no line was pushed.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let buf = &self.buf[..];
        self.spans().map(move |line| line.of(buf))
    }

    /// Where each line's parts are.
    fn spans(&self) -> impl Iterator<Item = Span> + '_ {
        let buf = &self.buf[..];
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= buf.len() {
                return None;
            }
            // Every line is `name: value\r\n`: a name has no colon and a value no LF, so the
            // first of each after the line's start ends the name and the line.
            let colon = find(buf, at, b':');
            let end = (find(buf, colon, b'\n') + 1).min(buf.len());
            let line = Span {
                start: at,
                colon,
                end,
            };
            at = end;
            Some(line)
        })
    }

    /// The first value of `name` (compared without regard to case). Inlined, so that for a name
    /// known where it is called the summary is checked without a call (most lookups end there).
    #[inline]
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        if self.marks & mark(name.as_bytes()) == 0 {
            return None;
        }
        self.find_value(name)
    }

    /// [`FieldLines::get`] past the summary: the lines read one by one.
    fn find_value(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Remove every line of `name`.
    #[inline]
    pub fn remove(&mut self, name: &str) {
        if self.get(name).is_some() {
            self.remove_lines(name);
        }
    }

    /// [`FieldLines::remove`] of a name the lines hold.
    fn remove_lines(&mut self, name: &str) {
        let mut kept = BytesMut::with_capacity(self.buf.len());
        for line in self.spans() {
            if !line.of(&self.buf).0.eq_ignore_ascii_case(name.as_bytes()) {
                kept.extend_from_slice(&self.buf[line.start..line.end]);
            }
        }
        self.buf.clear();
        self.buf.extend_from_slice(&kept);
    }

    /// Append the lines to `headers` as fields (for a sender that takes fields only).
    pub fn append_to(self, headers: &mut Headers) {
        if self.buf.is_empty() {
            return;
        }
        let all: Bytes = Bytes::copy_from_slice(&self.buf);
        for line in self.spans() {
            let (value_start, value_end) = line.value();
            headers.append(
                all.slice(line.start..line.colon),
                all.slice(value_start..value_end),
            );
        }
    }
}

impl Drop for FieldLines {
    fn drop(&mut self) {
        let capacity = self.buf.capacity();
        if capacity > 0 && capacity <= LARGEST_KEPT {
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            // The thread's spare may already hold a buffer (two responses' lines alive at
            // once): the one given back replaces it.
            SPARE.set(Some(buf));
        }
    }
}

/// One line of a [`FieldLines`]: where it starts, its colon, and the end of its CRLF.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    colon: usize,
    end: usize,
}

impl Span {
    /// Where the value is: after `: `, before the CRLF.
    fn value(self) -> (usize, usize) {
        let end = self.end.saturating_sub(2).max(self.colon);
        ((self.colon + 2).min(end), end)
    }

    /// The line's name and value in `buf`.
    fn of(self, buf: &[u8]) -> (&[u8], &[u8]) {
        let (value_start, value_end) = self.value();
        (&buf[self.start..self.colon], &buf[value_start..value_end])
    }
}

/// The index of the first `byte` in `bytes` from `from` on (or `bytes.len()`), eight bytes at a
/// time: a word XORed with the byte everywhere has a zero byte where the byte was, and the
/// lowest zero byte is found exactly (a borrow only ever starts at a zero byte).
#[inline]
fn find(bytes: &[u8], from: usize, byte: u8) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let pattern = ONES * u64::from(byte);
    let mut at = from;
    while at + 8 <= bytes.len() {
        let mut chunk = [0u8; 8];
        chunk.copy_from_slice(&bytes[at..at + 8]);
        let word = u64::from_le_bytes(chunk) ^ pattern;
        let zeros = word.wrapping_sub(ONES) & !word & HIGHS;
        if zeros != 0 {
            return at + (zeros.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while at < bytes.len() && bytes[at] != byte {
        at += 1;
    }
    at
}

/// One of 32 bits for a name, from its length and its first and last bytes (lowercased): the
/// same for a name however it is cased, and different for most names that differ.
const fn mark(name: &[u8]) -> u32 {
    if name.is_empty() {
        return 1;
    }
    let first = name[0].to_ascii_lowercase() as u32;
    let last = name[name.len() - 1].to_ascii_lowercase() as u32;
    1 << ((name.len() as u32 + first * 7 + last * 3) & 31)
}

/// Whether `name` is one or more lowercase token characters (RFC 9110 §5.6.2).
const fn valid_name(name: &[u8]) -> bool {
    if name.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        let ok = matches!(b, b'a'..=b'z' | b'0'..=b'9')
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether every byte of `value` may be in a field value (RFC 9110 §5.5): visible characters,
/// space, tab and bytes from 0x80 on; no other control character and no DEL. Eight bytes at a
/// time: a word with no byte under 0x20 and none equal to 0x7f is clean; any other word (a tab
/// among them) is judged byte by byte.
#[inline]
pub fn is_field_value(value: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether no byte is under 0x20 or equal to 0x7f (exact as a yes or no: a borrow only ever
    // starts at a byte that is one of them).
    let clean = |word: u64| {
        let low = word.wrapping_sub(ONES * 0x20) & !word;
        let del = word ^ (ONES * 0x7f);
        let del = del.wrapping_sub(ONES) & !del;
        (low | del) & HIGHS == 0
    };
    let slow = judged_bytewise;
    let word = |at: usize| u64::from_ne_bytes(value[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| u64::from(u32::from_ne_bytes(value[at..at + 4].try_into().expect("4")));
    let len = value.len();
    let (first, last) = match len {
        // Short values as one word made of overlapping pieces, the rest of it `a`s.
        0 => return true,
        1..=3 => {
            let bytes = [value[0], value[len / 2], value[len - 1]];
            let word =
                u64::from_ne_bytes([bytes[0], bytes[1], bytes[2], b'a', b'a', b'a', b'a', b'a']);
            return clean(word) || slow(value);
        }
        4..=7 => return clean(half(0) | half(len - 4) << 32) || slow(value),
        // Whole words up to the last eight bytes, then those (which may overlap the words
        // before them).
        _ => (0, len - 8),
    };
    let mut at = first;
    while at < last {
        if !clean(word(at)) && !slow(&value[at..at + 8]) {
            return false;
        }
        at += 8;
    }
    clean(word(last)) || slow(&value[last..])
}

/// [`is_field_value`] byte by byte, for the rare word that holds a tab or a byte to refuse:
/// kept out of line, so that the common path stays short.
#[cold]
#[inline(never)]
fn judged_bytewise(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARY: FieldName = FieldName::new("vary");
    const X_ID: FieldName = FieldName::new("x-request-id");

    #[test]
    fn pushed_fields_are_written_as_head_lines_in_order() {
        let mut lines = FieldLines::new();
        lines.push(X_ID, b"abc").unwrap();
        lines.push_line(&FieldLine::new("X-Custom", "Custom Value").unwrap());
        lines.push_line(&FieldLine::from_static("vary", "Origin"));
        assert_eq!(
            lines.as_bytes(),
            b"x-request-id: abc\r\nx-custom: Custom Value\r\nvary: Origin\r\n"
        );
        let fields: Vec<_> = lines.iter().collect();
        assert_eq!(
            fields,
            vec![
                (&b"x-request-id"[..], &b"abc"[..]),
                (b"x-custom", b"Custom Value"),
                (b"vary", b"Origin"),
            ]
        );
        assert_eq!(lines.get("VARY"), Some(&b"Origin"[..]));
        assert_eq!(lines.get("accept"), None);
    }

    #[test]
    fn a_value_with_a_control_character_is_refused_and_nothing_written() {
        let mut lines = FieldLines::new();
        for bad in [
            &b"a\r\nx: y"[..],
            b"a\nb",
            b"\0",
            b"abcdefgh\x7f",
            b"abcdefghij\r",
        ] {
            assert_eq!(lines.push(VARY, bad), Err(InvalidField::Value));
        }
        assert!(lines.is_empty());
        assert_eq!(FieldLine::new("x", "a\rb"), Err(InvalidField::Value));
        assert_eq!(FieldLine::new("x y", "a"), Err(InvalidField::Name));
        assert_eq!(FieldLine::new("", "a"), Err(InvalidField::Name));
        assert_eq!(
            FieldLine::new("Content-Length", "1"),
            Err(InvalidField::Name)
        );
    }

    #[test]
    fn every_byte_is_judged_as_rfc_9110_section_5_5_says() {
        for b in 0..=255u8 {
            let allowed = b == b'\t' || (b >= 0x20 && b != 0x7f);
            for at in 0..20 {
                let mut value = vec![b'v'; 20];
                value[at] = b;
                assert_eq!(is_field_value(&value), allowed, "byte {b:#x} at {at}");
                assert_eq!(is_field_value(&value[at..]), allowed, "byte {b:#x} first");
            }
        }
        assert!(is_field_value(b""));
    }

    #[test]
    fn lines_become_fields_for_a_sender_that_takes_fields() {
        let mut lines = FieldLines::new();
        lines.push(X_ID, b"").unwrap();
        lines.push(VARY, b"Origin").unwrap();
        let mut headers = Headers::new().with("content-type", "text/plain");
        lines.append_to(&mut headers);
        let fields: Vec<_> = headers.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        assert_eq!(
            fields,
            vec![
                (&b"content-type"[..], &b"text/plain"[..]),
                (b"x-request-id", b""),
                (b"vary", b"Origin"),
            ]
        );
    }

    #[test]
    fn a_byte_is_found_first_wherever_it_is() {
        for len in 0..40 {
            for at in 0..=len {
                let mut bytes = vec![b'a'; len];
                if at < len {
                    bytes[at] = b':';
                    // A second one after the first is not found first.
                    if at + 3 < len {
                        bytes[at + 3] = b':';
                    }
                }
                for from in 0..=at {
                    assert_eq!(find(&bytes, from, b':'), at, "{len} {at} {from}");
                }
            }
        }
        // A byte of 0x01 just below the one sought (a borrow's edge case) is no false hit.
        assert_eq!(find(b"\x01\x00abcdefgh:", 0, 0), 1);
        assert_eq!(find(&[0x3b, 0x3a, 0x3a], 0, b':'), 1);
    }

    #[test]
    fn many_lines_and_long_values_are_found_whole() {
        let long = vec![b'v'; 300];
        for (count, value) in [(12, &b"x"[..]), (3, &long[..])] {
            let mut lines = FieldLines::new();
            for i in 0..count {
                let value = if i == 1 { value } else { b"short" };
                lines.push(X_ID, value).unwrap();
                lines.push(VARY, format!("{i}").as_bytes()).unwrap();
            }
            let fields: Vec<_> = lines.iter().collect();
            assert_eq!(fields.len(), 2 * count);
            assert_eq!(fields[2], (&b"x-request-id"[..], value));
            assert_eq!(fields[2 * count - 1].1, format!("{}", count - 1).as_bytes());
            assert_eq!(lines.get("vary"), Some(&b"0"[..]));
            lines.remove("x-request-id");
            let left: Vec<_> = lines.iter().map(|(n, _)| n).collect();
            assert_eq!(left, vec![&b"vary"[..]; count]);
            assert_eq!(lines.get("x-request-id"), None);
        }
    }

    #[test]
    fn removing_a_name_keeps_the_other_lines() {
        let mut lines = FieldLines::new();
        lines.push(X_ID, b"1").unwrap();
        lines.push(VARY, b"Origin").unwrap();
        lines.push(X_ID, b"2").unwrap();
        lines.remove("x-request-id");
        assert_eq!(lines.as_bytes(), b"vary: Origin\r\n");
    }

    #[test]
    fn a_dropped_buffer_serves_the_next_lines() {
        let mut first = FieldLines::new();
        first.push(VARY, b"Origin").unwrap();
        let at = first.as_bytes().as_ptr();
        drop(first);
        let mut second = FieldLines::new();
        second.push(X_ID, b"7").unwrap();
        assert_eq!(second.as_bytes().as_ptr(), at);
        assert_eq!(second.as_bytes(), b"x-request-id: 7\r\n");
    }
}
