//! Exports checked on a real recording (fixtures/runs/breadth-first-oom: an OOM-killed
//! workload with markers and a /proc timeline) and with the real readers where they
//! run here: `go tool pprof` for pprof, speedscope's own JSON schema (ajv, from
//! the npm package `.ci/run` installs into target/npm) for speedscope.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use faultline::analyze::AnalyzeOptions;
use faultline::analyze::export_view::ExportView;
use faultline::export::{self, Format, pprof};
use prost::Message;
use serde_json::Value;

fn run(name: &str) -> PathBuf {
    common::root().join("fixtures/runs").join(name)
}

fn view(input: &Path, no_irq_correction: bool, workload_only: bool) -> ExportView {
    let opts = AnalyzeOptions {
        input: input.to_path_buf(),
        no_irq_correction,
        ..AnalyzeOptions::default()
    };
    export::load(&opts, workload_only, &|_| {}).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-export-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn decode_pprof(bytes: &[u8]) -> pprof::Profile {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut raw)
        .expect("gzip");
    pprof::Profile::decode(&raw[..]).expect("profile.proto")
}

/// `faultline collapse` of the run's script: (lines, total weight).
fn collapse(script: &Path) -> (Vec<String>, u64) {
    let out = common::faultline(&["collapse", script.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let total = text
        .lines()
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    (text.lines().map(str::to_string).collect(), total)
}

#[test]
fn uncorrected_export_folds_exactly_as_collapse() {
    let dir = run("breadth-first-oom");
    let v = view(&dir, true, false);
    let (lines, total) = collapse(&dir.join("perf.script"));
    let folded: Vec<String> = export::pyroscope::folded(&v)
        .into_iter()
        .map(|(l, n)| format!("{} {n}", String::from_utf8(l).unwrap()))
        .collect();
    assert_eq!(folded, lines);
    assert_eq!(v.total_weight(), total);
    assert_eq!(total, 986_986_986, "986 cpu-clock samples of 1001001 ns");
}

#[test]
fn corrected_export_keeps_the_total_and_moves_samples() {
    let dir = run("breadth-first-oom");
    let (corrected, raw) = (view(&dir, false, false), view(&dir, true, false));
    assert_eq!(corrected.total_weight(), raw.total_weight());
    let leaves = |v: &ExportView| -> BTreeSet<String> {
        v.samples
            .iter()
            .filter_map(|s| v.frame_names(s.stack).pop())
            .collect()
    };
    assert!(
        leaves(&corrected)
            .iter()
            .any(|l| l.starts_with("[irqs-off]"))
    );
    assert!(!leaves(&raw).iter().any(|l| l.starts_with("[irqs-off]")));
}

#[test]
fn pprof_follows_profile_proto_rules() {
    let v = view(&run("breadth-first-oom"), false, false);
    let p = decode_pprof(&export::render(&v, Format::Pprof));
    let s = |i: i64| p.string_table[i as usize].as_str();
    assert_eq!(p.string_table[0], "");
    let unique = p.string_table.iter().collect::<BTreeSet<_>>().len();
    assert_eq!(unique, p.string_table.len(), "each string once");
    let types: Vec<(&str, &str)> = p
        .sample_type
        .iter()
        .map(|t| (s(t.r#type), s(t.unit)))
        .collect();
    assert_eq!(types, [("samples", "count"), ("cpu", "nanoseconds")]);
    let period = p.period_type.unwrap();
    assert_eq!((s(period.r#type), s(period.unit)), ("cpu", "nanoseconds"));
    assert_eq!(p.period, 1_001_001);
    // cpu-clock samples run from 3710.275586 to 3711.666164; perf wrote the file
    // (`captured on : Sat Nov 21 23:48:09 2026`, 1795304889 s) just after the last.
    assert_eq!(p.duration_nanos, 1_390_578_000);
    assert_eq!(p.time_nanos, 1_795_304_889_000_000_000 - 1_390_578_000);

    let ids = |v: Vec<u64>| {
        assert!(v.iter().all(|&i| i != 0), "ids are non-zero");
        let set: BTreeSet<u64> = v.iter().copied().collect();
        assert_eq!(set.len(), v.len(), "ids are unique");
        set
    };
    let mappings = ids(p.mapping.iter().map(|m| m.id).collect());
    let functions = ids(p.function.iter().map(|f| f.id).collect());
    let locations = ids(p.location.iter().map(|l| l.id).collect());
    let names: BTreeSet<&str> = p.function.iter().map(|f| s(f.name)).collect();
    assert_eq!(names.len(), p.function.len(), "one Function per frame name");
    let dsos: BTreeSet<&str> = p.mapping.iter().map(|m| s(m.filename)).collect();
    assert_eq!(dsos.len(), p.mapping.len(), "one Mapping per DSO");
    assert!(dsos.contains("[kernel.kallsyms]"), "{dsos:?}");
    // mapping[0] is the main binary for pprof: the workload's program.
    let main = s(p.mapping[0].filename);
    assert!(main.ends_with("/faultline"), "{main} of {dsos:?}");
    for l in &p.location {
        assert!(mappings.contains(&l.mapping_id));
        assert!(
            l.line
                .iter()
                .all(|line| functions.contains(&line.function_id))
        );
    }
    let (mut n, mut w) = (0, 0);
    for sample in &p.sample {
        assert!(sample.location_id.iter().all(|id| locations.contains(id)));
        let keys: Vec<&str> = sample.label.iter().map(|l| s(l.key)).collect();
        assert_eq!(keys, ["comm", "pid", "tid", "phase"]);
        n += sample.value[0];
        w += sample.value[1];
    }
    assert_eq!((n, w), (986, 986_986_986));
}

#[test]
fn pprof_locations_are_leaf_first_and_labelled_by_phase() {
    let v = view(&run("breadth-first-oom"), false, false);
    let p = decode_pprof(&export::render(&v, Format::Pprof));
    let s = |i: i64| p.string_table[i as usize].as_str();
    let func = |loc: u64| {
        let l = p.location.iter().find(|l| l.id == loc).unwrap();
        let f = p
            .function
            .iter()
            .find(|f| f.id == l.line[0].function_id)
            .unwrap();
        s(f.name)
    };
    // The workload's table allocations: a fault-phase sample whose stack runs from the
    // workload's main down to a page-table allocation.
    let table_alloc = p
        .sample
        .iter()
        .find(|x| {
            x.label
                .iter()
                .any(|l| s(l.key) == "phase" && s(l.str) == "fault/table-alloc")
        })
        .expect("a fault/table-alloc sample");
    let frames: Vec<&str> = table_alloc.location_id.iter().map(|&id| func(id)).collect();
    // Leaf first: the kernel's allocator at the front, the workload's code at the back.
    let at = |name: &str| {
        frames
            .iter()
            .position(|f| f.contains(name))
            .unwrap_or_else(|| panic!("{name} in {frames:?}"))
    };
    assert!(at("pmd_alloc") < at("exc_page_fault"));
    assert!(at("exc_page_fault") < at("faultline::workloads::run"));
    assert_eq!(frames.len() - 1, at("[unknown]"), "{frames:?}");
    let pid = table_alloc
        .label
        .iter()
        .find(|l| s(l.key) == "pid")
        .unwrap()
        .num;
    assert_eq!(pid, 11815, "the workload");
}

fn go() -> Option<&'static str> {
    let ok = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: `go` is not installed (apt-get install golang-go)");
    }
    ok.then_some("go")
}

/// `faultline export --format pprof` of breadth-first-oom into a scratch file.
fn pprof_file(name: &str) -> PathBuf {
    let file = scratch(name).join("profile.pb.gz");
    common::export_fixture("pprof", &file);
    file
}

fn go_pprof(go: &str, args: &[&str], file: &Path) -> String {
    let o = Command::new(go)
        .args(["tool", "pprof"])
        .args(args)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "go tool pprof {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn go_tool_pprof_raw_has_collapses_totals() {
    let Some(go) = go() else { return };
    // -raw lists every sample as `count ns: locations`.
    let raw = go_pprof(go, &["-raw"], &pprof_file("raw"));
    let (mut n, mut w) = (0u64, 0u64);
    let samples = raw
        .lines()
        .skip_while(|l| !l.starts_with("Samples:"))
        .take_while(|l| !l.starts_with("Locations"));
    for line in samples {
        let Some((values, _)) = line.split_once(':') else {
            continue;
        };
        let v: Vec<u64> = values
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [count, ns] = v[..] {
            n += count;
            w += ns;
        }
    }
    let (_, collapse_total) = collapse(&run("breadth-first-oom").join("perf.script"));
    assert_eq!((n, w), (986, collapse_total));
}

#[test]
fn go_tool_pprof_top_functions_are_faultlines() {
    let Some(go) = go() else { return };
    let top = go_pprof(
        go,
        &["-top", "-unit=ns", "-nodecount=8"],
        &pprof_file("top"),
    );
    assert!(top.contains("Total samples = 986986986ns"), "{top}");
    // Flat time per function against faultline's own self weights (corrected leaves).
    let v = view(&run("breadth-first-oom"), false, false);
    let mut own: BTreeMap<String, u64> = BTreeMap::new();
    for s in &v.samples {
        *own.entry(v.frame_names(s.stack).pop().unwrap())
            .or_default() += s.weight;
    }
    let mut rows = 0;
    for line in top
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .skip(1)
    {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let flat: u64 = cols[0].trim_end_matches("ns").parse().unwrap();
        let name = cols[5..].join(" ");
        assert_eq!(own.get(&name), Some(&flat), "{name}");
        rows += 1;
    }
    assert_eq!(rows, 8);
    let heaviest = own.iter().max_by_key(|(_, w)| **w).unwrap();
    assert!(top.contains(&format!("{}ns", heaviest.1)) && top.contains(heaviest.0.as_str()));
}

#[test]
fn workload_only_keeps_the_workload_and_its_tied_exit_work() {
    let input = run("breadth-first-oom");
    let v = view(&input, false, true);
    let opts = AnalyzeOptions {
        input: input.clone(),
        ..AnalyzeOptions::default()
    };
    let report = faultline::analyze::analyze(&opts, &|_| {}).unwrap().report;
    let w = report.processes.iter().find(|p| p.workload).unwrap();
    assert_eq!(v.total_weight(), w.weight);
    assert_eq!(v.samples.len() as u64, w.samples);
    let tids: BTreeSet<i32> = v.samples.iter().map(|s| v.thread(s.thread).tid).collect();
    assert!(tids.contains(&11815));
    assert!(v.total_weight() < view(&input, false, false).total_weight());
}

fn npm_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FAULTLINE_NPM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::root().join("target/npm"));
    let ok = dir
        .join("node_modules/speedscope/dist/release/file-format-schema.json")
        .is_file()
        && dir.join("node_modules/ajv").is_dir()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "skipped: speedscope@1.25.0 and ajv not installed under {} (npm install --prefix {} speedscope@1.25.0 ajv@8)",
            dir.display(),
            dir.display()
        );
    }
    ok.then_some(dir)
}

/// Validates `file` against speedscope's schema with ajv; Err holds ajv's complaint.
fn validate_speedscope(npm: &Path, file: &Path) -> Result<(), String> {
    let script = r#"
        const [dir, schemaPath, file] = process.argv.slice(1);
        const Ajv = require(dir + '/node_modules/ajv');
        const schema = require(schemaPath);
        const data = JSON.parse(require('fs').readFileSync(file, 'utf8'));
        const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
        if (!validate(data)) { console.error(JSON.stringify(validate.errors.slice(0, 5))); process.exit(1); }
    "#;
    let schema = npm.join("node_modules/speedscope/dist/release/file-format-schema.json");
    let out = Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(npm)
        .arg(schema)
        .arg(file)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn speedscope_has_a_profile_per_thread_with_the_same_total() {
    let v = view(&run("breadth-first-oom"), false, false);
    let doc: Value = serde_json::from_slice(&export::render(&v, Format::Speedscope)).unwrap();
    assert_eq!(
        doc["$schema"],
        "https://www.speedscope.app/file-format-schema.json"
    );
    let frames = doc["shared"]["frames"].as_array().unwrap();
    let profiles = doc["profiles"].as_array().unwrap();
    let threads: BTreeSet<_> = v.samples.iter().map(|s| s.thread).collect();
    assert_eq!(profiles.len(), threads.len());
    let (mut n, mut w) = (0, 0);
    for p in profiles {
        assert_eq!(p["type"], "sampled");
        assert_eq!(p["unit"], "nanoseconds");
        let samples = p["samples"].as_array().unwrap();
        let weights: Vec<u64> = p["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(samples.len(), weights.len());
        assert_eq!(p["endValue"].as_u64().unwrap(), weights.iter().sum::<u64>());
        for s in samples {
            assert!(
                s.as_array()
                    .unwrap()
                    .iter()
                    .all(|i| (i.as_u64().unwrap() as usize) < frames.len())
            );
        }
        n += samples.len();
        w += weights.iter().sum::<u64>();
    }
    assert_eq!((n, w), (986, 986_986_986));
    let active = &profiles[doc["activeProfileIndex"].as_u64().unwrap() as usize];
    assert_eq!(active["name"], "faultline 11815", "opens on the workload");
    let names: BTreeSet<&str> = frames.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), frames.len(), "frames are shared, each once");
}

#[test]
fn speedscope_file_matches_speedscopes_schema() {
    let Some(npm) = npm_dir() else { return };
    let dir = scratch("speedscope-schema");
    let file = dir.join("profile.speedscope.json");
    common::export_fixture("speedscope", &file);
    validate_speedscope(&npm, &file).unwrap();
    // The validator is not vacuous: a file without shared frames is refused.
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    doc.as_object_mut().unwrap().remove("shared");
    let broken = dir.join("broken.json");
    std::fs::write(&broken, serde_json::to_vec(&doc).unwrap()).unwrap();
    let err = validate_speedscope(&npm, &broken).unwrap_err();
    assert!(err.contains("shared"), "{err}");
}

#[test]
fn counted_events_export_in_counts() {
    let input = common::fixture("mixed-events.perf.txt");
    let opts = AnalyzeOptions {
        input,
        event: Some("exceptions:page_fault_user".into()),
        ..AnalyzeOptions::default()
    };
    let v = export::load(&opts, false, &|_| {}).unwrap();
    let p = decode_pprof(&export::render(&v, Format::Pprof));
    let s = |i: i64| p.string_table[i as usize].as_str();
    let types: Vec<(&str, &str)> = p
        .sample_type
        .iter()
        .map(|t| (s(t.r#type), s(t.unit)))
        .collect();
    assert_eq!(
        types,
        [
            ("samples", "count"),
            ("exceptions:page_fault_user", "count")
        ]
    );
    let doc: Value = serde_json::from_slice(&export::render(&v, Format::Speedscope)).unwrap();
    assert_eq!(doc["profiles"][0]["unit"], "none");
    let n: i64 = p.sample.iter().map(|x| x.value[0]).sum();
    assert_eq!(n as usize, v.samples.len());
    assert!(n > 0);
}

/// Start times (ms) of a thread's samples, from the format's deltas.
fn sample_times(thread: &Value) -> Vec<f64> {
    let mut t = 0.0;
    thread["samples"]["timeDeltas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            t += d.as_f64().unwrap();
            t
        })
        .collect()
}

/// The Firefox Profiler export of breadth-first-oom, and its view.
fn firefox() -> (ExportView, Value) {
    let v = view(&run("breadth-first-oom"), false, false);
    let doc = serde_json::from_slice(&export::render(&v, Format::Firefox)).unwrap();
    (v, doc)
}

/// Zero of the profile's clock: the earliest thing recorded, the first timeline line
/// (mono_ns 3710075664445); times in ms from there.
fn ms(secs: f64) -> f64 {
    (secs - 3_710.075_664_445) * 1e3
}

#[test]
fn firefox_has_a_track_per_thread_with_every_sample_at_its_time() {
    let (v, doc) = firefox();
    let threads = doc["threads"].as_array().unwrap();
    // A track per thread that ran samples, with every sample at its time.
    let sampled: BTreeSet<i32> = v.samples.iter().map(|s| v.thread(s.thread).tid).collect();
    let with_samples: BTreeSet<i32> = threads
        .iter()
        .filter(|t| t["samples"]["length"].as_u64().unwrap() > 0)
        .map(|t| t["tid"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(with_samples, sampled);
    let count: u64 = threads
        .iter()
        .map(|t| t["samples"]["length"].as_u64().unwrap())
        .sum();
    assert_eq!(count, 986);
    let cpu_us: u64 = threads
        .iter()
        .flat_map(|t| t["samples"]["threadCPUDelta"].as_array().unwrap())
        .map(|d| d.as_u64().unwrap())
        .sum();
    assert_eq!(cpu_us, 986 * 1001, "1001001 ns per sample, in whole µs");
    let workload = threads.iter().find(|t| t["tid"] == "11815").unwrap();
    assert_eq!(workload["pid"], "11815");
    let first = sample_times(workload)[0];
    let first_workload_sample = v
        .samples
        .iter()
        .find(|s| v.thread(s.thread).tid == 11815)
        .unwrap()
        .time
        .as_secs_f64();
    assert!((first - ms(first_workload_sample)).abs() < 1e-3, "{first}");
}

#[test]
fn firefox_categories_are_the_phases() {
    let (v, doc) = firefox();
    let workload = doc["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tid"] == "11815")
        .unwrap();
    // Phases as categories: the workload's fault samples are in the `fault` category.
    let categories: Vec<&str> = doc["meta"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for phase in ["fault", "exit", "syscall", "user", "tracepoints"] {
        assert!(categories.contains(&phase), "{categories:?}");
    }
    let category_of = |t: &Value, stack: usize| {
        let frame = t["stackTable"]["frame"][stack].as_u64().unwrap() as usize;
        categories[t["frameTable"]["category"][frame].as_u64().unwrap() as usize]
    };
    let fault_samples = workload["samples"]["stack"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| category_of(workload, s.as_u64().unwrap() as usize) == "fault")
        .count();
    let expected = v
        .samples
        .iter()
        .filter(|s| {
            v.thread(s.thread).tid == 11815 && v.phases[s.phase as usize].starts_with("fault")
        })
        .count();
    assert_eq!(fault_samples, expected);
    assert!(expected > 0);
}

#[test]
fn firefox_markers_are_the_runs_tracepoints() {
    let (_, doc) = firefox();
    let threads = doc["threads"].as_array().unwrap();
    // Markers: every tracepoint of the run, on its thread, at its time.
    let mut markers = Vec::new();
    for t in threads {
        let strings = t["stringArray"].as_array().unwrap();
        let m = &t["markers"];
        for i in 0..m["length"].as_u64().unwrap() as usize {
            let name = strings[m["name"][i].as_u64().unwrap() as usize]
                .as_str()
                .unwrap();
            markers.push((
                name.to_string(),
                t["tid"].as_str().unwrap().to_string(),
                m["startTime"][i].as_f64().unwrap(),
            ));
        }
    }
    let mut names: Vec<&str> = markers.iter().map(|m| m.0.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["mmap:exit_mmap"; 4]
            .into_iter()
            .chain([
                "oom:mark_victim",
                "sched:sched_process_exit",
                "sched:sched_process_exit"
            ])
            .collect::<Vec<_>>()
    );
    let victim = markers.iter().find(|m| m.0 == "oom:mark_victim").unwrap();
    assert_eq!(victim.1, "11815");
    assert!((victim.2 - ms(3_710.395_218)).abs() < 1e-3, "{victim:?}");
}

#[test]
fn firefox_counters_are_the_proc_timeline_on_the_same_clock() {
    let (_, doc) = firefox();
    let input = run("breadth-first-oom");
    // Counters from /proc on the same clock, on the workload's process.
    let counters = doc["counters"].as_array().unwrap();
    let counter_names: Vec<&str> = counters
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(counter_names, ["VmPTE", "VmRSS", "PageTables"]);
    let timeline = std::fs::read_to_string(input.join("proc/timeline.jsonl")).unwrap();
    let pte: Vec<(f64, u64)> = timeline
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["pid"] == 11815)
        .filter_map(|l| {
            Some((
                l["mono_ns"].as_u64()? as f64 / 1e9,
                l["status"]["VmPTE"].as_u64()?,
            ))
        })
        .collect();
    let vm_pte = &counters[0];
    assert_eq!(vm_pte["pid"], "11815");
    let samples = &vm_pte["samples"];
    assert_eq!(samples["length"].as_u64().unwrap() as usize, pte.len());
    let values: f64 = samples["count"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_f64().unwrap())
        .sum();
    assert_eq!(
        values as u64,
        pte.last().unwrap().1 * 1024,
        "deltas sum to the last VmPTE"
    );
    let first_point = samples["timeDeltas"][0].as_f64().unwrap();
    assert!((first_point - ms(pte[0].0)).abs() < 1e-3, "{first_point}");
}

#[test]
fn bad_input_and_unwritable_output_are_named_errors() {
    let dir = scratch("errors");
    let out = dir.join("out.pb.gz");
    let missing = dir.join("no-such-run");
    let res = common::faultline(&[
        "export",
        "--format",
        "pprof",
        missing.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(res.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(stderr.contains(missing.to_str().unwrap()), "{stderr}");
    assert!(!out.exists());

    let input = run("zero-page-4k");
    let unwritable = dir.join("no-such-dir/out.json");
    let res = common::faultline(&[
        "export",
        "--format",
        "firefox",
        input.to_str().unwrap(),
        "-o",
        unwritable.to_str().unwrap(),
    ]);
    assert_eq!(res.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(stderr.contains("no-such-dir"), "{stderr}");
}

#[test]
fn workload_only_keeps_the_workloads_markers() {
    let all = view(&run("breadth-first-oom"), false, false);
    let mine = view(&run("breadth-first-oom"), false, true);
    // The runner's (pid 11813) go; the workload's stay: its exec dropping the old mm,
    // the OOM kill, its exit, and its mm torn down 266 ms later.
    assert_eq!(all.markers.len(), 7);
    let names: Vec<&str> = mine.markers.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "mmap:exit_mmap",
            "oom:mark_victim",
            "sched:sched_process_exit",
            "mmap:exit_mmap"
        ]
    );
    assert!(mine.markers.iter().all(|m| m.pid == 11815));
}
