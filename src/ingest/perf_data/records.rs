//! The records of the common recording, read in place in perf's order.
//!
//! linux-perf-data copies every record into a buffer of its own and sorts rounds of
//! them; on a system-wide recording that was a tenth of reading it. For the common
//! case — a file (not a pipe) whose events' records carry their ids in one place (one
//! event, or several alike, as `perf record -a` with its added `dummy` event),
//! nothing compressed, every record whole —
//! this finds the records where they are in the (mapped) file and puts them in the
//! order linux-perf-data gives: by (time, position), released round by round at
//! perf's FINISHED_ROUND records, exactly as its sorter releases them. Anything else
//! is left to linux-perf-data ([`in_place`] says `None`), errors and all.

use linux_perf_data::linux_perf_event_reader::{
    RawData, RawEventRecord, RecordParseInfo, RecordType,
};
use linux_perf_data::{Endianness, PerfFile, PerfFileRecord, RawUserRecord, UserRecordType};
use rustc_hash::FxHashMap;

/// perf's own record types start here (attributes, rounds, build ids, …).
const USER_TYPE_START: u32 = 64;
const FINISHED_ROUND: u32 = 68;
/// Types whose bodies are not plain records: AUXTRACE (followed by its data),
/// COMPRESSED and COMPRESSED2.
const NOT_PLAIN: [u32; 3] = [71, 81, 83];

/// A record's place in the file: type, misc and body.
#[derive(Debug, Clone, Copy)]
struct Place {
    kind: u32,
    /// The event (attribute) of a kernel record.
    attr: u32,
    misc: u16,
    body: (usize, usize),
}

/// The records in order, borrowing the file's bytes.
pub struct InPlace<'a> {
    data: &'a [u8],
    order: Vec<Place>,
    parse_infos: Vec<RecordParseInfo>,
}

/// linux-perf-data's sort key, (time, position in the file), packed for sorting fast:
/// the time plus one (0: none, for perf's own records, which sort first) above the
/// record's number in the file plus one. 0 is below every record's.
type Key = u128;

fn key(time: Option<u64>, index: usize) -> Key {
    let time = time.map_or(0, |t| u128::from(t) + 1);
    time << 32 | (index as u128 + 1)
}

/// The records of `data` in the order linux-perf-data reads them, when the file is the
/// common case; `None` for anything else.
pub fn in_place<'a>(data: &'a [u8], perf_file: &PerfFile) -> Option<InPlace<'a>> {
    let attrs = perf_file.event_attributes();
    let parse_infos: Vec<RecordParseInfo> = attrs
        .iter()
        .map(|a| RecordParseInfo::new(&a.attr, Endianness::LittleEndian))
        .collect();
    let first = *parse_infos.first()?;
    // As linux-perf-data decides which event a record is of: by the id, read where
    // every event's records have it.
    if parse_infos
        .iter()
        .any(|p| p.id_parse_info != first.id_parse_info)
    {
        return None;
    }
    let mut attr_of: FxHashMap<u64, u32> = FxHashMap::default();
    for (i, a) in (0..).zip(attrs) {
        for &id in &a.event_ids {
            attr_of.insert(id, i);
        }
    }
    let u64_at = |at: usize| Some(u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?));
    let start = usize::try_from(u64_at(40)?).ok()?;
    let size = usize::try_from(u64_at(48)?).ok()?;
    let section = data.get(start..start.checked_add(size)?)?;
    let mut rounds = Rounds::default();
    let mut places = Vec::new();
    let mut at = 0;
    while at < section.len() {
        let header = section.get(at..at + 8)?;
        let kind = u32::from_le_bytes(header[..4].try_into().ok()?);
        let misc = u16::from_le_bytes([header[4], header[5]]);
        let len = usize::from(u16::from_le_bytes([header[6], header[7]]));
        if len < 8 || at + len > section.len() || NOT_PLAIN.contains(&kind) {
            return None;
        }
        let mut place = Place {
            kind,
            attr: 0,
            misc,
            body: (start + at + 8, start + at + len),
        };
        at += len;
        if kind == FINISHED_ROUND {
            rounds.finish_round();
            continue;
        }
        let mut time = None;
        if kind < USER_TYPE_START {
            if parse_infos.len() > 1 {
                let id = event(data, place, first).id();
                place.attr = id.and_then(|id| attr_of.get(&id).copied()).unwrap_or(0);
            }
            time = event(data, place, parse_infos[place.attr as usize]).timestamp();
        }
        rounds.insert(key(time, places.len()));
        places.push(place);
    }
    rounds.finish();
    let order = rounds
        .outgoing
        .iter()
        .map(|&k| places[k as u32 as usize - 1]);
    Some(InPlace {
        data,
        order: order.collect(),
        parse_infos,
    })
}

fn event(data: &[u8], p: Place, parse_info: RecordParseInfo) -> RawEventRecord<'_> {
    let body = RawData::from(&data[p.body.0..p.body.1]);
    RawEventRecord::new(RecordType(p.kind), p.misc, body, parse_info)
}

impl<'a> InPlace<'a> {
    /// The records in order, as linux-perf-data gives them.
    pub fn records(&self) -> impl Iterator<Item = PerfFileRecord<'a>> + '_ {
        self.order.iter().map(|&p| {
            if p.kind < USER_TYPE_START {
                PerfFileRecord::EventRecord {
                    attr_index: p.attr as usize,
                    record: event(self.data, p, self.parse_infos[p.attr as usize]),
                }
            } else {
                PerfFileRecord::UserRecord(RawUserRecord {
                    record_type: UserRecordType::try_from(RecordType(p.kind))
                        .unwrap_or(UserRecordType::PERF_FINISHED_ROUND),
                    endian: Endianness::LittleEndian,
                    misc: p.misc,
                    data: RawData::from(&self.data[p.body.0..p.body.1]),
                })
            }
        })
    }
}

/// linux-perf-data's sorter: records come in rounds whose times overlap only the
/// round before, so at the end of a round the ones no later than the previous round's
/// latest can go out, sorted. Keys start at `(None, None)`, below every record's.
#[derive(Default)]
struct Rounds {
    outgoing: Vec<Key>,
    incoming: Vec<Key>,
    prev_max: Key,
    cur_max: Key,
    /// How many of `incoming` are no later than `prev_max`.
    ready: usize,
}

impl Rounds {
    fn insert(&mut self, key: Key) {
        if key <= self.prev_max {
            self.ready += 1;
        } else if key > self.cur_max {
            self.cur_max = key;
        }
        self.incoming.push(key);
    }

    fn finish_round(&mut self) {
        if let Some(n) = self.ready.checked_sub(1) {
            let (first, _, _) = self.incoming.select_nth_unstable(n);
            first.sort_unstable();
            self.outgoing.extend(self.incoming.drain(..self.ready));
        }
        self.prev_max = self.cur_max;
        self.ready = self.incoming.len();
    }

    fn finish(&mut self) {
        self.incoming.sort_unstable();
        self.outgoing.append(&mut self.incoming);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linux_perf_data::PerfFileReader;

    /// A record's type, event and body bytes, to compare orders by.
    fn summary(r: &PerfFileRecord<'_>) -> (u32, usize, Vec<u8>) {
        match r {
            PerfFileRecord::EventRecord { attr_index, record } => (
                record.record_type.0,
                *attr_index,
                record.data.as_slice().into_owned(),
            ),
            PerfFileRecord::UserRecord(u) => (
                u.record_type.record_type().0,
                0,
                u.data.as_slice().into_owned(),
            ),
        }
    }

    /// The fixture (a recording of two events) read in place gives linux-perf-data's
    /// records in linux-perf-data's order.
    #[test]
    fn records_come_in_linux_perf_datas_order() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/perf-data/pd.data");
        let data = std::fs::read(path).unwrap();
        let PerfFileReader {
            mut perf_file,
            mut record_iter,
        } = PerfFileReader::parse_file(std::io::Cursor::new(&data[..])).unwrap();
        let mut theirs = Vec::new();
        while let Some(r) = record_iter.next_record(&mut perf_file).unwrap() {
            theirs.push(summary(&r));
        }
        let ours: Vec<_> = in_place(&data, &perf_file)
            .expect("the fixture is the common case")
            .records()
            .map(|r| summary(&r))
            .collect();
        assert!(theirs.len() > 20, "{}", theirs.len());
        assert!(theirs.iter().any(|r| r.1 > 0), "records of a second event");
        assert!(ours == theirs);
    }

    /// perf's example of rounds: what a round holds goes out only once the next round
    /// is finished, sorted with what that round held no later than it.
    #[test]
    fn rounds_release_like_perfs_example() {
        let mut r = Rounds::default();
        let times = |r: &Rounds| {
            r.outgoing
                .iter()
                .map(|&k| (k >> 32) as u64)
                .collect::<Vec<_>>()
        };
        // (time, record number)
        for (t, i) in [(1, 0), (2, 1), (2, 2), (3, 3), (4, 4)] {
            r.insert(key(Some(t), i));
        }
        r.finish_round();
        assert!(r.outgoing.is_empty());
        for (t, i) in [(3, 5), (5, 6), (4, 7), (6, 8), (7, 9)] {
            r.insert(key(Some(t), i));
        }
        r.finish_round();
        // Up to the first round's latest (time 4, record 4): the second round's 3
        // goes before it, its 4 (later in the file) waits. Times show plus one.
        assert_eq!(times(&r), [2, 3, 3, 4, 4, 5]);
        // Records without a time sort first among the rest.
        r.insert(key(None, 10));
        r.finish();
        assert_eq!(times(&r), [2, 3, 3, 4, 4, 5, 0, 5, 6, 7, 8]);
        // Equal times keep file order.
        assert_eq!(r.outgoing[4] as u32, 6);
    }
}
