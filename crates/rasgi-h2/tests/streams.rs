//! RFC 9113 §5.1: every stream state against every event, as one table. Each cell is what the
//! transition does: the state it moves to, `ignored`, or the error with its scope.

use rasgi_h2::frame::ErrorCode;
use rasgi_h2::stream::{transition, ClosedBy, Event, Outcome, State};

/// The events, in the table's column order.
const EVENTS: [Event; 10] = [
    Event::RecvHeaders { end_stream: false },
    Event::RecvHeaders { end_stream: true },
    Event::RecvData { end_stream: false },
    Event::RecvData { end_stream: true },
    Event::RecvReset,
    Event::RecvWindowUpdate,
    Event::RecvPriority,
    Event::Send { end_stream: false },
    Event::Send { end_stream: true },
    Event::SendReset,
];

fn cell(state: State, event: Event) -> String {
    match transition(state, event, 1) {
        Ok(Outcome::Ignored) => "ignored".into(),
        Ok(Outcome::Now(next)) => name(next).into(),
        Err(error) => {
            let scope = if error.stream.is_some() {
                "stream"
            } else {
                "conn"
            };
            let code = match error.code {
                ErrorCode::ProtocolError => "PROTOCOL",
                ErrorCode::StreamClosed => "STREAM_CLOSED",
                ErrorCode::InternalError => "INTERNAL",
                other => panic!("an unexpected code {other:?}"),
            };
            format!("{scope}:{code}")
        }
    }
}

fn name(state: State) -> &'static str {
    match state {
        State::Idle => "idle",
        State::Open => "open",
        State::HalfClosedRemote => "hc-remote",
        State::HalfClosedLocal => "hc-local",
        State::Closed(ClosedBy::EndStream) => "closed",
        State::Closed(ClosedBy::PeerReset) => "closed:peer-reset",
        State::Closed(ClosedBy::OurReset) => "closed:our-reset",
    }
}

#[test]
fn rfc9113_5_1_every_state_against_every_event() {
    // Columns: recv HEADERS, recv HEADERS+END_STREAM, recv DATA, recv DATA+END_STREAM,
    // recv RST_STREAM, recv WINDOW_UPDATE, recv PRIORITY, send, send+END_STREAM, send RST_STREAM.
    let table: [(State, [&str; 10]); 7] = [
        (
            State::Idle,
            [
                "open",
                "hc-remote",
                "conn:PROTOCOL",
                "conn:PROTOCOL",
                "conn:PROTOCOL",
                "conn:PROTOCOL",
                "ignored",
                "conn:INTERNAL",
                "conn:INTERNAL",
                "conn:INTERNAL",
            ],
        ),
        (
            State::Open,
            [
                "open",
                "hc-remote",
                "open",
                "hc-remote",
                "closed:peer-reset",
                "ignored",
                "ignored",
                "open",
                "hc-local",
                "closed:our-reset",
            ],
        ),
        (
            State::HalfClosedRemote,
            [
                "stream:STREAM_CLOSED",
                "stream:STREAM_CLOSED",
                "stream:STREAM_CLOSED",
                "stream:STREAM_CLOSED",
                "closed:peer-reset",
                "ignored",
                "ignored",
                "hc-remote",
                "closed",
                "closed:our-reset",
            ],
        ),
        (
            State::HalfClosedLocal,
            [
                "hc-local",
                "closed",
                "hc-local",
                "closed",
                "closed:peer-reset",
                "ignored",
                "ignored",
                "conn:INTERNAL",
                "conn:INTERNAL",
                "closed:our-reset",
            ],
        ),
        (
            State::Closed(ClosedBy::EndStream),
            [
                "conn:STREAM_CLOSED",
                "conn:STREAM_CLOSED",
                "conn:STREAM_CLOSED",
                "conn:STREAM_CLOSED",
                "ignored",
                "ignored",
                "ignored",
                "conn:INTERNAL",
                "conn:INTERNAL",
                "conn:INTERNAL",
            ],
        ),
        (
            State::Closed(ClosedBy::PeerReset),
            [
                "conn:STREAM_CLOSED",
                "conn:STREAM_CLOSED",
                "conn:STREAM_CLOSED",
                "conn:STREAM_CLOSED",
                "ignored",
                "ignored",
                "ignored",
                "conn:INTERNAL",
                "conn:INTERNAL",
                "conn:INTERNAL",
            ],
        ),
        (
            State::Closed(ClosedBy::OurReset),
            [
                "ignored",
                "ignored",
                "ignored",
                "ignored",
                "ignored",
                "ignored",
                "ignored",
                "conn:INTERNAL",
                "conn:INTERNAL",
                "conn:INTERNAL",
            ],
        ),
    ];
    let mut wrong = Vec::new();
    for (state, row) in table {
        for (event, want) in EVENTS.iter().zip(row) {
            let got = cell(state, *event);
            if got != want {
                wrong.push(format!("{} + {event:?}: {got}, want {want}", name(state)));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn rfc9113_5_1_a_request_and_its_response_walk_the_states_to_closed() {
    let walk = [
        (Event::RecvHeaders { end_stream: false }, "open"),
        (Event::RecvData { end_stream: false }, "open"),
        (Event::RecvData { end_stream: true }, "hc-remote"),
        (Event::Send { end_stream: false }, "hc-remote"),
        (Event::Send { end_stream: true }, "closed"),
    ];
    let mut state = State::Idle;
    for (event, want) in walk {
        state = match transition(state, event, 1).unwrap() {
            Outcome::Now(next) => next,
            Outcome::Ignored => state,
        };
        assert_eq!(name(state), want, "{event:?}");
    }
}
