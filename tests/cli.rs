//! Bad input gets a clear message naming the file (and line) and a non-zero exit.

mod common;

use std::path::PathBuf;

fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn fails_with(args: &[&str], needles: &[&str]) {
    let out = common::faultline(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    for n in needles {
        assert!(stderr.contains(n), "{args:?}: {n:?} not in {stderr:?}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn missing_file() {
    fails_with(
        &["collapse", "/nonexistent/x.txt"],
        &["/nonexistent/x.txt", "No such file"],
    );
}

#[test]
fn directory() {
    let dir = std::env::temp_dir();
    fails_with(&["collapse", dir.to_str().unwrap()], &["is a directory"]);
}

#[test]
fn perf_data_file() {
    let p = tmp("perf.data", b"PERFILE2\x68\x00\x00\x00\x00\x00\x00\x00");
    fails_with(
        &["collapse", p.to_str().unwrap()],
        &["perf.data file", "perf script"],
    );
}

#[test]
fn binary_data() {
    let p = tmp(
        "bin.txt",
        b"pf 1 1.0: cpu-clock:\n\t1 f (d)\n\n\x00\x01\x02garbage",
    );
    fails_with(
        &["collapse", p.to_str().unwrap()],
        &["bin.txt:4", "binary data"],
    );
}

#[test]
fn text_with_no_samples() {
    let p = tmp("notes.txt", b"hello\nworld\n");
    fails_with(
        &["collapse", p.to_str().unwrap()],
        &["notes.txt", "no samples", "line 1"],
    );
}

#[test]
fn strict_names_file_and_line() {
    let p = tmp(
        "weird.txt",
        b"pf 1 1.0: 1 cpu-clock:\n\t1 f (d)\n\tWEIRD\n\n",
    );
    fails_with(
        &["collapse", "--strict", p.to_str().unwrap()],
        &["weird.txt:3", "callchain"],
    );
    // Without --strict the rest is used and the skip is counted on stderr.
    let out = common::faultline(&["collapse", p.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(out.stdout, b"pf;f 1\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped 1 unreadable callchain lines"),
        "{stderr}"
    );
    assert!(stderr.contains("line 3: \tWEIRD"), "{stderr}");
}

#[test]
fn unknown_event_lists_the_ones_present() {
    let f = common::fixture("mixed-events.perf.txt");
    fails_with(
        &["collapse", "--event", "cycles", f.to_str().unwrap()],
        &[
            "no event matches `cycles`",
            "cpu-clock",
            "sched:sched_process_exit",
        ],
    );
}

#[test]
fn truncated_input_keeps_complete_samples() {
    let full = std::fs::read(common::fixture("zero-page-4k.perf.txt")).unwrap();
    // Cut in the middle of a callchain line.
    let cut = &full[..full.len() * 2 / 3];
    let cut = &cut[..cut.iter().rposition(|&b| b == b'(').unwrap() + 3];
    let p = tmp("truncated.txt", cut);
    let out = common::faultline(&["collapse", "--samples", p.to_str().unwrap()]);
    assert!(out.status.success());
    // The cut frame line (`sym (/u`) keeps its symbol, as a malformed DSO does.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("skipped"), "{stderr}");
    // A line cut inside the symbol's text cannot be told from a frame printed without a
    // DSO, so it is kept too; junk after the address is not a frame.
    let junk = [&cut[..cut.len() - 4], b"\n\tnot a frame\n"].concat();
    let p = tmp("truncated-junk.txt", &junk);
    let out = common::faultline(&["collapse", "--samples", p.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("truncated-junk.txt: skipped 1 unreadable callchain lines"),
        "{stderr}"
    );
    let total: u64 = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    let heads = String::from_utf8_lossy(cut)
        .lines()
        .filter(|l| l.ends_with("cpu-clock: "))
        .count() as u64;
    assert_eq!(
        total, heads,
        "every sample whose event line survived is counted"
    );
}

#[test]
fn stdin_and_empty_input() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["collapse", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a b 7 1.5: 3 cpu-clock:\n\t10 g (x)\n\t11 f (x)\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"a_b;f;g 3\n");
    let p = tmp("empty.txt", b"");
    let out = common::faultline(&["collapse", p.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no samples"));
}

#[test]
fn non_utf8_symbols_keep_their_samples() {
    let p = tmp(
        "latin1.txt",
        b"pf 1 1.0: 5 cpu-clock:\n\t1 caf\xe9_init (/x)\n\t2 main (/x)\n\n",
    );
    let out = common::faultline(&["collapse", p.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "pf;main;caf\u{fffd}_init 5\n"
    );
}

fn run_dir(name: &str) -> PathBuf {
    common::root().join("fixtures/runs").join(name)
}

/// A fresh empty directory under the temp dir.
fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn help_documents_exit_codes_and_inputs() {
    for args in [&["--help"][..], &["compare", "--help"]] {
        let out = common::faultline(args);
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        for needle in [
            "Exit codes:",
            "0    success",
            "1    compare",
            "2    usage",
            "3    compare --fail-on-inconclusive",
            "130  interrupted",
            "run directory",
        ] {
            assert!(help.contains(needle), "{args:?}: {needle:?} not in {help}");
        }
    }
}

#[test]
fn format_and_mode_are_value_enums() {
    let run = run_dir("zero-page-4k");
    let run = run.to_str().unwrap();
    for (flag, bad, allowed) in [
        ("--format", "yaml", "text, md, json, junit"),
        ("--mode", "cpu", "time, share, per-work"),
    ] {
        fails_with(
            &["compare", "--base", run, "--new", run, flag, bad],
            &[&format!("invalid value '{bad}'"), allowed],
        );
    }
    // The enum values work.
    let out = common::faultline(&[
        "compare", "--base", run, "--new", run, "--format", "json", "--mode", "per-work",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["mode"], "per-work");
}

#[test]
fn a_run_directory_is_read_through_its_recording() {
    let dir = run_dir("zero-page-4k");
    let by_dir = common::faultline(&["collapse", dir.to_str().unwrap()]);
    let by_file = common::faultline(&["collapse", dir.join("perf.script").to_str().unwrap()]);
    assert!(
        by_dir.status.success(),
        "{}",
        String::from_utf8_lossy(&by_dir.stderr)
    );
    assert!(!by_dir.stdout.is_empty());
    assert_eq!(by_dir.stdout, by_file.stdout);

    let svg = tmp_dir("flame-run").join("g.svg");
    let out = common::faultline(&[
        "flamegraph",
        dir.to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.contains("<svg") && text.contains("exc_page_fault"),
        "{}",
        &text[..200]
    );
}

#[test]
fn directories_that_are_not_runs_say_what_to_give() {
    let empty = tmp_dir("not-a-run");
    for cmd in ["collapse", "analyze"] {
        fails_with(
            &[cmd, empty.to_str().unwrap()],
            &["is a directory without perf.script", "faultline record"],
        );
    }
    std::fs::write(empty.join("perf.data"), b"PERFILE2").unwrap();
    fails_with(
        &["collapse", empty.to_str().unwrap()],
        &["perf script --header -i", "perf.data"],
    );
    // analyze's own output is not a recording either.
    let report = tmp_dir("report-as-input");
    let out = common::faultline(&[
        "analyze",
        run_dir("zero-page-4k").to_str().unwrap(),
        "-o",
        report.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for cmd in ["collapse", "analyze"] {
        fails_with(
            &[cmd, report.to_str().unwrap()],
            &["report from `faultline analyze`", "run directory"],
        );
    }
}

#[test]
fn analyze_refuses_a_directory_it_did_not_write() {
    let dir = tmp_dir("analyze-out");
    let mine = dir.join("notes.txt");
    std::fs::write(&mine, "keep me").unwrap();
    let run = run_dir("zero-page-4k");
    let run = run.to_str().unwrap();
    let d = dir.to_str().unwrap();
    fails_with(&["analyze", run, "-o", d], &[d, "not empty", "--force"]);
    assert!(
        !dir.join("report.json").exists(),
        "nothing written when refused"
    );

    let out = common::faultline(&["analyze", run, "-o", d, "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "keep me");
    assert!(dir.join("index.html").is_file());
    // Its own earlier report is recognised: no --force needed to refresh it.
    let out = common::faultline(&["analyze", run, "-o", d]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A report.json that is not ours does not count.
    let other = tmp_dir("analyze-foreign");
    std::fs::write(other.join("report.json"), "{\"mine\": true}").unwrap();
    fails_with(
        &["analyze", run, "-o", other.to_str().unwrap()],
        &["not empty"],
    );
    assert_eq!(
        std::fs::read_to_string(other.join("report.json")).unwrap(),
        "{\"mine\": true}"
    );
}

/// A real recording with one broken callchain line in the middle.
fn damaged_recording() -> (PathBuf, u64) {
    let text = std::fs::read_to_string(common::fixture("zero-page-4k.perf.txt")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .enumerate()
        .skip(lines.len() / 2)
        .find(|(_, l)| l.starts_with('\t'))
        .unwrap()
        .0;
    let mut out = lines[..at].join("\n");
    out.push_str("\n\tWEIRD\n");
    out.push_str(&lines[at..].join("\n"));
    out.push('\n');
    (tmp("damaged.perf.txt", out.as_bytes()), at as u64 + 1)
}

/// collapse, flamegraph (to `out`.svg), analyze, compare and export (to `out`.pb.gz),
/// each reading `file`.
fn reading_commands<'a>(file: &'a str, out: &'a [PathBuf; 2]) -> [Vec<&'a str>; 5] {
    let [svg, pprof] = out.each_ref().map(|p| p.to_str().unwrap());
    [
        vec!["collapse", file],
        vec!["flamegraph", file, "-o", svg],
        vec!["analyze", file],
        vec!["compare", "--base", file, "--new", file],
        vec!["export", "--format", "pprof", file, "-o", pprof],
    ]
}

/// Output paths for [`reading_commands`] in a scratch directory.
fn outputs(name: &str) -> [PathBuf; 2] {
    let dir = tmp_dir(name);
    [dir.join("g.svg"), dir.join("g.pb.gz")]
}

#[test]
fn strict_and_the_skip_summary_are_the_same_in_every_command() {
    let (file, line) = damaged_recording();
    let f = file.to_str().unwrap();
    let at = format!("damaged.perf.txt:{line}");
    let out = outputs("strict");
    for args in reading_commands(f, &out) {
        let args = &args[..];
        let strict: Vec<&str> = args.iter().copied().chain(["--strict"]).collect();
        fails_with(&strict, &[&at, "callchain"]);
        let out = common::faultline(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(
            stderr.contains("damaged.perf.txt: skipped 1 unreadable callchain lines:")
                && stderr.contains(&format!("line {line}: \tWEIRD")),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn no_samples_is_the_same_error_in_every_command() {
    let p = tmp("prose.txt", b"hello\nworld\n");
    let f = p.to_str().unwrap();
    let out = outputs("nosamples");
    for args in reading_commands(f, &out) {
        fails_with(&args, &["prose.txt", "no samples", "line 1"]);
    }
    // An empty file: filters print nothing (with a warning); analyses need samples.
    let empty = tmp("empty-analyze.txt", b"");
    fails_with(
        &["analyze", empty.to_str().unwrap()],
        &["empty-analyze.txt", "no samples"],
    );
}
