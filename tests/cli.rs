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
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("truncated.txt: skipped 1 unreadable callchain lines"),
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
