//! [`Headers`]: an ordered list of (name, value) byte pairs, as ASGI has them.
//!
//! The rule: order and duplicates are kept; names are compared case-insensitively and the
//! server hands the app lowercase names. Values are raw bytes (not necessarily UTF-8).

use bytes::Bytes;

/// Room reserved by the first `append` to an empty list: a response's own fields plus the few a
/// middleware stack adds (`x-request-id`, `x-process-time`, `vary`, ...).
const FIRST_CAPACITY: usize = 8;

/// Header fields in order, duplicates kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(Bytes, Bytes)>);

impl Headers {
    /// No fields.
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// No fields, with room for at least `n` (and never less than the few fields a middleware
    /// stack adds, so that they do not make the list grow).
    pub fn with_capacity(n: usize) -> Headers {
        Headers(Vec::with_capacity(n.max(FIRST_CAPACITY)))
    }

    /// A list made of `fields` as they are (the server's parsed request fields).
    pub fn from_fields(fields: Vec<(Bytes, Bytes)>) -> Headers {
        Headers(fields)
    }

    /// The fields, in order.
    pub fn as_fields(&self) -> &[(Bytes, Bytes)] {
        &self.0
    }

    /// The fields, in order, as a vector (no copy).
    pub fn into_fields(self) -> Vec<(Bytes, Bytes)> {
        self.0
    }

    /// Append a field (duplicates are kept).
    pub fn append(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        if self.0.capacity() == 0 {
            // One allocation with room for the fields a middleware stack adds on the way out,
            // instead of a growth step per middleware (made directly: `reserve` on an empty
            // vector takes the general growth path).
            self.0 = Vec::with_capacity(FIRST_CAPACITY);
        }
        self.0.push((name.into(), value.into()));
    }

    /// Builder form of [`Headers::append`].
    pub fn with(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Headers {
        self.append(name, value);
        self
    }

    /// Replace every field called `name` by one with `value` (appended if there was none).
    pub fn set(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        let name = name.into();
        let value = value.into();
        match self
            .0
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(first) => {
                self.0[first].1 = value;
                let mut at = 0;
                self.0.retain(|(n, _)| {
                    at += 1;
                    at - 1 == first || !n.eq_ignore_ascii_case(&name)
                });
            }
            None => self.0.push((name, value)),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        // Names nearly always come as the server hands them and as they are asked for, in
        // lowercase: the same bytes, compared whole, before letter by letter.
        self.0
            .iter()
            .find(|(n, _)| **n == *name.as_bytes() || n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The first value of `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Whether a field called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Remove every field called `name`.
    pub fn remove(&mut self, name: &str) {
        self.0
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name.as_bytes()));
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> + Clone {
        self.0.iter().map(|(n, v)| (n, v))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<N: Into<Bytes>, V: Into<Bytes>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Headers {
        Headers(
            iter.into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        )
    }
}

impl IntoIterator for Headers {
    type Item = (Bytes, Bytes);
    type IntoIter = std::vec::IntoIter<(Bytes, Bytes)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Format a short header value (a timing, an id) into a per-thread arena, so that a value per
/// request costs no allocation of its own: the arena allocates once per few hundred values.
pub fn format_value(args: std::fmt::Arguments<'_>) -> Bytes {
    use std::fmt::Write;
    with_arena(|arena| {
        // Writing into a BytesMut cannot fail.
        let _ = arena.write_fmt(args);
    })
}

/// Copy a short header value already formatted (on the stack, say) into the per-thread arena
/// [`format_value`] uses: no allocation of its own, and no formatting machinery.
pub fn arena_value(value: &[u8]) -> Bytes {
    with_arena(|arena| arena.extend_from_slice(value))
}

fn with_arena(write: impl FnOnce(&mut bytes::BytesMut)) -> Bytes {
    use std::cell::RefCell;

    use bytes::BytesMut;

    /// Bytes the arena takes at a time.
    const ARENA_CHUNK: usize = 16 * 1024;
    thread_local! {
        static ARENA: RefCell<BytesMut> = RefCell::new(BytesMut::new());
    }
    ARENA.with_borrow_mut(|arena| {
        if arena.capacity() - arena.len() < 128 {
            *arena = BytesMut::with_capacity(ARENA_CHUNK);
        }
        write(arena);
        arena.split().freeze()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_values_are_separate_and_survive_the_arena_moving_on() {
        let first = format_value(format_args!("{:.3}", 1.5));
        let second = arena_value(b"abc");
        // Enough values to make the arena take a new chunk.
        let many: Vec<Bytes> = (0..2000)
            .map(|i| format_value(format_args!("{i:08}")))
            .collect();
        assert_eq!(first, "1.500");
        assert_eq!(second, "abc");
        assert_eq!(many[1999], "00001999");
    }

    #[test]
    fn lookups_ignore_case_and_keep_duplicates_in_order() {
        let headers = Headers::new()
            .with("set-cookie", "a=1")
            .with("Content-Type", "text/plain")
            .with("set-cookie", "b=2");
        assert_eq!(headers.get_str("content-type"), Some("text/plain"));
        let cookies: Vec<_> = headers.get_all("Set-Cookie").collect();
        assert_eq!(cookies, vec!["a=1", "b=2"]);
    }

    #[test]
    fn formatted_values_are_independent() {
        let a = format_value(format_args!("{:.3}", 1.5));
        let b = format_value(format_args!("id-{}", 7));
        assert_eq!(a, "1.500");
        assert_eq!(b, "id-7");
    }

    #[test]
    fn set_replaces_every_duplicate_in_place_of_the_first() {
        let mut headers = Headers::new().with("a", "1").with("b", "2").with("A", "3");
        headers.set("a", "9");
        let pairs: Vec<_> = headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        assert_eq!(
            pairs,
            vec![("a".into(), "9".into()), ("b".into(), "2".into())]
        );
    }
}
