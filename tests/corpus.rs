//! The inferno compatibility corpus: for every case in manifest.tsv, faultline's folded
//! output must equal inferno-collapse-perf 0.12.8's byte for byte.

mod common;

use common::collapse;
use faultline::fold::collapse::FoldOptions;
use faultline::ingest::input::Input;
use faultline::ingest::profile::BuildOptions;

fn options(flag: &str) -> (BuildOptions, FoldOptions) {
    let mut fold = FoldOptions::default();
    let mut build = BuildOptions::default();
    match flag {
        "" => {}
        "--pid" => fold.include_pid = true,
        "--tid" => fold.include_tid = true,
        "--kernel" => fold.annotate_kernel = true,
        "--jit" => fold.annotate_jit = true,
        "--all" => {
            fold.annotate_kernel = true;
            fold.annotate_jit = true;
        }
        "--addrs" => build.include_addrs = true,
        other => panic!("manifest flag {other:?} not handled"),
    }
    (build, fold)
}

#[test]
fn every_manifest_case_matches_inferno_byte_for_byte() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let manifest = std::fs::read_to_string(dir.join("manifest.tsv")).unwrap();
    let mut cases = 0;
    let mut failures = Vec::new();
    for row in manifest.lines().skip(1).filter(|l| !l.is_empty()) {
        let cols: Vec<&str> = row.split('\t').collect();
        let (input, flag, expected) = (cols[0], cols[1], cols[2]);
        let input = Input::open(Some(&dir.join(input))).unwrap();
        let expected = std::fs::read(dir.join(expected)).unwrap();
        let (build, fold) = options(flag);
        let actual = collapse(input.bytes(), build, &fold);
        if actual != expected {
            failures.push(format!("{} {flag}", cols[0]));
        }
        cases += 1;
    }
    assert_eq!(cases, 168, "the manifest should list 168 cases");
    assert!(
        failures.is_empty(),
        "{} cases differ: {failures:#?}",
        failures.len()
    );
}

#[test]
fn multi_threaded_output_equals_single_threaded() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let mut inputs: Vec<_> = std::fs::read_dir(dir.join("inputs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    inputs.extend(
        std::fs::read_dir(common::root().join("fixtures"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt")),
    );
    inputs.sort();
    let mut split_somewhere = false;
    for path in inputs {
        let input = Input::open(Some(&path)).unwrap();
        for flag in ["", "--tid", "--all"] {
            let (build, fold) = options(flag);
            let one = collapse(
                input.bytes(),
                BuildOptions {
                    threads: 1,
                    ..build
                },
                &fold,
            );
            for threads in [2, 3, 7] {
                let many = collapse(input.bytes(), BuildOptions { threads, ..build }, &fold);
                assert!(
                    one == many,
                    "{} {flag}: {threads} threads differ",
                    path.display()
                );
            }
        }
        split_somewhere |= faultline::ingest::script::split_at_records(input.bytes(), 7).len() > 1;
    }
    assert!(
        split_somewhere,
        "no input was split; the test proves nothing"
    );
}
