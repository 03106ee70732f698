//! The bench inputs and the two parsers' loops over them, shared by `parse` (criterion) and
//! `paired` (alternating rounds, ratios).

use std::hint::black_box;

use rasgi_h1::{parse_request_head, Decoded, Decoder, HeaderSpan, Limits, Status};

pub const SMALL: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: localhost:8000\r\nAccept: */*\r\n\r\n";

pub const BROWSER: &[u8] = b"GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n\
Host: www.kittyhell.com\r\n\
User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_3; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n\
Accept-Encoding: gzip,deflate\r\n\
Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n\
Keep-Alive: 115\r\n\
Connection: keep-alive\r\n\
Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; __utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; __utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral\r\n\
Referer: http://www.kittyhell.com/\r\n\r\n";

pub const CHUNKED: &[u8] =
    b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n\
Transfer-Encoding: chunked\r\n\r\n\
40\r\n0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n\
40\r\n0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n\
40\r\n0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n\
40\r\n0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n\
0\r\n\r\n";

pub fn pipelined() -> Vec<u8> {
    SMALL.repeat(16)
}

/// Parse every head in `buf` with rasgi-h1; returns the number of heads.
pub fn rasgi_heads(buf: &mut [u8]) -> usize {
    let limits = Limits::default();
    let mut slots = [HeaderSpan::default(); 32];
    let mut at = 0;
    let mut count = 0;
    while at < buf.len() {
        match parse_request_head(&mut buf[at..], &mut slots, &limits) {
            Ok(Status::Complete(head)) => {
                black_box(&head);
                at += head.len;
                count += 1;
            }
            _ => panic!("bench input must parse"),
        }
    }
    count
}

pub fn httparse_heads(buf: &[u8]) -> usize {
    let mut at = 0;
    let mut count = 0;
    while at < buf.len() {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buf[at..]) {
            Ok(httparse::Status::Complete(len)) => {
                black_box(&request);
                at += len;
                count += 1;
            }
            _ => panic!("bench input must parse"),
        }
    }
    count
}

pub fn rasgi_chunked(buf: &mut [u8]) -> usize {
    let limits = Limits::default();
    let mut slots = [HeaderSpan::default(); 32];
    let Ok(Status::Complete(head)) = parse_request_head(buf, &mut slots, &limits) else {
        panic!("bench input must parse")
    };
    let mut at = head.len;
    let mut decoder = Decoder::chunked(&limits);
    let mut body = 0;
    loop {
        match decoder.decode(&buf[at..]).expect("valid chunked body") {
            (used, Decoded::Data(data)) => {
                body += black_box(data).len();
                at += used;
            }
            (_, Decoded::End) => return body,
            (_, Decoded::NeedMore) => panic!("bench input is complete"),
        }
    }
}

pub fn httparse_chunked(buf: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(mut at)) = request.parse(buf) else {
        panic!("bench input must parse")
    };
    let mut body = 0;
    loop {
        let Ok(httparse::Status::Complete((used, size))) = httparse::parse_chunk_size(&buf[at..])
        else {
            panic!("valid chunk size")
        };
        at += used;
        if size == 0 {
            return body;
        }
        let size = size as usize;
        body += black_box(&buf[at..at + size]).len();
        at += size + 2;
    }
}

/// The head kinds, by name.
pub fn head_kinds() -> [(&'static str, Vec<u8>); 3] {
    [
        ("small", SMALL.to_vec()),
        ("browser", BROWSER.to_vec()),
        ("pipelined16", pipelined()),
    ]
}
