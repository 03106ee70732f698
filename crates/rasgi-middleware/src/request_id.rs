//! RequestId: every request gets an id, kept from `x-request-id` when the client sent a
//! well-formed one, generated otherwise. The id is put in the scope's extensions (handlers and
//! inner middleware read it as [`RequestIdValue`]) and on the response.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;
use rasgi_protocol::{App, AppError, Receive, Scope, SendError, Sender};

use crate::{HookedSender, Middleware, ResponseHook, ResponseStart};

/// Longest incoming id kept; longer ones are replaced (they would bloat every log line).
pub const MAX_INCOMING_ID_LEN: usize = 128;

/// The request's id, as stored in `HttpScope::extensions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIdValue(pub Bytes);

impl RequestIdValue {
    /// The id as text (ids are ASCII by construction).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Assigns `x-request-id`.
#[derive(Debug, Clone, Default)]
pub struct RequestId;

impl RequestId {
    /// The request-id middleware.
    pub fn new() -> RequestId {
        RequestId
    }
}

/// Whether an incoming id is safe to keep: 1 to 128 of `A-Z a-z 0-9 . _ -`.
pub fn well_formed(id: &str) -> bool {
    (1..=MAX_INCOMING_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A new id: 32 hex digits, unique within the process and unpredictable across processes.
pub fn generate() -> Bytes {
    static SEED: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = SEED.get_or_init(RandomState::new);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut high = seed.build_hasher();
    high.write_u64(n);
    let mut low = seed.build_hasher();
    low.write_u64(!n);
    rasgi_protocol::headers::format_value(format_args!(
        "{:016x}{:016x}",
        high.finish(),
        low.finish()
    ))
}

struct Echo(Bytes);

impl ResponseHook for Echo {
    async fn on_start(
        &mut self,
        start: &mut ResponseStart,
        _: &Bytes,
        _: bool,
    ) -> Result<(), SendError> {
        start.headers.set("x-request-id", self.0.clone());
        Ok(())
    }
}

impl Middleware for RequestId {
    fn describe(&self) -> String {
        "RequestId(x-request-id)".into()
    }

    fn call<A: App, R: Receive, S: Sender>(
        &self,
        inner: &A,
        scope: Scope,
        receive: R,
        send: S,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        let (scope, hook) = match scope {
            Scope::Http(mut http) => {
                let incoming = http
                    .headers
                    .get("x-request-id")
                    .filter(|id| std::str::from_utf8(id).is_ok_and(well_formed));
                let id = match incoming {
                    Some(incoming) => incoming.clone(),
                    None => generate(),
                };
                http.extensions.insert(RequestIdValue(id.clone()));
                (Scope::Http(http), Some(Echo(id)))
            }
            other => (other, None),
        };
        inner.call(scope, receive, HookedSender::new(send, hook))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_hex() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(well_formed(std::str::from_utf8(&a).unwrap()));
    }

    #[test]
    fn only_safe_incoming_ids_are_kept() {
        assert!(well_formed("abc-123_x.y"));
        assert!(!well_formed(""));
        assert!(!well_formed("a b"));
        assert!(!well_formed("a\"<script>"));
        assert!(!well_formed(&"a".repeat(129)));
    }
}
