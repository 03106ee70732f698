//! The middleware, each on its own and in the full stack: behaviour through the in-memory
//! TestClient, and the no-buffering proofs over real sockets.

mod support;

use std::sync::{Arc, Mutex};

use rasgi::middleware::cors::{AllowOrigins, CorsConfig};
use rasgi::middleware::{
    from_fn, ConfigError, Cors, CustomHeaders, ExceptionHandlers, GZip, HttpsRedirect, Inner,
    Middleware, ProxyHeaders, RequestId, RequestIdValue, Response, ServerErrors, Stack, Timing,
    TrustedHost,
};
use rasgi::protocol::{send_response, App, AppError, Headers, Message, Receive, Scope, Sender};
use rasgi::testing::TestClient;

/// Answers every request with what it saw.
#[derive(Clone, Default)]
struct Inspect;

impl App for Inspect {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let Scope::Http(scope) = scope else {
            return Ok(());
        };
        let id = scope
            .extensions
            .get::<RequestIdValue>()
            .map(|v| v.as_str().to_string())
            .unwrap_or_default();
        let text = format!(
            "{} {} client={} scheme={} id={id}",
            scope.method,
            scope.path,
            scope.client.map(|c| c.to_string()).unwrap_or_default(),
            scope.scheme.as_str()
        );
        match scope.path.as_str() {
            "/fail" => Err("handler failed".into()),
            "/fail-after-start" => {
                send.send(Message::start(200, Headers::new())).await?;
                send.send(Message::chunk("partial")).await?;
                Err("handler failed mid-body".into())
            }
            "/limited" => Err(Box::new(RateLimitExceeded { retry_after: 30 })),
            "/varies" => {
                let headers = Headers::new()
                    .with("vary", "Accept-Language")
                    .with("vary", "Cookie");
                send_response(&mut send, 200, headers, "varies").await?;
                Ok(())
            }
            "/big" => {
                send_response(
                    &mut send,
                    200,
                    Headers::new().with("content-type", "text/plain"),
                    "x".repeat(5000),
                )
                .await?;
                Ok(())
            }
            _ => {
                send_response(
                    &mut send,
                    200,
                    Headers::new().with("content-type", "text/plain"),
                    text,
                )
                .await?;
                Ok(())
            }
        }
    }
}

/// A typed app error, as in the FastAPI tutorial: answered 429 with `Retry-After` by an exception handler.
#[derive(Debug)]
struct RateLimitExceeded {
    retry_after: u32,
}

impl std::fmt::Display for RateLimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rate limit exceeded, retry after {}s", self.retry_after)
    }
}

impl std::error::Error for RateLimitExceeded {}

fn demo_cors() -> Cors {
    Cors::new(CorsConfig {
        allow_origins: AllowOrigins::List(vec!["http://localhost:3000".into()]),
        allow_methods: vec!["GET".into(), "POST".into()],
        allow_headers: vec!["content-type".into(), "x-request-id".into()],
        expose_headers: vec!["x-request-id".into(), "x-process-time".into()],
        ..CorsConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn timing_adds_process_time_in_seconds() {
    let client = TestClient::new(Stack::new().push(Timing::new()).app(Inspect));
    let response = client.get("/").send().await;
    let seconds: f64 = response.header("x-process-time").unwrap().parse().unwrap();
    assert!((0.0..10.0).contains(&seconds));
}

#[tokio::test]
async fn request_id_is_kept_when_well_formed_and_generated_otherwise() {
    let client = TestClient::new(Stack::new().push(RequestId::new()).app(Inspect));
    let kept = client
        .get("/")
        .header("x-request-id", "abc-123")
        .send()
        .await;
    assert_eq!(kept.header("x-request-id"), Some("abc-123"));
    assert!(
        kept.text().ends_with("id=abc-123"),
        "the handler sees the id: {}",
        kept.text()
    );

    let replaced = client
        .get("/")
        .header("x-request-id", "bad id <script>")
        .send()
        .await;
    let id = replaced.header("x-request-id").unwrap().to_string();
    assert_eq!(id.len(), 32);
    assert!(replaced.text().ends_with(&format!("id={id}")));
    let other = client.get("/").send().await;
    assert_ne!(other.header("x-request-id"), Some(id.as_str()));
}

#[tokio::test]
async fn custom_headers_are_added_and_checked_at_construction() {
    let headers = CustomHeaders::new([("X-Custom-Header", "Custom Header Value")]).unwrap();
    let client = TestClient::new(Stack::new().push(headers).app(Inspect));
    let response = client.get("/").send().await;
    assert_eq!(
        response.header("x-custom-header"),
        Some("Custom Header Value")
    );
    assert!(matches!(
        CustomHeaders::new([("x-bad", "a\r\nb")]),
        Err(ConfigError::InvalidHeader(_))
    ));
}

#[tokio::test]
async fn cors_preflight_allowed_is_answered_by_the_middleware() {
    let client = TestClient::new(Stack::new().push(demo_cors()).app(Inspect));
    let response = client
        .request("OPTIONS", "/echo")
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, x-request-id",
        )
        .send()
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(
        response.header("access-control-allow-methods"),
        Some("GET, POST")
    );
    assert_eq!(response.header("access-control-max-age"), Some("600"));
    let allowed = response.header("access-control-allow-headers").unwrap();
    assert!(
        allowed.contains("content-type") && allowed.contains("x-request-id"),
        "{allowed}"
    );
    assert_eq!(response.header("vary"), Some("Origin"));
    assert_eq!(response.text(), "OK", "the app never saw the preflight");
}

#[tokio::test]
async fn cors_preflight_refused_names_what_was_disallowed() {
    let client = TestClient::new(Stack::new().push(demo_cors()).app(Inspect));
    let response = client
        .request("OPTIONS", "/")
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "DELETE")
        .header("access-control-request-headers", "x-secret")
        .send()
        .await;
    assert_eq!(response.status, 400);
    assert_eq!(response.text(), "Disallowed CORS origin, method, headers");
    let only_method = client
        .request("OPTIONS", "/")
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "PUT")
        .send()
        .await;
    assert_eq!(only_method.status, 400);
    assert_eq!(only_method.text(), "Disallowed CORS method");
}

#[tokio::test]
async fn cors_simple_requests_get_headers_and_vary_origin() {
    let client = TestClient::new(Stack::new().push(demo_cors()).app(Inspect));
    let response = client
        .get("/")
        .header("origin", "http://localhost:3000")
        .send()
        .await;
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(
        response.header("access-control-expose-headers"),
        Some("x-request-id, x-process-time")
    );
    assert_eq!(response.header("vary"), Some("Origin"));
    let foreign = client
        .get("/")
        .header("origin", "http://evil.example")
        .send()
        .await;
    assert_eq!(foreign.status, 200);
    assert_eq!(foreign.header("access-control-allow-origin"), None);

    let any = Cors::new(CorsConfig {
        allow_origins: AllowOrigins::Any,
        ..CorsConfig::default()
    })
    .unwrap();
    let client = TestClient::new(Stack::new().push(any).app(Inspect));
    let response = client
        .get("/")
        .header("origin", "http://anyone.example")
        .send()
        .await;
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert_eq!(response.header("vary"), None);
}

#[tokio::test]
async fn cors_wildcard_with_credentials_is_refused_at_construction() {
    let config = CorsConfig {
        allow_origins: AllowOrigins::Any,
        allow_credentials: true,
        ..CorsConfig::default()
    };
    assert_eq!(
        Cors::new(config).err(),
        Some(ConfigError::WildcardWithCredentials)
    );
}

#[tokio::test]
async fn cors_origin_predicate_is_consulted() {
    let config = CorsConfig {
        allow_origins: AllowOrigins::Predicate(Arc::new(|origin| origin.ends_with(".example.com"))),
        ..CorsConfig::default()
    };
    let client = TestClient::new(Stack::new().push(Cors::new(config).unwrap()).app(Inspect));
    let ok = client
        .get("/")
        .header("origin", "https://app.example.com")
        .send()
        .await;
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let no = client
        .get("/")
        .header("origin", "https://example.org")
        .send()
        .await;
    assert_eq!(no.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn trusted_host_refuses_other_hosts_with_400() {
    let trusted = TrustedHost::new(["localhost", "*.example.com"]).unwrap();
    let client = TestClient::new(Stack::new().push(trusted).app(Inspect));
    assert_eq!(
        client
            .get("/")
            .header("host", "localhost:8000")
            .send()
            .await
            .status,
        200
    );
    assert_eq!(
        client
            .get("/")
            .header("host", "api.example.com")
            .send()
            .await
            .status,
        200
    );
    let refused = client.get("/").header("host", "evil.com").send().await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.text(), "Invalid host header");
}

#[tokio::test]
async fn trusted_host_can_redirect_to_www() {
    let trusted = TrustedHost::new(["www.example.com"])
        .unwrap()
        .www_redirect(true);
    let client = TestClient::new(Stack::new().push(trusted).app(Inspect));
    let response = client
        .get("/a?b=1")
        .header("host", "example.com")
        .send()
        .await;
    assert_eq!(response.status, 301);
    assert_eq!(
        response.header("location"),
        Some("http://www.example.com/a?b=1")
    );
}

#[tokio::test]
async fn https_redirect_targets_keep_path_query_and_port() {
    let client = TestClient::new(Stack::new().push(HttpsRedirect::new()).app(Inspect));
    let response = client
        .get("/path?q=1")
        .header("host", "example.com:8080")
        .send()
        .await;
    assert_eq!(response.status, 307);
    assert_eq!(
        response.header("location"),
        Some("https://example.com:8080/path?q=1")
    );
    let default_port = client
        .get("/")
        .header("host", "example.com:80")
        .send()
        .await;
    assert_eq!(
        default_port.header("location"),
        Some("https://example.com/")
    );
    let already = client.get("/").https().send().await;
    assert_eq!(already.status, 200);

    let permanent = TestClient::new(
        Stack::new()
            .push(HttpsRedirect::with_status(308).unwrap())
            .app(Inspect),
    );
    assert_eq!(permanent.get("/").send().await.status, 308);
    assert!(HttpsRedirect::with_status(302).is_err());
}

#[tokio::test]
async fn proxy_headers_are_applied_only_for_trusted_peers() {
    let proxy = ProxyHeaders::new(["127.0.0.1"]).unwrap();
    let client = TestClient::new(Stack::new().push(proxy).app(Inspect));
    let trusted = client
        .get("/")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert!(
        trusted.text().contains("client=203.0.113.9:0 scheme=https"),
        "{}",
        trusted.text()
    );
    let untrusted = client
        .get("/")
        .client_addr("198.51.100.1:4000".parse().unwrap())
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert!(
        untrusted
            .text()
            .contains("client=198.51.100.1:4000 scheme=http"),
        "{}",
        untrusted.text()
    );
}

#[tokio::test]
async fn exception_handlers_map_typed_errors_to_429_with_retry_after() {
    let handlers = ExceptionHandlers::new().handle(|error: &RateLimitExceeded| {
        Response::new(
            429,
            Headers::new().with("retry-after", error.retry_after.to_string()),
            "Too Many Requests",
        )
    });
    let app = Stack::new()
        .push(ServerErrors::new())
        .push(handlers)
        .app(Inspect);
    let client = TestClient::new(app);
    let limited = client.get("/limited").send().await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("30"));
    // Unmatched errors fall through to ServerErrors.
    let failed = client.get("/fail").send().await;
    assert_eq!(failed.status, 500);
    assert_eq!(failed.text(), "Internal Server Error");
    assert_eq!(failed.error, None, "ServerErrors handled it");
}

#[tokio::test]
async fn server_errors_cannot_take_back_a_started_response() {
    let client = TestClient::new(Stack::new().push(ServerErrors::new()).app(Inspect));
    let response = client.get("/fail-after-start").send().await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "partial");
    assert_eq!(
        response.error.as_deref(),
        Some("handler failed mid-body"),
        "the error goes on to the server, which closes"
    );
}

#[tokio::test]
async fn server_errors_over_a_socket_is_500_before_start_and_a_close_after() {
    let app = Stack::new().push(ServerErrors::new()).app(Inspect);
    let server = support::TestServer::start(app).await;
    let mut client = server.connect().await;
    let failed = client.get("/fail").await;
    assert_eq!(failed.status, 500);
    assert_eq!(
        client.get("/").await.status,
        200,
        "a handled error keeps the connection"
    );
    client
        .send(b"GET /fail-after-start HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    let head = client.head().await;
    assert_eq!(head.status, 200);
    assert_eq!(
        client.rest().await,
        b"7\r\npartial\r\n",
        "cut off: no last chunk, then close"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn gzip_compresses_large_bodies_and_leaves_small_ones() {
    use std::io::Read;
    let client = TestClient::new(Stack::new().push(GZip::default()).app(Inspect));
    let big = client
        .get("/big")
        .header("accept-encoding", "gzip, br")
        .send()
        .await;
    assert_eq!(big.header("content-encoding"), Some("gzip"));
    assert_eq!(big.header("vary"), Some("Accept-Encoding"));
    assert_eq!(
        big.header("content-length"),
        Some(big.body.len().to_string().as_str())
    );
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&big.body[..])
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, "x".repeat(5000));

    let small = client
        .get("/")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(small.header("content-encoding"), None);
    let refused = client
        .get("/big")
        .header("accept-encoding", "gzip;q=0")
        .send()
        .await;
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(refused.header("vary"), Some("Accept-Encoding"));
    let head = client
        .request("HEAD", "/big")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(head.header("content-encoding"), None);
}

/// Logs before and after the inner app, to show the order.
struct Step {
    name: &'static str,
    log: Arc<Mutex<Vec<String>>>,
}

impl Middleware for Step {
    type Hook<'a> = ();

    fn describe(&self) -> String {
        self.name.to_string()
    }

    async fn call<'a, A: App, R: Receive, S: Sender>(
        &'a self,
        scope: Scope,
        inner: Inner<'a, A, R, S, ()>,
    ) -> Result<(), AppError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} before", self.name));
        let result = inner.call(scope).await;
        self.log
            .lock()
            .unwrap()
            .push(format!("{} after", self.name));
        result
    }
}

#[tokio::test]
async fn middleware_run_in_the_documented_order_and_the_printout_matches() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let step = |name| Step {
        name,
        log: log.clone(),
    };
    let app = Stack::new()
        .push(step("A"))
        .push(step("B"))
        .push(step("C"))
        .app(Inspect);
    let printout = app.describe();
    // The lifespan call goes through the stack first, as on a socket; the request's is here.
    let client = TestClient::start(app).await.unwrap();
    log.lock().unwrap().clear();
    client.get("/").send().await;
    let steps = log.lock().unwrap().clone();
    assert_eq!(
        steps,
        ["A before", "B before", "C before", "C after", "B after", "A after"]
    );
    let order: Vec<&str> = printout
        .lines()
        .filter_map(|l| l.trim().split_once(". ").map(|(_, n)| n))
        .collect();
    assert_eq!(order, ["A", "B", "C", "C ↑", "B ↑", "A ↑"], "{printout}");
}

tokio::task_local! {
    static TRACE_ID: &'static str;
}

/// Sets a task-local around the rest of the stack.
struct SetTaskLocal;

impl Middleware for SetTaskLocal {
    type Hook<'a> = ();

    fn describe(&self) -> String {
        "SetTaskLocal".into()
    }

    async fn call<'a, A: App, R: Receive, S: Sender>(
        &'a self,
        scope: Scope,
        inner: Inner<'a, A, R, S, ()>,
    ) -> Result<(), AppError> {
        TRACE_ID.scope("trace-7", inner.call(scope)).await
    }
}

/// Reports the task-local as seen by the handler.
struct ReadTaskLocal;

impl App for ReadTaskLocal {
    async fn call<R: Receive, S: Sender>(
        &self,
        _: Scope,
        _: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let seen = TRACE_ID
            .try_with(|id| id.to_string())
            .unwrap_or_else(|_| "none".into());
        send_response(
            &mut send,
            200,
            Headers::new(),
            format!("handler saw {seen}"),
        )
        .await?;
        Ok(())
    }
}

#[tokio::test]
async fn task_locals_from_an_outer_middleware_reach_the_handler_and_after_next() {
    let closure = from_fn("Echo task-local", |scope, next| async move {
        let mut response = next.run(scope).await?;
        let after = TRACE_ID
            .try_with(|id| id.to_string())
            .unwrap_or_else(|_| "none".into());
        response.headers.append("x-after-next", after);
        Ok(response)
    });
    let app = Stack::new()
        .push(SetTaskLocal)
        .push(closure)
        .app(ReadTaskLocal);
    let client = TestClient::new(app);
    let response = client.get("/").send().await;
    assert_eq!(response.text(), "handler saw trace-7");
    assert_eq!(response.header("x-after-next"), Some("trace-7"));
}

#[tokio::test]
async fn from_fn_can_answer_on_its_own_without_calling_next() {
    let closure = from_fn("Gate", |scope, next| async move {
        if scope.header("authorization").is_none() {
            return Ok(Response::new(401, Headers::new(), "who are you?"));
        }
        next.run(scope).await
    });
    let client = TestClient::new(Stack::new().push(closure).app(Inspect));
    let refused = client.get("/").send().await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.text(), "who are you?");
    let allowed = client.get("/").header("authorization", "yes").send().await;
    assert_eq!(allowed.status, 200);
}

#[tokio::test]
async fn trusted_host_refuses_a_request_without_host_unless_any_host_is_allowed() {
    let request = b"GET / HTTP/1.0\r\n\r\n";
    let strict = support::TestServer::start(
        Stack::new()
            .push(TrustedHost::new(["localhost"]).unwrap())
            .app(Inspect),
    )
    .await;
    let mut client = strict.connect().await;
    client.send(request).await;
    let refused = client.response().await;
    assert_eq!(
        (refused.status, refused.text().as_str()),
        (400, "Invalid host header")
    );
    let open = support::TestServer::start(
        Stack::new()
            .push(TrustedHost::new(["*"]).unwrap())
            .app(Inspect),
    )
    .await;
    let mut client = open.connect().await;
    client.send(request).await;
    assert_eq!(client.response().await.status, 200);
}

#[tokio::test]
async fn proxy_headers_read_every_forwarding_field_so_an_appended_one_wins() {
    let client = TestClient::new(
        Stack::new()
            .push(ProxyHeaders::new(["127.0.0.1"]).unwrap())
            .app(Inspect),
    );
    // The client forges a field; the proxy appends its own field instead of extending it.
    let appended = client
        .get("/")
        .header("x-forwarded-for", "198.51.100.66")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert!(
        appended
            .text()
            .contains("client=203.0.113.9:0 scheme=https"),
        "{}",
        appended.text()
    );
    let forwarded = client
        .get("/")
        .header("forwarded", "for=198.51.100.66")
        .header("forwarded", "for=203.0.113.10;proto=https")
        .send()
        .await;
    assert!(
        forwarded
            .text()
            .contains("client=203.0.113.10:0 scheme=https"),
        "{}",
        forwarded.text()
    );
}

#[tokio::test]
async fn cors_with_a_list_of_origins_varies_on_origin_in_every_response() {
    let client = TestClient::new(Stack::new().push(demo_cors()).app(Inspect));
    let without_origin = client.get("/").send().await;
    assert_eq!(without_origin.header("vary"), Some("Origin"));
    assert_eq!(without_origin.header("access-control-allow-origin"), None);
    let other_origin = client
        .get("/")
        .header("origin", "http://evil.example")
        .send()
        .await;
    assert_eq!(other_origin.header("vary"), Some("Origin"));
    assert_eq!(other_origin.header("access-control-allow-origin"), None);
    let refused_preflight = client
        .request("OPTIONS", "/")
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await;
    assert_eq!(refused_preflight.status, 400);
    assert_eq!(refused_preflight.header("vary"), Some("Origin"));
    // Merged with the app's own Vary fields, into one.
    let merged = client
        .get("/varies")
        .header("origin", "http://localhost:3000")
        .send()
        .await;
    let vary: Vec<&[u8]> = merged.headers.get_all("vary").map(|v| &v[..]).collect();
    assert_eq!(vary, vec![&b"Accept-Language, Cookie, Origin"[..]]);
    // Any origin allowed: the answer does not depend on it.
    let any = Cors::new(CorsConfig {
        allow_origins: AllowOrigins::Any,
        ..CorsConfig::default()
    })
    .unwrap();
    let client = TestClient::new(Stack::new().push(any).app(Inspect));
    assert_eq!(client.get("/").send().await.header("vary"), None);
}

/// An app that sets `x-a: app` on its response.
struct SetsXA;

impl App for SetsXA {
    async fn call<R: Receive, S: Sender>(
        &self,
        _scope: Scope,
        _receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        send_response(&mut send, 200, Headers::new().with("x-a", "app"), "ok").await?;
        Ok(())
    }
}

#[tokio::test]
async fn custom_headers_append_override_or_fill_in_as_asked() {
    let fields = [("x-a", "mw"), ("x-b", "mw")];
    let cases = [
        (CustomHeaders::new(fields).unwrap(), vec!["app", "mw"]),
        (CustomHeaders::overriding(fields).unwrap(), vec!["mw"]),
        (CustomHeaders::if_not_present(fields).unwrap(), vec!["app"]),
    ];
    for (middleware, want) in cases {
        let described = rasgi::middleware::Step::describe(&middleware);
        let client = TestClient::new(Stack::new().step(middleware).app(SetsXA));
        let response = client.get("/").send().await;
        let x_a: Vec<&str> = response
            .headers
            .get_all("x-a")
            .map(|v| std::str::from_utf8(v).unwrap())
            .collect();
        assert_eq!(x_a, want, "{described}");
        // A name the app did not set is added in every mode.
        assert_eq!(response.header("x-b"), Some("mw"), "{described}");
    }
}
