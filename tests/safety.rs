//! Issue 12, items 7-10 and 12: files are never written through planted symlinks, sums
//! never wrap, budgets files refuse unknown keys, NUL bytes anywhere and device inputs
//! are refused, and an input truncated while mapped ends with a message, not SIGBUS.

mod common;

use std::path::{Path, PathBuf};

use faultline::ingest::input::Input;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-safety-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs faultline, expects exit 2 with nothing on stdout, and returns stderr.
fn fails(args: &[&str]) -> String {
    let out = common::faultline(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// One cpu-clock sample per period, each with the stack `main;f`.
fn samples(periods: &[u64]) -> String {
    periods
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!("a 7 1.{i:09}: {p} cpu-clock:\n\t1184 f+0x1 (/x)\n\t1208 main+0x2 (/x)\n\n")
        })
        .collect()
}

#[test]
fn analyze_and_flamegraph_replace_planted_symlinks_instead_of_following_them() {
    let dir = scratch("symlink");
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, "not faultline's").unwrap();
    let report = dir.join("report");
    std::fs::create_dir_all(&report).unwrap();
    for name in ["report.json", "index.html", "flamegraph.svg"] {
        std::os::unix::fs::symlink(&victim, report.join(name)).unwrap();
    }
    let input = common::fixture("spin-ns.perf.txt");
    let out = common::faultline(&["analyze", s(&input), "-o", s(&report)]);
    assert!(out.status.success(), "{out:?}");
    let svg = dir.join("flame.svg");
    std::os::unix::fs::symlink(&victim, &svg).unwrap();
    let out = common::faultline(&["flamegraph", s(&input), "-o", s(&svg)]);
    assert!(out.status.success(), "{out:?}");

    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "not faultline's");
    for path in [
        report.join("report.json"),
        report.join("index.html"),
        report.join("flamegraph.svg"),
        svg,
    ] {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.is_file(), "{} is still a symlink", path.display());
    }
    assert!(
        std::fs::read_to_string(report.join("report.json"))
            .unwrap()
            .starts_with('{')
    );
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(&report)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn period_sums_past_64_bits_are_an_error_not_a_wrapped_count() {
    let dir = scratch("overflow");
    let max = u64::MAX;
    let one = dir.join("one.perf.txt");
    std::fs::write(&one, samples(&[max])).unwrap();
    // One sample of the largest period is fine and exact.
    let out = common::faultline(&["collapse", s(&one)]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("a;main;f {max}\n")
    );

    let two = dir.join("two.perf.txt");
    std::fs::write(&two, samples(&[max, max])).unwrap();
    for cmd in ["collapse", "flamegraph"] {
        let err = fails(&[cmd, s(&two), "-o", "-"][..if cmd == "collapse" { 2 } else { 4 }]);
        assert!(
            err.contains("two.perf.txt") && err.contains("sample periods add up to more than"),
            "{err}"
        );
    }
    let err = fails(&["analyze", s(&two)]);
    assert!(err.contains("sample periods add up"), "{err}");

    // Folded counts whose total passes 64 bits: the line where it did.
    let folded = dir.join("in.folded");
    std::fs::write(&folded, format!("a;b 1\na;c {max}\n")).unwrap();
    let err = fails(&["flamegraph", s(&folded), "-o", s(&dir.join("x.svg"))]);
    assert!(err.contains("in.folded:2: folded counts add up"), "{err}");
    assert!(!dir.join("x.svg").exists());
}

/// Writes `text` as the budgets file and compares a run with itself: exit 2, stderr.
fn compare_fails(budgets: &Path, text: &str) -> String {
    std::fs::write(budgets, text).unwrap();
    let never = common::root().join("fixtures/runs/stride-2m-oom-thp-never");
    fails(&[
        "compare",
        "--budgets",
        s(budgets),
        "--base",
        s(&never),
        "--new",
        s(&never),
    ])
}

#[test]
fn budgets_files_refuse_unknown_keys_by_name() {
    let dir = scratch("budgets");
    let budgets = dir.join("budgets.json");
    for (text, key) in [
        (
            r#"{"budgets": [{"metric": "exit", "max_increse": "50%"}]}"#,
            "max_increse",
        ),
        (r#"{"budgets": [], "overdispersoin": 2}"#, "overdispersoin"),
    ] {
        let err = compare_fails(&budgets, text);
        assert!(err.contains(&format!("unknown field `{key}`")), "{err}");
        assert!(
            err.contains("budgets.json: not a valid budgets file"),
            "{err}"
        );
        assert!(!err.contains("rules file"), "{err}");
    }
    // A limit that cannot gate says whose fault it is, too.
    let err = compare_fails(
        &budgets,
        r#"{"budgets": [{"metric": "exit", "max_increase": "lots"}]}"#,
    );
    assert!(
        err.contains("not a valid budgets file") && err.contains("lots"),
        "{err}"
    );
}

#[test]
fn a_nul_anywhere_is_refused_with_file_and_line() {
    let dir = scratch("nul");
    let mut text = samples(&[1; 2000]).into_bytes();
    assert!(
        text.len() > 64 << 10,
        "the NUL must come after the first 64 KiB"
    );
    let lines_before = text.iter().filter(|&&b| b == b'\n').count();
    text.extend_from_slice(b"a 7 2.0: 1 cpu-clock:\n\t1184 f\0oops+0x1 (/x)\n\n");
    let input = dir.join("late-nul.perf.txt");
    std::fs::write(&input, &text).unwrap();
    let err = fails(&["collapse", s(&input)]);
    assert!(
        err.contains(&format!(
            "late-nul.perf.txt:{}: binary data",
            lines_before + 2
        )),
        "{err}"
    );
}

#[test]
fn devices_are_refused_and_pipes_still_read() {
    let err = fails(&["collapse", "/dev/zero"]);
    assert!(
        err.contains("/dev/zero: is a character device, not a file or a pipe"),
        "{err}"
    );
    // A FIFO is a pipe: read as before.
    let dir = scratch("fifo");
    let fifo = dir.join("in.fifo");
    let c = std::ffi::CString::new(s(&fifo)).unwrap();
    // SAFETY: mkfifo reads a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, samples(&[5, 7])).unwrap())
    };
    let out = common::faultline(&["collapse", s(&fifo)]);
    writer.join().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a;main;f 12\n");
}

/// Set in the child run of the test below: the file to map and truncate.
const CHILD: &str = "FAULTLINE_TEST_TRUNCATE_CHILD";

#[test]
fn a_file_truncated_while_mapped_stops_with_a_message_not_sigbus() {
    if let Some(path) = std::env::var_os(CHILD) {
        let path = PathBuf::from(path);
        let input = Input::open(Some(&path)).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        let sum: u64 = input.bytes().iter().map(|&b| u64::from(b)).sum();
        panic!("read {sum} past the truncation without a fault");
    }
    let dir = scratch("sigbus");
    let path = dir.join("shrinking.perf.txt");
    std::fs::write(&path, samples(&[1; 5000])).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_file_truncated_while_mapped_stops_with_a_message_not_sigbus",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{:?}: {stderr}", out.status);
    assert!(
        stderr.contains("shrinking.perf.txt: the file shrank while faultline was reading it"),
        "{stderr}"
    );
}

#[test]
fn a_file_that_grows_while_read_is_reported() {
    let dir = scratch("grow");
    let path = dir.join("growing.perf.txt");
    std::fs::write(&path, samples(&[1, 2])).unwrap();
    let input = Input::open(Some(&path)).unwrap();
    assert_eq!(input.changed(), None);
    let before = input.bytes().len();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, samples(&[3]).as_bytes()).unwrap();
    let msg = input.changed().expect("growth noticed");
    assert!(
        msg.contains("growing.perf.txt: the file changed while faultline read it")
            && msg.contains(&format!("the output covers the first {before} bytes")),
        "{msg}"
    );
}
