//! RequestId: every request gets an id, kept from `x-request-id` when the client sent a
//! well-formed one, generated otherwise. The id is put in the scope's extensions (handlers and
//! inner middleware read it as [`RequestIdValue`]) and on the response.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;
use rasgi_protocol::{FieldName, Headers, Scope, SendError};

use crate::{Decision, ResponseHook, ResponseStart, Step};

/// Longest incoming id kept; longer ones are replaced (they would bloat every log line).
pub const MAX_INCOMING_ID_LEN: usize = 128;

/// The request's id, as stored in `HttpScope::extensions`: a generated id in place (no
/// allocation and no shared count to keep), or the client's as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIdValue(Id);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Id {
    /// 32 hex digits.
    Generated([u8; 32]),
    /// A well-formed id the client sent.
    Incoming(Bytes),
}

impl RequestIdValue {
    /// The client's id, if it is well formed (see [`well_formed`]).
    pub fn incoming(id: &Bytes) -> Option<RequestIdValue> {
        std::str::from_utf8(id)
            .is_ok_and(well_formed)
            .then(|| RequestIdValue(Id::Incoming(id.clone())))
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Id::Generated(hex) => hex,
            Id::Incoming(id) => id,
        }
    }

    /// The id as text (ids are ASCII by construction).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// Assigns `x-request-id`.
#[derive(Debug, Clone, Default)]
pub struct RequestId;

impl RequestId {
    /// The request-id middleware.
    pub fn new() -> RequestId {
        RequestId
    }
}

/// Whether an incoming id is safe to keep: 1 to 128 of `A-Z a-z 0-9 . _ -`.
pub fn well_formed(id: &str) -> bool {
    (1..=MAX_INCOMING_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Ids a thread numbers by itself between two takes from the process-wide counter.
const IDS_PER_TAKE: u64 = 1 << 20;

/// A new id: 32 hex digits, unique within the process and unpredictable across processes.
pub fn generate() -> RequestIdValue {
    static KEYS: OnceLock<(u64, u64)> = OnceLock::new();
    /// The next block of numbers to hand a thread.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        /// This thread's next number and the end of its block: numbered without touching the
        /// shared counter (one atomic add per block, not per request, and no cache line that
        /// every worker writes).
        static NEXT: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
    }
    let &(k1, k2) = KEYS.get_or_init(|| {
        let seed = RandomState::new();
        let key = |n: u64| {
            let mut hasher = seed.build_hasher();
            hasher.write_u64(n);
            hasher.finish()
        };
        (key(1), key(2))
    });
    let n = NEXT.with(|next| {
        let (mut n, mut end) = next.get();
        if n == end {
            n = COUNTER.fetch_add(IDS_PER_TAKE, Ordering::Relaxed);
            end = n + IDS_PER_TAKE;
        }
        next.set((n + 1, end));
        n
    });
    // `mix` is a bijection, so distinct counters give distinct ids; the keys, drawn once per
    // process, make them unguessable from one another.
    RequestIdValue(Id::Generated(hex_pair(
        mix(n ^ k1),
        mix(n.wrapping_add(k2)),
    )))
}

/// `a` then `b` as 32 lowercase hex digits: sixteen bytes split into nibbles and turned into
/// digits together, in two SSE2 registers.
#[cfg(target_arch = "x86_64")]
fn hex_pair(a: u64, b: u64) -> [u8; 32] {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_and_si128, _mm_cmpgt_epi8, _mm_set1_epi8, _mm_set_epi64x,
        _mm_srli_epi16, _mm_storeu_si128, _mm_unpackhi_epi8, _mm_unpacklo_epi8,
    };
    let mut out = [0u8; 32];
    // SAFETY: SSE2 is part of every x86_64 target; the two stores write the sixteen bytes at
    // the start of `out` and the sixteen after them.
    unsafe {
        // The bytes most significant first, `a`'s then `b`'s.
        let bytes = _mm_set_epi64x(b.swap_bytes() as i64, a.swap_bytes() as i64);
        let nibble = _mm_set1_epi8(0x0f);
        let high = _mm_and_si128(_mm_srli_epi16(bytes, 4), nibble);
        let low = _mm_and_si128(bytes, nibble);
        // A nibble over 9 is a letter: `a` is 39 past where `0` plus the nibble would land.
        let digits = |nibbles: __m128i| {
            let letters =
                _mm_and_si128(_mm_cmpgt_epi8(nibbles, _mm_set1_epi8(9)), _mm_set1_epi8(39));
            _mm_add_epi8(_mm_add_epi8(nibbles, _mm_set1_epi8(b'0' as i8)), letters)
        };
        let out_ptr = out.as_mut_ptr().cast::<__m128i>();
        _mm_storeu_si128(out_ptr, digits(_mm_unpacklo_epi8(high, low)));
        _mm_storeu_si128(out_ptr.add(1), digits(_mm_unpackhi_epi8(high, low)));
    }
    out
}

/// `a` then `b` as 32 lowercase hex digits, a word at a time.
#[cfg(not(target_arch = "x86_64"))]
fn hex_pair(a: u64, b: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex(&mut out[..16], a);
    hex(&mut out[16..], b);
    out
}

/// SplitMix64's finaliser: a bijection on `u64` that scatters every input bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `n` as 16 lowercase hex digits (where there is no SSE2; kept in the tests everywhere).
#[cfg(any(not(target_arch = "x86_64"), test))]
fn hex(out: &mut [u8], n: u64) {
    out[..8].copy_from_slice(&hex_word((n >> 32) as u32).to_be_bytes());
    out[8..].copy_from_slice(&hex_word(n as u32).to_be_bytes());
}

/// `n`'s eight hex digits as the bytes of a word, most significant first: each nibble is spread
/// into a byte of its own, then all eight are turned into digits at once.
#[cfg(any(not(target_arch = "x86_64"), test))]
fn hex_word(n: u32) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    let mut x = u64::from(n);
    x = (x & 0xffff_0000) << 16 | (x & 0xffff);
    x = (x & 0x0000_ff00_0000_ff00) << 8 | (x & 0x0000_00ff_0000_00ff);
    x = (x & 0x00f0_00f0_00f0_00f0) << 4 | (x & 0x000f_000f_000f_000f);
    // `0` is 0x30; a nibble of 10 or more (its byte plus 6 reaches 0x10) goes 0x27 further on,
    // to `a`.
    let letters = ((x + ONES * 6) >> 4) & ONES;
    x + ONES * b'0' as u64 + letters * 0x27
}

/// The id to put on the response.
pub struct Echo(RequestIdValue);

/// The field's name.
const X_REQUEST_ID: FieldName = FieldName::new("x-request-id");

impl ResponseHook for Echo {
    // A response has one start (or one accept): the id replaces any the app set.
    fn on_start(&mut self, start: &mut ResponseStart, _: &Bytes, _: bool) -> Result<(), SendError> {
        if start.headers.contains(X_REQUEST_ID.as_str()) {
            start.headers.remove(X_REQUEST_ID.as_str());
        }
        start.lines.remove(X_REQUEST_ID.as_str());
        start
            .lines
            .push(X_REQUEST_ID, self.0.as_bytes())
            .map_err(|_| SendError::InvalidHeader)
    }

    fn on_accept(&mut self, headers: &mut Headers) {
        let id = rasgi_protocol::headers::arena_value(self.0.as_bytes());
        headers.set(X_REQUEST_ID.as_str(), id);
    }
}

/// The client's id when it is well formed, else a new one.
fn incoming_or_new(incoming: Option<&Bytes>) -> RequestIdValue {
    incoming
        .and_then(RequestIdValue::incoming)
        .unwrap_or_else(generate)
}

impl Step for RequestId {
    type Hook<'a> = Option<Echo>;

    fn describe(&self) -> String {
        "RequestId(x-request-id)".into()
    }

    fn on_request(&self, scope: &mut Scope) -> Decision<Option<Echo>> {
        let id = match scope {
            Scope::Http(http) => {
                let id = incoming_or_new(http.headers.get("x-request-id"));
                http.background.set_request_id(id.as_bytes());
                http.extensions.insert(id.clone());
                id
            }
            Scope::WebSocket(ws) => {
                let id = incoming_or_new(ws.headers.get("x-request-id"));
                ws.extensions.insert(id.clone());
                id
            }
            Scope::Lifespan(_) => return Decision::Continue(None),
        };
        Decision::Continue(Some(Echo(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_hex() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.as_bytes().len(), 32);
        assert!(well_formed(a.as_str()));
        assert!(a.as_bytes().iter().all(|b| b"0123456789abcdef".contains(b)));
    }

    #[test]
    fn ids_from_many_threads_never_repeat() {
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..2_000).map(|_| generate()).collect::<Vec<_>>()))
            .collect();
        let mut seen = std::collections::HashSet::new();
        for thread in threads {
            for id in thread.join().expect("a generating thread") {
                assert!(seen.insert(id.as_str().to_owned()), "an id came twice");
            }
        }
        assert_eq!(seen.len(), 8_000);
    }

    #[test]
    fn hex_pairs_agree_with_the_formatter() {
        let mut n = 0x0123_4567_89ab_cdefu64;
        let mut cases = vec![
            (0, 0),
            (u64::MAX, 0),
            (0, u64::MAX),
            (0xa, 0xf0f0_f0f0_0909_0909),
        ];
        for _ in 0..10_000 {
            let m = mix(n);
            cases.push((n, m));
            n = mix(m);
        }
        for (a, b) in cases {
            let text = hex_pair(a, b);
            assert_eq!(
                std::str::from_utf8(&text).unwrap(),
                format!("{a:016x}{b:016x}")
            );
        }
    }

    #[test]
    fn hex_is_big_endian_lowercase() {
        let mut out = [0u8; 16];
        hex(&mut out, 0x0123_4567_89ab_cdef);
        assert_eq!(&out, b"0123456789abcdef");
    }

    #[test]
    fn hex_agrees_with_the_formatter() {
        let mut n = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            let mut out = [0u8; 16];
            hex(&mut out, n);
            assert_eq!(std::str::from_utf8(&out).unwrap(), format!("{n:016x}"));
            n = mix(n);
        }
        for n in [0, u64::MAX, 0xa, 0xf0f0_f0f0_0909_0909] {
            let mut out = [0u8; 16];
            hex(&mut out, n);
            assert_eq!(std::str::from_utf8(&out).unwrap(), format!("{n:016x}"));
        }
    }

    #[test]
    fn a_request_id_is_kept_in_place_in_the_extensions() {
        // A generated id and an incoming one both fit the extensions' room for a value in
        // place: no allocation per request.
        assert!(std::mem::size_of::<RequestIdValue>() <= rasgi_protocol::state::INLINE_BYTES);
        let incoming = Bytes::from_static(b"abc-1");
        assert_eq!(
            RequestIdValue::incoming(&incoming).map(|id| id.as_str().to_owned()),
            Some("abc-1".to_owned())
        );
        assert_eq!(RequestIdValue::incoming(&Bytes::from_static(b"a b")), None);
    }

    #[test]
    fn only_safe_incoming_ids_are_kept() {
        assert!(well_formed("abc-123_x.y"));
        assert!(!well_formed(""));
        assert!(!well_formed("a b"));
        assert!(!well_formed("a\"<script>"));
        assert!(!well_formed(&"a".repeat(129)));
    }
}
