//! Arbitrary bytes never panic the parser, and every line is accounted for: a sample's
//! event line, a frame, a srcline, a comment or blank line, or a counted skip.

use faultline::fold::collapse::{self, FoldOptions};
use faultline::ingest::profile::{BuildOptions, Profile};
use proptest::prelude::*;

fn check(data: &[u8]) {
    for threads in [1, 3] {
        let p = Profile::build(
            data,
            BuildOptions {
                include_addrs: true,
                threads,
                keep_samples: true,
            },
            &|_| {},
        );
        let d = &p.diagnostics;
        assert_eq!(
            d.lines,
            d.samples + d.frame_lines + d.srclines + d.ignored_lines + d.total_skipped(),
            "line accounting for {:?}",
            String::from_utf8_lossy(data)
        );
        let counted: u64 = p.counts.values().map(|c| c.samples).sum();
        assert_eq!(counted, d.samples, "every sample reaches the profile");
        assert_eq!(
            p.samples.len() as u64,
            d.samples,
            "every sample is kept in order"
        );
        let lines: Vec<u64> = p.samples.iter().map(|r| r.line).collect();
        assert!(lines.windows(2).all(|w| w[0] < w[1]));
        let ids = collapse::select_events(&p, None).unwrap();
        let opts = FoldOptions {
            include_tid: true,
            annotate_kernel: true,
            ..Default::default()
        };
        let folded = collapse::fold(&p, &ids, &opts);
        let mut out = Vec::new();
        folded.write_to(&mut out).unwrap();
    }
}

/// Lines that look like perf output, shuffled and corrupted.
fn perfish_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("pf  3327 [000]    84.071346: exceptions:page_fault_user: address=0x7f ip=0x7f error_code=0x6 ffffffff821f5340 exc_page_fault+0x2f0 ([kernel.kallsyms])".to_string()),
        Just("pf  3327    84.072112:    1001001   cpu-clock: ".to_string()),
        Just("V8 Worker 1/2 [001] 5.5: 7 cycles:u:  ffff [unknown] ([unknown])".to_string()),
        Just(":-1    -1 [001]  1.5: 250000 cpu-clock:".to_string()),
        Just("\tffffffff8157bab0 perf_swevent_event+0x160 ([kernel.kallsyms])".to_string()),
        Just("\t  7f0a helper+0x10 (/tmp/libfoo.so (deleted))".to_string()),
        Just("\t  1184 mix_inline+0x3b".to_string()),
        Just("  spin.c:19 (inlined)".to_string()),
        Just("# event : name = cpu-clock, type = 1, config = 0x0".to_string()),
        Just(String::new()),
        "[ -~\t]{0,60}",
        "\\PC{0,30}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&data);
    }

    #[test]
    fn perf_like_lines(lines in proptest::collection::vec(perfish_line(), 0..40), cut in 0usize..4000) {
        let mut text = lines.join("\n").into_bytes();
        text.truncate(cut.min(text.len()));
        check(&text);
    }
}
