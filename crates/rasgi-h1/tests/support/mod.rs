//! A minimal sans-io message loop over rasgi-h1, as a server would run it: parse a head, decode
//! its body, repeat while the connection stays open. The tests feed it whole inputs or the same
//! input in pieces and compare what came out.

#![allow(dead_code)]

use rasgi_h1::{
    parse_request_head, BodyKind, Decoded, Decoder, H1Error, HeaderSpan, Limits, Status,
};

/// One complete request as the loop saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    pub version: &'static str,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// Everything the loop produced: the complete messages, then the error that stopped it, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    pub messages: Vec<Message>,
    pub error: Option<H1Error>,
}

enum State {
    Head,
    Body(Decoder, Message, bool),
    Closed,
}

/// Feed `pieces` one after the other, as successive reads from a socket.
pub fn run(pieces: &[&[u8]], limits: &Limits) -> Outcome {
    let mut outcome = Outcome::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut state = State::Head;
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match step(&mut buf, state, limits, &mut outcome) {
                Ok((next, progressed)) => {
                    state = next;
                    if !progressed {
                        break;
                    }
                }
                Err(error) => {
                    outcome.error = Some(error);
                    return outcome;
                }
            }
        }
    }
    outcome
}

/// Run `input` whole.
pub fn run_whole(input: &[u8]) -> Outcome {
    run(&[input], &Limits::default())
}

fn step(
    buf: &mut Vec<u8>,
    state: State,
    limits: &Limits,
    outcome: &mut Outcome,
) -> Result<(State, bool), H1Error> {
    match state {
        State::Closed => Ok((State::Closed, false)),
        State::Head => {
            let mut slots = [HeaderSpan::default(); 128];
            let head = match parse_request_head(buf, &mut slots, limits)? {
                Status::Partial => return Ok((State::Head, false)),
                Status::Complete(head) => head,
            };
            let message = Message {
                method: head.method().to_vec(),
                target: head.target.of(head.buf).to_vec(),
                version: head.version.as_str(),
                headers: head
                    .header_pairs()
                    .map(|(n, v)| (n.to_vec(), v.to_vec()))
                    .collect(),
                body: Vec::new(),
            };
            let decoder = match head.body {
                BodyKind::Empty => Decoder::length(0),
                BodyKind::Length(n) => Decoder::length(n),
                BodyKind::Chunked => Decoder::chunked(limits),
            };
            let keep_alive = head.persistent;
            let used = head.len;
            buf.drain(..used);
            Ok((State::Body(decoder, message, keep_alive), true))
        }
        State::Body(mut decoder, mut message, keep_alive) => {
            let (used, decoded) = decoder.decode(buf)?;
            let next = match decoded {
                Decoded::Data(data) => {
                    message.body.extend_from_slice(data);
                    State::Body(decoder, message, keep_alive)
                }
                Decoded::NeedMore => {
                    buf.drain(..used);
                    return Ok((State::Body(decoder, message, keep_alive), false));
                }
                Decoded::End => {
                    outcome.messages.push(message);
                    if keep_alive {
                        State::Head
                    } else {
                        State::Closed
                    }
                }
            };
            buf.drain(..used);
            Ok((next, true))
        }
    }
}
