//! [`ByteStr`]: UTF-8 text held in [`Bytes`], so that a scope's method and path can share the
//! request buffer instead of being copied into a `String`.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// UTF-8 text backed by [`Bytes`]; cloning it is a reference-count increment.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ByteStr(Bytes);

impl ByteStr {
    /// Text from a `'static` string, without copying.
    pub const fn from_static(text: &'static str) -> ByteStr {
        ByteStr(Bytes::from_static(text.as_bytes()))
    }

    /// Wrap `bytes` if they are UTF-8; hand them back otherwise.
    pub fn from_utf8(bytes: Bytes) -> Result<ByteStr, Bytes> {
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(ByteStr(bytes)),
            Err(_) => Err(bytes),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // The constructors admit UTF-8 only; `from_utf8_lossy`-style repair happens before.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl Deref for ByteStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for ByteStr {
    fn from(text: String) -> ByteStr {
        ByteStr(Bytes::from(text))
    }
}

impl From<&'static str> for ByteStr {
    fn from(text: &'static str) -> ByteStr {
        ByteStr::from_static(text)
    }
}

impl PartialEq<str> for ByteStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ByteStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
