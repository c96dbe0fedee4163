//! A real, diverse profile (the first 2 MB of a system-wide recording of a Rust/C++
//! build, `fixtures/build-b-2m.perf.txt.xz`): thousands of distinct stacks, so caches
//! miss and pieces differ. Any thread count, and standard input read in chunks, must
//! give the same bytes as one thread reading the file.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::collapse;
use faultline::fold::collapse::FoldOptions;
use faultline::ingest::profile::BuildOptions;

/// The excerpt, unpacked with `xz` into the target directory as a file named by `tag`.
fn excerpt(tag: &str) -> (PathBuf, Vec<u8>) {
    let out = Command::new("xz")
        .args(["-dc"])
        .arg(common::fixture("build-b-2m.perf.txt.xz"))
        .output()
        .expect("run xz (install xz-utils)");
    assert!(out.status.success(), "xz failed");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("build-b-2m-{tag}-{}.perf.txt", std::process::id()));
    std::fs::write(&path, &out.stdout).unwrap();
    (path, out.stdout)
}

#[test]
fn threads_give_the_same_folded_stacks() {
    let (path, data) = excerpt("threads");
    let all = FoldOptions {
        annotate_kernel: true,
        annotate_jit: true,
        ..FoldOptions::default()
    };
    let tid = FoldOptions {
        include_tid: true,
        ..FoldOptions::default()
    };
    for fold in [FoldOptions::default(), tid, all] {
        let one = collapse(
            &data,
            BuildOptions {
                threads: 1,
                ..BuildOptions::default()
            },
            &fold,
        );
        // Thousands of distinct stacks: the caches are exercised, not just hit.
        assert!(one.iter().filter(|&&b| b == b'\n').count() > 1000);
        for threads in [2, 3, 7] {
            let many = collapse(
                &data,
                BuildOptions {
                    threads,
                    ..BuildOptions::default()
                },
                &fold,
            );
            assert!(one == many, "{fold:?}: {threads} threads differ");
        }
    }
    std::fs::remove_file(path).unwrap();
}

/// Runs `faultline collapse ARGS` with `stdin` piped in.
fn collapse_stdin(args: &[&str], stdin: &[u8]) -> std::process::Output {
    faultline_stdin("collapse", args, stdin)
}

/// Runs `faultline COMMAND ARGS` with `stdin` piped in.
fn faultline_stdin(command: &str, args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg(command)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    // faultline may stop reading early (bad input): a broken pipe is not a failure.
    let writer = std::thread::spawn(move || pipe.write_all(&input));
    let out = child.wait_with_output().unwrap();
    let _ = writer.join().unwrap();
    out
}

#[test]
fn standard_input_in_chunks_equals_the_file() {
    let (path, data) = excerpt("stdin");
    // Three copies (6 MB) make more than one chunk of standard input.
    let big = [&data[..], &data[..], &data[..]].concat();
    let file = path.with_extension("x3.txt");
    std::fs::write(&file, &big).unwrap();
    let file_arg = file.to_str().unwrap();
    for j in ["1", "2"] {
        let from_file = common::faultline(&["collapse", "-j", j, file_arg]);
        assert!(from_file.status.success());
        assert!(!from_file.stdout.is_empty());
        let piped = collapse_stdin(&["-j", j, "-"], &big);
        assert!(piped.status.success());
        assert!(piped.stdout == from_file.stdout, "-j {j}");
    }
    // A NUL past the first chunk is named by its line, as in a file.
    let mut bad = big.clone();
    bad.extend_from_slice(b"x\0\n");
    let lines = big.iter().filter(|&&b| b == b'\n').count() + 1;
    let out = collapse_stdin(&["-"], &bad);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("<stdin>:{lines}: binary data")),
        "{err}"
    );
    std::fs::remove_file(file).unwrap();
    std::fs::remove_file(path).unwrap();
}

/// `analyze` keeps every sample, in order, as a few bytes each: the samples decode the
/// same whatever the thread count, and the report is the same for any thread count and
/// from standard input.
#[test]
fn analyze_keeps_the_same_samples_for_threads_and_standard_input() {
    let (path, data) = excerpt("analyze");
    // Three copies (6 MB): several pieces, stdin chunks and sample-log chunks.
    let big = [&data[..], &data[..], &data[..]].concat();
    let kept = |threads| {
        let opts = BuildOptions {
            threads,
            keep_samples: true,
            ..BuildOptions::default()
        };
        faultline::ingest::profile::Profile::build(&big, opts, &|_| {})
    };
    // Ids depend on which worker met a thread, stack or leaf first: compare what they
    // stand for.
    let resolved = |p: &faultline::ingest::profile::Profile| -> Vec<String> {
        let names = |st| -> Vec<String> {
            let frames = p.interner.frames_of(st).into_iter();
            frames
                .map(|f| String::from_utf8_lossy(p.interner.frame_name(f).0).into_owned())
                .collect()
        };
        p.samples
            .iter()
            .map(|r| {
                let t = &p.threads[r.thread.0 as usize];
                format!(
                    "{} {} {:?} {:?} {:?} {:?} {} {}",
                    r.time,
                    p.events[r.event.0 as usize].name,
                    t,
                    r.cpu,
                    names(r.stack),
                    p.leaf(r.leaf),
                    r.weight,
                    r.line,
                )
            })
            .collect()
    };
    let one = kept(1);
    let samples = resolved(&one);
    assert!(samples.len() > 5000, "{} samples", samples.len());
    let per_sample = one.samples.encoded_bytes() as f64 / samples.len() as f64;
    assert!(per_sample < 10.0, "{per_sample:.2} bytes a sample");
    for threads in [2, 3] {
        assert!(resolved(&kept(threads)) == samples, "{threads} threads");
    }

    let file = path.with_extension("x3.txt");
    std::fs::write(&file, &big).unwrap();
    let file_arg = file.to_str().unwrap();
    let report = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // The input's path is `-` from standard input: all else must match.
        v.as_object_mut().unwrap().remove("input");
        v
    };
    let base = report(common::faultline(&[
        "analyze", "--json", "-j", "1", file_arg,
    ]));
    // The samples were classified and corrected, not just counted.
    assert!(base["irq_sticky"]["moved_samples"].as_u64().unwrap() > 0);
    assert!(base["phases"].as_object().is_some_and(|p| p.len() > 2));
    for j in ["2", "3"] {
        let many = report(common::faultline(&["analyze", "--json", "-j", j, file_arg]));
        assert!(many == base, "-j {j}");
        let piped = report(faultline_stdin("analyze", &["--json", "-j", j, "-"], &big));
        assert!(piped == base, "stdin -j {j}");
    }
    std::fs::remove_file(file).unwrap();
    std::fs::remove_file(path).unwrap();
}
