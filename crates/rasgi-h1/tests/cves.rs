//! One regression test per parser CVE worth guarding, named after it. Each feeds the attack
//! through the same message loop a server runs, and checks that it is refused with the right
//! status and that no second request is smuggled out of the first.

mod support;

use rasgi_h1::{H1Error, Limits};
use support::{run, run_whole};

#[test]
fn cve_2021_32714_chunk_size_overflow_is_refused() {
    let input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                  f0000000000000003\r\nabc\r\n0\r\n\r\n";
    let outcome = run_whole(input);
    assert_eq!(outcome.error, Some(H1Error::ChunkSizeOverflow));
    assert!(outcome.messages.is_empty());
    assert_eq!(H1Error::ChunkSizeOverflow.status(), 400);
}

#[test]
fn cve_2021_32715_content_length_with_a_plus_sign_is_refused() {
    let input = b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabcGET /smuggled HTTP/1.1\r\n\r\n";
    let outcome = run_whole(input);
    assert_eq!(outcome.error, Some(H1Error::InvalidContentLength));
    assert!(outcome.messages.is_empty());
}

#[test]
fn cve_2021_21299_repeated_transfer_encoding_is_refused() {
    for input in [
        &b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
    ] {
        let outcome = run_whole(input);
        assert_eq!(outcome.error, Some(H1Error::ChunkedNotFinal), "{:?}", String::from_utf8_lossy(input));
        assert!(outcome.messages.is_empty());
    }
}

#[test]
fn cve_2025_43859_bytes_after_chunk_data_are_refused() {
    // The chunk says 3 bytes; 5 follow before the CRLF. A lenient parser skips "de" and may
    // take what follows as the next request.
    let input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcde\r\n0\r\n\r\n";
    let outcome = run_whole(input);
    assert_eq!(outcome.error, Some(H1Error::InvalidChunkEnd));
    assert!(outcome.messages.is_empty());
}

#[test]
fn cve_2021_22959_space_before_the_colon_is_refused() {
    let input = b"POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello";
    let outcome = run_whole(input);
    assert_eq!(outcome.error, Some(H1Error::WhitespaceBeforeColon));
    assert_eq!(H1Error::WhitespaceBeforeColon.status(), 400);
}

#[test]
fn cve_2025_23167_cr_lf_cr_x_does_not_end_the_head() {
    // llhttp < 9.2.0 ended the head at `\r\n\rX`, so `X...` became the body or a new request.
    let input = b"GET / HTTP/1.1\r\nHost: a\r\n\rXGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let outcome = run_whole(input);
    assert_eq!(outcome.error, Some(H1Error::BareCr));
    assert!(outcome.messages.is_empty());
}

#[test]
fn cve_2024_22019_chunk_extension_flood_is_capped() {
    let limits = Limits::default();
    let mut input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    // Tiny chunks with long extensions: many bytes read, hardly any body.
    while input.len() < 4 * limits.max_chunk_extension_bytes {
        input.extend_from_slice(b"1;");
        input.extend(std::iter::repeat_n(b'x', 500));
        input.extend_from_slice(b"\r\na\r\n");
    }
    // Fed in small reads, the flood is cut off once the cap is passed, not at the end.
    let pieces: Vec<&[u8]> = input.chunks(1024).collect();
    let outcome = run(&pieces, &limits);
    assert_eq!(outcome.error, Some(H1Error::ChunkExtensionsTooLarge));
    assert_eq!(H1Error::ChunkExtensionsTooLarge.status(), 413);
}

#[test]
fn transfer_encoding_with_content_length_is_refused_not_guessed() {
    let input =
        b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(
        run_whole(input).error,
        Some(H1Error::TransferEncodingWithContentLength)
    );
}

#[test]
fn transfer_encoding_on_http_1_0_is_refused() {
    let input = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(
        run_whole(input).error,
        Some(H1Error::TransferEncodingOnHttp10)
    );
}

#[test]
fn unknown_transfer_coding_is_501() {
    let input = b"POST / HTTP/1.1\r\nTransfer-Encoding: br, chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(
        run_whole(input).error,
        Some(H1Error::UnsupportedTransferCoding)
    );
    assert_eq!(H1Error::UnsupportedTransferCoding.status(), 501);
}

#[test]
fn duplicate_content_length_is_refused_even_when_equal() {
    let input = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na";
    assert_eq!(
        run_whole(input).error,
        Some(H1Error::DuplicateContentLength)
    );
    let input = b"POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\na";
    assert_eq!(
        run_whole(input).error,
        Some(H1Error::DuplicateContentLength)
    );
}

#[test]
fn other_versions_are_505_and_malformed_versions_400() {
    let outcome = run_whole(b"GET / HTTP/2.0\r\n\r\n");
    assert_eq!(outcome.error, Some(H1Error::UnsupportedVersion));
    assert_eq!(H1Error::UnsupportedVersion.status(), 505);
    assert_eq!(
        run_whole(b"GET / HTTP/1.10\r\n\r\n").error,
        Some(H1Error::InvalidVersion)
    );
    assert_eq!(
        run_whole(b"GET / http/1.1\r\n\r\n").error,
        Some(H1Error::InvalidVersion)
    );
}

#[test]
fn control_characters_in_values_and_targets_are_refused() {
    assert_eq!(
        run_whole(b"GET / HTTP/1.1\r\nA: b\0c\r\n\r\n").error,
        Some(H1Error::InvalidHeaderValue)
    );
    assert_eq!(
        run_whole(b"GET /a\x7fb HTTP/1.1\r\n\r\n").error,
        Some(H1Error::InvalidTarget)
    );
    assert_eq!(
        run_whole(b"GET /a\tb HTTP/1.1\r\n\r\n").error,
        Some(H1Error::InvalidTarget)
    );
    assert_eq!(
        run_whole(b"G@T / HTTP/1.1\r\n\r\n").error,
        Some(H1Error::InvalidMethod)
    );
}

#[test]
fn pipelined_requests_come_out_in_order_with_their_bodies() {
    let input = b"POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /b HTTP/1.1\r\n\r\n\
                  POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nyo\r\n0\r\n\r\n";
    let outcome = run_whole(input);
    assert_eq!(outcome.error, None);
    let targets: Vec<_> = outcome.messages.iter().map(|m| m.target.clone()).collect();
    assert_eq!(
        targets,
        vec![b"/a".to_vec(), b"/b".to_vec(), b"/c".to_vec()]
    );
    assert_eq!(outcome.messages[0].body, b"hi");
    assert_eq!(outcome.messages[2].body, b"yo");
}
