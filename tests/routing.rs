//! The router: matching, parameters, HEAD, 404, 405 and mounts as tables, then a router of apps
//! served through the test client.

use rasgi::protocol::{send_response, App, AppError, Headers, Receive, Scope, Sender};
use rasgi::routing::{Miss, PathParams, Routed, Router};
use rasgi::testing::TestClient;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Home,
    Health,
    Items,
    NewItem,
    Item,
    ItemPart,
    Notify,
    Files,
    Docs,
    Delete,
}

fn router() -> Router<Page> {
    Router::new()
        .get("/", Page::Home)
        .get("/health", Page::Health)
        .get("/items", Page::Items)
        .post("/items", Page::NewItem)
        .get("/items/{id}", Page::Item)
        .get("/items/{id}/parts/{part}", Page::ItemPart)
        .post("/send-notification/{email}", Page::Notify)
        .get("/files/{rest:path}", Page::Files)
        .mount("/docs", Page::Docs)
        .route_method("delete", "/items/{id}", Page::Delete)
}

/// What `route` answered, as comparable values.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Found(Page, Vec<(String, String)>, Option<String>),
    NotFound,
    NotAllowed(String),
}

fn got(method: &str, path: &str) -> Got {
    match router().route(method, path) {
        Routed::Found(found) => Got::Found(
            *found.target(),
            found
                .params()
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            found.mounted_at().map(str::to_string),
        ),
        Routed::Missed(Miss::NotFound) => Got::NotFound,
        Routed::Missed(Miss::MethodNotAllowed(allow)) => Got::NotAllowed(allow.to_string()),
    }
}

fn found(page: Page, params: &[(&str, &str)]) -> Got {
    let params = params
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    Got::Found(page, params, None)
}

#[test]
fn matching_and_parameters() {
    let table: &[(&str, &str, Got)] = &[
        ("GET", "/", found(Page::Home, &[])),
        ("GET", "/health", found(Page::Health, &[])),
        ("GET", "/items", found(Page::Items, &[])),
        ("POST", "/items", found(Page::NewItem, &[])),
        ("GET", "/items/7", found(Page::Item, &[("id", "7")])),
        (
            "GET",
            "/items/7/parts/wheel",
            found(Page::ItemPart, &[("id", "7"), ("part", "wheel")]),
        ),
        (
            "POST",
            "/send-notification/ann@example.com",
            found(Page::Notify, &[("email", "ann@example.com")]),
        ),
        (
            "GET",
            "/files/a/b/c.txt",
            found(Page::Files, &[("rest", "a/b/c.txt")]),
        ),
        ("DELETE", "/items/7", found(Page::Delete, &[("id", "7")])),
        // A parameter is one whole, non-empty segment.
        ("GET", "/items/", Got::NotFound),
        ("GET", "/items/7/", Got::NotFound),
        ("GET", "/items/7/parts", Got::NotFound),
        ("POST", "/send-notification/", Got::NotFound),
        ("POST", "/send-notification/a/b", Got::NotFound),
        ("GET", "/files/", Got::NotFound),
        // Literal segments match exactly: no prefix, no trailing slash, case kept.
        ("GET", "/healthz", Got::NotFound),
        ("GET", "/health/", Got::NotFound),
        ("GET", "/Health", Got::NotFound),
        ("GET", "/nope", Got::NotFound),
        ("GET", "", Got::NotFound),
    ];
    for (method, path, want) in table {
        assert_eq!(&got(method, path), want, "{method} {path}");
    }
}

#[test]
fn rfc9110_9_3_2_head_is_answered_by_the_get_route() {
    let table: &[(&str, Got)] = &[
        ("/", found(Page::Home, &[])),
        ("/items/3", found(Page::Item, &[("id", "3")])),
        ("/files/x", found(Page::Files, &[("rest", "x")])),
        // A path with only POST routes does not take HEAD.
        ("/send-notification/a", Got::NotAllowed("POST".into())),
    ];
    for (path, want) in table {
        assert_eq!(&got("HEAD", path), want, "HEAD {path}");
    }
}

#[test]
fn rfc9110_15_5_6_a_path_with_other_methods_is_405_naming_them_all() {
    let table: &[(&str, &str, &str)] = &[
        ("POST", "/", "GET, HEAD"),
        ("PUT", "/items", "GET, HEAD, POST"),
        ("POST", "/items/7", "GET, HEAD, DELETE"),
        ("GET", "/send-notification/bob", "POST"),
        ("DELETE", "/health", "GET, HEAD"),
    ];
    for (method, path, allow) in table {
        assert_eq!(
            got(method, path),
            Got::NotAllowed(allow.to_string()),
            "{method} {path}"
        );
    }
}

#[test]
fn a_mount_takes_its_prefix_and_everything_below_for_every_method() {
    let mounted = |()| Got::Found(Page::Docs, Vec::new(), Some("/docs".into()));
    let table: &[(&str, &str, Got)] = &[
        ("GET", "/docs", mounted(())),
        ("GET", "/docs/", mounted(())),
        ("POST", "/docs/a/b", mounted(())),
        ("DELETE", "/docs/x", mounted(())),
        // A longer segment is not below the prefix.
        ("GET", "/docsx", Got::NotFound),
        ("GET", "/doc", Got::NotFound),
    ];
    for (method, path, want) in table {
        assert_eq!(&got(method, path), want, "{method} {path}");
    }
}

#[test]
fn routes_are_tried_in_order_the_first_match_wins() {
    let router = Router::new()
        .get("/users/me", "me")
        .get("/users/{id}", "by id");
    let Routed::Found(found) = router.route("GET", "/users/me") else {
        panic!()
    };
    assert_eq!(*found.target(), "me");
    let Routed::Found(found) = router.route("GET", "/users/12") else {
        panic!()
    };
    assert_eq!((*found.target(), found.param("id")), ("by id", Some("12")));
}

#[test]
fn mistakes_in_patterns_are_caught_when_the_route_is_added() {
    let table: &[&str] = &[
        "items",
        "/items/{",
        "/items/{}",
        "/items/{id",
        "/items/x{id}",
        "/items/{id-x}",
        "/{rest:path}/more",
        "/{a}/{b}/{c}/{d}/{e}",
    ];
    for pattern in table {
        let caught = std::panic::catch_unwind(|| Router::new().get(pattern, ())).is_err();
        assert!(caught, "{pattern:?}");
    }
    for prefix in ["docs", "/", "/docs/"] {
        assert!(
            std::panic::catch_unwind(|| Router::new().mount(prefix, ())).is_err(),
            "{prefix:?}"
        );
    }
}

/// An app that answers with what it saw: its root path and its path parameters.
#[derive(Clone)]
struct Echo(&'static str);

impl App for Echo {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let Scope::Http(scope) = scope else {
            return Ok(());
        };
        let params = scope
            .extensions
            .get::<PathParams>()
            .map(|p| format!("{:?}", p.0))
            .unwrap_or_default();
        let body = format!("{} root={} params={params}", self.0, scope.root_path);
        send_response(&mut send, 200, Headers::new(), body).await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_router_of_apps_serves_requests_and_answers_404_and_405_itself() {
    let inner = Router::new().get("/page/{n}", Echo("inner"));
    let client = TestClient::new(
        Router::new()
            .get("/", Echo("home"))
            .post("/send-notification/{email}", Echo("notify"))
            .mount("/sub", Echo("sub")),
    );
    let home = client.get("/").send().await;
    assert_eq!(
        (home.status, home.text()),
        (200, "home root= params=".into())
    );
    let head = client.request("HEAD", "/").send().await;
    assert_eq!((head.status, head.body.len()), (200, 0));
    let notify = client
        .post("/send-notification/bob@example.com")
        .send()
        .await;
    assert_eq!(
        notify.text(),
        r#"notify root= params=[("email", "bob@example.com")]"#
    );
    let sub = client.get("/sub/anything").send().await;
    assert_eq!(sub.text(), "sub root=/sub params=");

    let missing = client.get("/nope").send().await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-type"), Some("application/json"));
    assert_eq!(missing.text(), r#"{"detail":"Not Found"}"#);
    let wrong = client.post("/").send().await;
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("GET, HEAD"));
    assert_eq!(wrong.text(), r#"{"detail":"Method Not Allowed"}"#);

    // Mounted routers route below their mount: the child sees the prefix in its root_path.
    let nested = TestClient::new(Router::new().mount("/api", inner));
    let page = nested.get("/api/page/3").send().await;
    assert_eq!(page.text(), r#"inner root=/api params=[("n", "3")]"#);
    assert_eq!(nested.get("/page/3").send().await.status, 404);
    assert_eq!(nested.get("/api/other").send().await.status, 404);
}

#[tokio::test]
async fn an_async_closure_is_an_app_and_routers_mix_them_boxed() {
    use rasgi::endpoint::{app_fn, Request};
    use rasgi::middleware::Response;
    use rasgi::protocol::BoxApp;

    let echo = app_fn(|request: Request| async move {
        let headers = Headers::new().with("content-type", "text/plain");
        let text = format!("{} {}", request.scope.method, request.body.len());
        Ok(Response::new(201, headers, text))
    })
    .body_limit(16);
    let client = TestClient::new(echo);
    let created = client.post("/anything").body("0123456789").send().await;
    assert_eq!(
        (created.status, created.text()),
        (201, "POST 10".to_string())
    );
    // Past the body limit: 413, whole or in chunks.
    let large = client.post("/").body("x".repeat(17)).send().await;
    assert_eq!(large.status, 413);
    let chunked = client
        .post("/")
        .chunks(["x".repeat(10), "y".repeat(10)])
        .send()
        .await;
    assert_eq!(chunked.status, 413);

    // Closures are each their own type: boxed, they share a router.
    let router = Router::new()
        .get(
            "/hello/{name}",
            BoxApp::new(app_fn(|request: Request| async move {
                let name = request
                    .scope
                    .extensions
                    .get::<PathParams>()
                    .and_then(|p| p.get("name").map(str::to_string))
                    .unwrap_or_default();
                Ok(Response::new(
                    200,
                    Headers::new(),
                    format!("Hello, {name}!"),
                ))
            })),
        )
        .get(
            "/fail",
            BoxApp::new(app_fn(|_: Request| async move {
                Err::<Response, AppError>("it always fails".into())
            })),
        );
    let client = TestClient::new(router);
    assert_eq!(client.get("/hello/ann").send().await.text(), "Hello, ann!");
    let failed = client.get("/fail").send().await;
    assert_eq!(failed.status, 500);
    assert_eq!(failed.error.as_deref(), Some("it always fails"));
    assert_eq!(client.post("/fail").send().await.status, 405);
}
