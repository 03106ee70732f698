//! [`State`], the lifespan state every request sees, and [`Extensions`], the typed values one
//! request carries (Starlette's `request.state`).
//!
//! Both are keyed by type, so a value is found by what it is rather than by a string:
//! `state.get::<DbPool>()`. The rule: `State` is shared by every scope of a server (cloning it is
//! a reference-count increment); `Extensions` belong to one request and are allocated only when
//! something is first inserted.

use std::any::{Any, TypeId};
use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::fmt;
use std::mem::MaybeUninit;
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
/// Most requests carry none or one (a request id), so the first value is kept in the list
/// itself and any others in a small list searched by type. A value of up to
/// [`INLINE_BYTES`] bytes (and no more than a word's alignment) is stored in place, with no
/// allocation of its own; a larger one is boxed.
#[derive(Default)]
pub struct Extensions {
    first: Option<Entry>,
    /// The second value on, boxed so that a scope carries one word for them, not three (a
    /// second value is rare).
    #[allow(clippy::box_collection)]
    rest: Option<Box<Vec<Entry>>>,
}

/// The largest value [`Extensions`] keeps without a box: a `Bytes` or a `String` beside a tag,
/// a few numbers.
pub const INLINE_BYTES: usize = std::mem::size_of::<Words>();

/// The room of an inline value: words, so that it has a word's alignment.
type Words = [usize; 5];

/// One value and its type.
struct Entry {
    /// The type of the value: what every access checks before it reads the value as one.
    id: TypeId,
    /// The value.
    stored: Stored,
}

/// Where a value lives.
enum Stored {
    /// A small value, in place.
    Inline(Inline),
    /// Any other value.
    Boxed(Box<dyn Any + Send + Sync>),
}

/// A value of some type `T` that fits [`Words`], kept in its bytes; only [`Entry`], which
/// knows `T` by its `TypeId`, reads it.
struct Inline {
    /// The value's bytes, in a cell: a `T` with interior mutability (an atomic, a mutex) may be
    /// changed through the shared reference [`Entry::get`] hands out.
    data: UnsafeCell<MaybeUninit<Words>>,
    /// Drops the value in place (`drop_value::<T>`).
    drop_value: unsafe fn(*mut u8),
}

// SAFETY: only `Send + Sync` values are stored (`Extensions::insert`'s bounds), so sharing the
// cell between threads shares nothing a `&T` could not.
unsafe impl Sync for Inline {}

/// Drop the `T` at `value`.
///
/// # Safety
/// `value` points to a valid `T` that is not used afterwards.
unsafe fn drop_value<T>(value: *mut u8) {
    // SAFETY: the caller's promise.
    unsafe { std::ptr::drop_in_place(value.cast::<T>()) }
}

impl Drop for Inline {
    fn drop(&mut self) {
        // SAFETY: `data` holds the value `drop_value` was made for (`Entry::new`), and nothing
        // uses it after this.
        unsafe { (self.drop_value)(self.data.get_mut().as_mut_ptr().cast()) }
    }
}

impl Entry {
    fn new<T: Send + Sync + 'static>(value: T) -> Entry {
        let fits = std::mem::size_of::<T>() <= INLINE_BYTES
            && std::mem::align_of::<T>() <= std::mem::align_of::<Words>();
        let stored = if fits {
            let data = UnsafeCell::new(MaybeUninit::<Words>::uninit());
            // SAFETY: `T` fits in `data`'s size and alignment (checked just above).
            unsafe { data.get().cast::<T>().write(value) };
            Stored::Inline(Inline {
                data,
                drop_value: drop_value::<T>,
            })
        } else {
            Stored::Boxed(Box::new(value))
        };
        Entry {
            id: TypeId::of::<T>(),
            stored,
        }
    }

    fn is<T: 'static>(&self) -> bool {
        self.id == TypeId::of::<T>()
    }

    fn get<T: 'static>(&self) -> Option<&T> {
        if !self.is::<T>() {
            return None;
        }
        match &self.stored {
            // SAFETY: the entry holds a `T` (its type id says so), in place.
            Stored::Inline(inline) => Some(unsafe { &*inline.data.get().cast::<T>() }),
            Stored::Boxed(boxed) => boxed.downcast_ref::<T>(),
        }
    }

    fn get_mut<T: 'static>(&mut self) -> Option<&mut T> {
        if !self.is::<T>() {
            return None;
        }
        match &mut self.stored {
            // SAFETY: as in `get`; `&mut self` makes the borrow unique.
            Stored::Inline(inline) => {
                Some(unsafe { &mut *inline.data.get_mut().as_mut_ptr().cast::<T>() })
            }
            Stored::Boxed(boxed) => boxed.downcast_mut::<T>(),
        }
    }

    /// The value, if it is a `T`.
    fn into_value<T: 'static>(self) -> Option<T> {
        if !self.is::<T>() {
            return None;
        }
        match self.stored {
            Stored::Inline(inline) => {
                let inline = std::mem::ManuallyDrop::new(inline);
                // SAFETY: the entry holds a `T` (its type id says so), in place; the value is
                // read out once and `inline` is not dropped, so it is not dropped twice.
                Some(unsafe { inline.data.get().cast::<T>().read() })
            }
            Stored::Boxed(boxed) => boxed.downcast::<T>().ok().map(|value| *value),
        }
    }
}

impl Extensions {
    /// No values (and no allocation).
    pub fn new() -> Extensions {
        Extensions::default()
    }

    fn entry<T: 'static>(&self) -> Option<&Entry> {
        self.first
            .iter()
            .chain(self.rest.iter().flat_map(|rest| rest.iter()))
            .find(|entry| entry.is::<T>())
    }

    fn entry_mut<T: 'static>(&mut self) -> Option<&mut Entry> {
        self.first
            .iter_mut()
            .chain(self.rest.iter_mut().flat_map(|rest| rest.iter_mut()))
            .find(|entry| entry.is::<T>())
    }

    /// Store `value`, returning the previous value of the same type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        let entry = Entry::new(value);
        // The common case, the first value of a request: nothing to look through.
        if self.first.is_none() && self.rest.is_none() {
            self.first = Some(entry);
            return None;
        }
        if let Some(slot) = self.entry_mut::<T>() {
            return std::mem::replace(slot, entry).into_value::<T>();
        }
        match self.first {
            None => self.first = Some(entry),
            Some(_) => self.rest.get_or_insert_with(Box::default).push(entry),
        }
        None
    }

    /// The value of type `T`.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.entry::<T>()?.get::<T>()
    }

    /// The value of type `T`, mutably.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.entry_mut::<T>()?.get_mut::<T>()
    }

    /// Remove and return the value of type `T`.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        let rest = self.rest.as_deref_mut();
        let entry = if self.first.as_ref().is_some_and(Entry::is::<T>) {
            let entry = self.first.take()?;
            if let Some(rest) = rest.filter(|rest| !rest.is_empty()) {
                self.first = Some(rest.remove(0));
            }
            entry
        } else {
            let rest = rest?;
            let at = rest.iter().position(Entry::is::<T>)?;
            rest.remove(at)
        };
        entry.into_value::<T>()
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len =
            usize::from(self.first.is_some()) + self.rest.as_ref().map_or(0, |rest| rest.len());
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

    /// Counts its drops in a shared counter.
    struct Tracked(Arc<std::sync::atomic::AtomicUsize>, u8);

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[test]
    fn small_and_large_values_are_each_dropped_once() {
        let drops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = || drops.load(std::sync::atomic::Ordering::Relaxed);
        // A small value (kept in place) and a large one (boxed: more than `INLINE_BYTES`, or
        // more than a word's alignment), each replaced, removed, and dropped with the list.
        let mut extensions = Extensions::new();
        extensions.insert(Tracked(drops.clone(), 1));
        extensions.insert([7u64; 8]);
        extensions.insert(u128::MAX);
        let old = extensions
            .insert(Tracked(drops.clone(), 2))
            .expect("the first");
        assert_eq!((old.1, count()), (1, 0));
        drop(old);
        assert_eq!(count(), 1);
        assert_eq!(extensions.get::<Tracked>().map(|t| t.1), Some(2));
        extensions.get_mut::<Tracked>().expect("stored").1 = 3;
        assert_eq!(extensions.get::<[u64; 8]>(), Some(&[7u64; 8]));
        assert_eq!(extensions.get::<u128>(), Some(&u128::MAX));
        let taken = extensions.remove::<Tracked>().expect("stored");
        assert_eq!((taken.1, count()), (3, 1));
        drop(taken);
        assert_eq!(count(), 2);
        assert!(extensions.get::<Tracked>().is_none());
        assert_eq!(extensions.remove::<[u64; 8]>(), Some([7u64; 8]));
        extensions.insert(Tracked(drops.clone(), 4));
        extensions.insert(String::from("kept in place"));
        drop(extensions);
        assert_eq!(count(), 3);
    }

    #[test]
    fn a_value_kept_in_place_may_change_through_a_shared_reference() {
        let mut extensions = Extensions::new();
        extensions.insert(std::sync::atomic::AtomicU64::new(1));
        let counter = extensions
            .get::<std::sync::atomic::AtomicU64>()
            .expect("stored");
        counter.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(
            extensions
                .remove::<std::sync::atomic::AtomicU64>()
                .map(|c| c.into_inner()),
            Some(3)
        );
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
