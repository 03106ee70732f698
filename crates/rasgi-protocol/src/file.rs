//! [`FileBody`]: a response body the server sends from a file (ASGI's `http.response.pathsend`
//! extension), without the app reading it: by `sendfile(2)` on a plain socket, the kernel
//! copying from its page cache, and in bounded pieces otherwise.
//!
//! The rule: the app opens the file and chooses the range; the length is fixed when the
//! [`FileBody`] is made, and the server sends exactly that many bytes or ends the connection
//! (a file that shrinks while it is sent cannot be sent whole).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// A range of an open file, to be sent as a response's whole body with
/// [`Message::PathSend`](crate::Message::PathSend).
#[derive(Debug, Clone)]
pub struct FileBody {
    /// The open file (opened by the app, so that what it checked is what is sent).
    file: Arc<File>,
    /// Where the range starts.
    offset: u64,
    /// How many bytes it holds.
    len: u64,
}

impl FileBody {
    /// All of the file at `path`, as long as it is when opened.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<FileBody> {
        FileBody::whole(File::open(path)?)
    }

    /// All of an open file, as long as it is now.
    pub fn whole(file: File) -> std::io::Result<FileBody> {
        let len = file.metadata()?.len();
        Ok(FileBody {
            file: Arc::new(file),
            offset: 0,
            len,
        })
    }

    /// `len` bytes of `file` from `offset` (a range the app has checked against the file's
    /// length: bytes past its end are not there to send).
    pub fn range(file: Arc<File>, offset: u64, len: u64) -> FileBody {
        FileBody { file, offset, len }
    }

    /// The file.
    pub fn file(&self) -> &Arc<File> {
        &self.file
    }

    /// Where the range starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// How many bytes are to be sent.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Two file bodies are equal when they are the same range of the same open file.
impl PartialEq for FileBody {
    fn eq(&self, other: &FileBody) -> bool {
        Arc::ptr_eq(&self.file, &other.file) && self.offset == other.offset && self.len == other.len
    }
}

impl Eq for FileBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore)] // Miri's isolation has no file system.
    fn a_whole_file_is_as_long_as_it_is_when_opened() {
        let path = std::env::temp_dir().join(format!("rasgi-file-body-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let body = FileBody::open(&path).unwrap();
        assert_eq!((body.offset(), body.len()), (0, 10));
        let range = FileBody::range(Arc::clone(body.file()), 2, 5);
        assert_eq!((range.offset(), range.len()), (2, 5));
        assert_ne!(body, range);
        assert_eq!(range.clone(), range);
        std::fs::remove_file(&path).unwrap();
        assert!(FileBody::open(&path).is_err());
    }
}
