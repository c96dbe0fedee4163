//! Golden files: one named test per fixture and option set. `FAULTLINE_BLESS=1 cargo
//! test` rewrites the expected files; review the diff before committing it.

mod common;

/// Runs `faultline collapse ARGS fixtures/FILE` and checks stdout and stderr against
/// `tests/golden/NAME.folded` and `NAME.stderr`.
fn golden(name: &str, file: &str, args: &[&str]) {
    let path = common::fixture(file);
    let path = path.to_str().unwrap();
    let mut all = vec!["collapse"];
    all.extend_from_slice(args);
    all.push(path);
    let out = common::faultline(&all);
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = common::root().join("tests/golden");
    common::check_golden(&dir.join(format!("{name}.folded")), &out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).replace(path, "FIXTURE");
    common::check_golden(&dir.join(format!("{name}.stderr")), stderr.as_bytes());
}

macro_rules! golden {
    ($($name:ident: $file:literal $(, $arg:literal)*;)*) => {$(
        #[test]
        fn $name() {
            golden(stringify!($name), $file, &[$($arg),*]);
        }
    )*};
}

golden! {
    zero_page_4k: "zero-page-4k.perf.txt";
    zero_page_4k_kernel: "zero-page-4k.perf.txt", "--kernel";
    zero_page_4k_samples: "zero-page-4k.perf.txt", "--samples";
    mixed_events: "mixed-events.perf.txt";
    mixed_events_page_faults: "mixed-events.perf.txt", "--event", "exceptions:page_fault_user";
    mixed_events_exit: "mixed-events.perf.txt", "--event", "sched:sched_process_exit", "--samples";
    mixed_events_period1_by_base_name: "mixed-events-period1.perf.txt", "--event", "cpu-clock";
    system_wide_pid: "system-wide.perf.txt", "--pid";
    system_wide_tid_all: "system-wide.perf.txt", "--tid", "--all";
    system_wide_exit: "system-wide.perf.txt", "--event", "sched:sched_process_exit", "--samples";
    spin_srcline: "spin-srcline.perf.txt";
    spin_ns: "spin-ns.perf.txt";
    spin_pidtid_tid: "spin-pidtid.perf.txt", "--tid";
    spin_dwarf_inline_kernel: "spin-dwarf-inline.perf.txt", "--kernel";
    spin_dwarf_srcline: "spin-dwarf-srcline.perf.txt";
}

#[test]
fn flamegraph_svg_is_stable() {
    let dir = std::env::temp_dir().join(format!("faultline-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("zero-page-4k.svg");
    let input = common::fixture("zero-page-4k.perf.txt");
    let run = common::faultline(&[
        "flamegraph",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let svg = std::fs::read(&out).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let text = String::from_utf8_lossy(&svg);
    assert!(
        text.contains("cpu-clock: 357 samples"),
        "title names event and count"
    );
    common::check_golden(&common::root().join("tests/golden/zero-page-4k.svg"), &svg);
}

#[test]
fn flamegraph_from_folded_input_to_stdout() {
    let folded = common::root().join("tests/golden/zero_page_4k.folded");
    let run = common::faultline(&["flamegraph", folded.to_str().unwrap(), "-o", "-"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let svg = String::from_utf8(run.stdout).unwrap();
    assert!(svg.starts_with("<?xml"));
    assert!(svg.contains("exc_page_fault"));
    assert!(svg.contains("(folded)"));
}
