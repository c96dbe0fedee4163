//! Input that tries to command the terminal or break output files (issue 12, items 6-10
//! and 12): comms and symbols holding every C0 control character a text line can hold,
//! DEL, C1 controls, `<`, `&`, `]]>` and quotes. Every SVG and XML output must parse as
//! XML; every byte faultline prints must be free of controls but newline and tab.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

/// Every C0 control but NUL (which makes the input binary, refused separately) and
/// newline (which ends the line), then DEL, two C1 controls and the XML specials.
fn hostile(tag: &str) -> String {
    let mut s = String::from(tag);
    for b in 1u8..0x20 {
        if b != b'\n' {
            s.push(b as char);
        }
    }
    s.push_str("\x7f\u{85}\u{9b}31m<b>&amp;]]>\"'\x1b]0;pwned\x07");
    s
}

/// A `perf script` recording: samples whose comm and leaf frame are hostile, and a
/// plain frame; `extra` adds samples of a frame of its own (one side of a comparison
/// has frames the other has not).
fn recording(plain: usize, hostile_leaf: usize, extra: Option<(&str, usize)>) -> String {
    let header = std::fs::read_to_string(common::fixture("spin-ns.perf.txt")).unwrap();
    let header: String = header
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let comm = hostile("comm");
    let mut out = header;
    let mut t = 0u64;
    let mut sample = |out: &mut String, leaf: &str| {
        t += 1_001_001;
        out.push_str(&format!(
            "{comm}  7580   {}.{:09}:    1001001 cpu-clock: \n\t            1184 {leaf}+0x3b (/tmp/spin)\n\t            1208 main+0x30 (/tmp/spin)\n\n",
            367 + t / 1_000_000_000,
            t % 1_000_000_000
        ));
    };
    for _ in 0..plain {
        sample(&mut out, "func_b");
    }
    for _ in 0..hostile_leaf {
        sample(&mut out, &hostile("sym"));
    }
    if let Some((leaf, n)) = extra {
        for _ in 0..n {
            sample(&mut out, leaf);
        }
    }
    // A line that cannot be read, quoted in the skipped-line warning.
    out.push_str(&format!("{}\n", hostile("garbage")));
    out
}

/// The recording with its event renamed: an event name holds no whitespace or colon,
/// every other control it can. The event name reaches titles and warnings.
fn with_hostile_event(recording: &str) -> String {
    let event: String = hostile("ev")
        .chars()
        .filter(|c| !c.is_whitespace() && !"\x0b\x0c\r:".contains(*c))
        .collect();
    recording.replace("cpu-clock:", &format!("{event}:"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&Path]) -> Output {
    let args: Vec<&str> = args.iter().map(|p| p.to_str().unwrap()).collect();
    common::faultline(&args)
}

/// No byte below 0x20 but newline and tab, no DEL, no C1 control.
fn assert_terminal_safe(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for (i, c) in text.chars().enumerate() {
        assert!(
            !(c.is_control() && c != '\n' && c != '\t'),
            "{what}: control {c:?} at char {i}:\n{text}"
        );
    }
}

fn assert_xml(what: &str, path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    assert_xml_text(what, &text);
}

fn assert_xml_text(what: &str, text: &str) {
    if let Err(e) = roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    ) {
        panic!("{what} is not XML: {e}");
    }
}

#[test]
fn collapse_and_flamegraph_keep_the_terminal_and_xml_safe() {
    let dir = scratch("flame");
    let input = dir.join("in.perf.txt");
    std::fs::write(&input, recording(20, 20, None)).unwrap();
    let out = run(&[Path::new("collapse"), &input]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // The data keeps the names as recorded (it is not a terminal)...
    let folded = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(folded.contains("\x1b]0;pwned\x07"), "{folded}");
    // ...the warnings quoting the unreadable line do not.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\\x1b]0;pwned\\x07"),
        "{out:?}"
    );
    assert_terminal_safe("collapse stderr", &out.stderr);

    let svg = dir.join("flame.svg");
    let out = run(&[Path::new("flamegraph"), &input, Path::new("-o"), &svg]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_terminal_safe("flamegraph stderr", &out.stderr);
    assert_xml("flamegraph from perf script", &svg);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("sym\\x01\\x02"), "names shown escaped");

    // The event name is in the title.
    let renamed = dir.join("event.perf.txt");
    std::fs::write(&renamed, with_hostile_event(&recording(20, 20, None))).unwrap();
    let out = run(&[Path::new("flamegraph"), &renamed, Path::new("-o"), &svg]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_terminal_safe("flamegraph stderr", &out.stderr);
    assert_xml("flamegraph titled by a hostile event", &svg);
    assert!(std::fs::read_to_string(&svg).unwrap().contains("ev\\x01"));

    // Folded input straight to the flame graph.
    let folded_path = dir.join("in.folded");
    std::fs::write(&folded_path, &folded).unwrap();
    let out = run(&[Path::new("flamegraph"), &folded_path, Path::new("-o"), &svg]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_xml("flamegraph from folded stacks", &svg);
}

#[test]
fn analyze_report_files_are_xml_and_its_terminal_report_is_safe() {
    let dir = scratch("analyze");
    let input = dir.join("in.perf.txt");
    std::fs::write(&input, recording(20, 20, None)).unwrap();
    let report = dir.join("report");
    let out = analyze_safely(&input, &report);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("comm\\x01\\x02"), "{stdout}");
    // HTML and Markdown are read in terminals and browsers: no controls either.
    for file in ["index.html", "report.md"] {
        assert_terminal_safe(file, &std::fs::read(report.join(file)).unwrap());
    }

    // The event name is in the graphs' titles and the terminal report.
    let renamed = dir.join("event.perf.txt");
    std::fs::write(&renamed, with_hostile_event(&recording(20, 20, None))).unwrap();
    analyze_safely(&renamed, &report);
}

/// Runs `analyze INPUT -o REPORT`: its terminal output is safe, its three SVGs XML.
fn analyze_safely(input: &Path, report: &Path) -> Output {
    let out = run(&[Path::new("analyze"), input, Path::new("-o"), report]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_terminal_safe("analyze stdout", &out.stdout);
    assert_terminal_safe("analyze stderr", &out.stderr);
    for svg in [
        "flamegraph.svg",
        "flamegraph.corrected.svg",
        "flamegraph.phases.svg",
    ] {
        assert_xml(svg, &report.join(svg));
    }
    out
}

#[test]
fn compare_text_junit_and_diff_svg_are_safe() {
    let dir = scratch("compare");
    let base = dir.join("base.perf.txt");
    let new = dir.join("new.perf.txt");
    let only_base = hostile("gone");
    let only_new = hostile("came");
    std::fs::write(&base, recording(200, 200, Some((&only_base, 50)))).unwrap();
    std::fs::write(&new, recording(200, 800, Some((&only_new, 50)))).unwrap();
    let budgets = dir.join("budgets.json");
    let name = serde_json::to_string(&hostile("budget")).unwrap();
    std::fs::write(
        &budgets,
        format!(r#"{{"budgets": [{{"metric": "total", "name": {name}, "max_increase": "10%"}}]}}"#),
    )
    .unwrap();
    let svg = dir.join("diff.svg");
    let common_args = [
        Path::new("compare"),
        Path::new("--exit-zero"),
        Path::new("--budgets"),
        &budgets,
        Path::new("--base"),
        &base,
        Path::new("--new"),
        &new,
    ];
    let mut args = common_args.to_vec();
    args.extend([Path::new("--diff-svg"), &svg]);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_terminal_safe("compare text", &out.stdout);
    assert_terminal_safe("compare stderr", &out.stderr);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        // User-space leaves are never IRQ re-enable sites (issue 13), so the frames
        // keep their own (escaped) names.
        "Frames only in base: gone\\x01",
        "Frames only in new: came\\x01",
        "Frames that changed",
        "budget\\x01",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }
    assert_xml("--diff-svg", &svg);

    let mut args = common_args.to_vec();
    args.extend([Path::new("--format"), Path::new("junit")]);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let xml = String::from_utf8(out.stdout).unwrap();
    assert_xml_text("JUnit", &xml);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase"))
        .unwrap();
    assert!(
        case.attribute("name")
            .unwrap()
            .starts_with("budget\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08 \\x0b"),
        "{xml}"
    );
}

#[test]
fn errors_quoting_input_lines_and_event_names_are_safe() {
    let dir = scratch("errors");
    let input = dir.join("in.perf.txt");
    let text = with_hostile_event(&recording(5, 5, None));
    std::fs::write(&input, text).unwrap();
    let only_garbage = dir.join("garbage.perf.txt");
    std::fs::write(&only_garbage, hostile("garbage") + "\n").unwrap();
    for args in [
        vec![Path::new("collapse"), Path::new("--strict"), &input],
        vec![
            Path::new("collapse"),
            Path::new("--event"),
            Path::new("nope"),
            &input,
        ],
        vec![Path::new("collapse"), &only_garbage],
        vec![
            Path::new("analyze"),
            &input,
            Path::new("--event"),
            Path::new("nope"),
        ],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert_terminal_safe(&format!("{args:?}"), &out.stderr);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("pwned"),
            "the quoted text is shown: {stderr}"
        );
    }
}

#[test]
fn folded_stacks_on_a_terminal_are_escaped() {
    // `script` gives faultline a pseudo-terminal as standard output.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let dir = scratch("tty");
    let input = dir.join("in.perf.txt");
    std::fs::write(&input, recording(2, 2, None)).unwrap();
    let command = format!(
        "{} collapse {}",
        env!("CARGO_BIN_EXE_faultline"),
        input.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The terminal itself turns each newline into CR LF.
    let shown = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert_terminal_safe("collapse on a terminal", shown.as_bytes());
    assert!(shown.contains("comm\\x01\\x02"), "{shown}");
}
