//! Issue 13, "the report about the workload": on the committed OOM run, the first flame
//! graph is the workload's (its own samples and the exit work other tasks did for it,
//! under one root), the top phase table is the workload's with the whole recording's
//! one click away, every report says the THP mode in force (a finding), sizes read as
//! sizes and a count of one is singular.

mod common;

use std::path::PathBuf;

use faultline::analyze::{AnalyzeOptions, analyze};

fn oom_run() -> PathBuf {
    common::root().join("fixtures/runs/breadth-first-oom")
}

fn analysis() -> faultline::analyze::Analysis {
    let opts = AnalyzeOptions {
        input: oom_run(),
        ..AnalyzeOptions::default()
    };
    analyze(&opts, &|_| {}).unwrap()
}

/// The workload's stacks are exactly its process's weight (own samples plus tied work),
/// all under the workload's name, and the tied work is named by the task that ran it.
#[test]
fn the_workload_graph_is_the_workload_and_its_tied_exit_work() {
    let a = analysis();
    let w = a.report.processes.iter().find(|p| p.workload).unwrap();
    let total: u64 = a.workload.iter().map(|(_, n)| n).sum();
    assert_eq!(
        total, w.weight,
        "the graph weighs what the workload's row says"
    );
    assert!(
        w.weight * 2 < a.corrected.iter().map(|(_, n)| n).sum::<u64>(),
        "the fixture's workload is under half the recording, so the view matters"
    );
    let root = format!("{};", w.comm);
    assert!(
        a.workload
            .iter()
            .all(|(l, _)| l.starts_with(root.as_bytes())),
        "one root frame"
    );
    let tied: u64 = w.tied.iter().map(|t| t.weight).sum();
    assert!(tied > 0, "the fixture has tied exit work");
    let under_tied: u64 = a
        .workload
        .iter()
        .filter(|(l, _)| String::from_utf8_lossy(l).contains(";[exit work in "))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(under_tied, tied);
    // Frames are coloured by phase: the exit frame red.
    let color = |name: &str| {
        a.workload_colors
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, c)| *c)
    };
    assert_eq!(color("exit_mmap"), Some([200, 60, 60]));
}

/// Every rendering shows the THP mode, sizes in units, and singular counts; index.html
/// puts the workload's graph and phase table first.
#[test]
fn every_report_shows_thp_sizes_and_singulars() {
    let out = std::env::temp_dir().join(format!("faultline-view-{}", std::process::id()));
    let terminal = common::analyze_oom_fixture(&out);
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    let (md, html, json) = (read("report.md"), read("index.html"), read("report.json"));
    // The fixture's manifest: THP madvise, not changed by the run; said in each one.
    let thp = "THP was madvise for this run (the machine's setting)";
    assert!(terminal.contains(thp), "{terminal}");
    assert!(md.contains(thp), "{md}");
    assert!(html.contains(&format!("<li>{}</li>", thp.replace('\'', "&#39;"))));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["findings"].to_string().contains(thp));
    // Sizes: the 64 TiB span and the 256 MiB cap, never the byte counts.
    // The HTML quotes its text, and its "Raw report" section is report.json as is.
    let html_text = html
        .split("<section id=\"raw\">")
        .next()
        .unwrap()
        .replace("&quot;", "\"");
    for (name, text) in [("terminal", &terminal), ("md", &md), ("html", &html_text)] {
        assert!(text.contains("\"span\":\"64 TiB\""), "{name}");
        assert!(!text.contains("70368744177664"), "{name}");
        assert!(!text.contains("268435456"), "{name}");
        assert!(!text.contains(" 1 samples"), "{name} says \"1 samples\"");
    }
    assert!(md.contains("\"limit\":\"256 MiB\""), "{md}");
    // The workload's phase table comes first in the terminal and Markdown too.
    let (w, all) = (
        terminal.find("The workload, faultline (pid ").unwrap(),
        terminal.find("The whole recording:").unwrap(),
    );
    assert!(w < all && terminal[w..all].contains("exit "), "{terminal}");
    let (w, all) = (
        md.find("## Phases of the workload (cpu-clock)").unwrap(),
        md.find("## Phases (cpu-clock)").unwrap(),
    );
    assert!(w < all, "{md}");
    // report.json keeps the exact numbers.
    assert_eq!(
        v["input"]["target"]["params"]["span_bytes"],
        70368744177664u64
    );
    // The workload first: its graph, then the whole recording's; its phase table, then
    // the whole recording's in a closed <details>.
    let first = html.find("<figcaption>").unwrap();
    assert!(
        html[first..].starts_with("<figcaption>Flame graph: the workload, faultline (pid "),
        "{}",
        &html[first..first + 120]
    );
    assert_eq!(html.matches("<iframe ").count(), 4);
    let phases = html.find("<section id=\"phases\">").unwrap();
    let all = html.find("<details id=\"phases-all\">").unwrap();
    assert!(html[phases..all].contains("The workload, <code>faultline</code>"));
    assert!(html[phases..all].contains("<code>exit</code>"));
    assert!(
        out.join("flamegraph.workload.svg").is_file()
            && read("flamegraph.phases.svg").contains("other grey")
    );
    std::fs::remove_dir_all(&out).unwrap();
}

/// The frames directly under `all` in an inferno SVG: (name, width in percent).
fn root_children(svg: &str) -> Vec<(String, f64)> {
    let frames: Vec<(String, u32, f64)> = svg
        .split("<g><title>")
        .skip(1)
        .filter_map(|g| {
            let name = &g[..g.find(" (")?];
            let attr = |key: &str| {
                let at = g.find(&format!(" {key}=\""))? + key.len() + 3;
                let end = at + g[at..].find('"')?;
                Some(g[at..end].trim_end_matches('%').to_string())
            };
            Some((
                name.to_string(),
                attr("y")?.parse().ok()?,
                attr("width")?.parse().ok()?,
            ))
        })
        .collect();
    let all_y = frames
        .iter()
        .find(|f| f.0 == "all")
        .expect("an all frame")
        .1;
    frames
        .into_iter()
        .filter(|f| f.1 + 16 == all_y)
        .map(|f| (f.0, f.2))
        .collect()
}

/// `compare --diff-svg` draws the workloads: one root under `all`, the whole width; the
/// whole recordings' graph would split it among the tasks.
#[test]
fn the_diff_svg_defaults_to_the_workloads() {
    let dir = std::env::temp_dir().join(format!("faultline-view-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("diff.svg");
    let never = common::root().join("fixtures/runs/stride-2m-oom-thp-never");
    let always = common::root().join("fixtures/runs/stride-2m-oom-thp-always");
    let res = common::faultline(&[
        "compare",
        "--diff-svg",
        svg.to_str().unwrap(),
        "--base",
        always.to_str().unwrap(),
        "--new",
        never.to_str().unwrap(),
    ]);
    assert!(
        res.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("the workloads with the exit work tied to them"));
    let roots = root_children(&text);
    assert_eq!(roots.len(), 1, "{roots:?}");
    assert!(roots[0].1 >= 99.0, "{roots:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The report's workload graph is one root filling the width; in the whole recording's
/// graph the same workload is a part (so the check above can fail).
#[test]
fn the_report_svgs_root_the_workload() {
    let out = std::env::temp_dir().join(format!("faultline-view-svg-{}", std::process::id()));
    common::analyze_oom_fixture(&out);
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    let workload = root_children(&read("flamegraph.workload.svg"));
    assert_eq!(workload.len(), 1, "{workload:?}");
    assert!(workload[0].0 == "faultline" && workload[0].1 >= 99.0);
    let whole = root_children(&read("flamegraph.svg"));
    let share = whole.iter().find(|f| f.0 == "faultline").unwrap().1;
    assert!(share < 50.0, "{whole:?}");
    std::fs::remove_dir_all(&out).unwrap();
}
