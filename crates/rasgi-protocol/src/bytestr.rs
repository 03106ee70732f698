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
        // Most text a server meets is ASCII (methods, paths, header values), which a word-wise
        // test settles faster than the full decoder.
        if bytes.is_ascii() {
            return Ok(ByteStr(bytes));
        }
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(ByteStr(bytes)),
            Err(_) => Err(bytes),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: the bytes are UTF-8. The field is private and every constructor admits UTF-8
        // only: `from_static` and `From<String>` take `str`s, `from_utf8` checks, `Default` is
        // empty; `Bytes` is immutable. Checking again here cost a UTF-8 scan per comparison.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
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
