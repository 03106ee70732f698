//! A router like Starlette's: routes by method and path, path parameters, `HEAD` answered by the
//! `GET` route, 404 and 405 (with `allow`) as FastAPI answers them, and apps mounted under a
//! prefix.
//!
//! A [`Router<T>`] maps requests to targets of one type `T`, tried in the order they were added;
//! the first route whose path and method match wins. Two ways to use it:
//! - as a table: `T` is an enum of the app's routes, and the app matches on
//!   [`Router::route`]'s answer, calling each handler with its own receive and send types
//!   (no boxing, no dynamic dispatch);
//! - as an [`App`]: when `T` is itself an `App` (one handler type, or apps mounted under
//!   prefixes), `Router<T>` serves requests, puts the [`PathParams`] in the scope's extensions
//!   and answers 404 and 405 itself.
//!
//! ```
//! use rasgi::routing::{Routed, Router};
//!
//! #[derive(Clone, Copy, Debug, PartialEq)]
//! enum Page { Home, Notify, Files }
//!
//! let router = Router::new()
//!     .get("/", Page::Home)
//!     .post("/send-notification/{email}", Page::Notify)
//!     .mount("/static", Page::Files);
//! let Routed::Found(found) = router.route("POST", "/send-notification/ann@example.com") else {
//!     panic!("not routed")
//! };
//! assert_eq!((*found.target(), found.param("email")), (Page::Notify, Some("ann@example.com")));
//! ```
//!
//! Patterns: a literal segment matches itself; `{name}` matches one non-empty segment;
//! `{name:path}` (last only) matches the rest of the path, slashes included. Paths are matched
//! decoded (the scope's `path`), below the scope's `root_path` when the path starts with it.

use std::fmt;

use rasgi_protocol::{
    send_response, App, AppError, ByteStr, Event, Extensions, Headers, HttpScope, Message, Receive,
    Scope, SendError, Sender,
};

/// The most parameters one pattern may name.
const MAX_PARAMS: usize = 4;

/// Requests mapped to targets: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Router<T> {
    routes: Vec<Route<T>>,
}

#[derive(Debug, Clone)]
struct Route<T> {
    pattern: Pattern,
    /// The method taken, uppercase; `None` for a mount, which takes every method.
    method: Option<Box<str>>,
    target: T,
}

/// A route's path, split once when the route is added.
#[derive(Debug, Clone)]
enum Pattern {
    /// No parameters: the path must equal it.
    Exact(Box<str>),
    /// One segment per element, parameters among them.
    Segments(Vec<Segment>),
    /// A mount: the prefix itself, or any path below it.
    Prefix(Box<str>),
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(Box<str>),
    Param(Box<str>),
    Rest(Box<str>),
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Router { routes: Vec::new() }
    }
}

impl<T> Router<T> {
    /// A router with no routes: every request is 404.
    pub fn new() -> Router<T> {
        Router::default()
    }

    /// `target` answers `GET` (and `HEAD`) at `pattern`.
    ///
    /// # Panics
    /// On a pattern that does not start with `/`, has an unclosed or empty `{}`, a `{name:path}`
    /// that is not last, or more than four parameters: a mistake in the program, not in a
    /// request.
    pub fn get(self, pattern: &str, target: T) -> Router<T> {
        self.route_method("GET", pattern, target)
    }

    /// `target` answers `POST` at `pattern` (see [`get`](Router::get) for patterns).
    pub fn post(self, pattern: &str, target: T) -> Router<T> {
        self.route_method("POST", pattern, target)
    }

    /// `target` answers `method` at `pattern` (see [`get`](Router::get) for patterns).
    pub fn route_method(mut self, method: &str, pattern: &str, target: T) -> Router<T> {
        self.routes.push(Route {
            pattern: Pattern::parse(pattern),
            method: Some(method.to_ascii_uppercase().into()),
            target,
        });
        self
    }

    /// `target` answers every method at `prefix` and every path below it; its scope's
    /// `root_path` gains the prefix (Starlette's `Mount`).
    ///
    /// # Panics
    /// On a prefix that does not start with `/` or ends with one.
    pub fn mount(mut self, prefix: &str, target: T) -> Router<T> {
        assert!(
            prefix.starts_with('/') && prefix.len() > 1 && !prefix.ends_with('/'),
            "a mount's prefix starts with / and does not end with one: {prefix:?}"
        );
        self.routes.push(Route {
            pattern: Pattern::Prefix(prefix.into()),
            method: None,
            target,
        });
        self
    }

    /// The route for `method` at `path`: the first that matches both, else why none did.
    pub fn route<'r, 'p>(&'r self, method: &str, path: &'p str) -> Routed<'r, 'p, T> {
        // `HEAD` is answered by the `GET` route, as Starlette does; the server sends no body.
        let wanted = if method == "HEAD" { "GET" } else { method };
        let mut allow = Allow::default();
        for route in &self.routes {
            let Some(params) = route.pattern.matches(path) else {
                continue;
            };
            match &route.method {
                Some(taken) if **taken != *wanted => allow.add(taken),
                _ => {
                    return Routed::Found(Found {
                        target: &route.target,
                        params,
                        mounted_at: match &route.pattern {
                            Pattern::Prefix(prefix) => Some(prefix),
                            _ => None,
                        },
                    })
                }
            }
        }
        Routed::Missed(if allow.methods.is_empty() {
            Miss::NotFound
        } else {
            Miss::MethodNotAllowed(allow)
        })
    }

    /// The route for a request: its method, and its path below its `root_path`.
    pub fn route_scope<'r, 'p>(&'r self, scope: &'p HttpScope) -> Routed<'r, 'p, T> {
        self.route(
            scope.method.as_str(),
            below_root(&scope.path, &scope.root_path),
        )
    }
}

/// `path` without `root`, when it starts with it (the root itself is `/`).
fn below_root<'p>(path: &'p str, root: &str) -> &'p str {
    match path.strip_prefix(root) {
        Some("") if !root.is_empty() => "/",
        Some(rest) if !root.is_empty() && rest.starts_with('/') => rest,
        _ => path,
    }
}

impl Pattern {
    fn parse(pattern: &str) -> Pattern {
        assert!(
            pattern.starts_with('/'),
            "a route's pattern starts with /: {pattern:?}"
        );
        if !pattern.contains(['{', '}']) {
            return Pattern::Exact(pattern.into());
        }
        let parts: Vec<&str> = pattern[1..].split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => match name.strip_suffix(":path") {
                    Some(name) => {
                        assert!(
                            i == parts.len() - 1,
                            "{{{name}:path}} must be the pattern's last segment: {pattern:?}"
                        );
                        Segment::Rest(valid_name(name, pattern).into())
                    }
                    None => Segment::Param(valid_name(name, pattern).into()),
                },
                None => {
                    assert!(
                        !part.contains(['{', '}']),
                        "a parameter is a whole segment, {{name}}: {pattern:?}"
                    );
                    Segment::Literal((*part).into())
                }
            };
            segments.push(segment);
        }
        let params = segments
            .iter()
            .filter(|s| !matches!(s, Segment::Literal(_)))
            .count();
        assert!(
            params <= MAX_PARAMS,
            "a pattern names at most {MAX_PARAMS} parameters: {pattern:?}"
        );
        Pattern::Segments(segments)
    }

    /// The parameters, if `path` matches.
    fn matches<'r, 'p>(&'r self, path: &'p str) -> Option<Params<'r, 'p>> {
        match self {
            Pattern::Exact(exact) => (**exact == *path).then(Params::default),
            Pattern::Prefix(prefix) => {
                let rest = path.strip_prefix(&**prefix)?;
                (rest.is_empty() || rest.starts_with('/')).then(Params::default)
            }
            Pattern::Segments(segments) => {
                let mut params = Params::default();
                let mut rest = path.strip_prefix('/')?;
                for (i, segment) in segments.iter().enumerate() {
                    let last = i == segments.len() - 1;
                    let (part, after) = match segment {
                        Segment::Rest(_) => (rest, ""),
                        _ => match rest.split_once('/') {
                            Some((part, after)) if !last => (part, after),
                            Some(_) => return None,
                            None if last => (rest, ""),
                            None => return None,
                        },
                    };
                    match segment {
                        Segment::Literal(literal) if **literal == *part => {}
                        Segment::Literal(_) => return None,
                        Segment::Param(name) | Segment::Rest(name) if !part.is_empty() => {
                            params.push(name, part)
                        }
                        Segment::Param(_) | Segment::Rest(_) => return None,
                    }
                    rest = after;
                }
                Some(params)
            }
        }
    }
}

fn valid_name<'a>(name: &'a str, pattern: &str) -> &'a str {
    assert!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "a parameter's name is letters, digits and _: {pattern:?}"
    );
    name
}

/// What [`Router::route`] found.
#[derive(Debug)]
pub enum Routed<'r, 'p, T> {
    /// A route matched the path and the method.
    Found(Found<'r, 'p, T>),
    /// None did: answer with [`Miss::answer`].
    Missed(Miss),
}

/// A matched route: its target and the path's parameters.
#[derive(Debug)]
pub struct Found<'r, 'p, T> {
    target: &'r T,
    params: Params<'r, 'p>,
    mounted_at: Option<&'r str>,
}

impl<'r, 'p, T> Found<'r, 'p, T> {
    /// The route's target.
    pub fn target(&self) -> &'r T {
        self.target
    }

    /// The value of the parameter `name` (`{name}` in the pattern), as it is in the path.
    pub fn param(&self, name: &str) -> Option<&'p str> {
        self.params.get(name)
    }

    /// Every parameter, in the pattern's order.
    pub fn params(&self) -> &Params<'r, 'p> {
        &self.params
    }

    /// For a mount, its prefix.
    pub fn mounted_at(&self) -> Option<&'r str> {
        self.mounted_at
    }
}

/// A path's parameters: names from the pattern, values slices of the path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params<'r, 'p> {
    pairs: [(&'r str, &'p str); MAX_PARAMS],
    len: usize,
}

impl<'r, 'p> Params<'r, 'p> {
    fn push(&mut self, name: &'r str, value: &'p str) {
        self.pairs[self.len] = (name, value);
        self.len += 1;
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&'p str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// `(name, value)` pairs in the pattern's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'r str, &'p str)> + '_ {
        self.pairs[..self.len].iter().copied()
    }
}

/// Why no route answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// No route has the path: 404.
    NotFound,
    /// Routes have the path, for other methods: 405 naming them.
    MethodNotAllowed(Allow),
}

impl Miss {
    /// The status it answers with.
    pub fn status(&self) -> u16 {
        match self {
            Miss::NotFound => 404,
            Miss::MethodNotAllowed(_) => 405,
        }
    }

    /// Answer as FastAPI does: a JSON `detail`, and for 405 an `allow` field naming the
    /// methods the path takes.
    pub async fn answer<S: Sender>(&self, send: &mut S) -> Result<(), SendError> {
        let mut headers = Headers::with_capacity(4).with("content-type", "application/json");
        let body = match self {
            Miss::NotFound => r#"{"detail":"Not Found"}"#,
            Miss::MethodNotAllowed(allow) => {
                headers.append("allow", allow.to_string());
                r#"{"detail":"Method Not Allowed"}"#
            }
        };
        send_response(send, self.status(), headers, body).await
    }
}

/// The methods a path takes, as a 405's `allow` field names them (`GET` brings `HEAD`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allow {
    methods: Vec<Box<str>>,
}

impl Allow {
    fn add(&mut self, method: &str) {
        let mut add = |m: &str| {
            if !self.methods.iter().any(|known| **known == *m) {
                self.methods.push(m.into());
            }
        };
        add(method);
        if method == "GET" {
            add("HEAD");
        }
    }

    /// The methods, in the order their routes were added.
    pub fn methods(&self) -> impl Iterator<Item = &str> {
        self.methods.iter().map(|m| &**m)
    }
}

impl fmt::Display for Allow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, method) in self.methods().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(method)?;
        }
        Ok(())
    }
}

/// A request's path parameters, in its scope's extensions when a [`Router`] serving as an
/// [`App`] routed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams(pub Vec<(String, String)>);

impl PathParams {
    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A router of apps is an app: each HTTP request goes to its route's app, with the path's
/// [`PathParams`] in its extensions and, for a mount, the prefix added to its `root_path`;
/// 404 and 405 are answered here. WebSocket scopes are routed the same way by path (a miss
/// is refused with a close); lifespan scopes go to no route.
impl<A: App> App for Router<A> {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        mut receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        match scope {
            Scope::Http(mut scope) => {
                let below = below_root(&scope.path, &scope.root_path);
                let routed = self.route(scope.method.as_str(), below);
                match enter(routed, &mut scope.root_path, &mut scope.extensions) {
                    Ok(app) => app.call(Scope::Http(scope), receive, send).await,
                    Err(miss) => Ok(miss.answer(&mut send).await?),
                }
            }
            Scope::WebSocket(mut scope) => {
                let below = below_root(&scope.path, &scope.root_path);
                let routed = self.route("GET", below);
                match enter(routed, &mut scope.root_path, &mut scope.extensions) {
                    Ok(app) => app.call(Scope::WebSocket(scope), receive, send).await,
                    // Refused at the handshake: the server answers 403.
                    Err(_) => {
                        if receive.receive().await == Event::WebSocketConnect {
                            send.send(Message::close(1000)).await?;
                        }
                        Ok(())
                    }
                }
            }
            Scope::Lifespan(_) => Ok(()),
        }
    }
}

/// The found route's app, its scope readied: the mount's prefix added to `root_path`, the
/// path's parameters put in `extensions`.
fn enter<'r, A>(
    routed: Routed<'r, '_, A>,
    root_path: &mut ByteStr,
    extensions: &mut Extensions,
) -> Result<&'r A, Miss> {
    let found = match routed {
        Routed::Found(found) => found,
        Routed::Missed(miss) => return Err(miss),
    };
    if found.params.len > 0 {
        extensions.insert(owned(found.params));
    }
    if let Some(prefix) = found.mounted_at {
        *root_path = ByteStr::from(format!("{}{prefix}", root_path.as_str()));
    }
    Ok(found.target)
}

fn owned(params: Params<'_, '_>) -> PathParams {
    PathParams(
        params
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    )
}
