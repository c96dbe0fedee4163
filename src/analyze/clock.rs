//! The sampling clock of the analysed event, sample periods when perf did not print them,
//! and the IRQ-sticky correction that only hrtimer clocks need.

use super::groups::SampleGroups;
use super::{irq, ratio};
use crate::analyze::model::{ClockInfo, IrqSticky, StickySite};
use crate::ingest::clock::{ClockBasis, SampleClock};
use crate::ingest::profile::{EventId, Profile};
use crate::ingest::script::EventDesc;
use crate::ingest::script::header::base_name;

/// Old perf output omits the period column, so every sample weighs 1. When the header
/// gives the sampling event's fixed period or frequency, each sample stands for one
/// period (for `-F`, 1e9/frequency ns for the hrtimer clocks). Returns the period used.
pub(super) fn estimate_missing_periods(
    profile: &mut Profile,
    events: &[EventId],
    name: &str,
) -> Option<u64> {
    let printed = profile
        .samples
        .iter()
        .any(|r| events.contains(&r.event) && r.weight != 1);
    if printed {
        return None;
    }
    let desc = event_desc(profile, name)?;
    let period = match (desc.sample_period, desc.sample_freq, desc.clock()) {
        (Some(p), _, _) if p > 1 => p,
        (_, Some(f), SampleClock::Hrtimer(_)) if f > 0 => 1_000_000_000 / f,
        _ => return None,
    };
    profile.samples.set_weight(events, period);
    for e in events {
        let stats = &mut profile.events[e.0 as usize];
        stats.weight = stats.samples.checked_mul(period).unwrap_or_else(|| {
            profile.weight_overflow = true;
            u64::MAX
        });
    }
    Some(period)
}

/// The header line of the analysed event, by full name or, failing that, base name.
fn event_desc<'p>(profile: &'p Profile, name: &str) -> Option<&'p EventDesc> {
    profile.header.event(name).or_else(|| {
        profile
            .header
            .events
            .iter()
            .find(|e| base_name(&e.name) == base_name(name))
    })
}

/// Why the clock is what it is, in a sentence for the report.
fn clock_source(name: &str, clock: SampleClock, basis: ClockBasis) -> String {
    match (basis, clock) {
        (ClockBasis::Header { config }, SampleClock::Hrtimer(_)) => format!(
            "perf header: {name} is type 1 (software) config {}, an hrtimer",
            config.unwrap_or(0)
        ),
        (ClockBasis::Header { .. }, SampleClock::Nmi) => {
            "perf header: a hardware event, sampled by NMI".into()
        }
        (ClockBasis::Header { .. }, _) => {
            "perf header: a software or tracepoint event that fires at a code location".into()
        }
        (ClockBasis::EventName, SampleClock::Nmi) => {
            format!("event name {name} (no header): hardware events sample by NMI on x86")
        }
        (ClockBasis::EventName, _) => format!("event name {name} (no header)"),
        (ClockBasis::Nothing, _) => "no --header and an event name that does not tell".into(),
    }
}

/// The clock of the analysed event: kind, how it was decided, mean period, frequency.
pub(super) fn clock_info(profile: &Profile, events: &[EventId], name: &str) -> ClockInfo {
    let desc = event_desc(profile, name);
    let (kind, basis) = SampleClock::decide(name, desc);
    let (mut n, mut w) = (0u64, 0u64);
    for e in events {
        n += profile.events[e.0 as usize].samples;
        w += profile.events[e.0 as usize].weight;
    }
    ClockInfo {
        event: name.to_string(),
        kind,
        source: clock_source(name, kind, basis),
        mean_period: if n == 0 { 0.0 } else { w as f64 / n as f64 },
        frequency_hz: desc.and_then(|d| d.sample_freq),
        no_cpu_pmu: profile.header.lacks_cpu_pmu(),
    }
}

/// The IRQ-sticky stage: moves hrtimer samples off IRQ re-enable sites (unless disabled
/// or the clock is not an hrtimer) and says what it did. Returns each sample's stack
/// after correction.
pub(super) fn correct_irq_sticky(
    profile: &mut Profile,
    events: &[EventId],
    groups: &SampleGroups,
    clock: &ClockInfo,
    disabled: bool,
) -> (irq::Relabel, IrqSticky) {
    let name = &clock.event;
    let not_applied = |reason: String| IrqSticky {
        reason,
        ..IrqSticky::default()
    };
    if disabled || !clock.kind.is_hrtimer() {
        let reason = if disabled {
            "disabled by --no-irq-correction".into()
        } else {
            format!(
                "not applied: {name} samples are {} (only hrtimer samples pile up after IRQs-off regions)",
                clock.kind
            )
        };
        return (irq::Relabel::default(), not_applied(reason));
    }
    let (sites, held) = irq::split_by_confidence(irq::detect(profile, groups));
    let c = irq::correct(profile, events, groups, &sites);
    // Every sample is kept, so the event's count is its samples'.
    let total: u64 = events
        .iter()
        .map(|e| profile.events[e.0 as usize].samples)
        .sum();
    let reason = if c.total_moved > 0 {
        format!(
            "{name} samples come from an hrtimer that cannot fire while IRQs are off; \
             they land on the first instruction after re-enable and are moved to the region they stand for"
        )
    } else {
        format!(
            "{name} samples come from an hrtimer, but no leaf is a known or detectable re-enable site"
        )
    };
    let sticky = IrqSticky {
        applied: c.total_moved > 0,
        reason,
        moved_samples: c.total_moved,
        moved_share: ratio(c.total_moved, total),
        sites: c
            .moved
            .iter()
            .map(|(i, label, n)| StickySite {
                site: sites[*i].name(),
                kind: label.clone(),
                samples: *n,
                detected_by: sites[*i].detected_by.into(),
                share_of_function: sites[*i].share_of_function,
            })
            .chain(held.iter().map(irq::held_site))
            .collect(),
        caveat: "an IRQs-off stretch longer than one sample period yields at most one sample: \
                 such regions are undercounted, and the correction does not invent the missing time"
            .into(),
    };
    (c.relabel, sticky)
}
