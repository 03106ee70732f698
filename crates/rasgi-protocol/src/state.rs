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
///
/// Most requests carry none or one (a request id), so the first value is kept inline and any
/// others in a small list searched by type: one value costs one allocation (its box).
#[derive(Default)]
pub struct Extensions {
    first: Option<Entry>,
    rest: Vec<Entry>,
}

type Entry = (TypeId, Box<dyn Any + Send + Sync>);

impl Extensions {
    /// No values (and no allocation).
    pub fn new() -> Extensions {
        Extensions::default()
    }

    fn entry<T: 'static>(&self) -> Option<&Entry> {
        self.first
            .iter()
            .chain(&self.rest)
            .find(|(id, _)| *id == TypeId::of::<T>())
    }

    fn entry_mut<T: 'static>(&mut self) -> Option<&mut Entry> {
        self.first
            .iter_mut()
            .chain(&mut self.rest)
            .find(|(id, _)| *id == TypeId::of::<T>())
    }

    /// Store `value`, returning the previous value of the same type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        let boxed: Box<dyn Any + Send + Sync> = Box::new(value);
        if let Some(entry) = self.entry_mut::<T>() {
            let old = std::mem::replace(&mut entry.1, boxed);
            return old.downcast::<T>().ok().map(|old| *old);
        }
        match self.first {
            None => self.first = Some((TypeId::of::<T>(), boxed)),
            Some(_) => self.rest.push((TypeId::of::<T>(), boxed)),
        }
        None
    }

    /// The value of type `T`.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.entry::<T>()?.1.downcast_ref::<T>()
    }

    /// The value of type `T`, mutably.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.entry_mut::<T>()?.1.downcast_mut::<T>()
    }

    /// Remove and return the value of type `T`.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        let boxed = if self
            .first
            .as_ref()
            .is_some_and(|(id, _)| *id == TypeId::of::<T>())
        {
            let (_, boxed) = self.first.take()?;
            if !self.rest.is_empty() {
                self.first = Some(self.rest.remove(0));
            }
            boxed
        } else {
            let at = self
                .rest
                .iter()
                .position(|(id, _)| *id == TypeId::of::<T>())?;
            self.rest.remove(at).1
        };
        boxed.downcast::<T>().ok().map(|value| *value)
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = usize::from(self.first.is_some()) + self.rest.len();
        f.debug_struct("Extensions").field("values", &len).finish()
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
    fn several_extensions_live_side_by_side() {
        let mut extensions = Extensions::new();
        extensions.insert(Pool(1));
        extensions.insert(String::from("id"));
        extensions.insert(7u8);
        assert_eq!(extensions.remove::<Pool>(), Some(Pool(1)));
        assert_eq!(extensions.get::<String>().map(String::as_str), Some("id"));
        assert_eq!(extensions.get::<u8>(), Some(&7));
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
