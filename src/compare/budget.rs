//! Budget checks that need the runs: a metric must exist in at least one of them (a
//! budget on a frame that no run has would pass as "unchanged" forever), and an
//! absolute ceiling must say its unit (`"250ms"`), since a bare number means
//! nanoseconds, a fraction or events depending on the mode.

use serde::Deserialize;

use super::{Mode, normalize_symbol, phase_paths};
use crate::analyze::Analysis;

/// An absolute ceiling as written: `"250ms"`, `"30%"`, `"5000 events"`. A bare number
/// is read only to refuse it with a hint.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Max {
    /// A number without a unit (refused).
    Number(f64),
    /// A number with its unit.
    Text(String),
}

/// The ceiling in the mode's base unit (ns, a fraction, or events), or why not.
/// `unit` is the comparison's time unit: `ns` for hrtimer clocks, else `events`.
pub fn ceiling(max: &Max, mode: Mode, unit: &str) -> Result<f64, String> {
    let hint = match (mode, unit) {
        (Mode::Share, _) => "a share with %, as in \"30%\"",
        (Mode::Time, "ns") => "a time with its unit (ns, us, ms, s), as in \"250ms\"",
        (Mode::PerWork, "ns") => "a time per fault with its unit, as in \"2us\"",
        _ => "a count with its unit, as in \"5000 events\"",
    };
    let text = match max {
        Max::Number(v) => return Err(format!("max {v} has no unit: give {hint}")),
        Max::Text(t) => t.trim(),
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || c == '+'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let value = number
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0);
    let scale = match (mode, unit, suffix.trim()) {
        (Mode::Share, _, "%") => Some(0.01),
        (Mode::Time | Mode::PerWork, "ns", u) => match u {
            "ns" => Some(1.0),
            "us" | "µs" => Some(1e3),
            "ms" => Some(1e6),
            "s" => Some(1e9),
            _ => None,
        },
        (Mode::Time | Mode::PerWork, _, "events") => Some(1.0),
        _ => None,
    };
    match (value, scale) {
        (Some(v), Some(s)) => Ok(v * s),
        _ => Err(format!("max {text:?} is not {hint}")),
    }
}

/// An absolute value in the mode's unit, for a limit's description.
pub fn describe_ceiling(c: f64, mode: Mode, unit: &str) -> String {
    match (mode, unit) {
        (Mode::Share, _) => format!("≤ {:.1}%", c * 100.0),
        (_, "ns") if c >= 1e6 => format!("≤ {} ms", c / 1e6),
        (_, "ns") if c >= 1e3 => format!("≤ {} us", c / 1e3),
        (_, "ns") => format!("≤ {c} ns"),
        _ => format!("≤ {c} events"),
    }
}

/// Whether a budget's metric occurs in at least one run: `total` always does; a frame
/// must be on some stack, a phase must have samples in some run.
pub fn present_in_runs(metric: &str, base: &[Analysis], new: &[Analysis]) -> bool {
    if metric == "total" {
        return true;
    }
    let runs = || base.iter().chain(new);
    match metric.strip_prefix("frame:") {
        Some(frame) => runs().any(|a| a.frames.keys().any(|n| normalize_symbol(n) == frame)),
        None => phase_paths(runs()).contains(metric),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_need_units_that_fit_the_mode() {
        let t = |s: &str| Max::Text(s.into());
        assert_eq!(ceiling(&t("250ms"), Mode::Time, "ns"), Ok(2.5e8));
        assert_eq!(ceiling(&t("1.5 s"), Mode::Time, "ns"), Ok(1.5e9));
        assert_eq!(ceiling(&t("2us"), Mode::PerWork, "ns"), Ok(2000.0));
        assert_eq!(ceiling(&t("30%"), Mode::Share, "ns"), Ok(0.3));
        assert_eq!(ceiling(&t("5000 events"), Mode::Time, "events"), Ok(5000.0));
        let err = ceiling(&Max::Number(2.5e8), Mode::Time, "ns").unwrap_err();
        assert!(err.contains("no unit") && err.contains("250ms"), "{err}");
        assert!(ceiling(&t("250ms"), Mode::Share, "ns").is_err());
        assert!(ceiling(&t("30%"), Mode::Time, "ns").is_err());
        assert!(ceiling(&t("-5ms"), Mode::Time, "ns").is_err());
        assert_eq!(describe_ceiling(2.5e8, Mode::Time, "ns"), "≤ 250 ms");
    }
}
