//! A deliberately simple, slow reader of `perf script` text: the independent reference for the
//! real recordings under `fixtures/variants/`.
//!
//! It shares no code with faultline's parser and uses only `std`. Instead of parsing the
//! sample line field by field, it is told what it cannot infer safely: the comms the recording
//! holds, the events, and which events print a period column (`fixtures/variants/MANIFEST.tsv`).
//! With those facts it only has to *find* known strings on each line:
//!
//! * a sample line is a line whose text (leading blanks removed) starts with exactly one known
//!   comm followed by a blank, and that holds ` EVENT:` (followed by a blank or the line end)
//!   for a known event after the comm; the earliest such event is the sample's event;
//! * the period is the last blank-separated word before the event name, which must be all
//!   digits, for the events that print a period column; every other sample counts 1;
//! * a sample has a frame when a callchain line (starting with a tab) follows it, or when the
//!   text after ` EVENT:` holds a word made only of hex digits followed by another word (the
//!   `ip sym (dso)` that perf prints on the sample line of an event without callchain; the
//!   tracepoint payload words all hold `=`).
//!
//! Lines that are none of sample, callchain (`\t`), srcline (two blanks), `#` comment, empty
//! or `PERF_RECORD_` side-band lines make it panic, as does a sample line matched by two comms
//! or a period that is not a number: it never guesses.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

/// What the oracle is told about one file.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Every comm the file can print.
    pub comms: Vec<String>,
    /// Events whose sample lines carry a period column (the number just before the name).
    pub period_events: Vec<String>,
    /// Events whose sample lines carry none: each sample counts 1.
    pub unit_events: Vec<String>,
}

/// Counts with the keys of `expected/*.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Samples per event.
    pub samples: BTreeMap<String, u64>,
    /// Sum of periods per event (1 per sample without a period column).
    pub period_sum: BTreeMap<String, u64>,
    /// The same, for samples with at least one frame.
    pub framed_period_sum: BTreeMap<String, u64>,
    /// Samples per comm, all events together.
    pub comms: BTreeMap<String, u64>,
}

/// One row of `fixtures/variants/MANIFEST.tsv`.
#[derive(Clone, Debug)]
pub struct Entry {
    /// `NAME`, for `NAME.perf.txt` and `expected/NAME.json`.
    pub name: String,
    /// Which recording (`fp`, `dwarf`, `nocg`, `syswide`).
    pub recording: String,
    pub facts: Facts,
    /// The `perf script` command that printed it.
    pub command: String,
}

/// Reads `MANIFEST.tsv`: a header line, then tab-separated `name`, `recording`,
/// `period_events`, `unit_events`, `comms`, `command`, where lists are separated by `;`
/// (no comm or event here holds a `;`) and `-` is the empty list.
pub fn manifest(path: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let list = |s: &str| -> Vec<String> {
        if s == "-" {
            Vec::new()
        } else {
            s.split(';').map(str::to_string).collect()
        }
    };
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            cols.len(),
            6,
            "{}:{}: want 6 columns",
            path.display(),
            n + 1
        );
        entries.push(Entry {
            name: cols[0].to_string(),
            recording: cols[1].to_string(),
            facts: Facts {
                period_events: list(cols[2]),
                unit_events: list(cols[3]),
                comms: list(cols[4]),
            },
            command: cols[5].to_string(),
        });
    }
    entries
}

/// Where ` EVENT:` (followed by a blank or the end) first occurs in `line` at or after `from`.
fn find_event(line: &str, from: usize, event: &str) -> Option<usize> {
    let needle = format!(" {event}:");
    let mut start = from;
    while let Some(i) = line[start..].find(&needle) {
        let at = start + i;
        let after = at + needle.len();
        if after == line.len() || line.as_bytes()[after] == b' ' {
            return Some(at + 1); // the position of the event name itself
        }
        start = at + 1;
    }
    None
}

fn is_hex_word(w: &str) -> bool {
    !w.is_empty() && w.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The sample being read: event, period, comm, and whether a frame was seen.
struct Pending {
    event: String,
    period: u64,
    framed: bool,
}

fn finish(p: Option<Pending>, out: &mut Counts) {
    if let Some(p) = p {
        *out.samples.entry(p.event.clone()).or_default() += 1;
        *out.period_sum.entry(p.event.clone()).or_default() += p.period;
        if p.framed {
            *out.framed_period_sum.entry(p.event).or_default() += p.period;
        }
    }
}

/// Counts one file's text with the facts about it.
pub fn count(text: &str, facts: &Facts) -> Counts {
    let mut out = Counts::default();
    let mut pending: Option<Pending> = None;
    let events: Vec<(&String, bool)> = facts
        .period_events
        .iter()
        .map(|e| (e, true))
        .chain(facts.unit_events.iter().map(|e| (e, false)))
        .collect();

    for (n, line) in text.lines().enumerate() {
        let lineno = n + 1;
        if line.starts_with('\t') {
            // A callchain line belongs to the sample above it.
            if let Some(p) = pending.as_mut() {
                p.framed = true;
            }
            continue;
        }
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }

        // Which known comms start the line?
        let body = line.trim_start_matches(' ');
        let indent = line.len() - body.len();
        let matching: Vec<&String> = facts
            .comms
            .iter()
            .filter(|c| body.starts_with(c.as_str()) && body[c.len()..].starts_with(' '))
            .collect();
        // The earliest known event after the comm.
        let found = matching.first().and_then(|comm| {
            let from = indent + comm.len();
            events
                .iter()
                .filter_map(|(e, p)| find_event(line, from, e).map(|at| (at, *e, *p)))
                .min_by_key(|(at, _, _)| *at)
        });

        match found {
            Some((at, event, has_period)) => {
                assert_eq!(
                    matching.len(),
                    1,
                    "line {lineno}: more than one comm matches: {matching:?}: {line}"
                );
                let before = line[..at].split_whitespace().last().unwrap_or("");
                let period = if has_period {
                    assert!(
                        !before.is_empty() && before.bytes().all(|b| b.is_ascii_digit()),
                        "line {lineno}: no period before {event}: {line}"
                    );
                    before.parse::<u64>().unwrap()
                } else {
                    assert!(
                        !before.bytes().all(|b| b.is_ascii_digit()),
                        "line {lineno}: {event} is not supposed to print a period: {line}"
                    );
                    1
                };
                let rest = &line[at + event.len() + 1..];
                let words: Vec<&str> = rest.split_whitespace().collect();
                let framed = words
                    .iter()
                    .enumerate()
                    .any(|(i, w)| is_hex_word(w) && i + 1 < words.len());
                finish(pending.take(), &mut out);
                *out.comms.entry(matching[0].clone()).or_default() += 1;
                pending = Some(Pending {
                    event: event.clone(),
                    period,
                    framed,
                });
            }
            None if line.starts_with("  ") && matching.is_empty() => {} // a srcline line
            None if line.contains("PERF_RECORD_") => {
                // A side-band line (--show-task-events, --show-mmap-events) ends the sample.
                finish(pending.take(), &mut out);
            }
            None => panic!("line {lineno}: neither a sample nor a known kind of line: {line}"),
        }
    }
    finish(pending, &mut out);
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Counts {
    /// The JSON of `expected/*.json`: keys sorted, one-space indent, a final newline (what
    /// Python's `json.dump(x, f, indent=1, sort_keys=True)` plus `"\n"` writes).
    pub fn to_json(&self) -> String {
        let maps = [
            ("comms", &self.comms),
            ("framed_period_sum", &self.framed_period_sum),
            ("period_sum", &self.period_sum),
            ("samples", &self.samples),
        ];
        let mut out = String::from("{\n");
        for (i, (key, map)) in maps.iter().enumerate() {
            out.push_str(&format!(" {}: ", json_string(key)));
            if map.is_empty() {
                out.push_str("{}");
            } else {
                out.push_str("{\n");
                let items: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("  {}: {v}", json_string(k)))
                    .collect();
                out.push_str(&items.join(",\n"));
                out.push_str("\n }");
            }
            out.push_str(if i + 1 < maps.len() { ",\n" } else { "\n" });
        }
        out.push_str("}\n");
        out
    }
}
