//! Headless Chromium (Debian's package; `.ci/run` installs it) opening a page served or named
//! by a test; the page reports what it saw by requesting `/chromium/<result>`, which the
//! server's access log shows.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::binary::{Rasgi, TempDir};

/// Open `url` in headless Chromium (with `extra` flags) and return the access line of the
/// page's `/chromium/` report, waiting up to a minute for it.
pub fn page_report(rasgi: &Rasgi, url: &str, extra: &[&str]) -> String {
    let chromium = Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "this test needs Debian's chromium package (.ci/run installs it)"
    );
    let profile = TempDir::new("chromium");
    let mut browser = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
        ])
        .args(extra)
        .arg(format!("--user-data-dir={}", profile.0.display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = loop {
        if let Some(line) = rasgi.stderr().lines().find(|l| l.contains("/chromium/")) {
            break line.to_string();
        }
        if Instant::now() > deadline {
            let _ = browser.kill();
            panic!("no report from chromium; server log:\n{}", rasgi.stderr());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = browser.kill();
    let _ = browser.wait();
    report
}
