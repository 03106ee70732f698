//! From a request's path to an open file inside the served directory, or nothing.
//!
//! The rules kept: the path is decoded one segment at a time, and a segment that is empty, `.`
//! or `..`, or that decodes to a `/`, a `\` or a NUL, is refused (so `%2e%2e` and `%2f` cannot
//! climb out); the file is opened first and its real place checked afterwards, through the
//! open descriptor itself, so that a symbolic link pointing outside the directory is refused
//! even if it is swapped in between; only a regular file is served.

use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A file found for a request.
pub(crate) struct Found {
    pub file: File,
    pub meta: Metadata,
    /// The name it was asked by (its extension chooses the `content-type`).
    pub path: PathBuf,
}

/// The regular file `raw` (a request path below the served directory, still percent-encoded,
/// without its leading `/`) names inside `root` (canonical), opened.
pub(crate) fn open(root: &Path, raw: &[u8]) -> Option<Found> {
    let relative = relative(raw)?;
    let path = root.join(&relative);
    // Non-blocking: opening a FIFO someone left in the directory must not wait for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || !real_path(&file, &path)?.starts_with(root) {
        return None;
    }
    Some(Found {
        file,
        meta,
        path: relative,
    })
}

/// Where the open `file` really is: read back from its descriptor where the system says
/// (Linux's `/proc/self/fd`), the canonical form of `path` otherwise.
fn real_path(file: &File, path: &Path) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    let by_descriptor = format!("/proc/self/fd/{}", file.as_raw_fd());
    std::fs::read_link(by_descriptor)
        .or_else(|_| std::fs::canonicalize(path))
        .ok()
}

/// The relative path `raw` names, decoded segment by segment; `None` for any segment that
/// could leave the directory or name something a path cannot.
pub(crate) fn relative(raw: &[u8]) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    for segment in raw.split(|&b| b == b'/') {
        let decoded = percent_decode(segment)?;
        let refused = decoded.is_empty()
            || decoded == b"."
            || decoded == b".."
            || decoded.iter().any(|&b| matches!(b, b'/' | b'\\' | 0));
        if refused {
            return None;
        }
        path.push(OsStr::from_bytes(&decoded));
    }
    Some(path)
}

/// `%XX` escapes decoded; a `%` not followed by two hex digits is refused.
fn percent_decode(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_encoded_names_are_decoded_segment_by_segment() {
        assert_eq!(relative(b"a.txt"), Some(PathBuf::from("a.txt")));
        assert_eq!(
            relative(b"sub/b%20c.css"),
            Some(PathBuf::from("sub/b c.css"))
        );
        assert_eq!(relative(b"caf%C3%A9"), Some(PathBuf::from("café")));
    }

    #[test]
    fn every_way_out_of_the_directory_is_refused() {
        for raw in [
            &b""[..],
            b"..",
            b"../etc/passwd",
            b"sub/../../x",
            b"%2e%2e/x",
            b"%2E%2E/x",
            b".%2e/x",
            b"sub/%2e%2e/%2e%2e/x",
            b"..%2fx",
            b"..%2Fx",
            b"sub%2f..%2f..%2fx",
            b"..%5cx",
            b"a%00b",
            b"./a",
            b"a//b",
            b"a/",
            b"/etc/passwd",
            b"%zz",
            b"%2",
        ] {
            assert_eq!(relative(raw), None, "{:?}", String::from_utf8_lossy(raw));
        }
    }
}
