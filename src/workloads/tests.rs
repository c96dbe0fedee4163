//! Workload tests: real mappings in this process, measured against the model.

use super::checkpoints::Checkpoints;
use super::proc_self;
use super::*;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Workloads map terabytes of address space and measure the process's `VmPTE`; run them
/// one at a time so they neither collide in the address space nor see each other's
/// tables.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn delta_close(s: &Summary, tolerance: f64, slack_kb: i64) {
    let delta = s.vm_pte_delta_kb().expect("VmPTE readable");
    let predicted = (s.predicted_table_bytes.expect("model applies") / 1024) as i64;
    let allowed = ((predicted as f64 * tolerance) as i64).max(slack_kb);
    assert!(
        (delta - predicted).abs() <= allowed,
        "{}: VmPTE grew {delta} kB, model {predicted} kB",
        s.name
    );
}

#[test]
fn page_table_growth_matches_the_model() {
    let _g = serial();
    let ctx = RunContext::default();
    // 64 MiB at 4 KiB: 32 PTE + 1 PMD + 1 PUD tables predicted; the PUD table may
    // already exist (shared 512 GiB slot). The slack absorbs other tests' allocations in
    // this process; the 1 GiB run below is the tight check.
    let z = run(
        &Workload::ZeroPage {
            stride: Bytes(4096),
            span: Bytes(64 << 20),
        },
        &ctx,
    )
    .unwrap();
    assert_eq!(z.faults_attempted, 16_384);
    assert_eq!(z.predicted_table_bytes, Some(34 * 4096));
    delta_close(&z, 0.05, 32);
    let z = run(
        &Workload::ZeroPage {
            stride: Bytes(4096),
            span: Bytes(1 << 30),
        },
        &ctx,
    )
    .unwrap();
    assert_eq!(z.predicted_table_bytes, Some((512 + 1 + 1) * 4096));
    delta_close(&z, 0.05, 8);

    // 2048 reads over 64 TiB: all in the first PMD pass, 128 of them at 12 KiB.
    let b = run(
        &Workload::BreadthFirst {
            faults: Some(2048),
            span: DEFAULT_BREADTH_FIRST_SPAN,
        },
        &ctx,
    )
    .unwrap();
    assert_eq!(b.predicted_table_bytes, Some((2048 + 2048 + 128) * 4096));
    delta_close(&b, 0.05, 8);

    // Over 1 TiB (2 PGD slots) the first pass ends after 1024 reads: 4 KiB per read after.
    let small = run(
        &Workload::BreadthFirst {
            faults: Some(2048),
            span: Bytes(1 << 40),
        },
        &ctx,
    )
    .unwrap();
    assert_eq!(small.predicted_table_bytes, Some((2048 + 1024 + 2) * 4096));
    delta_close(&small, 0.05, 8);

    // MADV_FREE gives no tables back.
    let free = run(
        &Workload::Madvise {
            advice: Advice::Free,
            faults: 1000,
        },
        &ctx,
    )
    .unwrap();
    delta_close(&free, 0.05, 8);
}

#[test]
fn madvise_both_advices_run() {
    let _g = serial();
    let mut deltas = vec![];
    for advice in [Advice::Free, Advice::DontNeed] {
        let s = run(
            &Workload::Madvise {
                advice,
                faults: 1000,
            },
            &RunContext::default(),
        )
        .unwrap();
        assert_eq!(s.faults_attempted, 1000);
        assert_eq!(s.params["advice"], advice.as_str());
        deltas.push(s.vm_pte_delta_kb().unwrap());
    }
    // MADV_DONTNEED never keeps more tables than MADV_FREE; whether it keeps fewer depends
    // on THP and CONFIG_PT_RECLAIM (on 6.18 it frees all 1000 leaf tables).
    assert!(deltas[1] <= deltas[0] + deltas[0] / 20, "{deltas:?}");
}

#[test]
fn vma_fragment_splits_and_prefault_merges() {
    let _g = serial();
    let before = proc_self::maps_stats(None).0;
    let split = run(
        &Workload::VmaFragment {
            cells: 1000,
            prefault: false,
        },
        &RunContext::default(),
    )
    .unwrap();
    assert!(split.mapping_vmas.unwrap() >= 1000, "{}", split.line);
    // Other tests' threads come and go (a stack and a guard each), hence the slack.
    assert!(split.maps_lines + 64 >= before + 1000, "{}", split.line);
    assert_eq!(split.faults_attempted, 2000);
    let merged = run(
        &Workload::VmaFragment {
            cells: 1000,
            prefault: true,
        },
        &RunContext::default(),
    )
    .unwrap();
    assert!(merged.mapping_vmas.unwrap() <= 10, "{}", merged.line);
    // Everything was unmapped again.
    assert!(proc_self::maps_stats(None).0 < before + 50);
}

#[test]
fn checkpoints_are_written() {
    let _g = serial();
    let dir = std::env::temp_dir().join(format!("faultline-wl-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let ctx = RunContext {
        checkpoint_dir: Some(dir.clone()),
        ..RunContext::default()
    };
    let s = run(
        &Workload::ZeroPage {
            stride: Bytes(4096),
            span: Bytes(256 << 20),
        },
        &ctx,
    )
    .unwrap();
    // 65,536 reads: mapped, 3 periodic (every 16,384), end.
    assert_eq!(s.checkpoints, 5);
    let log = fs::read_to_string(dir.join("proc/checkpoints.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["label"], "mapped");
    assert_eq!(lines[0]["dir"], "checkpoints/0000-mapped");
    assert_eq!(lines[1]["faults"], 16_384);
    assert_eq!(lines[4]["label"], "end");
    for l in &lines {
        let d = dir.join("proc").join(l["dir"].as_str().unwrap());
        let status = fs::read_to_string(d.join("status")).unwrap();
        let st = crate::procfs::Status::parse(&status, &d).unwrap();
        assert!(st.kb("VmPTE").is_some());
        // smaps_rollup walks every page table: only at the start and the end.
        let edge = l["label"] == "mapped" || l["label"] == "end";
        assert_eq!(d.join("smaps_rollup").exists(), edge, "{l}");
        assert!(d.join("maps").exists());
    }
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("workload.json")).unwrap()).unwrap();
    assert_eq!(json["name"], "zero-page");
    assert_eq!(json["faults_attempted"], 65_536);
    assert!(json["mono_end_ns"].as_u64() >= json["mono_start_ns"].as_u64());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn zero_page_timestamps_are_written() {
    let _g = serial();
    let dir = std::env::temp_dir().join(format!("faultline-ts-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let ctx = RunContext {
        checkpoint_dir: Some(dir.clone()),
        timestamps: true,
    };
    let w = Workload::ZeroPage {
        stride: Bytes(4096),
        span: Bytes(64 << 20),
    };
    let s = run(&w, &ctx).unwrap();
    assert_eq!(s.faults_attempted, 16_384);
    let bytes = fs::read(dir.join(ACCESS_TIMES_FILE)).unwrap();
    assert_eq!(bytes.len(), 16_384 * 8);
    let times: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert!(times.windows(2).all(|p| p[0] <= p[1]), "not in order");
    assert!(
        times[0] >= s.mono_start_ns,
        "{} < {}",
        times[0],
        s.mono_start_ns
    );
    assert!(times[times.len() - 1] <= s.mono_end_ns);
    // Without the flag nothing is written.
    fs::remove_file(dir.join(ACCESS_TIMES_FILE)).unwrap();
    let plain = RunContext {
        timestamps: false,
        ..ctx.clone()
    };
    run(&w, &plain).unwrap();
    assert!(!dir.join(ACCESS_TIMES_FILE).exists());
    // Timestamps need a run directory, and refuse more than 256 MiB of them (2^26 reads
    // here) before mapping anything.
    let no_dir = RunContext {
        checkpoint_dir: None,
        timestamps: true,
    };
    let err = run(&w, &no_dir).unwrap_err();
    assert!(err.to_string().contains(RUN_DIR_ENV), "{err}");
    let huge = Workload::ZeroPage {
        stride: Bytes(4096),
        span: Bytes(256 << 30),
    };
    let err = run(&huge, &ctx).unwrap_err();
    assert!(
        matches!(err, WorkloadError::InvalidParams { .. }) && err.to_string().contains("256 MiB"),
        "{err}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn checkpoint_schedule_stays_bounded() {
    let dir = std::env::temp_dir().join(format!("faultline-cp-test-{}", std::process::id()));
    let ctx = RunContext {
        checkpoint_dir: Some(dir.clone()),
        ..RunContext::default()
    };
    // Count how often periodic checkpoints come due, without taking them.
    for expected in [Some(1u64 << 30), None] {
        let mut cp = Checkpoints::new(&ctx, expected).unwrap();
        cp.proc_dir = None; // take() then writes nothing
        let mut due = 0;
        let mut last = 0;
        loop {
            let faults = cp.next_at;
            if faults >= 1 << 30 {
                break;
            }
            cp.periodic(faults).unwrap();
            due += 1;
            last = faults;
        }
        // At most MAX_CHECKPOINTS - 2 are taken; one more comes due and is refused.
        assert!(due < MAX_CHECKPOINTS, "{expected:?}: {due}");
        if expected.is_some() {
            // A run of known length is covered to its end.
            assert!(last >= (1 << 30) / 5 * 4, "{expected:?}: last at {last}");
        }
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_parameters_are_errors() {
    let bad = [
        Workload::ZeroPage {
            stride: Bytes(0),
            span: Bytes(1 << 20),
        },
        Workload::ZeroPage {
            stride: Bytes(2 << 20),
            span: Bytes(1 << 20),
        },
        Workload::ZeroPage {
            stride: Bytes(4096),
            span: Bytes(200 << 40),
        },
        Workload::BreadthFirst {
            faults: Some(0),
            span: Bytes(1 << 40),
        },
        Workload::BreadthFirst {
            faults: Some(600_000),
            span: Bytes(1 << 40),
        },
        Workload::BreadthFirst {
            faults: None,
            span: Bytes(0),
        },
        Workload::Madvise {
            advice: Advice::Free,
            faults: 0,
        },
        Workload::MemoryHog {
            limit: Some(Bytes(100)),
        },
        Workload::VmaFragment {
            cells: 0,
            prefault: false,
        },
    ];
    for w in bad {
        let err = run(&w, &RunContext::default()).unwrap_err();
        assert!(
            matches!(err, WorkloadError::InvalidParams { .. }),
            "{w:?}: {err}"
        );
    }
    let err = run(
        &Workload::VmaFragment {
            cells: 1_000_000,
            prefault: false,
        },
        &RunContext::default(),
    )
    .unwrap_err();
    assert!(matches!(err, WorkloadError::MapCount { .. }), "{err}");
    assert!(err.to_string().contains("max_map_count"));
}

#[test]
fn oom_prone_workloads() {
    let avail = Bytes(24 << 30);
    assert!(
        Workload::MemoryHog {
            limit: Some(Bytes(1 << 20))
        }
        .is_oom_prone(avail)
    );
    assert!(
        Workload::BreadthFirst {
            faults: None,
            span: DEFAULT_BREADTH_FIRST_SPAN
        }
        .is_oom_prone(avail)
    );
    assert!(
        !Workload::BreadthFirst {
            faults: Some(200_000),
            span: DEFAULT_BREADTH_FIRST_SPAN
        }
        .is_oom_prone(avail)
    );
    // 64 TiB of 4 KiB zero-page reads would need 128 GiB of tables.
    assert!(
        Workload::ZeroPage {
            stride: DEFAULT_ZERO_PAGE_STRIDE,
            span: Bytes(64 << 40)
        }
        .is_oom_prone(avail)
    );
    let defaults = [
        Workload::ZeroPage {
            stride: DEFAULT_ZERO_PAGE_STRIDE,
            span: DEFAULT_ZERO_PAGE_SPAN,
        },
        Workload::Madvise {
            advice: Advice::Free,
            faults: DEFAULT_MADVISE_FAULTS,
        },
        Workload::VmaFragment {
            cells: DEFAULT_VMA_CELLS,
            prefault: false,
        },
    ];
    for w in defaults {
        assert!(!w.is_oom_prone(avail), "{w:?}");
        assert!(w.is_oom_prone(Bytes(64 << 20)), "{w:?}");
    }
}

#[test]
fn memory_hog_needs_a_cap() {
    let _g = serial();
    let w = Workload::MemoryHog {
        limit: Some(Bytes(1 << 20)),
    };
    match (memory_cap(), run(&w, &RunContext::default())) {
        (None, Err(WorkloadError::NeedsMemoryCap { .. })) => {}
        // Inside a capped cgroup the 1 MiB run is harmless and must succeed.
        (Some(_), Ok(s)) => assert_eq!(s.faults_attempted, 256),
        (Some(_), Err(WorkloadError::NeedsMemoryCap { .. })) => {}
        (cap, other) => panic!("cap {cap:?}: {other:?}"),
    }
}

#[test]
fn advice_parses() {
    assert_eq!("free".parse(), Ok(Advice::Free));
    assert_eq!("MADV_DONTNEED".parse(), Ok(Advice::DontNeed));
    assert_eq!("dont-need".parse(), Ok(Advice::DontNeed));
    assert!("never".parse::<Advice>().is_err());
}

fn reader(files: &[(&str, &str)]) -> impl Fn(&Path) -> Option<String> {
    let map: HashMap<PathBuf, String> = files
        .iter()
        .map(|(p, t)| (PathBuf::from(p), t.to_string()))
        .collect();
    move |p| map.get(p).cloned()
}

#[test]
fn memory_cap_v1() {
    let cgroup = "9:name=systemd:/\n4:memory:/faultline/run-1\n1:cpu,cpuacct:/\n0::/\n";
    let unlimited = "9223372036854771712\n";
    let files = [
        (
            "/sys/fs/cgroup/memory/faultline/run-1/memory.limit_in_bytes",
            "67108864\n",
        ),
        (
            "/sys/fs/cgroup/memory/faultline/memory.limit_in_bytes",
            unlimited,
        ),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", unlimited),
    ];
    assert_eq!(
        memory_cap_from(cgroup, reader(&files)),
        Some(Bytes(64 << 20))
    );
    // This machine's layout: a v1 cgroup without a limit anywhere.
    let here = "4:memory:/process_api/bd7e\n0::/\n";
    let files = [
        (
            "/sys/fs/cgroup/memory/process_api/bd7e/memory.limit_in_bytes",
            unlimited,
        ),
        (
            "/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes",
            unlimited,
        ),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", unlimited),
    ];
    assert_eq!(memory_cap_from(here, reader(&files)), None);
    // A parent's limit caps the child.
    let files = [
        (
            "/sys/fs/cgroup/memory/process_api/bd7e/memory.limit_in_bytes",
            unlimited,
        ),
        (
            "/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes",
            "1073741824",
        ),
    ];
    assert_eq!(memory_cap_from(here, reader(&files)), Some(Bytes(1 << 30)));
}

#[test]
fn memory_cap_v2() {
    let cgroup = "0::/user.slice/faultline.scope\n";
    let files = [
        (
            "/sys/fs/cgroup/user.slice/faultline.scope/memory.max",
            "max\n",
        ),
        ("/sys/fs/cgroup/user.slice/memory.max", "536870912\n"),
    ];
    assert_eq!(
        memory_cap_from(cgroup, reader(&files)),
        Some(Bytes(512 << 20))
    );
    let files = [(
        "/sys/fs/cgroup/user.slice/faultline.scope/memory.max",
        "max\n",
    )];
    assert_eq!(memory_cap_from(cgroup, reader(&files)), None);
    let files = [(
        "/sys/fs/cgroup/user.slice/faultline.scope/memory.max",
        "268435456\n",
    )];
    assert_eq!(
        memory_cap_from(cgroup, reader(&files)),
        Some(Bytes(256 << 20))
    );
    // Hybrid layout: v2 mounted under unified/.
    let files = [("/sys/fs/cgroup/unified/user.slice/memory.max", "1048576")];
    assert_eq!(
        memory_cap_from(cgroup, reader(&files)),
        Some(Bytes(1 << 20))
    );
    assert_eq!(memory_cap_from("", reader(&[])), None);
    assert_eq!(memory_cap_from("garbage\n", reader(&[])), None);
}

#[test]
fn params_and_names() {
    let w = Workload::ZeroPage {
        stride: Bytes(4096),
        span: Bytes(1 << 30),
    };
    assert_eq!(w.name(), "zero-page");
    assert_eq!(w.params()["stride_bytes"], 4096);
    let w = Workload::BreadthFirst {
        faults: None,
        span: DEFAULT_BREADTH_FIRST_SPAN,
    };
    assert!(w.params()["faults"].is_null());
}
