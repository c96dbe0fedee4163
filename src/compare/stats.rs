//! Statistics for comparing recordings: intervals on the ratio new/base of a metric,
//! from per-run values when there are enough runs, from sample counts when not.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// The confidence level of every interval (two-sided).
pub const CONFIDENCE: f64 = 0.95;

/// Overdispersion assumed for sample counts when `calibrate` has not measured it:
/// run-to-run variance of a phase's samples as a multiple of the Poisson variance.
/// A/A runs on this project's 2-core VM measured 1.5–4; 4 keeps few-run comparisons honest.
pub const DEFAULT_OVERDISPERSION: f64 = 4.0;

/// An estimate of new/base with its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioInterval {
    /// Point estimate of new/base.
    pub ratio: f64,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// Two-sided p-value for "no change".
    pub p: f64,
    /// The smallest relative change this setup would detect (80% power), e.g. 0.12.
    pub detectable: f64,
    /// How it was computed.
    pub method: Method,
}

/// Which test produced an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Welch's t on log values, ≥3 runs per side, checked by a permutation test.
    Welch,
    /// Poisson rate ratio of sample counts, widened by overdispersion (1–2 runs).
    Poisson,
}

impl RatioInterval {
    /// The same interval width around another point estimate (p-value to match).
    pub fn recentred(self, ratio: f64) -> RatioInterval {
        let z = Normal::new(0.0, 1.0).expect("standard normal");
        let crit = z.inverse_cdf(1.0 - (1.0 - CONFIDENCE) / 2.0);
        let half = (self.hi / self.lo).ln() / 2.0;
        let se = half / crit;
        let d = ratio.ln();
        RatioInterval {
            ratio,
            lo: (d - half).exp(),
            hi: (d + half).exp(),
            p: if se > 0.0 {
                2.0 * (1.0 - z.cdf((d / se).abs()))
            } else {
                1.0
            },
            ..self
        }
    }
}

/// log of a value, with `floor` (about one sample's weight) added so zeros stay finite.
fn ln(v: f64, floor: f64) -> f64 {
    (v + floor).ln()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn variance(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() as f64 - 1.0)
}

/// The geometric mean of values with `floor` added before the log (as
/// [`welch_log_ratio`] does) and taken off again, so that the ratio of two of them is
/// the ratio Welch's interval is centred on, up to the floor.
pub fn geometric_mean(v: &[f64], floor: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let m = v.iter().map(|&x| ln(x, floor)).sum::<f64>() / v.len() as f64;
    (m.exp() - floor).max(0.0)
}

/// Welch's interval on the difference of mean log values, as a ratio. `floor` is added
/// to every value before the log (pass about one sample's weight).
pub fn welch_log_ratio(base: &[f64], new: &[f64], floor: f64) -> Option<RatioInterval> {
    if base.len() < 2 || new.len() < 2 {
        return None;
    }
    let lb: Vec<f64> = base.iter().map(|&v| ln(v, floor)).collect();
    let ln_: Vec<f64> = new.iter().map(|&v| ln(v, floor)).collect();
    let d = mean(&ln_) - mean(&lb);
    let (v1, v2) = (
        variance(&lb) / lb.len() as f64,
        variance(&ln_) / ln_.len() as f64,
    );
    let se = (v1 + v2).sqrt();
    if se == 0.0 || !se.is_finite() {
        // Identical runs: a degenerate but exact answer.
        let p = if d == 0.0 { 1.0 } else { 0.0 };
        return Some(RatioInterval {
            ratio: d.exp(),
            lo: d.exp(),
            hi: d.exp(),
            p,
            detectable: 0.0,
            method: Method::Welch,
        });
    }
    let df = (v1 + v2).powi(2)
        / (v1 * v1 / (lb.len() as f64 - 1.0) + v2 * v2 / (ln_.len() as f64 - 1.0));
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    let crit = t.inverse_cdf(1.0 - (1.0 - CONFIDENCE) / 2.0);
    let p = 2.0 * (1.0 - t.cdf((d / se).abs()));
    // 80% power: crit + t quantile at 0.8.
    let detectable = ((crit + t.inverse_cdf(0.8)) * se).exp() - 1.0;
    Some(RatioInterval {
        ratio: d.exp(),
        lo: (d - crit * se).exp(),
        hi: (d + crit * se).exp(),
        p,
        detectable,
        method: Method::Welch,
    })
}

/// A small deterministic generator, so that permutation p-values are reproducible.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal number (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.next_f64().max(1e-300);
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// One-sided permutation p-value, in the direction of the observed difference of mean
/// log values: every split of the pooled runs when there are at most 20,000, else 20,000
/// random ones. With 3 runs a side the smallest possible value is 1/20, reached only when
/// every new run lies beyond every base run.
pub fn permutation_p(base: &[f64], new: &[f64], floor: f64) -> f64 {
    let all: Vec<f64> = base.iter().chain(new).map(|&v| ln(v, floor)).collect();
    let (n1, n) = (base.len(), all.len());
    let stat = |idx: &[bool]| {
        let (mut s1, mut s2) = (0.0, 0.0);
        for (i, &x) in all.iter().enumerate() {
            if idx[i] {
                s1 += x;
            } else {
                s2 += x;
            }
        }
        s2 / (n - n1) as f64 - s1 / n1 as f64
    };
    let observed = {
        let idx: Vec<bool> = (0..n).map(|i| i < n1).collect();
        stat(&idx)
    };
    let sign = if observed < 0.0 { -1.0 } else { 1.0 };
    let observed = observed * sign;
    let stat = |idx: &[bool]| stat(idx) * sign;
    let eps = 1e-12 * observed.abs().max(1.0);
    let combos = binomial(n as u64, n1 as u64);
    let (mut hits, mut total) = (0u64, 0u64);
    if combos <= 20_000 && n < 64 {
        // Walk only the masks with n1 bits set (Gosper's hack), not all 2^n.
        let mut mask: u64 = (1u64 << n1) - 1;
        while mask < (1u64 << n) {
            let idx: Vec<bool> = (0..n).map(|i| mask & (1 << i) != 0).collect();
            total += 1;
            if stat(&idx) >= observed - eps {
                hits += 1;
            }
            let c = mask & mask.wrapping_neg();
            let r = mask + c;
            mask = (((r ^ mask) >> 2) / c) | r;
        }
    } else {
        let mut rng = SplitMix64::new(0x5eed);
        let mut order: Vec<usize> = (0..n).collect();
        for _ in 0..20_000 {
            for i in (1..n).rev() {
                let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
            let mut idx = vec![false; n];
            for &o in &order[..n1] {
                idx[o] = true;
            }
            total += 1;
            if stat(&idx) >= observed - eps {
                hits += 1;
            }
        }
    }
    hits as f64 / total.max(1) as f64
}

fn binomial(n: u64, k: u64) -> u64 {
    (0..k).fold(1u64, |acc, i| acc.saturating_mul(n - i) / (i + 1))
}

/// The rate ratio of two sample counts (each over its exposure), with a normal interval
/// on the log ratio whose variance is widened by `overdispersion`.
pub fn poisson_ratio(
    base: f64,
    new: f64,
    exposure_base: f64,
    exposure_new: f64,
    overdispersion: f64,
) -> RatioInterval {
    // Half a count keeps empty phases finite (the usual continuity correction).
    let (k1, k2) = (base + 0.5, new + 0.5);
    let d = (k2 / exposure_new).ln() - (k1 / exposure_base).ln();
    let se = (overdispersion.max(1.0) * (1.0 / k1 + 1.0 / k2)).sqrt();
    let z = Normal::new(0.0, 1.0).expect("standard normal");
    let crit = z.inverse_cdf(1.0 - (1.0 - CONFIDENCE) / 2.0);
    let p = 2.0 * (1.0 - z.cdf((d / se).abs()));
    RatioInterval {
        ratio: d.exp(),
        lo: (d - crit * se).exp(),
        hi: (d + crit * se).exp(),
        p,
        detectable: ((crit + z.inverse_cdf(0.8)) * se).exp() - 1.0,
        method: Method::Poisson,
    }
}

/// Benjamini–Hochberg adjusted p-values (q-values), in the input order.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_finds_a_clear_doubling_and_not_noise() {
        let base = [100.0, 104.0, 97.0, 101.0];
        let new = [201.0, 196.0, 205.0, 199.0];
        let r = welch_log_ratio(&base, &new, 1.0).unwrap();
        assert!((r.ratio - 2.0).abs() < 0.05, "{r:?}");
        assert!(r.lo > 1.8 && r.hi < 2.2, "{r:?}");
        assert!(r.p < 0.001);
        let same = welch_log_ratio(&base, &[99.0, 103.0, 98.0, 102.0], 1.0).unwrap();
        assert!(same.lo < 1.0 && same.hi > 1.0, "{same:?}");
        assert!(same.p > 0.5);
    }

    #[test]
    fn permutation_p_is_exact_for_small_samples() {
        // 3 vs 3 fully separated: 1 of the 20 splits is as extreme.
        let p = permutation_p(&[1.0, 2.0, 3.0], &[10.0, 11.0, 12.0], 0.0);
        assert!((p - 0.05).abs() < 1e-9, "{p}");
        let p = permutation_p(&[10.0, 11.0, 12.0], &[1.0, 2.0, 3.0], 0.0);
        assert!((p - 0.05).abs() < 1e-9, "{p}");
        let p = permutation_p(&[1.0, 10.0, 3.0], &[2.0, 11.0, 12.0], 0.0);
        assert!(p >= 0.2, "{p}");
        // Many runs on one side stay fast: C(40, 3) subsets, not 2^40 masks.
        let many: Vec<f64> = (0..37).map(|i| 10.0 + i as f64).collect();
        let p = permutation_p(&[1.0, 2.0, 3.0], &many, 0.0);
        assert!(p < 0.001, "{p}");
    }

    #[test]
    fn poisson_intervals_widen_with_overdispersion() {
        let a = poisson_ratio(100.0, 200.0, 1.0, 1.0, 1.0);
        let b = poisson_ratio(100.0, 200.0, 1.0, 1.0, 4.0);
        assert!((a.ratio - 2.0).abs() < 0.02);
        assert!(b.lo < a.lo && b.hi > a.hi);
        assert!(a.lo > 1.5 && b.lo > 1.2, "{a:?} {b:?}");
    }

    #[test]
    fn bh_adjusts_in_order() {
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.5]);
        assert!((q[0] - 0.04).abs() < 1e-12);
        assert!((q[2] - 0.04 * 4.0 / 3.0 * 3.0 / 4.0 * 4.0 / 3.0).abs() < 0.02);
        assert!((q[3] - 0.5).abs() < 1e-12);
        assert!(q.iter().all(|&x| x <= 1.0));
    }
}
