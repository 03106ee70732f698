//! The demo's log file: background tasks append one line each.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

/// An append-only text file shared by every request (it lives in the lifespan state).
#[derive(Debug)]
pub struct LogFile {
    file: Mutex<Option<File>>,
}

impl LogFile {
    /// Open `path` for appending, creating it.
    pub fn open(path: &Path) -> io::Result<LogFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(LogFile {
            file: Mutex::new(Some(file)),
        })
    }

    /// Append `line` and a newline, written through at once.
    pub fn append(&self, line: &str) -> io::Result<()> {
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let file = file
            .as_mut()
            .ok_or_else(|| io::Error::other("the log file is closed"))?;
        file.write_all(format!("{line}\n").as_bytes())?;
        file.flush()
    }

    /// Close the file (at shutdown); later appends fail.
    pub fn close(&self) {
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(file) = file.take() {
            let _ = file.sync_all();
        }
    }
}
