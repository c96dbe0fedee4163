//! The `#` comment block that `perf script --header` prints before the samples.
//!
//! Accepted lines (perf 3.x to 6.x spell them slightly differently):
//!
//! ```text
//! # os release : 6.18.44-fc-v669
//! # perf version : 6.1.187
//! # arch : x86_64
//! # nrcpus online : 2
//! # nrcpus avail : 2
//! # cmdline : /usr/bin/perf record -k mono -g -F 999 -e cpu-clock ./pf
//! # event : name = cpu-clock, , id = { 12, 13 }, type = 1, size = 128, { sample_period, sample_freq } = 999, freq = 1, ...
//! # event : name = cycles, type = 0 (PERF_TYPE_HARDWARE), config = 0 (PERF_COUNT_HW_CPU_CYCLES), sample_freq = 4000, ...
//! # pmu mappings: software = 1, uprobe = 8, breakpoint = 5, tracepoint = 2, msr = 9
//! # clockid: monotonic (1)
//! ```
//!
//! Every other comment line is ignored.

use serde::Serialize;

/// The `type` of a perf event (`perf_event_attr.type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// `PERF_TYPE_HARDWARE` (0): counted by the PMU, sampled by NMI on x86.
    Hardware,
    /// `PERF_TYPE_SOFTWARE` (1): cpu-clock, task-clock, page-faults, ...
    Software,
    /// `PERF_TYPE_TRACEPOINT` (2).
    Tracepoint,
    /// `PERF_TYPE_HW_CACHE` (3).
    HwCache,
    /// `PERF_TYPE_RAW` (4).
    Raw,
    /// `PERF_TYPE_BREAKPOINT` (5).
    Breakpoint,
    /// A dynamic PMU type number (uprobe, msr, ...).
    Other(u32),
}

impl EventType {
    /// The type for a `perf_event_attr.type` number.
    pub fn from_number(n: u32) -> Self {
        match n {
            0 => EventType::Hardware,
            1 => EventType::Software,
            2 => EventType::Tracepoint,
            3 => EventType::HwCache,
            4 => EventType::Raw,
            5 => EventType::Breakpoint,
            n => EventType::Other(n),
        }
    }

    /// Accepts `1`, `PERF_TYPE_SOFTWARE` and `1 (PERF_TYPE_SOFTWARE)`.
    fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let first = value.split_whitespace().next()?;
        if let Ok(n) = first.parse::<u32>() {
            return Some(Self::from_number(n));
        }
        let spelled = value.trim_matches(|c| c == '(' || c == ')');
        Some(match spelled {
            "PERF_TYPE_HARDWARE" => EventType::Hardware,
            "PERF_TYPE_SOFTWARE" => EventType::Software,
            "PERF_TYPE_TRACEPOINT" => EventType::Tracepoint,
            "PERF_TYPE_HW_CACHE" => EventType::HwCache,
            "PERF_TYPE_RAW" => EventType::Raw,
            "PERF_TYPE_BREAKPOINT" => EventType::Breakpoint,
            _ => return None,
        })
    }
}

/// One `# event :` line of the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventDesc {
    /// The event name as perf prints it on sample lines (`cpu-clock`, `sched:sched_process_exit`).
    pub name: String,
    /// The event type, when the line has one.
    pub event_type: Option<EventType>,
    /// The `config` value, when numeric.
    pub config: Option<u64>,
    /// Sampling frequency in Hz, when the event was recorded with `-F`.
    pub sample_freq: Option<u64>,
    /// Fixed sampling period, when the event was recorded with `-c`.
    pub sample_period: Option<u64>,
}

impl EventDesc {
    /// Parses the text after `# event :`.
    fn parse(body: &str) -> Option<Self> {
        let mut desc = EventDesc {
            name: String::new(),
            event_type: None,
            config: None,
            sample_freq: None,
            sample_period: None,
        };
        let mut freq_flag = None;
        let mut period_or_freq = None;
        for field in split_top_level(body) {
            let Some((key, value)) = field.split_once(" = ") else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            match key {
                "name" => desc.name = value.to_string(),
                "type" => desc.event_type = EventType::parse(value),
                "config" => desc.config = parse_number(value),
                "sample_freq" => desc.sample_freq = parse_number(value),
                "sample_period" => desc.sample_period = parse_number(value),
                "freq" => freq_flag = parse_number(value),
                "{ sample_period, sample_freq }" => period_or_freq = parse_number(value),
                _ => {}
            }
        }
        if let Some(v) = period_or_freq {
            if freq_flag == Some(1) {
                desc.sample_freq = Some(v);
            } else {
                desc.sample_period = Some(v);
            }
        }
        (!desc.name.is_empty()).then_some(desc)
    }
}

/// The parsed `perf script --header` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Header {
    /// One entry per `# event :` line, in order.
    pub events: Vec<EventDesc>,
    /// `# cmdline :`, the perf record command.
    pub cmdline: Option<String>,
    /// `# os release :`, the kernel release of the recording machine.
    pub os_release: Option<String>,
    /// `# perf version :`.
    pub perf_version: Option<String>,
    /// `# arch :`.
    pub arch: Option<String>,
    /// `# nrcpus online :`.
    pub nrcpus_online: Option<u32>,
    /// `# nrcpus avail :`.
    pub nrcpus_avail: Option<u32>,
    /// `# pmu mappings:` as (pmu name, type number) pairs.
    pub pmu_mappings: Vec<(String, u32)>,
    /// `# clockid:` (`monotonic (1)` for `perf record -k mono`).
    pub clockid: Option<String>,
    /// `# captured on :`, when perf last wrote the perf.data file (its mtime, printed
    /// by ctime(3): `Sat Nov 21 23:48:09 2026`).
    pub captured_on: Option<String>,
}

impl Header {
    /// Feeds one comment line (starting with `#`). Returns whether it was understood.
    pub fn parse_line(&mut self, line: &[u8]) -> bool {
        let Ok(line) = std::str::from_utf8(line) else {
            return false;
        };
        let body = line.trim_start_matches('#').trim();
        let Some((key, value)) = body.split_once(':') else {
            return false;
        };
        let value = value.trim();
        let text = || Some(value.to_string());
        match key.trim() {
            "event" => match EventDesc::parse(value) {
                Some(desc) => self.events.push(desc),
                None => return false,
            },
            "cmdline" => self.cmdline = text(),
            "os release" => self.os_release = text(),
            "perf version" => self.perf_version = text(),
            "arch" => self.arch = text(),
            "nrcpus online" => self.nrcpus_online = value.parse().ok(),
            "nrcpus avail" => self.nrcpus_avail = value.parse().ok(),
            "clockid" => self.clockid = text(),
            "captured on" => self.captured_on = text(),
            "pmu mappings" => {
                self.pmu_mappings = value
                    .split(',')
                    .filter_map(|m| {
                        let (name, n) = m.split_once('=')?;
                        Some((name.trim().to_string(), n.trim().parse().ok()?))
                    })
                    .collect()
            }
            _ => return false,
        }
        true
    }

    /// The header's description of the event named `name` on sample lines.
    pub fn event(&self, name: &str) -> Option<&EventDesc> {
        self.events.iter().find(|e| e.name == name)
    }

    /// Whether the header lists PMU mappings and none is the CPU's (a VM without a PMU).
    pub fn lacks_cpu_pmu(&self) -> Option<bool> {
        if self.pmu_mappings.is_empty() {
            return None;
        }
        Some(!self.pmu_mappings.iter().any(|(n, _)| n == "cpu"))
    }
}

/// The part of an event name before modifiers or a config: `cycles:uppp` → `cycles`,
/// `cpu-clock/freq=1999/` → `cpu-clock`. Tracepoint names keep their subsystem.
pub fn base_name(name: &str) -> &str {
    let name = name.split('/').next().unwrap_or(name);
    match name.split_once(':') {
        Some((base, mods)) if is_modifier_list(mods) => base,
        _ => name,
    }
}

/// Whether the text after an event's `:` is a modifier list (`u`, `uppp`, `uhH`, `P`).
pub fn is_modifier_list(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b"ukhIGHpPSDWebR".contains(&b))
}

/// Whether an event name (as printed on sample lines) names a tracepoint, by its
/// `subsystem:name` shape; the header's `type`, when present, is more reliable.
pub fn looks_like_tracepoint(name: &str) -> bool {
    match name.split_once(':') {
        Some((_, rest)) => !is_modifier_list(rest.trim_end_matches(':')),
        None => false,
    }
}

fn parse_number(value: &str) -> Option<u64> {
    let first = value.split_whitespace().next()?;
    match first.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => first.parse().ok(),
    }
}

/// Splits `a = 1, { b, c } = 2, id = { 3, 4 }` at the commas outside braces.
fn split_top_level(s: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0i32;
    let mut start = 0;
    let mut parts = Vec::new();
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::clock::{SampleClock, Timer};

    const PERF61: &str = "# event : name = cpu-clock, , id = { 12, 13 }, type = 1, size = 128, { sample_period, sample_freq } = 999, sample_type = IP|TID|TIME|CALLCHAIN|PERIOD|IDENTIFIER, read_format = ID|LOST, disabled = 1, inherit = 1, mmap = 1, comm = 1, freq = 1, enable_on_exec = 1";

    #[test]
    fn perf61_cpu_clock_is_an_hrtimer_at_999_hz() {
        let mut h = Header::default();
        assert!(h.parse_line(PERF61.as_bytes()));
        let e = &h.events[0];
        assert_eq!(e.name, "cpu-clock");
        assert_eq!(e.event_type, Some(EventType::Software));
        assert_eq!(e.sample_freq, Some(999));
        assert_eq!(e.sample_period, None);
        assert_eq!(e.clock(), SampleClock::Hrtimer(Timer::CpuClock));
    }

    #[test]
    fn spelled_out_types_and_configs() {
        let mut h = Header::default();
        h.parse_line(b"# event : name = cycles, type = 0 (PERF_TYPE_HARDWARE), size = 136, config = 0 (PERF_COUNT_HW_CPU_CYCLES), sample_freq = 4000, freq = 1");
        h.parse_line(b"# event : name = task-clock, type = PERF_TYPE_SOFTWARE, config = 0x1, sample_period = 10000");
        assert_eq!(h.events[0].event_type, Some(EventType::Hardware));
        assert_eq!(h.events[0].clock(), SampleClock::Nmi);
        assert_eq!(h.events[0].sample_freq, Some(4000));
        assert_eq!(h.events[1].clock(), SampleClock::Hrtimer(Timer::TaskClock));
        assert_eq!(h.events[1].sample_period, Some(10000));
    }

    #[test]
    fn tracepoint_with_fixed_period() {
        let mut h = Header::default();
        h.parse_line(b"# event : name = exceptions:page_fault_user, , id = { 14, 15 }, type = 2, size = 128, config = 0xbe, { sample_period, sample_freq } = 1, sample_type = IP|TID");
        let e = &h.events[0];
        assert_eq!(e.config, Some(0xbe));
        assert_eq!(e.sample_period, Some(1));
        assert_eq!(e.clock(), SampleClock::Event);
    }

    #[test]
    fn machine_lines() {
        let mut h = Header::default();
        for l in [
            "# os release : 6.18.44-fc-v669",
            "# perf version : 6.1.187",
            "# arch : x86_64",
            "# nrcpus online : 2",
            "# nrcpus avail : 2",
            "# cmdline : /usr/bin/perf record -g ./pf ",
            "# pmu mappings: software = 1, uprobe = 8, breakpoint = 5, tracepoint = 2, msr = 9",
            "# clockid: monotonic (1)",
        ] {
            assert!(h.parse_line(l.as_bytes()), "{l}");
        }
        assert_eq!(h.os_release.as_deref(), Some("6.18.44-fc-v669"));
        assert_eq!(h.perf_version.as_deref(), Some("6.1.187"));
        assert_eq!(h.nrcpus_online, Some(2));
        assert_eq!(h.cmdline.as_deref(), Some("/usr/bin/perf record -g ./pf"));
        assert_eq!(h.pmu_mappings.len(), 5);
        assert_eq!(h.lacks_cpu_pmu(), Some(true));
        assert!(!h.parse_line(b"# ========"));
        assert!(!h.parse_line(b"# CPU_TOPOLOGY info available, use -I to display"));
    }

    #[test]
    fn names() {
        assert_eq!(base_name("cycles:uppp"), "cycles");
        assert_eq!(base_name("cpu-clock/freq=1999/"), "cpu-clock");
        assert_eq!(base_name("sched:sched_switch"), "sched:sched_switch");
        assert!(looks_like_tracepoint("oom:mark_victim"));
        assert!(!looks_like_tracepoint("cpu-clock:uhH"));
        assert!(!looks_like_tracepoint("page-faults"));
    }
}
