//! Differential property tests against httparse, the parser hyper uses. Valid requests must
//! parse the same; a mutated request must never be accepted by rasgi when httparse refuses it
//! (rasgi is the stricter of the two); when both accept, they agree field by field. Random
//! bytes never panic.

mod support;

use proptest::prelude::*;
use rasgi_h1::{parse_request_head, Decoder, HeaderSpan, Limits, Status};

const TOKEN_CHARS: &[u8] =
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn token() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(TOKEN_CHARS), 1..12)
}

fn target() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0x21u8..=0x7e, 0..40).prop_map(|mut rest| {
        rest.insert(0, b'/');
        rest
    })
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![8 => 0x21u8..=0x7e, 1 => Just(b' '), 1 => Just(b'\t')],
        0..40,
    )
    .prop_map(|v| {
        let start = v
            .iter()
            .position(|b| !b" \t".contains(b))
            .unwrap_or(v.len());
        let end = v
            .iter()
            .rposition(|b| !b" \t".contains(b))
            .map_or(start, |e| e + 1);
        v[start..end].to_vec()
    })
}

/// A valid request head whose framing fields cannot make it invalid.
fn request() -> impl Strategy<Value = Vec<u8>> {
    let header = (token(), value()).prop_filter("no framing fields", |(name, _)| {
        let name = name.to_ascii_lowercase();
        name != b"content-length" && name != b"transfer-encoding"
    });
    (
        token(),
        target(),
        prop::bool::ANY,
        prop::collection::vec(header, 0..12),
    )
        .prop_map(|(method, target, http11, headers)| {
            let mut out = method;
            out.push(b' ');
            out.extend_from_slice(&target);
            out.extend_from_slice(if http11 {
                b" HTTP/1.1\r\n"
            } else {
                b" HTTP/1.0\r\n"
            });
            for (name, value) in headers {
                out.extend_from_slice(&name);
                out.extend_from_slice(b": ");
                out.extend_from_slice(&value);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\r\n");
            out
        })
}

#[derive(Debug, PartialEq, Eq)]
struct Head {
    method: Vec<u8>,
    target: Vec<u8>,
    minor: u8,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    len: usize,
}

fn rasgi(input: &[u8]) -> Option<Head> {
    let mut buf = input.to_vec();
    let mut slots = [HeaderSpan::default(); 64];
    match parse_request_head(&mut buf, &mut slots, &Limits::default()) {
        Ok(Status::Complete(head)) => Some(Head {
            method: head.method().to_vec(),
            target: head.target.of(head.buf).to_vec(),
            minor: if head.version.as_str() == "1.1" { 1 } else { 0 },
            headers: head
                .header_pairs()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect(),
            len: head.len,
        }),
        _ => None,
    }
}

fn httparse(input: &[u8]) -> Option<Head> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(input) {
        Ok(httparse::Status::Complete(len)) => Some(Head {
            method: request.method?.as_bytes().to_vec(),
            target: request.path?.as_bytes().to_vec(),
            minor: request.version?,
            headers: request
                .headers
                .iter()
                .map(|h| (h.name.to_ascii_lowercase().into_bytes(), h.value.to_vec()))
                .collect(),
            len,
        }),
        _ => None,
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        4 => prop::sample::select(&b"\r\n \t:\0\x7f\x80,;\"/?#"[..]),
        1 => any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(at, b)| Mutation::Replace(at, b)),
        (any::<usize>(), byte).prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<usize>().prop_map(Mutation::Delete),
    ]
}

fn apply(input: &mut Vec<u8>, mutation: &Mutation) {
    match *mutation {
        Mutation::Replace(at, b) => {
            let at = at % input.len();
            input[at] = b;
        }
        Mutation::Insert(at, b) => input.insert(at % (input.len() + 1), b),
        Mutation::Delete(at) => {
            let at = at % input.len();
            input.remove(at);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn valid_requests_parse_the_same_as_httparse(input in request()) {
        let ours = rasgi(&input);
        prop_assert!(ours.is_some(), "rasgi refused a valid request {:?}", String::from_utf8_lossy(&input));
        prop_assert_eq!(ours, httparse(&input));
    }

    #[test]
    fn mutations_never_make_rasgi_accept_what_httparse_refuses(
        input in request(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut input = input;
        for m in &mutations {
            apply(&mut input, m);
        }
        if let Some(ours) = rasgi(&input) {
            let theirs = httparse(&input);
            prop_assert!(theirs.is_some(), "rasgi accepted what httparse refuses: {:?}", String::from_utf8_lossy(&input));
            prop_assert_eq!(Some(ours), theirs);
        }
    }

    #[test]
    fn random_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = rasgi(&input);
        let _ = support::run_whole(&input);
        let _ = Decoder::chunked(&Limits::default()).decode(&input);
    }

    #[test]
    fn request_like_bytes_never_panic_split_anywhere(input in request(), cut in any::<usize>(), tail in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut input = input;
        input.extend_from_slice(&tail);
        let cut = cut % input.len();
        let (a, b) = input.split_at(cut);
        let whole = support::run_whole(&input);
        let split = support::run(&[a, b], &Limits::default());
        prop_assert_eq!(whole, split);
    }
}
