//! Parse + collapse throughput in bytes per second on a real recording, repeated to
//! about 16 MiB. `cargo bench --bench throughput`; `bench/compare.sh` measures the
//! whole binary against inferno-collapse-perf.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faultline::fold::collapse::{self, FoldOptions};
use faultline::ingest::profile::{BuildOptions, Profile};

fn input() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/zero-page-4k.perf.txt"
    );
    let one = std::fs::read(path).expect("fixture");
    let mut data = Vec::with_capacity(17 << 20);
    while data.len() < 16 << 20 {
        data.extend_from_slice(&one);
        data.extend_from_slice(b"\n");
    }
    data
}

fn throughput(c: &mut Criterion) {
    let data = input();
    let mut group = c.benchmark_group("parse+collapse");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(20);
    for threads in [1, 0] {
        let name = if threads == 1 {
            "1 thread"
        } else {
            "all cores"
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                let opts = BuildOptions {
                    threads,
                    ..BuildOptions::default()
                };
                let profile = Profile::build(&data, opts, &|_| {});
                let events = collapse::select_events(&profile, None).unwrap();
                collapse::fold(&profile, &events, &FoldOptions::default())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
