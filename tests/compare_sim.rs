//! Simulation of the comparison statistics: on A/A data (both sides drawn from one
//! distribution) few budgets and frames are flagged; a real 20% increase with 5 runs a
//! side is flagged in most trials. Run-to-run noise is modelled as on this project's
//! machines: a lognormal run factor (CV 5% or 10%) times Poisson sampling of ~1 ms
//! samples. The measured rates are printed (`cargo test --test compare_sim -- --nocapture`).

use faultline::compare::stats::SplitMix64;
use faultline::compare::{Limit, Verdict, decide};

const PERIOD: f64 = 1e6;

/// One run: a count of samples around `lambda`, scaled by a lognormal run factor.
fn run(rng: &mut SplitMix64, lambda: f64, cv: f64) -> (f64, u64) {
    let rate = lambda * (cv * rng.normal() - cv * cv / 2.0).exp();
    let count = (rate + rate.sqrt() * rng.normal()).round().max(0.0) as u64;
    (count as f64 * PERIOD, count)
}

fn side(rng: &mut SplitMix64, n: usize, lambda: f64, cv: f64) -> (Vec<f64>, Vec<u64>) {
    (0..n).map(|_| run(rng, lambda, cv)).unzip()
}

struct Rates {
    regressed: f64,
    improved: f64,
    significant: f64,
}

fn simulate(trials: usize, runs: usize, lambda: f64, cv: f64, effect: f64, seed: u64) -> Rates {
    let mut rng = SplitMix64::new(seed);
    let (mut reg, mut imp, mut sig) = (0, 0, 0);
    for _ in 0..trials {
        let (bv, bc) = side(&mut rng, runs, lambda, cv);
        let (nv, nc) = side(&mut rng, runs, lambda * effect, cv);
        let d = decide(
            &bv,
            &nv,
            &bc,
            &nc,
            (runs as f64, runs as f64),
            Some(Limit::Relative(0.10)),
            4.0,
        );
        match d.verdict {
            Verdict::Regressed => reg += 1,
            Verdict::Improved => imp += 1,
            _ => {}
        }
        if d.interval.lo > 1.0 || d.interval.hi < 1.0 {
            sig += 1;
        }
    }
    let t = trials as f64;
    Rates {
        regressed: reg as f64 / t,
        improved: imp as f64 / t,
        significant: sig as f64 / t,
    }
}

#[test]
fn a_a_budgets_are_rarely_flagged() {
    for (runs, cv) in [(3, 0.05), (5, 0.05), (5, 0.10), (1, 0.05), (2, 0.10)] {
        let r = simulate(2000, runs, 300.0, cv, 1.0, 7 + runs as u64);
        eprintln!(
            "A/A {runs} runs a side, CV {:.0}%: regressed {:.1}%, improved {:.1}%, interval excludes 1 in {:.1}%",
            cv * 100.0,
            r.regressed * 100.0,
            r.improved * 100.0,
            r.significant * 100.0
        );
        assert!(
            r.regressed + r.improved <= 0.05,
            "budget verdicts on A/A: {runs} runs"
        );
        assert!(
            r.significant <= 0.07,
            "nominal 5% level: {runs} runs, {:.3}",
            r.significant
        );
    }
}

#[test]
fn a_twenty_percent_increase_is_flagged_with_five_runs() {
    for cv in [0.05, 0.10] {
        let r = simulate(2000, 5, 300.0, cv, 1.20, 99);
        eprintln!(
            "+20% with 5 runs a side, CV {:.0}%: regressed in {:.1}% of trials (interval excludes 1 in {:.1}%)",
            cv * 100.0,
            r.regressed * 100.0,
            r.significant * 100.0
        );
        assert!(
            r.regressed > 0.5,
            "flagged in most trials: {:.3}",
            r.regressed
        );
    }
}

#[test]
fn a_a_frames_under_fdr_control() {
    use faultline::compare::stats::benjamini_hochberg;
    let mut rng = SplitMix64::new(4242);
    let (trials, frames) = (300, 40);
    let mut flagged = 0;
    let mut any = 0;
    for _ in 0..trials {
        let mut ps = Vec::new();
        for f in 0..frames {
            let lambda = 20.0 + 10.0 * f as f64;
            let (bv, bc) = side(&mut rng, 5, lambda, 0.05);
            let (nv, nc) = side(&mut rng, 5, lambda, 0.05);
            let d = decide(&bv, &nv, &bc, &nc, (5.0, 5.0), None, 4.0);
            ps.push(d.p_permutation.unwrap_or(1.0).max(d.interval.p));
        }
        let q = benjamini_hochberg(&ps);
        let n = q.iter().filter(|&&q| q <= 0.05).count();
        flagged += n;
        any += usize::from(n > 0);
    }
    let rate = flagged as f64 / (trials * frames) as f64;
    eprintln!(
        "A/A frames (5 runs, 40 frames, BH 5%): {:.2}% of frames flagged, trials with any flag {:.1}%",
        rate * 100.0,
        any as f64 / trials as f64 * 100.0
    );
    assert!(rate <= 0.05, "{rate}");
    assert!(any as f64 / trials as f64 <= 0.10);
}
