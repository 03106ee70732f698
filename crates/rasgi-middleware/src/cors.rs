//! Cors: Cross-Origin Resource Sharing, as Starlette's CORSMiddleware does it.
//!
//! - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered here:
//!   200 with the allowed methods, headers and max age, or 400 naming what was disallowed
//!   (origin, method, headers). The app never sees it.
//! - A simple request from an allowed origin gets `Access-Control-Allow-Origin` (and the
//!   credentials and expose headers) added on its way out; when the origin is echoed rather than
//!   `*`, `Vary: Origin` is added too. A request from another origin gets no CORS headers: the
//!   browser enforces the policy.
//! - When the allowed origins are a list (or a predicate), every response says
//!   `Vary: Origin`, with or without an `Origin` in the request: the response depends on it,
//!   and a cache must not serve one origin's answer to another. It is merged into any `Vary`
//!   the app set.
//! - `*` origins together with credentials are refused in [`Cors::new`]: the CORS spec forbids a
//!   wildcard on a credentialed response.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use rasgi_protocol::{FieldLine, Headers, HttpScope, Scope, SendError};

use crate::{ConfigError, Decision, Response, ResponseHook, ResponseStart, Step};

/// Default for [`CorsConfig::max_age`]: 600 s, Starlette's (browsers cap it anyway).
pub const DEFAULT_MAX_AGE: u32 = 600;

/// Request headers a browser may always send (the CORS safelist).
const SAFELISTED_HEADERS: [&str; 4] = [
    "accept",
    "accept-language",
    "content-language",
    "content-type",
];

/// Which origins are allowed.
#[derive(Clone)]
pub enum AllowOrigins {
    /// Any origin (`*`).
    Any,
    /// Exactly these origins (`https://example.com`).
    List(Vec<String>),
    /// Origins this predicate accepts.
    Predicate(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

impl fmt::Debug for AllowOrigins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowOrigins::Any => f.write_str("*"),
            AllowOrigins::List(list) => write!(f, "{}", list.join(" ")),
            AllowOrigins::Predicate(_) => f.write_str("<predicate>"),
        }
    }
}

/// The CORS policy, before validation.
#[derive(Debug, Clone)]
pub struct CorsConfig {
    /// Allowed origins.
    pub allow_origins: AllowOrigins,
    /// Allowed methods (`*` for all); default `GET`.
    pub allow_methods: Vec<String>,
    /// Allowed request headers beyond the safelist (`*` for all).
    pub allow_headers: Vec<String>,
    /// Whether credentials (cookies, authorization) are allowed.
    pub allow_credentials: bool,
    /// Response headers the browser may show to scripts.
    pub expose_headers: Vec<String>,
    /// How long a preflight answer may be cached, in seconds.
    pub max_age: u32,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            allow_origins: AllowOrigins::List(Vec::new()),
            allow_methods: vec!["GET".into()],
            allow_headers: Vec::new(),
            allow_credentials: false,
            expose_headers: Vec::new(),
            max_age: DEFAULT_MAX_AGE,
        }
    }
}

/// The CORS middleware (a validated [`CorsConfig`]).
#[derive(Debug, Clone)]
pub struct Cors {
    config: CorsConfig,
    any_method: bool,
    any_header: bool,
    methods_value: String,
    headers_value: String,
    expose_value: Bytes,
}

impl Cors {
    /// Validate `config`: `*` origins with credentials are refused.
    pub fn new(mut config: CorsConfig) -> Result<Cors, ConfigError> {
        if matches!(config.allow_origins, AllowOrigins::Any) && config.allow_credentials {
            return Err(ConfigError::WildcardWithCredentials);
        }
        for value in config
            .allow_methods
            .iter()
            .chain(&config.allow_headers)
            .chain(&config.expose_headers)
        {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ConfigError::InvalidHeader(value.clone()));
            }
        }
        let any_method = config.allow_methods.iter().any(|m| m == "*");
        let any_header = config.allow_headers.iter().any(|h| h == "*");
        config
            .allow_methods
            .iter_mut()
            .for_each(|m| m.make_ascii_uppercase());
        config
            .allow_headers
            .iter_mut()
            .for_each(|h| h.make_ascii_lowercase());
        let methods_value = if any_method {
            "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT".to_string()
        } else {
            config.allow_methods.join(", ")
        };
        let mut allowed_headers: Vec<&str> = SAFELISTED_HEADERS.to_vec();
        for header in &config.allow_headers {
            if !allowed_headers.contains(&header.as_str()) {
                allowed_headers.push(header);
            }
        }
        allowed_headers.sort_unstable();
        let headers_value = allowed_headers.join(", ");
        let expose_value = Bytes::from(config.expose_headers.join(", "));
        Ok(Cors {
            config,
            any_method,
            any_header,
            methods_value,
            headers_value,
            expose_value,
        })
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        match &self.config.allow_origins {
            AllowOrigins::Any => true,
            AllowOrigins::List(list) => list.iter().any(|o| o == origin),
            AllowOrigins::Predicate(accepts) => accepts(origin),
        }
    }

    fn method_allowed(&self, method: &str) -> bool {
        self.any_method || self.config.allow_methods.iter().any(|m| m == method)
    }

    fn headers_allowed(&self, requested: &str) -> bool {
        self.any_header
            || requested
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .all(|h| {
                    SAFELISTED_HEADERS.contains(&h.as_str())
                        || self.config.allow_headers.contains(&h)
                })
    }

    /// Whether the answer depends on the request's origin: the allowed origins are a list or a
    /// predicate, not `*`.
    fn origins_vary(&self) -> bool {
        !matches!(self.config.allow_origins, AllowOrigins::Any)
    }

    /// Echo the origin (and vary on it) unless `*` is allowed without credentials.
    fn echo_origin(&self, scope: &HttpScope) -> bool {
        !matches!(self.config.allow_origins, AllowOrigins::Any)
            || self.config.allow_credentials
            || scope.headers.contains("cookie")
    }

    /// The answer to a preflight request from `origin`.
    fn preflight(&self, scope: &HttpScope, origin: &str) -> Response {
        let mut failures = Vec::new();
        let mut headers = Headers::new();
        if self.origin_allowed(origin) {
            if self.echo_origin(scope) {
                headers.append("access-control-allow-origin", origin.to_string());
                headers.append("vary", "Origin");
            } else {
                headers.append("access-control-allow-origin", "*");
            }
        } else {
            failures.push("origin");
            if self.origins_vary() {
                headers.append("vary", "Origin");
            }
        }
        let method = scope
            .header("access-control-request-method")
            .unwrap_or_default();
        if !self.method_allowed(method) {
            failures.push("method");
        }
        let requested = scope
            .header("access-control-request-headers")
            .unwrap_or_default();
        if self.headers_allowed(requested) {
            let allowed = if self.any_header && !requested.is_empty() {
                requested.to_string()
            } else {
                self.headers_value.clone()
            };
            headers.append("access-control-allow-headers", allowed);
        } else {
            failures.push("headers");
        }
        headers.append("access-control-allow-methods", self.methods_value.clone());
        headers.append("access-control-max-age", self.config.max_age.to_string());
        if self.config.allow_credentials {
            headers.append("access-control-allow-credentials", "true");
        }
        headers.append("content-type", "text/plain; charset=utf-8");
        let (status, body) = if failures.is_empty() {
            (200, "OK".to_string())
        } else {
            (400, format!("Disallowed CORS {}", failures.join(", ")))
        };
        Response::new(status, headers, body)
    }
}

/// Adds the CORS response headers for an allowed origin, or only `Vary: Origin`.
pub struct SimpleResponse {
    /// `None`: the origin is missing or not allowed; only `Vary` may be added.
    allow_origin: Option<Bytes>,
    vary_origin: bool,
    credentials: bool,
    expose: Option<Bytes>,
}

impl ResponseHook for SimpleResponse {
    fn on_start(&mut self, start: &mut ResponseStart, _: &Bytes, _: bool) -> Result<(), SendError> {
        if let Some(allow_origin) = &self.allow_origin {
            let headers = &mut start.headers;
            headers.set("access-control-allow-origin", allow_origin.clone());
            if self.credentials {
                headers.set("access-control-allow-credentials", "true");
            }
            if let Some(expose) = &self.expose {
                headers.set("access-control-expose-headers", expose.clone());
            }
        }
        if self.vary_origin {
            add_vary(start, &VARY_ORIGIN);
        }
        Ok(())
    }
}

/// `vary: Origin`, as CORS adds it.
pub(crate) const VARY_ORIGIN: FieldLine = FieldLine::from_static("vary", "Origin");

/// Add `vary`'s token to the response's `Vary`: every `Vary` field the response has is kept,
/// merged into one comma-separated field, with no duplicates. A response with no `Vary` gets
/// `vary` itself, as a line (CORS's on every response: the cheap way).
pub(crate) fn add_vary(start: &mut ResponseStart, vary: &FieldLine) {
    if !merge_vary(start, vary.value()) {
        start.lines.push_line(vary);
    }
}

/// [`add_vary`], for a response with no `Vary` getting `token` as one of its fields, which a
/// later [`add_vary`] merges into without moving it (GZip's, on a response it compresses).
pub(crate) fn add_vary_field(start: &mut ResponseStart, token: &'static str) {
    if !merge_vary(start, token.as_bytes()) {
        start.headers.append("vary", token);
    }
}

/// Merge `token` into the response's `Vary` fields, if it has any (else `false`, and nothing
/// done).
fn merge_vary(start: &mut ResponseStart, token: &[u8]) -> bool {
    // Fields written as lines are merged with the others: moved into `headers` first.
    if start.lines.get("vary").is_some() {
        let values: Vec<Bytes> = start
            .lines
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(b"vary"))
            .map(|(_, value)| Bytes::copy_from_slice(value))
            .collect();
        start.lines.remove("vary");
        for value in values {
            start.headers.append("vary", value);
        }
    }
    let headers = &mut start.headers;
    let has = |value: &[u8]| {
        value.split(|&b| b == b',').any(|t| {
            let t = t.trim_ascii();
            t.eq_ignore_ascii_case(token) || t == b"*"
        })
    };
    let (first, more) = {
        let mut fields = headers.get_all("vary");
        (fields.next().map(|v| has(v)), fields.next().is_some())
    };
    match (first, more) {
        (None, _) => return false,
        (Some(true), false) => {}
        _ => {
            let mut merged: Vec<u8> = Vec::new();
            let mut present = false;
            for value in headers.get_all("vary") {
                present |= has(value);
                for t in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    if !t.is_empty() {
                        if !merged.is_empty() {
                            merged.extend_from_slice(b", ");
                        }
                        merged.extend_from_slice(t);
                    }
                }
            }
            if !present {
                if !merged.is_empty() {
                    merged.extend_from_slice(b", ");
                }
                merged.extend_from_slice(token);
            }
            headers.set("vary", merged);
        }
    }
    true
}

impl Step for Cors {
    type Hook<'a> = Option<SimpleResponse>;

    fn describe(&self) -> String {
        format!(
            "Cors(origins: {:?}; methods: {})",
            self.config.allow_origins, self.methods_value
        )
    }

    fn on_request(&self, scope: &mut Scope) -> Decision<Option<SimpleResponse>> {
        let Scope::Http(http) = scope else {
            return Decision::Continue(None);
        };
        let hook = match http.header("origin") {
            Some(origin)
                if http.method == "OPTIONS"
                    && http.headers.contains("access-control-request-method") =>
            {
                return Decision::Respond(self.preflight(http, origin));
            }
            Some(origin) if self.origin_allowed(origin) => {
                let echo = self.echo_origin(http);
                Some(SimpleResponse {
                    allow_origin: Some(if echo {
                        http.headers.get("origin").cloned().unwrap_or_default()
                    } else {
                        Bytes::from_static(b"*")
                    }),
                    vary_origin: echo || self.origins_vary(),
                    credentials: self.config.allow_credentials,
                    expose: (!self.expose_value.is_empty()).then(|| self.expose_value.clone()),
                })
            }
            // No origin, or one not allowed: no CORS headers (the browser enforces the
            // policy), but the answer still depends on the origin when it is checked.
            _ => self.origins_vary().then_some(SimpleResponse {
                allow_origin: None,
                vary_origin: true,
                credentials: false,
                expose: None,
            }),
        };
        Decision::Continue(hook)
    }
}
