//! The README's curl session, replayed against the binary: the same status lines, the headers
//! that matter, and the same bodies. Headers whose values change per run (date, ids, timings)
//! must be present; their values are not compared.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::binary::Rasgi;

const VARYING: [&str; 3] = ["date", "x-request-id", "x-process-time"];

struct Step {
    command: String,
    expected: Vec<String>,
}

fn session() -> Vec<Step> {
    let readme = include_str!("../README.md");
    let start = readme
        .find("<!-- curl-session: start -->")
        .expect("session start marker");
    let end = readme
        .find("<!-- curl-session: end -->")
        .expect("session end marker");
    let block = &readme[start..end];
    let body = block.split("```console\n").nth(1).expect("console block");
    let body = body.split("```").next().unwrap();
    let mut steps: Vec<Step> = Vec::new();
    for line in body.lines() {
        if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: command.to_string(),
                expected: Vec::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            step.expected.push(line.to_string());
        }
    }
    steps
}

fn run_curl(command: &str, port: u16) -> Vec<String> {
    let args = shell_words(command);
    assert_eq!(args[0], "curl");
    let args: Vec<String> = args[1..]
        .iter()
        .map(|a| a.replace("localhost:8000", &format!("localhost:{port}")))
        .collect();
    let output = Command::new("curl")
        .arg("-sS")
        .args(&args)
        .output()
        .expect("curl");
    assert!(
        output.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
    text.lines().map(str::to_string).collect()
}

/// Split a command line on spaces, honouring single quotes (all the README uses).
fn shell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in command.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn compare(command: &str, expected: &[String], actual: &[String]) {
    let split = |lines: &[String]| {
        let blank = lines
            .iter()
            .position(|l| l.is_empty())
            .unwrap_or(lines.len());
        (
            lines[0].clone(),
            lines[1..blank].to_vec(),
            lines[(blank + 1).min(lines.len())..].join("\n"),
        )
    };
    let (want_status, want_headers, want_body) = split(expected);
    let (got_status, got_headers, got_body) = split(actual);
    assert_eq!(got_status, want_status, "{command}");
    assert_eq!(got_body, want_body, "{command}");
    for header in want_headers {
        let name = header.split(':').next().unwrap().to_ascii_lowercase();
        if VARYING.contains(&name.as_str()) {
            assert!(
                got_headers
                    .iter()
                    .any(|h| h.to_ascii_lowercase().starts_with(&format!("{name}:"))),
                "{command}: no {name}"
            );
        } else {
            assert!(
                got_headers.contains(&header),
                "{command}: expected {header:?} in {got_headers:?}"
            );
        }
    }
}

#[test]
fn the_readme_curl_session_is_what_the_binary_does() {
    let steps = session();
    assert!(steps.len() >= 5, "the session has its commands");
    let first = &steps[0].command;
    let delay = first
        .split("--email-delay-ms ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .expect("the run command sets the delay");
    let rasgi = Rasgi::start(&["--no-access-log", "--email-delay-ms", delay]);
    for step in &steps[1..] {
        if step.command.starts_with("curl ") {
            compare(
                &step.command,
                &step.expected,
                &run_curl(&step.command, rasgi.port),
            );
        } else if step.command.contains("cat rasgi-demo.log") {
            let deadline = Instant::now() + Duration::from_secs(20);
            while rasgi.log_lines().len() < step.expected.len() {
                assert!(
                    Instant::now() < deadline,
                    "log lines: {:?}",
                    rasgi.log_lines()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            assert_eq!(rasgi.log_lines(), step.expected);
        } else {
            panic!(
                "the session has a step this test cannot replay: {}",
                step.command
            );
        }
    }
}

/// The flags a text names as `--word`, in order of first appearance.
fn flags_named(text: &str) -> Vec<String> {
    let mut flags: Vec<String> = Vec::new();
    for (at, _) in text.match_indices("--") {
        let name: String = text[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        let flag = format!("--{name}");
        if name.len() > 1 && !flags.contains(&flag) {
            flags.push(flag);
        }
    }
    flags
}

#[test]
fn every_flag_the_readme_and_deploy_docs_name_is_one_the_binary_takes() {
    let help = Command::new(support::binary::binary())
        .arg("--help")
        .output()
        .expect("rasgi --help");
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let taken = flags_named(&help);
    // Flags of other programs the docs quote (cargo's, curl's, nginx's).
    let others = [
        "--release",
        "--workspace",
        "--now",
        "--example",
        "--http2-prior-knowledge",
    ];
    let readme = include_str!("../README.md");
    let deploy = include_str!("../docs/deploy.md");
    let named: Vec<String> = flags_named(readme)
        .into_iter()
        .chain(flags_named(deploy))
        .filter(|f| !others.contains(&f.as_str()))
        .collect();
    assert!(named.len() >= 30, "the docs name the flags: {named:?}");
    let unknown: Vec<&String> = named.iter().filter(|f| !taken.contains(f)).collect();
    assert!(
        unknown.is_empty(),
        "named in the docs, unknown to --help: {unknown:?}"
    );
    let section = readme
        .split("## Flags")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the README has a Flags section");
    let in_section = flags_named(section);
    let undocumented: Vec<&String> = taken
        .iter()
        .filter(|f| !["--help", "--version"].contains(&f.as_str()))
        .filter(|f| !in_section.contains(f) && !flags_named(deploy).contains(f))
        .filter(|f| !help_is_demo_only(f))
        .collect();
    assert!(
        undocumented.is_empty(),
        "flags --help lists that neither the README's Flags section nor docs/deploy.md shows: {undocumented:?}"
    );
}

/// The demo app's own flags, which the README's routes paragraph and `--help` explain.
fn help_is_demo_only(flag: &str) -> bool {
    [
        "--log-file",
        "--email-delay-ms",
        "--notification-delay-ms",
        "--allowed-hosts",
        "--cors-origins",
        "--ws-max-size",
        "--ws-ping-interval",
        "--ws-ping-timeout",
        "--no-ws-per-message-deflate",
        "--max-body-bytes",
        "--root-path",
    ]
    .contains(&flag)
}

/// The README's embedding example, as a newcomer pastes it.
fn embedding_example() -> &'static str {
    let readme = include_str!("../README.md");
    let start = readme
        .find("<!-- embed: start -->")
        .expect("embed start marker");
    let end = readme
        .find("<!-- embed: end -->")
        .expect("embed end marker");
    let block = readme[start..end]
        .split("```rust\n")
        .nth(1)
        .expect("a rust block");
    block.split("```").next().unwrap()
}

#[test]
fn the_readme_embedding_example_is_the_example_that_runs() {
    assert_eq!(
        embedding_example(),
        include_str!("../examples/readme.rs"),
        "README.md's embedding block and examples/readme.rs differ"
    );
    // `cargo test` builds the examples beside the tests' own directory.
    let example = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples").join("readme"))
        .unwrap();
    assert!(example.exists(), "{} was not built", example.display());
    let mut child = Command::new(&example)
        .arg("127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port: u16 = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let get = |path: &str| {
        let output = Command::new("curl")
            .args(["-sS", "-i", &format!("http://127.0.0.1:{port}{path}")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n")
    };
    let hello = get("/hello/ann");
    assert!(hello.starts_with("HTTP/1.1 200 OK\n"), "{hello}");
    assert!(hello.ends_with("\n\nHello, ann!"), "{hello}");
    let missing = get("/nope");
    assert!(missing.starts_with("HTTP/1.1 404 Not Found\n"), "{missing}");
    // SIGTERM: the graceful shutdown `serve` promises, and exit 0.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "the example did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}
