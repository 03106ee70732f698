//! The llhttp request corpus (tests/corpus/, MIT, see LICENSE-llhttp), run whole and split at
//! every byte boundary. rasgi must reach llhttp's outcome (parse the same number of messages,
//! reject where llhttp rejects), except for the deliberate differences listed below and in
//! docs/conformance.md. Heads that both accept are also checked field by field against httparse.

mod support;

use rasgi_h1::{H1Error, Limits};
use support::{run, run_whole, Outcome};

struct Case {
    name: String,
    raw: Vec<u8>,
    errcode: Option<u64>,
    messages: usize,
}

/// llhttp's codes 22 and 23 pause the parser on CONNECT / Upgrade / PRI: the bytes after the
/// head are no longer HTTP to llhttp.
const PAUSE_CODES: [u64; 2] = [22, 23];
/// llhttp's code 5: data after a message that ended with `Connection: close`. rasgi's server
/// closes after such a message and never reads on, so it is not a parse outcome.
const DATA_AFTER_CLOSE: u64 = 5;

/// Where rasgi decides differently from llhttp on purpose: (case name, what rasgi does, why).
const DIFFERENCES: &[(&str, Expect, &str)] = &[
    ("Invalid method", Expect::Messages(1), "any token is a method (RFC 9110 §9.1); the app answers 405/501"),
    ("HTTP protocol and ANNOUNCE method", Expect::Messages(1), "any token is a method"),
    ("SOURCE request with ICE", Expect::Error(H1Error::InvalidVersion), "only HTTP/1.x is spoken: no ICE"),
    ("OPTIONS request with RTSP", Expect::Error(H1Error::InvalidVersion), "only HTTP/1.x is spoken: no RTSP"),
    ("ANNOUNCE request with RTSP", Expect::Error(H1Error::InvalidVersion), "only HTTP/1.x is spoken: no RTSP"),
    ("No HTTP version", Expect::Error(H1Error::InvalidTarget), "HTTP/0.9 request lines are refused"),
    ("Error on `Content-Length` overflow", Expect::RefusedOnceLineEnds(H1Error::InvalidContentLength), "a field is judged when its line ends; the corpus cuts the line short"),
    ("Error on duplicate `Content-Length`", Expect::RefusedOnceLineEnds(H1Error::DuplicateContentLength), "a field is judged when its line ends; the corpus cuts the line short"),
    ("POST with `chunked` as last transfer-encoding", Expect::Error(H1Error::UnsupportedTransferCoding), "codings other than chunked are not decoded: 501 (RFC 9112 §6.1)"),
    ("POST with `chunked` as last transfer-encoding (multiple headers)", Expect::Error(H1Error::UnsupportedTransferCoding), "as above: 501"),
    ("Content-Length reset when no body is received", Expect::Messages(0), "llhttp feeds the second head after a reset; joined into one input, its bytes are the first request's 123-byte body, which is still incomplete"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Exactly this many messages and no error.
    Messages(usize),
    /// This error after llhttp's message count.
    Error(H1Error),
    /// The input as given is an incomplete head; ended with CRLF CRLF it is refused with this.
    RefusedOnceLineEnds(H1Error),
}

fn load() -> Vec<Case> {
    let text = include_str!("corpus/llhttp-requests.jsonl");
    text.lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("corpus line is JSON"))
        .filter(|case| case["type"] == "request")
        .map(|case| {
            let mut raw = base64_decode(case["raw"].as_str().expect("raw"));
            // The conversion dropped the http block's final newline. Where the block ended with
            // an empty line (the end of a head, or of a trailer section), that empty line is
            // what went missing: put it back so the bytes are the ones llhttp saw.
            if raw.ends_with(b"\r\n") {
                raw.extend_from_slice(b"\r\n");
            }
            Case {
                name: case["name"].as_str().expect("name").to_string(),
                raw,
                errcode: case["errcode"].as_u64(),
                messages: case["messages"].as_u64().expect("messages") as usize,
            }
        })
        .collect()
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for group in digits.chunks(4) {
        let mut bits = 0u32;
        for (i, d) in group.iter().enumerate() {
            bits |= u32::from(*d) << (18 - 6 * i);
        }
        for i in 0..group.len() - 1 {
            out.push((bits >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// Does rasgi's outcome agree with what llhttp reported for this case?
fn agrees(case: &Case, outcome: &Outcome) -> bool {
    let count = outcome.messages.len();
    match case.errcode {
        None => outcome.error.is_none() && count == case.messages,
        Some(DATA_AFTER_CLOSE) => outcome.error.is_none() && count == case.messages,
        Some(code) if PAUSE_CODES.contains(&code) => count >= case.messages,
        Some(_) => outcome.error.is_some() && count == case.messages,
    }
}

fn meets(expect: Expect, case: &Case, outcome: &Outcome) -> bool {
    match expect {
        Expect::Messages(n) => outcome.error.is_none() && outcome.messages.len() == n,
        Expect::Error(error) => outcome.error == Some(error),
        Expect::RefusedOnceLineEnds(error) => {
            let ended = [&case.raw[..], b"\r\n\r\n"].concat();
            *outcome == Outcome::default() && run_whole(&ended).error == Some(error)
        }
    }
}

#[test]
fn corpus_cases_match_llhttp_or_a_listed_difference() {
    let cases = load();
    assert!(cases.len() >= 130, "only {} request cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let outcome = run_whole(&case.raw);
        let difference = DIFFERENCES.iter().find(|(name, _, _)| *name == case.name);
        let ok = match difference {
            Some((_, expect, _)) => meets(*expect, case, &outcome) && !agrees(case, &outcome),
            None => agrees(case, &outcome),
        };
        if !ok {
            failures.push(format!(
                "{:?}: llhttp {:?}/{} msgs, rasgi {:?}/{} msgs",
                case.name,
                case.errcode,
                case.messages,
                outcome.error,
                outcome.messages.len()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for (name, _, _) in DIFFERENCES {
        assert!(
            cases.iter().any(|c| c.name == *name),
            "listed difference {name:?} is not in the corpus"
        );
    }
}

#[test]
fn corpus_cases_give_the_same_outcome_split_at_every_byte() {
    for case in load() {
        let whole = run_whole(&case.raw);
        for cut in 1..case.raw.len() {
            let (a, b) = case.raw.split_at(cut);
            let split = run(&[a, b], &Limits::default());
            assert_eq!(split, whole, "{:?} split at {cut}", case.name);
        }
    }
}

#[test]
fn corpus_heads_accepted_by_both_parsers_agree_with_httparse() {
    let mut compared = 0;
    for case in load() {
        let outcome = run_whole(&case.raw);
        let Some(first) = outcome.messages.first() else {
            continue;
        };
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        let Ok(httparse::Status::Complete(_)) = request.parse(&case.raw) else {
            continue;
        };
        assert_eq!(
            request.method.map(str::as_bytes),
            Some(&first.method[..]),
            "{}",
            case.name
        );
        assert_eq!(
            request.path.map(str::as_bytes),
            Some(&first.target[..]),
            "{}",
            case.name
        );
        let theirs: Vec<(Vec<u8>, Vec<u8>)> = request
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase().into_bytes(), h.value.to_vec()))
            .collect();
        assert_eq!(theirs, first.headers, "{}", case.name);
        compared += 1;
    }
    assert!(compared >= 60, "only {compared} heads compared");
}
