//! The layers of `src/lib.rs`, enforced: a library module may use only its own layer and
//! the layers below it. The binary (`src/main.rs`, `src/cli/`) may use everything.
//!
//! The check reads the source text: `use crate::X…` (grouped `use crate::{X, Y}` too),
//! `crate::X::` paths anywhere in code, and `super::` paths that climb out of a top-level
//! module. Comments are ignored.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

/// The layer table, lowest first (the same as `src/lib.rs`'s).
const LAYERS: &[(usize, &[&str])] = &[
    (0, &["units", "sys", "error", "text", "outfile"]),
    (1, &["ingest", "procfs"]),
    (2, &["fold"]),
    (3, &["record"]),
    (4, &["analyze"]),
    (5, &["workloads", "compare", "export"]),
    (6, &["report", "reproduce"]),
];

/// Where a source file sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The crate root: declares the modules.
    Root,
    /// The binary: may use every layer.
    Binary,
    /// A library module in this layer.
    Layer(usize),
}

fn layer_of_module(table: &[(usize, &[&str])], module: &str) -> Option<usize> {
    table
        .iter()
        .find(|(_, mods)| mods.contains(&module))
        .map(|(l, _)| *l)
}

/// The module path of a file under `src/`: `analyze/phased.rs` → `[analyze, phased]`,
/// `analyze/mod.rs` → `[analyze]`.
fn module_path(rel: &str) -> Vec<String> {
    let rel = rel.trim_end_matches(".rs");
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn place(table: &[(usize, &[&str])], binary: &[&str], rel: &str) -> Option<Place> {
    let path = module_path(rel);
    let top = path.first()?.as_str();
    if top == "lib" {
        return Some(Place::Root);
    }
    if top == "main" || binary.contains(&top) {
        return Some(Place::Binary);
    }
    layer_of_module(table, top).map(Place::Layer)
}

/// Code without `//` comments (string contents are kept; no source here puts `crate::`
/// in a string).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let code = match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        };
        (!code.trim().is_empty()).then_some((i + 1, code))
    })
}

/// The first segment of each path in a use tree body after `crate::` or the resolved
/// `super::`: `analyze::X` → `[analyze]`, `{units::Bytes, fold}` → `[units, fold]`.
fn first_segments(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut out = Vec::new();
        let mut item = String::new();
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.extend(first_segments(&item));
                    item.clear();
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
        out.extend(first_segments(&item));
        return out;
    }
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if name.is_empty() || name == "self" {
        Vec::new()
    } else {
        vec![name]
    }
}

/// Top-level modules a line refers to: `crate::X` paths and `super::` chains that reach
/// the crate root from `module`.
fn referenced(module: &[String], line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in line.match_indices("crate::") {
        // `faultline_crate::` or `$crate::` are not ours.
        let before = line[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        out.extend(first_segments(&line[at + "crate::".len()..]));
    }
    let mut i = 0;
    while let Some(at) = line[i..].find("super::") {
        let start = i + at;
        let before = line[..start].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            i = start + 7;
            continue;
        }
        let mut depth = 0;
        let mut rest = &line[start..];
        while let Some(r) = rest.strip_prefix("super::") {
            depth += 1;
            rest = r;
        }
        // From module path P, `super::` names P's parent; at the crate root the next
        // segment is a top-level module.
        if depth >= module.len() {
            out.extend(first_segments(rest));
        }
        i = start + 7 * depth;
    }
    out
}

/// Every import of a higher layer in `files` (path relative to `src/`, text), as
/// `file:line: layer A uses X (layer B)`.
fn violations(
    table: &[(usize, &[&str])],
    binary: &[&str],
    files: &[(String, String)],
) -> Vec<String> {
    let mut out = Vec::new();
    for (rel, text) in files {
        let Some(Place::Layer(own)) = place(table, binary, rel) else {
            continue;
        };
        let module = module_path(rel);
        for (n, line) in code_lines(text) {
            let mut seen = BTreeSet::new();
            for target in referenced(&module, line) {
                let Some(theirs) = layer_of_module(table, &target) else {
                    continue;
                };
                if theirs > own && seen.insert(target.clone()) {
                    out.push(format!(
                        "src/{rel}:{n}: layer {own} ({}) uses {target} (layer {theirs})",
                        module[0]
                    ));
                }
            }
        }
    }
    out
}

/// Every `.rs` file under `dir`, relative to it.
fn read_tree(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

const BINARY: &[&str] = &["cli"];

#[test]
fn no_module_imports_a_layer_above_its_own() {
    let files = read_tree(&common::root().join("src"));
    // Every top-level module must be in the table, so a new one cannot dodge the check.
    for (rel, _) in &files {
        assert!(
            place(LAYERS, BINARY, rel).is_some(),
            "src/{rel}: not in the layer table of tests/architecture.rs (and src/lib.rs)"
        );
    }
    let bad = violations(LAYERS, BINARY, &files);
    assert!(
        bad.is_empty(),
        "imports of higher layers:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_table_matches_lib_rs() {
    let lib = std::fs::read_to_string(common::root().join("src/lib.rs")).unwrap();
    for (layer, mods) in LAYERS {
        let row = lib
            .lines()
            .find(|l| l.starts_with(&format!("//! | {layer} ")))
            .unwrap_or_else(|| panic!("src/lib.rs has no row for layer {layer}"));
        for m in *mods {
            assert!(
                row.contains(&format!("[`{m}`]")),
                "layer {layer}: {m} not in {row:?}"
            );
        }
    }
}

#[test]
fn planted_violations_are_caught() {
    let files: Vec<(String, String)> = [
        ("ingest/x.rs", "use crate::analyze::model::Report;\n"),
        (
            "procfs/y.rs",
            "use crate::{units::Bytes, record::cgroup};\n",
        ),
        (
            "fold/z.rs",
            "fn f() { let _ = crate::report::html::esc(\"\"); }\n",
        ),
        ("analyze/w.rs", "use super::super::compare::Mode;\n"),
        (
            "units.rs",
            "use super::sys::now;\nuse super::error::Error;\n",
        ),
        // Allowed: same or lower layers, comments, the binary, nested `super::`.
        (
            "analyze/ok.rs",
            "use crate::record::runner::MARKERS;\n// crate::report\nuse super::phased::Phased;\n",
        ),
        ("cli/mod.rs", "use crate::report::html;\n"),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_string(), t.to_string()))
    .collect();
    let bad = violations(LAYERS, BINARY, &files);
    assert_eq!(
        bad,
        [
            "src/ingest/x.rs:1: layer 1 (ingest) uses analyze (layer 4)",
            "src/procfs/y.rs:1: layer 1 (procfs) uses record (layer 3)",
            "src/fold/z.rs:1: layer 2 (fold) uses report (layer 6)",
            "src/analyze/w.rs:1: layer 4 (analyze) uses compare (layer 5)",
        ],
        "{bad:#?}"
    );
}

/// The flat tree before the layering (commit ca29eee), its modules placed in the layers
/// they moved to: the check finds its circles (error → runner, the pure procfs parser →
/// the cgroup code with side effects).
#[test]
fn the_tree_before_the_layering_fails() {
    const OLD: &[(usize, &[&str])] = &[
        (0, &["units", "error"]),
        (
            1,
            &["input", "intern", "profile", "script", "symbols", "procfs"],
        ),
        (2, &["collapse", "flame"]),
        (3, &["cgroup", "exec", "runner", "sampler", "thp"]),
        (4, &["analyze", "irq", "pagetable", "phases"]),
        (5, &["workloads", "compare"]),
        (6, &["report"]),
    ];
    let root = common::root();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(&root)
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    let Some(list) = git(&["ls-tree", "-r", "--name-only", "ca29eee", "src"]) else {
        eprintln!("skipped: commit ca29eee is not in this checkout (a shallow clone?)");
        return;
    };
    let files: Vec<(String, String)> = String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .filter(|p| p.ends_with(".rs"))
        .map(|p| {
            let text = git(&["show", &format!("ca29eee:{p}")]).unwrap().stdout;
            (
                p.trim_start_matches("src/").to_string(),
                String::from_utf8(text).unwrap(),
            )
        })
        .collect();
    let bad = violations(OLD, &["commands"], &files);
    eprintln!(
        "{} imports of higher layers at ca29eee:\n{}",
        bad.len(),
        bad.join("\n")
    );
    for expected in [
        "src/error.rs:",
        "layer 0 (error) uses runner (layer 3)",
        "src/procfs/cgroup.rs:",
        "layer 1 (procfs) uses cgroup (layer 3)",
    ] {
        assert!(
            bad.iter().any(|b| b.contains(expected)),
            "{expected:?} not among {bad:#?}"
        );
    }
}
