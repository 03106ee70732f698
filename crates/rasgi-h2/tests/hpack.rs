//! HPACK (RFC 7541) against the RFC's own examples byte for byte, the header stories of six
//! encoders (`tests/corpus/hpack`, MIT, see its README), and the rules a decoder must refuse.

use std::io::Read;

use rasgi_h2::hpack::{DecodeError, Decoder, Encoder, Field};

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn pairs(fields: &[Field]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|f| {
            (
                String::from_utf8_lossy(&f.name).into_owned(),
                String::from_utf8_lossy(&f.value).into_owned(),
            )
        })
        .collect()
}

fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn encode(encoder: &mut Encoder, list: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    encoder.encode(
        list.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
        &mut out,
    );
    out
}

#[test]
fn rfc7541_c_2_literal_and_indexed_fields() {
    // C.2.1: with indexing, a new name; C.2.2: without indexing, an indexed name; C.2.3: never
    // indexed; C.2.4: indexed.
    let cases: [(&str, (&str, &str), usize, bool); 4] = [
        (
            "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            ("custom-key", "custom-header"),
            55,
            false,
        ),
        (
            "040c 2f73 616d 706c 652f 7061 7468",
            (":path", "/sample/path"),
            0,
            false,
        ),
        (
            "1008 7061 7373 776f 7264 0673 6563 7265 74",
            ("password", "secret"),
            0,
            true,
        ),
        ("82", (":method", "GET"), 0, false),
    ];
    for (wire, field, table_size, never) in cases {
        let mut decoder = Decoder::default();
        let fields = decoder.decode(&hex(wire)).unwrap();
        assert_eq!(pairs(&fields), owned(&[field]), "{wire}");
        assert_eq!(fields[0].never_indexed, never, "{wire}");
        assert_eq!(decoder.table_size(), table_size, "{wire}");
    }
}

/// One RFC example: the wire, the header list, and the table after it (newest first, sizes).
struct Example {
    id: &'static str,
    wire: &'static str,
    fields: &'static [(&'static str, &'static str)],
    table: &'static [(&'static str, &'static str)],
    table_size: usize,
}

const REQUEST_1: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
];
const REQUEST_2: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
    ("cache-control", "no-cache"),
];
const REQUEST_3: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/index.html"),
    (":authority", "www.example.com"),
    ("custom-key", "custom-value"),
];
const TABLE_R1: &[(&str, &str)] = &[(":authority", "www.example.com")];
const TABLE_R2: &[(&str, &str)] = &[
    ("cache-control", "no-cache"),
    (":authority", "www.example.com"),
];
const TABLE_R3: &[(&str, &str)] = &[
    ("custom-key", "custom-value"),
    ("cache-control", "no-cache"),
    (":authority", "www.example.com"),
];

const RESPONSE_1: &[(&str, &str)] = &[
    (":status", "302"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("location", "https://www.example.com"),
];
const RESPONSE_2: &[(&str, &str)] = &[
    (":status", "307"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("location", "https://www.example.com"),
];
const RESPONSE_3: &[(&str, &str)] = &[
    (":status", "200"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
    ("location", "https://www.example.com"),
    ("content-encoding", "gzip"),
    (
        "set-cookie",
        "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    ),
];
const TABLE_S1: &[(&str, &str)] = &[
    ("location", "https://www.example.com"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("cache-control", "private"),
    (":status", "302"),
];
const TABLE_S2: &[(&str, &str)] = &[
    (":status", "307"),
    ("location", "https://www.example.com"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("cache-control", "private"),
];
const TABLE_S3: &[(&str, &str)] = &[
    (
        "set-cookie",
        "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    ),
    ("content-encoding", "gzip"),
    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
];

fn requests(huffman: bool) -> [Example; 3] {
    let wires = if huffman {
        [
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ]
    } else {
        [
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        ]
    };
    let id = if huffman { "C.4" } else { "C.3" };
    [
        Example {
            id,
            wire: wires[0],
            fields: REQUEST_1,
            table: TABLE_R1,
            table_size: 57,
        },
        Example {
            id,
            wire: wires[1],
            fields: REQUEST_2,
            table: TABLE_R2,
            table_size: 110,
        },
        Example {
            id,
            wire: wires[2],
            fields: REQUEST_3,
            table: TABLE_R3,
            table_size: 164,
        },
    ]
}

fn responses(huffman: bool) -> [Example; 3] {
    let wires = if huffman {
        [
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            "4883 640e ffc1 c0bf",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ]
    } else {
        [
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "4803 3330 37c1 c0bf",
            "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
        ]
    };
    let id = if huffman { "C.6" } else { "C.5" };
    [
        Example {
            id,
            wire: wires[0],
            fields: RESPONSE_1,
            table: TABLE_S1,
            table_size: 222,
        },
        Example {
            id,
            wire: wires[1],
            fields: RESPONSE_2,
            table: TABLE_S2,
            table_size: 222,
        },
        Example {
            id,
            wire: wires[2],
            fields: RESPONSE_3,
            table: TABLE_S3,
            table_size: 215,
        },
    ]
}

/// Decode a sequence on one decoder and encode it on one encoder: both byte for byte.
fn check_sequence(examples: &[Example], table_size: usize, huffman: bool) {
    let mut decoder = Decoder::new(table_size);
    let mut encoder = Encoder::new(table_size);
    if !huffman {
        encoder = encoder.without_huffman();
    }
    for (n, example) in examples.iter().enumerate() {
        let wire = hex(example.wire);
        let fields = decoder.decode(&wire).unwrap();
        assert_eq!(
            pairs(&fields),
            owned(example.fields),
            "{}.{}",
            example.id,
            n + 1
        );
        let table: Vec<(String, String)> = decoder
            .table_entries()
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        assert_eq!(
            table,
            owned(example.table),
            "{}.{} table",
            example.id,
            n + 1
        );
        assert_eq!(
            decoder.table_size(),
            example.table_size,
            "{}.{} size",
            example.id,
            n + 1
        );
        assert_eq!(
            encode(&mut encoder, example.fields),
            wire,
            "{}.{} encoded",
            example.id,
            n + 1
        );
        assert_eq!(encoder.table_size(), example.table_size);
    }
}

#[test]
fn rfc7541_c_3_requests_without_huffman() {
    check_sequence(&requests(false), 4096, false);
}

#[test]
fn rfc7541_c_4_requests_with_huffman() {
    check_sequence(&requests(true), 4096, true);
}

#[test]
fn rfc7541_c_5_responses_without_huffman_evicting() {
    check_sequence(&responses(false), 256, false);
}

#[test]
fn rfc7541_c_6_responses_with_huffman_evicting() {
    check_sequence(&responses(true), 256, true);
}

/// One story of the corpus: its cases, each with a table size, the wire and the fields.
struct Case {
    table_size: Option<usize>,
    wire: Vec<u8>,
    fields: Vec<(String, String)>,
}

fn stories(file: &str) -> Vec<(String, Vec<Case>)> {
    let path = format!("{}/tests/corpus/hpack/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|line| {
            let story: serde_json::Value = serde_json::from_str(line).unwrap();
            let name = story["story"].as_str().unwrap_or("?").to_string();
            let cases = story["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|case| Case {
                    table_size: case["header_table_size"].as_u64().map(|s| s as usize),
                    wire: case["wire"].as_str().map(hex).unwrap_or_default(),
                    fields: case["headers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .flat_map(|h| h.as_object().unwrap().iter())
                        .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_string()))
                        .collect(),
                })
                .collect();
            (name, cases)
        })
        .collect()
}

#[test]
fn rfc7541_the_stories_of_five_encoders_decode_whole() {
    let mut blocks = 0;
    for file in [
        "nghttp2.jsonl.gz",
        "nghttp2-change-table-size.jsonl.gz",
        "go-hpack.jsonl.gz",
        "python-hpack.jsonl.gz",
        "swift-nio-hpack-huffman.jsonl.gz",
        "haskell-http2-linear-huffman.jsonl.gz",
    ] {
        for (story, cases) in stories(file) {
            let mut decoder = Decoder::default();
            for (seqno, case) in cases.iter().enumerate() {
                if let Some(size) = case.table_size {
                    decoder.set_table_size_limit(size);
                }
                let fields = decoder
                    .decode(&case.wire)
                    .unwrap_or_else(|e| panic!("{file} {story} case {seqno}: {e}"));
                assert_eq!(pairs(&fields), case.fields, "{file} {story} case {seqno}");
                blocks += 1;
            }
        }
    }
    assert_eq!(blocks, 20_187, "every block of the six files");
}

#[test]
fn rfc7541_rasgis_encoder_decodes_back_with_and_without_huffman_skipping_and_table_changes() {
    let stories = stories("raw-data.jsonl.gz");
    assert!(!stories.is_empty());
    for (huffman, skip_one_off) in [(true, false), (false, false), (true, true)] {
        for (story, cases) in &stories {
            let mut encoder = Encoder::default();
            let mut decoder = Decoder::default();
            if !huffman {
                encoder = encoder.without_huffman();
            }
            if skip_one_off {
                encoder = encoder.skip_one_off_values();
            }
            let mut total = 0;
            for (seqno, case) in cases.iter().enumerate() {
                // Every tenth block, the table shrinks and grows back, as SETTINGS would.
                if seqno % 10 == 5 {
                    let size = if seqno % 20 == 5 { 512 } else { 4096 };
                    decoder.set_table_size_limit(size);
                    encoder.set_table_size(size);
                }
                let list: Vec<(&str, &str)> = case
                    .fields
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let wire = encode(&mut encoder, &list);
                total += wire.len();
                let fields = decoder
                    .decode(&wire)
                    .unwrap_or_else(|e| panic!("{story} {seqno}: {e}"));
                assert_eq!(pairs(&fields), case.fields, "{story} case {seqno}");
                assert_eq!(
                    decoder.table_size(),
                    encoder.table_size(),
                    "{story} case {seqno}"
                );
            }
            assert!(total > 0);
        }
    }
}

#[test]
fn rfc7541_2_3_3_indices_outside_both_tables_are_refused() {
    let mut decoder = Decoder::default();
    assert_eq!(decoder.decode(&[0x80]), Err(DecodeError::BadIndex(0)));
    assert_eq!(decoder.decode(&[0xbe]), Err(DecodeError::BadIndex(62)));
    // A literal whose name index is past the tables.
    assert_eq!(
        decoder.decode(&hex("7f 00 01 61")),
        Err(DecodeError::BadIndex(63))
    );
}

#[test]
fn rfc7541_4_2_and_6_3_table_size_updates_are_checked() {
    // Past the acknowledged limit.
    let mut decoder = Decoder::new(4096);
    assert_eq!(
        decoder.decode(&hex("3fe2 1f")),
        Err(DecodeError::SizeUpdateTooLarge {
            size: 4097,
            limit: 4096
        })
    );
    // After a field.
    let mut decoder = Decoder::default();
    assert_eq!(
        decoder.decode(&hex("82 20")),
        Err(DecodeError::SizeUpdateNotFirst)
    );
    // A smaller limit acknowledged: the next block must start with an update within it.
    let mut decoder = Decoder::default();
    decoder.decode(&hex("4003 6162 6301 78")).unwrap();
    decoder.set_table_size_limit(0);
    assert_eq!(decoder.decode(&[0x82]), Err(DecodeError::SizeUpdateMissing));
    let mut decoder = Decoder::default();
    decoder.decode(&hex("4003 6162 6301 78")).unwrap();
    decoder.set_table_size_limit(0);
    assert_eq!(
        pairs(&decoder.decode(&hex("20 82")).unwrap()),
        owned(&[(":method", "GET")])
    );
    assert_eq!(decoder.table_size(), 0);
    // Two updates at the start (down, then back up within the limit) are allowed.
    let mut decoder = Decoder::default();
    assert!(decoder.decode(&hex("20 3fe1 0f 82")).is_ok());
}

#[test]
fn rfc7541_4_4_an_entry_larger_than_the_table_empties_it() {
    let mut decoder = Decoder::new(64);
    decoder.decode(&hex("4001 6101 62")).unwrap(); // a: b, 34 octets
    assert_eq!(decoder.table_size(), 34);
    // A 40-octet value: 32 + 1 + 40 > 64.
    let mut wire = hex("4001 6128");
    wire.extend_from_slice(&[b'x'; 40]);
    decoder.decode(&wire).unwrap();
    assert_eq!(decoder.table_size(), 0);
    assert!(decoder.table_entries().is_empty());
}

#[test]
fn rfc7541_5_cut_strings_and_bad_huffman_are_refused() {
    let mut decoder = Decoder::default();
    // A literal whose value claims 5 octets and has 2.
    assert_eq!(
        decoder.decode(&hex("4001 6105 6162")),
        Err(DecodeError::Truncated)
    );
    // A Huffman value of all ones: EOS.
    assert_eq!(
        decoder.decode(&hex("4001 6184 ffff ffff")),
        Err(DecodeError::HuffmanEos)
    );
    // A Huffman value whose padding is zeros.
    assert_eq!(
        decoder.decode(&hex("4001 6181 00")),
        Err(DecodeError::HuffmanPadding)
    );
}

#[test]
fn rfc7541_4_1_the_header_list_is_counted_and_kept_only_within_its_limit() {
    // 32 + 1 + 1 = 34 octets per field: two fit in 70, three do not.
    let mut decoder = Decoder::default().with_max_header_list_size(70);
    let two = hex("4001 6101 62 be");
    assert_eq!(decoder.decode(&two).unwrap().len(), 2);
    let three = hex("4001 6301 64 be be");
    assert_eq!(
        decoder.decode(&three),
        Err(DecodeError::HeaderListTooLarge { limit: 70 })
    );
    // The over-long block was read to its end: its entry is in the table, in step with the
    // peer's, and the next block decodes.
    assert_eq!(decoder.table_entries()[0].0, "c");
    assert_eq!(
        pairs(&decoder.decode(&[0xbe]).unwrap()),
        owned(&[("c", "d")])
    );
}

#[test]
fn rfc7541_7_1_one_off_values_stay_out_of_the_table_and_repeated_fields_stay_in() {
    let mut encoder = Encoder::default().skip_one_off_values();
    let mut decoder = Decoder::default();
    let mut last = Vec::new();
    for n in 0..1_000 {
        // A response as the demo's stack sends it: fields that repeat, a request id and a
        // timing made for it alone, and a date that changes every 100 responses.
        let id = format!("{n:08x}-0000-4000-8000-{n:012x}");
        let timing = format!("0.{:06}", n * 7919 % 1_000_000);
        let date = format!("Mon, 07 Dec 2026 15:{:02}:00 GMT", n / 100);
        let list = [
            (":status", "200"),
            ("server", "rasgi"),
            ("date", date.as_str()),
            ("content-type", "text/plain"),
            ("content-length", "13"),
            ("x-request-id", id.as_str()),
            ("x-process-time", timing.as_str()),
            ("vary", "Origin"),
        ];
        let wire = encode(&mut encoder, &list);
        let fields = decoder.decode(&wire).unwrap();
        assert_eq!(pairs(&fields), owned(&list), "response {n}");
        assert_eq!(decoder.table_size(), encoder.table_size());
        last = wire;
    }
    // The last block: five fields of one octet each (their indexes), the request id and the
    // timing as literals without indexing, their names by index (§6.2.2), and `vary` by its
    // index. The table holds the repeated fields, the first request id and timing, and the
    // dates.
    assert!(last[..5].iter().all(|&b| b & 0x80 != 0), "{last:02x?}");
    assert_eq!(last[5] & 0xf0, 0x00, "{last:02x?}");
    assert!(last[last.len() - 1] & 0x80 != 0, "{last:02x?}");
    let entries = decoder.table_entries();
    assert_eq!(
        entries
            .iter()
            .filter(|(name, _)| &name[..] == b"x-request-id")
            .count(),
        1
    );
    assert!(entries.iter().any(
        |(name, value)| &name[..] == b"date" && &value[..] == b"Mon, 07 Dec 2026 15:09:00 GMT"
    ));
}
