//! Fields a middleware writes as lines ([`FieldLines`]) reach the sender below the stack as
//! lines, in the order the hooks ran, through every layer; a sender that takes fields only gets
//! them as fields, after the app's own.

use bytes::Bytes;
use rasgi_middleware::{Decision, ResponseHook, ResponseStart, Stack, Step};
use rasgi_protocol::{
    App, AppError, Event, FieldLine, FieldLines, Headers, HttpScope, Message, Receive, Scope,
    SendError, Sender,
};

/// Adds `x-stamp: <its name>` to every response, as a line.
struct Stamp(FieldLine);

impl Stamp {
    fn new(name: &str) -> Stamp {
        Stamp(FieldLine::new("x-stamp", name).unwrap())
    }
}

#[derive(Default)]
struct StampHook<'a>(Option<&'a FieldLine>);

impl ResponseHook for StampHook<'_> {
    fn on_start(&mut self, start: &mut ResponseStart, _: &Bytes, _: bool) -> Result<(), SendError> {
        if let Some(line) = self.0 {
            start.lines.push_line(line);
        }
        Ok(())
    }
}

impl Step for Stamp {
    type Hook<'a> = StampHook<'a>;

    fn describe(&self) -> String {
        "Stamp".into()
    }

    fn on_request(&self, _: &mut Scope) -> Decision<StampHook<'_>> {
        Decision::Continue(StampHook(Some(&self.0)))
    }
}

/// Answers `ok`, whole (`streamed: false`) or as a start and two bodies.
struct Answer {
    streamed: bool,
}

impl App for Answer {
    async fn call<R: Receive, S: Sender>(
        &self,
        _: Scope,
        _: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let headers = Headers::new().with("content-type", "text/plain");
        if self.streamed {
            send.send(Message::start(200, headers)).await?;
            send.send(Message::chunk(Bytes::from_static(b"o"))).await?;
            send.send(Message::body(Bytes::from_static(b"k"))).await?;
        } else {
            rasgi_protocol::send_response(&mut send, 200, headers, "ok").await?;
        }
        Ok(())
    }
}

struct Nothing;

impl Receive for Nothing {
    async fn receive(&mut self) -> Event {
        Event::Disconnect
    }
}

/// A sender that takes lines as the server does: it records them apart from the messages.
#[derive(Default)]
struct TakesLines {
    messages: Vec<Message>,
    lines: Vec<u8>,
}

impl Sender for TakesLines {
    async fn send(&mut self, message: Message) -> Result<(), SendError> {
        self.messages.push(message);
        Ok(())
    }

    async fn send_pair_with_lines(
        &mut self,
        first: Message,
        lines: FieldLines,
        second: Message,
    ) -> Result<(), SendError> {
        self.lines.extend_from_slice(lines.as_bytes());
        self.messages.push(first);
        self.messages.push(second);
        Ok(())
    }
}

/// A sender that takes messages only.
#[derive(Default)]
struct TakesFields(Vec<Message>);

impl Sender for TakesFields {
    async fn send(&mut self, message: Message) -> Result<(), SendError> {
        self.0.push(message);
        Ok(())
    }
}

fn stack(streamed: bool) -> impl App {
    Stack::new()
        .step(Stamp::new("a"))
        .push(Stamp::new("b"))
        .step(Stamp::new("c"))
        .app(Answer { streamed })
}

fn start_fields(messages: &[Message]) -> Vec<(String, String)> {
    let Message::Start { headers, .. } = &messages[0] else {
        panic!("no start first: {messages:?}");
    };
    headers
        .iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

fn scope() -> Scope {
    Scope::Http(HttpScope::new("GET", "/"))
}

#[tokio::test]
async fn lines_pass_every_layer_to_a_sender_that_takes_them_innermost_hook_first() {
    for streamed in [false, true] {
        let mut sender = TakesLines::default();
        stack(streamed)
            .call(scope(), Nothing, &mut sender)
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&sender.lines),
            "x-stamp: c\r\nx-stamp: b\r\nx-stamp: a\r\n",
            "streamed: {streamed}"
        );
        // The app's own fields stay fields.
        assert_eq!(
            start_fields(&sender.messages),
            [("content-type".to_string(), "text/plain".to_string())]
        );
    }
}

#[tokio::test]
async fn a_sender_that_takes_fields_only_gets_the_lines_as_fields_after_the_apps() {
    for streamed in [false, true] {
        let mut sender = TakesFields::default();
        stack(streamed)
            .call(scope(), Nothing, &mut sender)
            .await
            .unwrap();
        let expected: Vec<(String, String)> = [
            ("content-type", "text/plain"),
            ("x-stamp", "c"),
            ("x-stamp", "b"),
            ("x-stamp", "a"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        assert_eq!(start_fields(&sender.0), expected, "streamed: {streamed}");
        let bodies: Vec<&Bytes> = sender.0[1..]
            .iter()
            .filter_map(|m| match m {
                Message::Body { body, .. } => Some(body),
                _ => None,
            })
            .collect();
        let expected_bodies: &[&[u8]] = if streamed { &[b"o", b"k"] } else { &[b"ok"] };
        assert_eq!(bodies, expected_bodies);
    }
}

#[tokio::test]
async fn configured_fields_go_as_lines_unless_one_is_a_framing_field() {
    use rasgi_middleware::CustomHeaders;
    let cases = [
        (
            vec![("X-Custom", "a"), ("x-other", "b")],
            "x-custom: a\r\nx-other: b\r\n",
            vec![("content-type", "text/plain")],
        ),
        // The server reads `connection` to frame the response: such a set of fields goes with
        // the app's, as fields.
        (
            vec![("connection", "close"), ("x-other", "b")],
            "",
            vec![
                ("content-type", "text/plain"),
                ("connection", "close"),
                ("x-other", "b"),
            ],
        ),
    ];
    for (configured, lines, fields) in cases {
        let app = Stack::new()
            .step(CustomHeaders::new(configured).unwrap())
            .app(Answer { streamed: false });
        let mut sender = TakesLines::default();
        app.call(scope(), Nothing, &mut sender).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&sender.lines), lines);
        let expected: Vec<(String, String)> = fields
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(start_fields(&sender.messages), expected);
    }
}

/// Answers with a body long enough for GZip to compress.
struct Long;

impl App for Long {
    async fn call<R: Receive, S: Sender>(
        &self,
        _: Scope,
        _: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let headers = Headers::new().with("content-type", "text/plain");
        rasgi_protocol::send_response(&mut send, 200, headers, vec![b'a'; 4096]).await?;
        Ok(())
    }
}

#[tokio::test]
async fn vary_written_inside_cors_as_a_field_or_a_line_is_merged_into_one() {
    use rasgi_middleware::cors::{AllowOrigins, CorsConfig};
    use rasgi_middleware::{Cors, GZip};
    let cors = || {
        Cors::new(CorsConfig {
            allow_origins: AllowOrigins::List(vec!["https://a.example".into()]),
            ..CorsConfig::default()
        })
        .unwrap()
    };
    let request = || {
        let mut http = HttpScope::new("GET", "/");
        http.headers = Headers::new()
            .with("origin", "https://a.example")
            .with("accept-encoding", "gzip");
        Scope::Http(http)
    };
    let vary_of = |sender: TakesLines| -> Vec<String> {
        assert!(!String::from_utf8_lossy(&sender.lines).contains("vary"));
        start_fields(&sender.messages)
            .into_iter()
            .filter(|(name, _)| name == "vary")
            .map(|(_, value)| value)
            .collect()
    };
    // CORS outside GZip (the demo's order): GZip's `vary` is a field CORS merges into.
    let app = Stack::new().step(cors()).step(GZip::default()).app(Long);
    let mut sender = TakesLines::default();
    app.call(request(), Nothing, &mut sender).await.unwrap();
    assert_eq!(vary_of(sender), ["Accept-Encoding, Origin"]);
    // A `vary` another middleware wrote as a line is merged with CORS's all the same.
    let line = Stamp(FieldLine::new("vary", "Cookie").unwrap());
    let app = Stack::new().step(cors()).step(line).app(Long);
    let mut sender = TakesLines::default();
    app.call(request(), Nothing, &mut sender).await.unwrap();
    assert_eq!(vary_of(sender), ["Cookie, Origin"]);
}
