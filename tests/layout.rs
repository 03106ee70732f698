//! The workspace's shape, checked: within each crate, modules depend one way (no two import
//! each other, directly or around a circle), and no source file outside the tests is over
//! 800 lines.
//!
//! A module's dependencies are read from its source: every `crate::` and `super::` path (in
//! `use` items and in code, comments left out), resolved to the module the path names (an item
//! the crate root re-exports counts as its own module's). A module's own children are not its
//! dependencies unless it names them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest a source file outside the tests may be.
const MAX_LINES: usize = 800;

/// The workspace's root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The source directories of the workspace's crates: the facade's `src/` and each member's.
fn crate_sources() -> Vec<PathBuf> {
    let mut sources = vec![root().join("src")];
    let crates = std::fs::read_dir(root().join("crates")).expect("crates/");
    for entry in crates.flatten() {
        let src = entry.path().join("src");
        if src.is_dir() {
            sources.push(src);
        }
    }
    sources.sort();
    sources
}

/// A file's module path within its crate (`h1::read` for `src/h1/read.rs`; the root is empty).
/// A module's test file (`rules_tests.rs`, included with `#[path]`) is its `tests` module.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    if let Some(last) = parts.last_mut() {
        if let Some(module) = last.strip_suffix("_tests") {
            *last = module.to_string();
            parts.push("tests".to_string());
        }
    }
    parts
}

/// The paths a source names after `crate::` and `super::`, comments and the inline test
/// module at the end left out, with `super` resolved against `module`; grouped `use` items are
/// expanded one level.
fn named_paths(source: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for line in source
        .lines()
        .take_while(|line| line.trim() != "#[cfg(test)]")
    {
        let code = line.split("//").next().unwrap_or_default();
        for (at, _) in code
            .match_indices("crate::")
            .chain(code.match_indices("super::"))
        {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &code[at..];
            let (base, rest) = if let Some(rest) = rest.strip_prefix("crate::") {
                (Vec::new(), rest)
            } else {
                let mut base = module.to_vec();
                base.pop();
                (base, &rest["super::".len()..])
            };
            let expand = |base: &Vec<String>, text: &str| -> Vec<Vec<String>> {
                let segments: Vec<String> = text
                    .split("::")
                    .map(|s| {
                        s.chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect()
                    })
                    .take_while(|s: &String| !s.is_empty())
                    .collect();
                let mut path = base.clone();
                path.extend(segments);
                vec![path]
            };
            if let Some(group) = rest.strip_prefix('{') {
                let group = group.split('}').next().unwrap_or_default();
                for item in group.split(',') {
                    paths.extend(expand(&base, item.trim()));
                }
            } else {
                paths.extend(expand(&base, rest));
            }
        }
    }
    paths
}

/// The module a path names: its longest prefix that is a module of the crate, or the module
/// that defines the item the crate root re-exports.
fn resolve(
    path: &[String],
    modules: &BTreeSet<Vec<String>>,
    reexports: &BTreeMap<String, Vec<String>>,
) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| modules.contains(prefix))
        .or_else(|| reexports.get(path.first()?).cloned())
}

/// What the crate root re-exports from its own modules: item name → module.
fn root_reexports(root_source: &str) -> BTreeMap<String, Vec<String>> {
    let mut items = BTreeMap::new();
    let flat = root_source.replace('\n', " ");
    for item in flat.split(';') {
        let Some(used) = item.trim().strip_prefix("pub use ") else {
            continue;
        };
        let (module, names) = match used.split_once("::{") {
            Some((module, names)) => (module, names.trim_end_matches('}')),
            None => match used.rsplit_once("::") {
                Some((module, name)) => (module, name),
                None => continue,
            },
        };
        let module: Vec<String> = module.split("::").map(|s| s.trim().to_string()).collect();
        for name in names.split(',') {
            let name = name.split(" as ").last().unwrap_or_default().trim();
            if !name.is_empty() {
                items.insert(name.to_string(), module.clone());
            }
        }
    }
    items
}

/// One crate's module graph: module → the modules it names.
fn module_graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let root_file = ["lib.rs", "main.rs"]
        .iter()
        .map(|name| src.join(name))
        .find(|path| path.exists())
        .expect("a crate root");
    let reexports = root_reexports(&std::fs::read_to_string(root_file).unwrap());
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let module = module_of(src, file);
        let source = std::fs::read_to_string(file).unwrap();
        let edges = graph.entry(module.clone()).or_default();
        for path in named_paths(&source, &module) {
            if let Some(target) = resolve(&path, &modules, &reexports) {
                // A module naming its own items, or the root naming what it declares, is no
                // dependency.
                if target != module && !target.is_empty() && !module.is_empty() {
                    edges.insert(target);
                }
            }
        }
    }
    graph
}

/// A circle in `graph`, if there is one: the modules around it.
fn find_circle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        marks: &mut BTreeMap<Vec<String>, Mark>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = stack.iter().position(|n| n == node).unwrap_or(0);
                let mut circle: Vec<String> = stack[from..].iter().map(|n| n.join("::")).collect();
                circle.push(node.join("::"));
                return Some(circle);
            }
            None => {}
        }
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, marks, stack) {
                return Some(circle);
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}

#[test]
fn no_two_modules_of_a_crate_import_each_other_directly_or_around_a_circle() {
    let (mut circles, mut modules) = (Vec::new(), 0);
    for src in crate_sources() {
        let graph = module_graph(&src);
        modules += graph.len();
        if let Some(circle) = find_circle(&graph) {
            circles.push(format!("{}: {}", src.display(), circle.join(" → ")));
        }
    }
    assert!(modules > 50, "found only {modules} modules");
    assert!(circles.is_empty(), "{}", circles.join("\n"));
}

#[test]
fn the_circle_check_finds_a_circle_of_three() {
    let module = |name: &str| vec![name.to_string()];
    let mut graph = BTreeMap::new();
    graph.insert(module("a"), BTreeSet::from([module("b")]));
    graph.insert(module("b"), BTreeSet::from([module("c")]));
    graph.insert(module("c"), BTreeSet::from([module("a")]));
    graph.insert(module("d"), BTreeSet::from([module("a")]));
    assert_eq!(
        find_circle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    graph.insert(module("c"), BTreeSet::new());
    assert_eq!(find_circle(&graph), None);
}

#[test]
fn the_import_reader_resolves_crate_super_and_grouped_paths() {
    let source = "use crate::{buffers, ServerCounters};\nuse super::wire::Wire;\n\
                  // crate::commented::out\nlet x = crate::date::line();\n";
    let module = vec!["h1".to_string(), "read".to_string()];
    let paths = named_paths(source, &module);
    let text: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        text,
        ["buffers", "ServerCounters", "h1::wire::Wire", "date::line"]
    );
}

#[test]
fn no_source_file_outside_the_tests_is_over_800_lines() {
    let mut files = Vec::new();
    for dir in ["src", "crates", "benches", "examples", "fuzz/fuzz_targets"] {
        rust_files(&root().join(dir), &mut files);
    }
    let long: Vec<String> = files
        .iter()
        .filter(|file| {
            let in_tests = file.components().any(|c| c.as_os_str() == "tests");
            let tests_file = file.to_string_lossy().ends_with("_tests.rs");
            !in_tests && !tests_file
        })
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).ok()?.lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(files.len() > 50, "found only {} source files", files.len());
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines: {}",
        long.join(", ")
    );
}
