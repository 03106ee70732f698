//! What a request for a file asks beyond the file itself, read from its header fields without
//! touching the disk: the range it wants (RFC 9110 §14) and its preconditions (§13).

/// The one byte range a `Range` field asks for, before it is checked against the file's
/// length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeSpec {
    /// `first-` or `first-last` (inclusive).
    From { first: u64, last: Option<u64> },
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

/// What a `Range` field comes to for a file of a given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ranged {
    /// Serve the whole file (no range, one the server ignores, or one that is not a single
    /// byte range).
    Whole,
    /// Serve bytes `start..start + len` (206).
    Part { start: u64, len: u64 },
    /// No byte of the file is in the range (416).
    Unsatisfiable,
}

/// A `Range` value, if it is a single byte range (RFC 9110 §14.1.2). Several ranges, other
/// units and malformed values are `None`: the server may ignore a range it does not serve
/// (§14.2), and answers with the whole file.
pub(crate) fn parse_range(value: &str) -> Option<RangeSpec> {
    let (unit, set) = value.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let set = set.trim();
    if set.contains(',') {
        return None;
    }
    let (first, last) = set.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return Some(RangeSpec::Suffix(number(last)?));
    }
    let first = number(first)?;
    if last.is_empty() {
        return Some(RangeSpec::From { first, last: None });
    }
    let last = number(last)?;
    (first <= last).then_some(RangeSpec::From {
        first,
        last: Some(last),
    })
}

/// A range checked against a file of `len` bytes (RFC 9110 §14.1.2: a last position past the
/// end means the end; a range starting past it, or an empty suffix, is unsatisfiable).
pub(crate) fn ranged(spec: Option<RangeSpec>, len: u64) -> Ranged {
    match spec {
        None => Ranged::Whole,
        Some(RangeSpec::From { first, .. }) if first >= len => Ranged::Unsatisfiable,
        Some(RangeSpec::From { first, last }) => {
            let last = last.map_or(len - 1, |last| last.min(len - 1));
            Ranged::Part {
                start: first,
                len: last - first + 1,
            }
        }
        Some(RangeSpec::Suffix(0)) => Ranged::Unsatisfiable,
        Some(RangeSpec::Suffix(_)) if len == 0 => Ranged::Unsatisfiable,
        Some(RangeSpec::Suffix(n)) => {
            let n = n.min(len);
            Ranged::Part {
                start: len - n,
                len: n,
            }
        }
    }
}

/// Digits as a number (no sign, no spaces, no overflow).
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Whether an `If-None-Match` value matches `etag` by the weak comparison (RFC 9110
/// §13.1.2: `*` matches any current file; `W/` is ignored on both sides).
pub(crate) fn none_match(value: &str, etag: &str) -> bool {
    let value = value.trim();
    if value == "*" {
        return true;
    }
    let ours = etag.trim_start_matches("W/");
    value
        .split(',')
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == ours)
}

/// Whether an `If-Range` value lets the range be served (RFC 9110 §13.1.5): an entity tag
/// must match `etag` strongly (a weak tag never does); a date must be exactly the file's
/// `last_modified` (the date a client saw).
pub(crate) fn if_range_holds(value: &str, etag: &str, last_modified: &str) -> bool {
    let value = value.trim();
    if value.starts_with("W/") {
        return false;
    }
    if value.starts_with('"') {
        return value == etag;
    }
    value == last_modified
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(range: &str, len: u64) -> Ranged {
        ranged(parse_range(range), len)
    }

    #[test]
    fn rfc9110_14_1_2_the_three_forms_of_a_byte_range() {
        assert_eq!(
            served("bytes=0-99", 1000),
            Ranged::Part { start: 0, len: 100 }
        );
        assert_eq!(
            served("bytes=500-599", 1000),
            Ranged::Part {
                start: 500,
                len: 100
            }
        );
        assert_eq!(
            served("bytes=900-", 1000),
            Ranged::Part {
                start: 900,
                len: 100
            }
        );
        assert_eq!(
            served("bytes=-100", 1000),
            Ranged::Part {
                start: 900,
                len: 100
            }
        );
        assert_eq!(
            served("Bytes = 0-0", 1000),
            Ranged::Part { start: 0, len: 1 }
        );
    }

    #[test]
    fn rfc9110_14_1_2_a_last_position_past_the_end_means_the_end() {
        assert_eq!(
            served("bytes=990-5000", 1000),
            Ranged::Part {
                start: 990,
                len: 10
            }
        );
        assert_eq!(
            served("bytes=-5000", 1000),
            Ranged::Part {
                start: 0,
                len: 1000
            }
        );
    }

    #[test]
    fn rfc9110_14_1_2_a_range_past_the_end_or_an_empty_suffix_is_unsatisfiable() {
        assert_eq!(served("bytes=1000-", 1000), Ranged::Unsatisfiable);
        assert_eq!(served("bytes=1000-2000", 1000), Ranged::Unsatisfiable);
        assert_eq!(served("bytes=-0", 1000), Ranged::Unsatisfiable);
        assert_eq!(served("bytes=0-", 0), Ranged::Unsatisfiable);
        assert_eq!(served("bytes=-5", 0), Ranged::Unsatisfiable);
    }

    #[test]
    fn rfc9110_14_2_what_is_not_one_byte_range_is_ignored() {
        for value in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=99999999999999999999-",
        ] {
            assert_eq!(served(value, 1000), Ranged::Whole, "{value:?}");
        }
        assert_eq!(ranged(None, 1000), Ranged::Whole);
    }

    #[test]
    fn rfc9110_13_1_2_if_none_match_compares_weakly() {
        let etag = "\"abc\"";
        assert!(none_match("\"abc\"", etag));
        assert!(none_match("W/\"abc\"", etag));
        assert!(none_match("\"x\", W/\"abc\"", etag));
        assert!(none_match("*", etag));
        assert!(!none_match("\"abd\"", etag));
        assert!(!none_match("", etag));
    }

    #[test]
    fn rfc9110_13_1_5_if_range_needs_a_strong_match_or_the_exact_date() {
        let (etag, date) = ("\"abc\"", "Sun, 06 Nov 1994 08:49:37 GMT");
        assert!(if_range_holds("\"abc\"", etag, date));
        assert!(!if_range_holds("W/\"abc\"", etag, date));
        assert!(!if_range_holds("\"abd\"", etag, date));
        assert!(if_range_holds(date, etag, date));
        assert!(!if_range_holds("Sun, 06 Nov 1994 08:49:38 GMT", etag, date));
    }
}
