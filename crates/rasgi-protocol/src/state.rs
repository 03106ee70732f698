//! [`State`], the lifespan state every request sees, and [`Extensions`], the typed values one
//! request carries (Starlette's `request.state`).
//!
//! Both are keyed by type, so a value is found by what it is rather than by a string:
//! `state.get::<DbPool>()`. The rule: `State` is shared by every scope of a server (cloning it is
//! a reference-count increment); `Extensions` belong to one request and are allocated only when
//! something is first inserted.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

type AnyArc = Arc<dyn Any + Send + Sync>;

/// Values created at startup and seen by every request, keyed by type.
#[derive(Clone, Default)]
pub struct State(Arc<RwLock<HashMap<TypeId, AnyArc>>>);

impl State {
    /// An empty state.
    pub fn new() -> State {
        State::default()
    }

    /// Store `value`, replacing any earlier value of the same type.
    pub fn insert<T: Send + Sync + 'static>(&self, value: T) {
        let mut map = self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The value of type `T`, if one was stored.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let map = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.get(&TypeId::of::<T>())
            .cloned()
            .and_then(|value| value.downcast::<T>().ok())
    }

    /// Remove and return the value of type `T` (used at shutdown to close resources).
    pub fn remove<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let mut map = self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.remove(&TypeId::of::<T>())
            .and_then(|value| value.downcast::<T>().ok())
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.0.read().map(|map| map.len()).unwrap_or(0);
        f.debug_struct("State").field("values", &len).finish()
    }
}

/// Typed values attached to one request by the server, a middleware or the app.
#[derive(Default)]
pub struct Extensions(HashMap<TypeId, Box<dyn Any + Send + Sync>>);

impl Extensions {
    /// No values (and no allocation: the map allocates on its first insert).
    pub fn new() -> Extensions {
        Extensions(HashMap::new())
    }

    /// Store `value`, returning the previous value of the same type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        self.0
            .insert(TypeId::of::<T>(), Box::new(value))
            .and_then(|old| old.downcast::<T>().ok().map(|old| *old))
    }

    /// The value of type `T`.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
    }

    /// The value of type `T`, mutably.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.0
            .get_mut(&TypeId::of::<T>())
            .and_then(|value| value.downcast_mut::<T>())
    }

    /// Remove and return the value of type `T`.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        self.0
            .remove(&TypeId::of::<T>())
            .and_then(|value| value.downcast::<T>().ok().map(|value| *value))
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("values", &self.0.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Pool(u32);

    #[test]
    fn state_is_shared_between_clones() {
        let state = State::new();
        let seen_by_request = state.clone();
        state.insert(Pool(7));
        assert_eq!(seen_by_request.get::<Pool>().as_deref(), Some(&Pool(7)));
        assert!(seen_by_request.get::<String>().is_none());
    }

    #[test]
    fn extensions_are_typed_and_start_empty() {
        let mut extensions = Extensions::new();
        assert!(extensions.get::<Pool>().is_none());
        assert_eq!(extensions.insert(Pool(1)), None);
        assert_eq!(extensions.insert(Pool(2)), Some(Pool(1)));
        extensions.get_mut::<Pool>().unwrap().0 += 1;
        assert_eq!(extensions.remove::<Pool>(), Some(Pool(3)));
    }
}
