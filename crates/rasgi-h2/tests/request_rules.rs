//! RFC 9113 §8's request rules over decoded header lists: every malformed list is refused
//! (a stream error of type PROTOCOL_ERROR), every well-formed one read.

use bytes::Bytes;
use rasgi_h2::hpack::Field;
use rasgi_h2::request::{check_request, check_trailers, Malformed};

fn list(pairs: &[(&str, &str)]) -> Vec<Field> {
    pairs
        .iter()
        .map(|(n, v)| Field {
            name: Bytes::copy_from_slice(n.as_bytes()),
            value: Bytes::copy_from_slice(v.as_bytes()),
            never_indexed: false,
        })
        .collect()
}

const GET: [(&str, &str); 4] = [
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/"),
    (":authority", "example.com"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    GET.iter().copied().chain(extra.iter().copied()).collect()
}

#[test]
fn rfc9113_8_3_1_a_well_formed_request_is_read_with_its_pseudo_fields_taken_out() {
    let head = check_request(
        list(&with(&[
            ("accept", "*/*"),
            ("content-length", "5"),
            ("content-length", "5"),
            ("te", "trailers"),
        ])),
        false,
    )
    .unwrap();
    assert_eq!(head.method, "GET");
    assert_eq!(head.scheme.as_deref(), Some(&b"https"[..]));
    assert_eq!(head.path.as_deref(), Some(&b"/"[..]));
    assert_eq!(head.authority.as_deref(), Some(&b"example.com"[..]));
    assert_eq!(head.content_length, Some(5));
    let names: Vec<&[u8]> = head.fields.iter().map(|f| &f.name[..]).collect();
    assert_eq!(
        names,
        [&b"accept"[..], b"content-length", b"content-length", b"te"]
    );
    // Without :authority, host stands for it; with both, they must agree.
    let host_only = check_request(
        list(&[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/x"),
            ("host", "h.example"),
        ]),
        false,
    )
    .unwrap();
    assert_eq!(host_only.authority.as_deref(), Some(&b"h.example"[..]));
    assert!(check_request(list(&with(&[("host", "EXAMPLE.com")])), false).is_ok());
}

#[test]
fn rfc9113_8_1_1_every_malformed_request_is_refused() {
    let table: Vec<(&str, Vec<(&str, &str)>)> = vec![
        // §8.3.1: pseudo-fields.
        (
            "no :method",
            vec![(":scheme", "https"), (":path", "/"), (":authority", "a")],
        ),
        (
            "no :scheme",
            vec![(":method", "GET"), (":path", "/"), (":authority", "a")],
        ),
        (
            "no :path",
            vec![
                (":method", "GET"),
                (":scheme", "https"),
                (":authority", "a"),
            ],
        ),
        (
            "an empty :path",
            vec![
                (":method", "GET"),
                (":scheme", "https"),
                (":path", ""),
                (":authority", "a"),
            ],
        ),
        (
            "a pseudo-field twice",
            with(&[]).into_iter().chain([(":path", "/again")]).collect(),
        ),
        (
            "a pseudo-field after a regular one",
            vec![
                (":method", "GET"),
                ("accept", "*/*"),
                (":scheme", "https"),
                (":path", "/"),
            ],
        ),
        ("an unknown pseudo-field", with(&[(":custom", "x")])),
        (
            "a response pseudo-field",
            vec![
                (":status", "200"),
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/"),
            ],
        ),
        (
            ":authority with userinfo",
            vec![
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/"),
                (":authority", "user@example.com"),
            ],
        ),
        (
            ":authority and host differ",
            with(&[("host", "other.example")]),
        ),
        (
            "host twice",
            with(&[("host", "example.com"), ("host", "example.com")]),
        ),
        // §8.2.1: names and values.
        ("an uppercase name", with(&[("Accept", "*/*")])),
        ("a name with a space", with(&[("x y", "1")])),
        ("a name with a colon inside", with(&[("x:y", "1")])),
        ("a name with DEL", with(&[("x\u{7f}", "1")])),
        ("an empty name", with(&[("", "1")])),
        ("a value with CR", with(&[("x", "a\rb")])),
        ("a value with LF", with(&[("x", "a\nb")])),
        ("a value with NUL", with(&[("x", "a\0b")])),
        ("a value with a leading space", with(&[("x", " a")])),
        ("a value with a trailing tab", with(&[("x", "a\t")])),
        // §8.2.2: connection-specific fields.
        ("connection", with(&[("connection", "keep-alive")])),
        ("keep-alive", with(&[("keep-alive", "timeout=5")])),
        (
            "proxy-connection",
            with(&[("proxy-connection", "keep-alive")]),
        ),
        (
            "transfer-encoding",
            with(&[("transfer-encoding", "chunked")]),
        ),
        ("upgrade", with(&[("upgrade", "websocket")])),
        ("te other than trailers", with(&[("te", "gzip")])),
        // content-length.
        (
            "content-length not a number",
            with(&[("content-length", "5x")]),
        ),
        ("content-length negative", with(&[("content-length", "-1")])),
        (
            "content-length values that differ",
            with(&[("content-length", "5"), ("content-length", "6")]),
        ),
        // §8.5 CONNECT, and RFC 8441's :protocol.
        (
            "CONNECT with :path",
            vec![
                (":method", "CONNECT"),
                (":authority", "a:443"),
                (":path", "/"),
            ],
        ),
        (
            "CONNECT with :scheme",
            vec![
                (":method", "CONNECT"),
                (":authority", "a:443"),
                (":scheme", "https"),
            ],
        ),
        ("CONNECT without :authority", vec![(":method", "CONNECT")]),
        (":protocol on GET", with(&[(":protocol", "websocket")])),
    ];
    for (what, pairs) in table {
        assert!(
            matches!(check_request(list(&pairs), true), Err(Malformed(_))),
            "{what}: {pairs:?}"
        );
    }
}

#[test]
fn rfc9113_8_5_connect_and_rfc8441_4_extended_connect() {
    let connect = check_request(
        list(&[(":method", "CONNECT"), (":authority", "example.com:443")]),
        false,
    )
    .unwrap();
    assert_eq!((connect.scheme, connect.path), (None, None));
    let websocket = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/chat"),
        (":authority", "example.com"),
    ];
    let head = check_request(list(&websocket), true).unwrap();
    assert_eq!(head.protocol.as_deref(), Some(&b"websocket"[..]));
    // Without SETTINGS_ENABLE_CONNECT_PROTOCOL, :protocol is refused; without :path, too.
    assert!(check_request(list(&websocket), false).is_err());
    let no_path: Vec<_> = websocket
        .iter()
        .copied()
        .filter(|(n, _)| *n != ":path")
        .collect();
    assert!(check_request(list(&no_path), true).is_err());
}

#[test]
fn rfc9113_8_1_trailers_carry_no_pseudo_fields() {
    assert!(check_trailers(&list(&[("x-checksum", "42")])).is_ok());
    assert!(check_trailers(&list(&[(":path", "/")])).is_err());
    assert!(check_trailers(&list(&[("X-Checksum", "42")])).is_err());
    assert!(check_trailers(&list(&[("x", "a\r\n")])).is_err());
}
