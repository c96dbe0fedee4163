//! What triggered a sampling event's samples, decided in one place.
//!
//! The clock decides two things downstream: whether IRQs-off regions distort the samples
//! (only hrtimer clocks are blind while IRQs are off, domain notes §3), and whether
//! sample weights are nanoseconds (the timer clocks count time; other events count
//! events). Every module asks [`SampleClock::decide`] (or [`EventDesc::clock`]) rather
//! than matching event names itself.

use serde::{Serialize, Serializer};

use crate::ingest::script::header::{EventDesc, EventType, base_name};

/// The two software timer events perf samples with an hrtimer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// `cpu-clock` (software config 0): per-CPU wall time.
    CpuClock,
    /// `task-clock` (software config 1): time the task was on a CPU.
    TaskClock,
}

impl Timer {
    /// The timer an event name (modifiers ignored) names, if any.
    pub fn from_name(name: &str) -> Option<Timer> {
        match base_name(name) {
            "cpu-clock" => Some(Timer::CpuClock),
            "task-clock" => Some(Timer::TaskClock),
            _ => None,
        }
    }

    fn from_config(config: u64) -> Option<Timer> {
        match config {
            0 => Some(Timer::CpuClock),
            1 => Some(Timer::TaskClock),
            _ => None,
        }
    }
}

/// How a sampling event's samples were taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SampleClock {
    /// `cpu-clock` or `task-clock`: an hrtimer interrupt, blind while IRQs are off;
    /// weights are nanoseconds.
    Hrtimer(Timer),
    /// A hardware counter overflow, delivered by NMI on x86.
    Nmi,
    /// A tracepoint or a software event that fires at a code location.
    Event,
    /// Not enough information to tell.
    #[default]
    Unknown,
}

/// What [`SampleClock::decide`] based its answer on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockBasis {
    /// The header's `type` (and `config`) for the event.
    Header {
        /// The event's `config`, when the header printed one.
        config: Option<u64>,
    },
    /// The event name alone (no header, or a header without a type).
    EventName,
    /// Neither the header nor the name tells.
    Nothing,
}

impl SampleClock {
    /// The clock of the sampling event `name`, from its header line `desc` when there is
    /// one, else from the name. The one place that knows which events are timers.
    pub fn decide(name: &str, desc: Option<&EventDesc>) -> (SampleClock, ClockBasis) {
        if let Some(d) = desc {
            let basis = ClockBasis::Header { config: d.config };
            let clock = match (&d.event_type, d.config) {
                (Some(EventType::Software), Some(c)) => {
                    Timer::from_config(c).map_or(SampleClock::Event, SampleClock::Hrtimer)
                }
                // Old perf omits `config = 0x0` for cpu-clock; the name is unambiguous.
                (Some(EventType::Software), None) => {
                    Timer::from_name(&d.name).map_or(SampleClock::Event, SampleClock::Hrtimer)
                }
                (Some(EventType::Tracepoint | EventType::Breakpoint), _) => SampleClock::Event,
                (Some(EventType::Hardware | EventType::HwCache | EventType::Raw), _) => {
                    SampleClock::Nmi
                }
                _ => return Self::from_name(name),
            };
            return (clock, basis);
        }
        Self::from_name(name)
    }

    /// The clock an event name implies when there is no header to ask.
    pub fn from_name(name: &str) -> (SampleClock, ClockBasis) {
        if let Some(t) = Timer::from_name(name) {
            return (SampleClock::Hrtimer(t), ClockBasis::EventName);
        }
        match base_name(name) {
            "cycles" | "instructions" | "ref-cycles" => (SampleClock::Nmi, ClockBasis::EventName),
            _ => (SampleClock::Unknown, ClockBasis::Nothing),
        }
    }

    /// Whether IRQs-off regions pile samples onto re-enable sites.
    pub fn is_hrtimer(self) -> bool {
        matches!(self, SampleClock::Hrtimer(_))
    }

    /// The unit of sample weights: `ns` for the timers, else `events`.
    pub fn weight_unit(self) -> &'static str {
        if self.is_hrtimer() { "ns" } else { "events" }
    }

    /// The `report.json` spelling: `hrtimer`, `nmi` or `unknown`.
    pub fn kind(self) -> &'static str {
        match self {
            SampleClock::Hrtimer(_) => "hrtimer",
            SampleClock::Nmi => "nmi",
            SampleClock::Event | SampleClock::Unknown => "unknown",
        }
    }
}

impl Serialize for SampleClock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.kind())
    }
}

impl std::fmt::Display for SampleClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl EventDesc {
    /// How samples of this event were triggered ([`SampleClock::decide`]).
    pub fn clock(&self) -> SampleClock {
        SampleClock::decide(&self.name, Some(self)).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::script::Header;

    fn header_clock(line: &str) -> (SampleClock, ClockBasis) {
        let mut h = Header::default();
        assert!(h.parse_line(line.as_bytes()), "{line}");
        let e = &h.events[0];
        SampleClock::decide(&e.name, Some(e))
    }

    #[test]
    fn header_type_and_config_decide() {
        let (c, b) = header_clock("# event : name = cpu-clock, type = 1, config = 0x0");
        assert_eq!(c, SampleClock::Hrtimer(Timer::CpuClock));
        assert_eq!(b, ClockBasis::Header { config: Some(0) });
        let (c, _) = header_clock("# event : name = task-clock, type = 1, config = 0x1");
        assert_eq!(c, SampleClock::Hrtimer(Timer::TaskClock));
        // page-faults is software config 2: it fires at the fault, not on a timer.
        let (c, _) = header_clock("# event : name = page-faults, type = 1, config = 0x2");
        assert_eq!(c, SampleClock::Event);
        let (c, _) = header_clock("# event : name = cpu-clock, type = 1");
        assert_eq!(c, SampleClock::Hrtimer(Timer::CpuClock));
        // A renamed event is judged by its type, not its name.
        let (c, _) = header_clock("# event : name = cpu-clock, type = 0, config = 0");
        assert_eq!(c, SampleClock::Nmi);
    }

    #[test]
    fn names_decide_without_a_header() {
        assert_eq!(
            SampleClock::decide("cpu-clock/freq=1999/", None),
            (SampleClock::Hrtimer(Timer::CpuClock), ClockBasis::EventName)
        );
        assert_eq!(
            SampleClock::decide("task-clock:u", None).0,
            SampleClock::Hrtimer(Timer::TaskClock)
        );
        assert_eq!(SampleClock::decide("cycles:pp", None).0, SampleClock::Nmi);
        assert_eq!(
            SampleClock::decide("page-faults", None),
            (SampleClock::Unknown, ClockBasis::Nothing)
        );
    }

    #[test]
    fn report_spellings_stay() {
        assert_eq!(SampleClock::Hrtimer(Timer::TaskClock).kind(), "hrtimer");
        assert_eq!(SampleClock::Nmi.kind(), "nmi");
        assert_eq!(SampleClock::Event.kind(), "unknown");
        assert_eq!(SampleClock::default().kind(), "unknown");
        assert_eq!(
            serde_json::to_string(&SampleClock::Hrtimer(Timer::CpuClock)).unwrap(),
            "\"hrtimer\""
        );
        assert_eq!(SampleClock::Nmi.weight_unit(), "events");
        assert_eq!(SampleClock::Hrtimer(Timer::CpuClock).weight_unit(), "ns");
    }
}
