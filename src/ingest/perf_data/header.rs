//! The header facts `perf script --header` prints, read from a perf.data file's
//! feature sections into the same [`Header`] the text path fills.

use linux_perf_data::{Feature, PerfFile};

use crate::ingest::script::{EventDesc, EventType, Header};

/// One event's raw `perf_event_attr` facts (from the `EVENT_DESC` section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAttr {
    /// `perf_event_attr.type`.
    pub type_: u32,
    /// `perf_event_attr.config`.
    pub config: u64,
    /// `sample_period` or `sample_freq` (a union).
    pub period_or_freq: u64,
    /// The `freq` flag.
    pub freq: bool,
    /// `clockid` when `use_clockid` is set.
    pub clockid: Option<i32>,
    /// The event name.
    pub name: String,
    /// The event ids, which tie records to events.
    pub ids: Vec<u64>,
}

/// Parses the `EVENT_DESC` feature section (little-endian):
/// `u32 nr, u32 attr_size, { attr, u32 nr_ids, string name, u64 ids[nr_ids] }*`.
pub fn parse_event_desc(data: &[u8]) -> Option<Vec<RawAttr>> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    let u64_at = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?))
    };
    let nr = u32_at(0)? as usize;
    let attr_size = u32_at(4)? as usize;
    let mut pos = 8;
    let mut out = Vec::with_capacity(nr.min(1024));
    for _ in 0..nr {
        let attr = pos;
        let flags = u64_at(attr + 40)?;
        let use_clockid = flags & (1 << 25) != 0;
        pos = pos.checked_add(attr_size)?;
        let nr_ids = u32_at(pos)? as usize;
        let name_len = u32_at(pos + 4)? as usize;
        let name = data.get(pos + 8..pos + 8 + name_len)?;
        let name = &name[..memchr::memchr(0, name).unwrap_or(name.len())];
        pos += 8 + name_len;
        let ids = (0..nr_ids)
            .map(|i| u64_at(pos + 8 * i))
            .collect::<Option<Vec<u64>>>()?;
        pos += 8 * nr_ids;
        out.push(RawAttr {
            type_: u32_at(attr)?,
            config: u64_at(attr + 8)?,
            period_or_freq: u64_at(attr + 16)?,
            freq: flags & (1 << 10) != 0,
            clockid: if use_clockid && attr_size >= 96 {
                Some(u32_at(attr + 92)? as i32)
            } else {
                None
            },
            name: String::from_utf8_lossy(name).into_owned(),
            ids,
        });
    }
    Some(out)
}

/// perf's name for a clock id, as `# clockid:` prints it.
fn clock_name(id: i32) -> String {
    let name = match id {
        0 => "realtime",
        1 => "monotonic",
        2 => "process_cputime_id",
        3 => "thread_cputime_id",
        4 => "monotonic_raw",
        5 => "realtime_coarse",
        6 => "monotonic_coarse",
        7 => "boottime",
        11 => "tai",
        _ => "unknown",
    };
    format!("{name} ({id})")
}

/// The header facts of a perf.data file.
pub fn header(file: &PerfFile, attrs: &[RawAttr]) -> Header {
    let text = |r: Result<Option<&str>, _>| r.ok().flatten().map(|s| s.trim().to_string());
    let nrcpus = file.nr_cpus().ok().flatten();
    Header {
        events: attrs
            .iter()
            .map(|a| EventDesc {
                name: a.name.clone(),
                event_type: Some(EventType::from_number(a.type_)),
                // perf prints no `config` when it is 0; the text path then has none.
                config: (a.config != 0).then_some(a.config),
                sample_freq: a.freq.then_some(a.period_or_freq),
                sample_period: (!a.freq).then_some(a.period_or_freq),
            })
            .collect(),
        cmdline: file
            .cmdline()
            .ok()
            .flatten()
            .map(|args| args.join(" ").trim().to_string()),
        os_release: text(file.os_release()),
        perf_version: text(file.perf_version()),
        arch: text(file.arch()),
        nrcpus_online: nrcpus.map(|n| n.nr_cpus_online),
        nrcpus_avail: nrcpus.map(|n| n.nr_cpus_available),
        pmu_mappings: file
            .pmu_mappings()
            .ok()
            .flatten()
            .map(|m| m.0.iter().map(|(n, name)| (name.clone(), *n)).collect())
            .unwrap_or_default(),
        clockid: attrs.iter().find_map(|a| a.clockid).map(clock_name),
        // perf prints the file's modification time; the caller knows the file.
        captured_on: None,
    }
}

/// `captured on` as perf prints it (ctime(3) of the file's mtime), in UTC.
pub fn ctime(t: std::time::SystemTime) -> Option<String> {
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    Some(format!(
        "{} {} {:2} {:02}:{:02}:{:02} {year}",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// The raw attributes: from `EVENT_DESC` when the file has it, else rebuilt from the
/// attributes the reader parsed (old files, pipe mode), named as perf would.
pub fn raw_attrs(file: &PerfFile) -> Vec<RawAttr> {
    if let Some(v) = file
        .feature_section_data(Feature::EVENT_DESC)
        .and_then(parse_event_desc)
        .filter(|v| v.len() == file.event_attributes().len())
    {
        return v;
    }
    file.event_attributes()
        .iter()
        .map(|a| {
            use linux_perf_data::linux_perf_event_reader::{PerfEventType, SamplingPolicy};
            let (type_, config) = match a.attr.type_ {
                PerfEventType::Hardware(id, _) => (0, id as u64),
                PerfEventType::Software(c) => (1, c as u64),
                PerfEventType::Tracepoint(c) => (2, c),
                PerfEventType::HwCache(..) => (3, 0),
                PerfEventType::Breakpoint(..) => (5, 0),
                _ => (u32::MAX, 0),
            };
            let (period_or_freq, freq) = match a.attr.sampling_policy {
                SamplingPolicy::Frequency(f) => (f, true),
                SamplingPolicy::Period(p) => (p.get(), false),
                SamplingPolicy::NoSampling => (0, false),
            };
            RawAttr {
                type_,
                config,
                period_or_freq,
                freq,
                clockid: None,
                name: a
                    .name()
                    .map_or_else(|| fallback_name(type_, config), str::to_string),
                ids: a.event_ids.clone(),
            }
        })
        .collect()
}

/// perf's names for the common software and hardware events.
fn fallback_name(type_: u32, config: u64) -> String {
    const SW: [&str; 10] = [
        "cpu-clock",
        "task-clock",
        "page-faults",
        "context-switches",
        "cpu-migrations",
        "minor-faults",
        "major-faults",
        "alignment-faults",
        "emulation-faults",
        "dummy",
    ];
    const HW: [&str; 3] = ["cycles", "instructions", "cache-references"];
    match type_ {
        1 => SW.get(config as usize).map(|s| s.to_string()),
        0 => HW.get(config as usize).map(|s| s.to_string()),
        _ => None,
    }
    .unwrap_or_else(|| format!("event-{type_}-{config:#x}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ctime_matches_perf() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_008_100);
        assert_eq!(super::ctime(t).as_deref(), Some("Mon Nov 30 03:08:20 2026"));
    }
}
