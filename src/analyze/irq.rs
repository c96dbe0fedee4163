//! IRQ-sticky correction (domain.md §3).
//!
//! `cpu-clock` and `task-clock` samples come from an hrtimer interrupt, which cannot
//! fire while a CPU has interrupts disabled; it fires at the first instruction after
//! they are re-enabled. Time spent with IRQs off therefore lands on the re-enable
//! site. This module finds such sites, two ways, and relabels the leaf of each
//! affected sample with a pseudo-frame naming the IRQs-off region it stands for
//! (`[irqs-off] page-fault entry`), keeping every caller.
//!
//! It cannot give back time it never saw: an IRQs-off stretch longer than one period
//! yields at most one sample, so such regions stay undercounted after correction.

use rustc_hash::FxHashMap;

use crate::analyze::groups::SampleGroups;
use crate::analyze::model::StickySite;
use crate::ingest::intern::{FRAME_KERNEL, FrameId, Interner, StackId};
use crate::ingest::profile::{EventId, LeafId, Profile, SampleRecord};

/// The IRQs-off region a re-enable site stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IrqKind {
    /// Page-fault entry: the CPU enters `asm_exc_page_fault` with IRQs off.
    PageFaultEntry,
    /// System call entry or return to user mode.
    Syscall,
    /// Return from an interrupt.
    InterruptExit,
    /// The end of a context switch.
    ContextSwitch,
    /// Softirq processing.
    Softirq,
    /// A spinlock released with `_irq`/`_irqrestore`.
    LockRelease,
    /// The idle loop's `sti; hlt`.
    Idle,
    /// An IRQ restore with no better name.
    IrqRestore,
}

impl IrqKind {
    /// The name used in pseudo-frames and reports.
    pub fn label(self) -> &'static str {
        match self {
            IrqKind::PageFaultEntry => "page-fault entry",
            IrqKind::Syscall => "syscall entry/exit",
            IrqKind::InterruptExit => "interrupt exit",
            IrqKind::ContextSwitch => "context switch",
            IrqKind::Softirq => "softirq",
            IrqKind::LockRelease => "lock release",
            IrqKind::Idle => "idle",
            IrqKind::IrqRestore => "irq restore",
        }
    }
}

/// How a table entry's samples are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The function exists to re-enable IRQs: every leaf sample in it is sticky.
    Whole,
    /// The re-enable is inlined somewhere in the function: only the offset the
    /// statistical test picks is sticky.
    Offset,
}

/// Known re-enable sites, kernel 4.x–6.x names. `None` as kind: decided by the
/// sample's callers.
const TABLE: &[(&str, Option<IrqKind>, Scope)] = &[
    ("native_irq_enable", None, Scope::Whole),
    ("pv_native_irq_enable", None, Scope::Whole),
    ("arch_local_irq_enable", None, Scope::Whole),
    ("native_restore_fl", None, Scope::Whole),
    ("arch_local_irq_restore", None, Scope::Whole),
    (
        "exc_page_fault",
        Some(IrqKind::PageFaultEntry),
        Scope::Offset,
    ),
    (
        "do_user_addr_fault",
        Some(IrqKind::PageFaultEntry),
        Scope::Offset,
    ),
    (
        "__do_page_fault",
        Some(IrqKind::PageFaultEntry),
        Scope::Offset,
    ),
    ("do_syscall_64", Some(IrqKind::Syscall), Scope::Offset),
    (
        "exit_to_user_mode_loop",
        Some(IrqKind::Syscall),
        Scope::Offset,
    ),
    (
        "syscall_exit_to_user_mode",
        Some(IrqKind::Syscall),
        Scope::Offset,
    ),
    ("irqentry_exit", Some(IrqKind::InterruptExit), Scope::Offset),
    (
        "irqentry_exit_to_user_mode",
        Some(IrqKind::InterruptExit),
        Scope::Offset,
    ),
    (
        "finish_task_switch",
        Some(IrqKind::ContextSwitch),
        Scope::Offset,
    ),
    (
        "finish_task_switch.isra.0",
        Some(IrqKind::ContextSwitch),
        Scope::Offset,
    ),
    ("schedule_tail", Some(IrqKind::ContextSwitch), Scope::Offset),
    ("__do_softirq", Some(IrqKind::Softirq), Scope::Offset),
    ("handle_softirqs", Some(IrqKind::Softirq), Scope::Offset),
    ("default_idle", Some(IrqKind::Idle), Scope::Whole),
    ("pv_native_safe_halt", Some(IrqKind::Idle), Scope::Whole),
    ("native_safe_halt", Some(IrqKind::Idle), Scope::Whole),
    ("arch_safe_halt", Some(IrqKind::Idle), Scope::Whole),
];

/// Leaf functions that look sticky to the statistics but are not IRQ re-enables: an
/// unlock that never disables IRQs, and string instructions (`rep stos`, `rep movs`)
/// where one instruction does all the work.
const NOT_SITES: &[&str] = &[
    "__raw_callee_save___pv_queued_spin_unlock",
    "clear_page_erms",
    "clear_page_rep",
    "clear_page_orig",
    "clear_pages_erms",
    "copy_page",
    "memset_erms",
    "memset_orig",
    "memcpy_erms",
    "memcpy_orig",
    "__memset",
    "__memcpy",
    "rep_stos_alternative",
    "rep_movs_alternative",
    "copy_user_enhanced_fast_string",
    "copy_user_generic_string",
    "clear_user_erms",
    "__clear_user",
];

/// Whether statistics may not flag a function: spinning lock acquisitions and the
/// vDSO's clock reads hold one hot instruction for reasons of their own.
fn never_statistical(f: &str) -> bool {
    f.starts_with("__vdso")
        || ((f.starts_with("_raw_") || f.contains("queued_spin_lock"))
            && f.contains("lock")
            && !f.contains("unlock"))
}

/// Whether a function is an `_irq`/`_irqrestore` unlock (`_raw_spin_unlock_irqrestore`).
fn is_irq_unlock(f: &str) -> bool {
    f.starts_with("_raw_") && f.contains("unlock_irq")
}

/// The statistical test: one offset holds at least this share of its function's
/// leaf samples...
pub const MIN_SITE_SHARE: f64 = 0.5;
/// ...the function has at least this many leaf samples...
pub const MIN_FUNCTION_SAMPLES: u64 = 20;
/// ...and no sample lands in this many bytes before the offset (the IRQs-off code
/// that leads to the re-enable cannot be sampled).
pub const QUIET_BYTES_BEFORE: u64 = 16;

/// How far a detected site can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Confidence {
    /// Found by statistics alone: one offset holds most samples, but nothing on the
    /// stacks says IRQs were off. A hot instruction after an atomic or a cache miss
    /// looks the same, so such a site is reported and its samples are left in place.
    Low,
    /// Found by statistics, and most of its samples have a known IRQs-off caller
    /// (exception or syscall entry, a context switch, an `_irq` unlock) on the stack.
    Medium,
    /// A known re-enable site from the table.
    High,
}

impl Confidence {
    /// The name used in reports.
    pub fn label(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// A detected sticky site.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// The leaf function.
    pub function: String,
    /// The sticky offset, or `None` when every offset of the function is sticky.
    pub offset: Option<u64>,
    /// The region, when fixed for the site (else decided per sample by its callers).
    pub kind: Option<IrqKind>,
    /// `table` or `statistics`.
    pub detected_by: &'static str,
    /// Share of the function's leaf samples at the offset.
    pub share_of_function: f64,
    /// How far the site can be trusted; only [`Confidence::Low`] sites are not moved.
    pub confidence: Confidence,
    /// Leaf samples at the site (all offsets for a whole-function site).
    pub samples: u64,
}

impl Site {
    /// `function+0xoffset`, or the function.
    pub fn name(&self) -> String {
        match self.offset {
            Some(o) => format!("{}+{o:#x}", self.function),
            None => self.function.clone(),
        }
    }
}

/// Leaf samples of the sampling events, per leaf, and whether each leaf is a kernel
/// frame (as its first sample's stack says).
fn leaf_counts(profile: &Profile, groups: &SampleGroups) -> (Vec<u64>, Vec<bool>) {
    let mut per_leaf = vec![0u64; profile.leaves.len()];
    let mut kernel = vec![false; profile.leaves.len()];
    for (g, sums) in groups.iter() {
        if g.leaf == LeafId::NONE || g.stack == StackId::EMPTY {
            continue;
        }
        let i = g.leaf.0 as usize;
        if per_leaf[i] == 0 {
            let (_, frame) = profile.interner.stack(g.stack);
            kernel[i] = profile.interner.frame_name(frame).1 & FRAME_KERNEL != 0;
        }
        per_leaf[i] += sums.samples;
    }
    (per_leaf, kernel)
}

/// Finds sticky sites among the leaves of the given events' samples.
///
/// Only kernel leaves are considered: the hrtimer interrupt can only be held off
/// where the kernel disabled IRQs, so it lands on the kernel's re-enable, never in
/// user space, where one hot instruction is just a hot loop.
pub fn detect(profile: &Profile, groups: &SampleGroups) -> Vec<Site> {
    let (per_leaf, kernel) = leaf_counts(profile, groups);
    // Leaf samples per function, and per (function, offset, leaf).
    let mut per_fn: FxHashMap<&[u8], u64> = FxHashMap::default();
    let mut offsets: FxHashMap<&[u8], Vec<(u64, u64, LeafId)>> = FxHashMap::default();
    for (i, &n) in per_leaf
        .iter()
        .enumerate()
        .filter(|(i, n)| **n > 0 && kernel[*i])
    {
        if let Some((sym, off)) = profile.leaf(LeafId(i as u32)) {
            *per_fn.entry(sym).or_default() += n;
            offsets
                .entry(sym)
                .or_default()
                .push((off, n, LeafId(i as u32)));
        }
    }
    let mut sites = Vec::new();
    for (sym, mut offs) in offsets {
        let Ok(function) = std::str::from_utf8(sym) else {
            continue;
        };
        if NOT_SITES.contains(&function) {
            continue;
        }
        let total = per_fn[sym];
        let entry = TABLE.iter().find(|(f, _, _)| *f == function);
        let whole = matches!(entry, Some((_, _, Scope::Whole))) || is_irq_unlock(function);
        if whole {
            let kind = match entry {
                Some((_, k, _)) => *k,
                None => Some(IrqKind::LockRelease),
            };
            sites.push(Site {
                function: function.to_string(),
                offset: None,
                kind,
                detected_by: "table",
                share_of_function: 1.0,
                confidence: Confidence::High,
                samples: total,
            });
            continue;
        }
        if total < MIN_FUNCTION_SAMPLES {
            continue;
        }
        offs.sort_unstable();
        sites.extend(offset_site(profile, groups, function, entry, total, &offs));
    }
    sites.sort_by(|a, b| a.function.cmp(&b.function).then(a.offset.cmp(&b.offset)));
    sites
}

/// The site within `function`, if one offset holds most of its leaf samples with no
/// other sampled offset just before it; `offs` is (offset, samples, leaf), sorted.
fn offset_site(
    profile: &Profile,
    groups: &SampleGroups,
    function: &str,
    entry: Option<&(&str, Option<IrqKind>, Scope)>,
    total: u64,
    offs: &[(u64, u64, LeafId)],
) -> Option<Site> {
    let &(best_off, best_n, best_leaf) = offs
        .iter()
        .max_by_key(|(o, n, _)| (*n, std::cmp::Reverse(*o)))?;
    // An offset of 0 has nothing before it to have run with IRQs off.
    if best_off == 0 || (entry.is_none() && never_statistical(function)) {
        return None;
    }
    let share = best_n as f64 / total as f64;
    let quiet_before = !offs
        .iter()
        .any(|&(o, _, _)| o < best_off && o + QUIET_BYTES_BEFORE >= best_off);
    if share < MIN_SITE_SHARE || !quiet_before {
        return None;
    }
    let confidence = if entry.is_some() {
        Confidence::High
    } else if has_irqs_off_callers(profile, groups, best_leaf) {
        Confidence::Medium
    } else {
        Confidence::Low
    };
    Some(Site {
        function: function.to_string(),
        offset: Some(best_off),
        kind: entry.and_then(|(_, k, _)| *k),
        detected_by: if entry.is_some() {
            "table"
        } else {
            "statistics"
        },
        share_of_function: share,
        confidence,
        samples: best_n,
    })
}

/// Whether most samples at `leaf` have a known IRQs-off region among their callers:
/// the extra evidence a statistical site needs before its samples are moved.
fn has_irqs_off_callers(profile: &Profile, groups: &SampleGroups, leaf: LeafId) -> bool {
    let mut memo: FxHashMap<StackId, bool> = FxHashMap::default();
    let (mut with, mut all) = (0u64, 0u64);
    for (g, sums) in groups.iter() {
        if g.leaf != leaf || g.stack == StackId::EMPTY {
            continue;
        }
        let known = *memo.entry(g.stack).or_insert_with(|| {
            kind_from_callers(&profile.interner, g.stack) != IrqKind::IrqRestore
        });
        all += sums.samples;
        with += if known { sums.samples } else { 0 };
    }
    all > 0 && with * 2 >= all
}

/// Splits detected sites into those whose samples are moved and the low-confidence
/// candidates that are only reported.
pub fn split_by_confidence(sites: Vec<Site>) -> (Vec<Site>, Vec<Site>) {
    sites
        .into_iter()
        .partition(|s| s.confidence > Confidence::Low)
}

/// The report entry for a low-confidence candidate whose samples stay where they are.
pub fn held_site(site: &Site) -> StickySite {
    StickySite {
        site: site.name(),
        kind: format!("not moved: {} confidence", site.confidence.label()),
        samples: site.samples,
        detected_by: site.detected_by.into(),
        share_of_function: site.share_of_function,
    }
}

/// The result of correcting a profile's samples.
#[derive(Debug, Clone, Default)]
pub struct Correction {
    /// The corrected stack of each sample.
    pub relabel: Relabel,
    /// Samples moved, per (site index, region label).
    pub moved: Vec<(usize, String, u64)>,
    /// Samples moved in all.
    pub total_moved: u64,
}

/// Each sample's stack after the correction, a function of its event, stack and leaf
/// kept per distinct (stack, site) rather than per sample.
#[derive(Debug, Clone, Default)]
pub struct Relabel {
    /// The corrected events.
    events: Vec<EventId>,
    /// The site of each leaf, by leaf id.
    site_of_leaf: Vec<Option<u32>>,
    /// (stack, site) → the stack with its leaf relabelled.
    relabelled: FxHashMap<(StackId, u32), StackId>,
}

impl Relabel {
    /// The site a sample of the corrected events with this stack and leaf sits on.
    fn site(&self, stack: StackId, leaf: LeafId) -> Option<u32> {
        if stack == StackId::EMPTY {
            return None;
        }
        self.site_of_leaf.get(leaf.0 as usize).copied().flatten()
    }

    /// The stack after the correction of a sample of the corrected events.
    pub fn stack_of(&self, stack: StackId, leaf: LeafId) -> StackId {
        match self.site(stack, leaf) {
            Some(site) => self.relabelled[&(stack, site)],
            None => stack,
        }
    }

    /// The sample's stack after the correction (its own when not moved).
    pub fn stack(&self, r: &SampleRecord) -> StackId {
        if self.events.contains(&r.event) {
            self.stack_of(r.stack, r.leaf)
        } else {
            r.stack
        }
    }
}

/// Relabels the leaf of every sample of `events` (summed in `groups`) that sits on a
/// site.
pub fn correct(
    profile: &mut Profile,
    events: &[EventId],
    groups: &SampleGroups,
    sites: &[Site],
) -> Correction {
    // The site of each leaf, decided once per distinct leaf rather than per sample.
    let site_of_leaf: Vec<Option<u32>> = profile
        .leaves
        .iter()
        .map(|(sym, off)| {
            let site = sites.iter().position(|s| {
                s.function.as_bytes() == &sym[..] && s.offset.is_none_or(|o| o == *off)
            });
            site.map(|i| i as u32)
        })
        .collect();
    let mut relabel = Relabel {
        events: events.to_vec(),
        site_of_leaf,
        relabelled: FxHashMap::default(),
    };
    let mut pseudo: FxHashMap<String, FrameId> = FxHashMap::default();
    let mut labels: Vec<String> = Vec::new();
    // (stack, site) → label index: the callers decide the label of a generic re-enable,
    // and they are the same for every sample of a stack.
    let mut label_of: FxHashMap<(StackId, u32), usize> = FxHashMap::default();
    let mut moved: FxHashMap<(usize, usize), u64> = FxHashMap::default();
    let mut total_moved = 0;
    for (g, sums) in groups.iter() {
        let Some(site) = relabel.site(g.stack, g.leaf) else {
            continue;
        };
        let label = match label_of.get(&(g.stack, site)) {
            Some(&l) => l,
            None => {
                let site_info = &sites[site as usize];
                let label = site_label(&profile.interner, site_info, g.stack);
                let frame = *pseudo.entry(label.clone()).or_insert_with(|| {
                    let mut name = vec![FRAME_KERNEL];
                    name.extend_from_slice(format!("[irqs-off] {label}").as_bytes());
                    profile.interner.frame(&name)
                });
                let (parent, _) = profile.interner.stack(g.stack);
                let s = profile.interner.push(parent, frame);
                let label_idx = match labels.iter().position(|l| *l == label) {
                    Some(i) => i,
                    None => {
                        labels.push(label);
                        labels.len() - 1
                    }
                };
                relabel.relabelled.insert((g.stack, site), s);
                label_of.insert((g.stack, site), label_idx);
                label_idx
            }
        };
        *moved.entry((site as usize, label)).or_default() += sums.samples;
        total_moved += sums.samples;
    }
    let moved: FxHashMap<(usize, String), u64> = moved
        .into_iter()
        .map(|((s, l), n)| ((s, labels[l].clone()), n))
        .collect();
    let mut moved: Vec<(usize, String, u64)> =
        moved.into_iter().map(|((s, l), n)| (s, l, n)).collect();
    moved.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    Correction {
        relabel,
        moved,
        total_moved,
    }
}

/// The region label of a sample at `site` with stack `stack`.
fn site_label(interner: &Interner, site: &Site, stack: StackId) -> String {
    let kind = site
        .kind
        .unwrap_or_else(|| kind_from_callers(interner, stack));
    match (site.kind, site.detected_by) {
        (None, "statistics") => format!("in {}", site.function),
        _ => kind.label().to_string(),
    }
}

/// The region a generic re-enable (`native_irq_enable`) closes, from its callers.
fn kind_from_callers(interner: &Interner, stack: StackId) -> IrqKind {
    let frames = interner.frames_of(stack);
    for f in frames.iter().rev().skip(1) {
        let name = interner.frame_name(*f).0;
        let kind = match name {
            b"asm_exc_page_fault"
            | b"exc_page_fault"
            | b"do_user_addr_fault"
            | b"page_fault"
            | b"do_page_fault"
            | b"__do_page_fault"
            | b"async_page_fault" => Some(IrqKind::PageFaultEntry),
            b"do_syscall_64" | b"entry_SYSCALL_64" | b"entry_SYSCALL_64_after_hwframe" => {
                Some(IrqKind::Syscall)
            }
            b"finish_task_switch" | b"finish_task_switch.isra.0" | b"schedule_tail" => {
                Some(IrqKind::ContextSwitch)
            }
            b"__do_softirq" | b"handle_softirqs" => Some(IrqKind::Softirq),
            b"irqentry_exit" => Some(IrqKind::InterruptExit),
            n if n.starts_with(b"_raw_") && memchr::memmem::find(n, b"unlock_irq").is_some() => {
                Some(IrqKind::LockRelease)
            }
            _ => None,
        };
        if let Some(k) = kind {
            return k;
        }
    }
    IrqKind::IrqRestore
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a profile from a tiny script where `exc_page_fault+0xd7` holds most of
    /// the function's leaf samples.
    fn profile(text: &str) -> Profile {
        Profile::kept(text)
    }

    /// Every sample's stack after correction `c`.
    fn corrected(p: &Profile, c: &Correction) -> Vec<StackId> {
        p.samples.iter().map(|r| c.relabel.stack(&r)).collect()
    }

    /// Samples of `comm` whose leaf is each of `leaves` `n` times, in `leaf_dso`, under
    /// the caller lines `callers` (already formatted).
    fn samples(comm: &str, leaf_dso: &str, callers: &str, leaves: &[(&str, usize)]) -> String {
        let mut s = String::new();
        let mut t = 0;
        for (leaf, n) in leaves {
            for _ in 0..*n {
                t += 1;
                s.push_str(&format!(
                    "{comm} 7 [000] 1.{t:06}: 1000 cpu-clock:\n\tffff {leaf} ({leaf_dso})\n{callers}\n"
                ));
            }
        }
        s
    }

    /// Kernel leaves under the page-fault entry.
    fn script(leaves: &[(&str, usize)]) -> String {
        let callers =
            "\tffff asm_exc_page_fault+0x26 ([kernel.kallsyms])\n\t1 main+0x10 (/bin/pf)\n";
        samples("pf", "[kernel.kallsyms]", callers, leaves)
    }

    #[test]
    fn inlined_page_fault_site_is_found_and_moved() {
        let mut p = profile(&script(&[
            ("exc_page_fault+0xd7", 60),
            ("exc_page_fault+0x120", 10),
            ("handle_mm_fault+0x40", 10),
            ("handle_mm_fault+0x80", 10),
            ("handle_mm_fault+0x99", 10),
        ]));
        let ev = vec![EventId(0)];
        let sites = detect(&p, &SampleGroups::new(&p, &ev, 1));
        assert_eq!(sites.len(), 1, "{sites:?}");
        assert_eq!(sites[0].name(), "exc_page_fault+0xd7");
        assert_eq!(sites[0].kind, Some(IrqKind::PageFaultEntry));
        let g = SampleGroups::new(&p, &ev, 1);
        let c = correct(&mut p, &ev, &g, &sites);
        assert_eq!(c.total_moved, 60);
        let stacks = corrected(&p, &c);
        let moved = stacks.iter().filter(|s| {
            let frames = p.interner.frames_of(**s);
            p.interner.frame_name(*frames.last().unwrap()).0 == b"[irqs-off] page-fault entry"
        });
        assert_eq!(moved.count(), 60);
        // Callers are kept: main;asm_exc_page_fault;[irqs-off] page-fault entry.
        let first = p.samples.get(0).unwrap().stack;
        let s = stacks.iter().find(|s| **s != first).copied();
        let names: Vec<_> = stacks[..1]
            .iter()
            .flat_map(|s| p.interner.frames_of(*s))
            .map(|f| String::from_utf8_lossy(p.interner.frame_name(f).0).into_owned())
            .collect();
        assert_eq!(
            names,
            ["main", "asm_exc_page_fault", "[irqs-off] page-fault entry"]
        );
        assert!(s.is_some());
    }

    #[test]
    fn spread_offsets_or_samples_just_before_are_not_sites() {
        let p = profile(&script(&[
            ("exc_page_fault+0xd7", 40),
            ("exc_page_fault+0xd0", 5),
            ("memcg1_commit_charge+0x85", 12),
            ("pte_val+0x0", 30),
            ("_raw_spin_lock+0x17", 30),
            ("__vdso_clock_gettime+0x56", 30),
            ("clear_page_erms+0xb", 30),
        ]));
        assert!(detect(&p, &SampleGroups::new(&p, &[EventId(0)], 1)).is_empty());
    }

    #[test]
    fn unknown_functions_are_found_by_statistics_and_generic_enables_by_callers() {
        let mut p = profile(&script(&[
            ("memcg1_commit_charge+0x85", 30),
            ("memcg1_commit_charge+0x10", 3),
            ("native_irq_enable+0x2", 5),
            ("__raw_callee_save___pv_queued_spin_unlock+0x11", 40),
        ]));
        let ev = vec![EventId(0)];
        let sites = detect(&p, &SampleGroups::new(&p, &ev, 1));
        let names: Vec<_> = sites.iter().map(|s| (s.name(), s.detected_by)).collect();
        assert_eq!(
            names,
            [
                ("memcg1_commit_charge+0x85".to_string(), "statistics"),
                ("native_irq_enable".to_string(), "table")
            ]
        );
        let g = SampleGroups::new(&p, &ev, 1);
        let c = correct(&mut p, &ev, &g, &sites);
        assert_eq!(c.total_moved, 35);
        let labels: Vec<_> = c.moved.iter().map(|(_, l, n)| (l.as_str(), *n)).collect();
        assert_eq!(
            labels,
            [("in memcg1_commit_charge", 30), ("page-fault entry", 5)]
        );
    }

    /// Samples whose whole stack is user space: `leaf` in `/bin/spin`.
    fn user_script(leaves: &[(&str, usize)]) -> String {
        samples(
            "spin",
            "/bin/spin",
            "\t401020 main+0x10 (/bin/spin)\n",
            leaves,
        )
    }

    #[test]
    fn a_user_space_hot_loop_moves_nothing() {
        // One offset holding nearly every sample of its function, nothing just before
        // it: statistically a perfect site, but in user space, where no IRQs-off
        // region can end.
        let mut p = profile(&user_script(&[
            ("hot_loop+0x17", 200),
            ("hot_loop+0x40", 5),
            ("_Py_NewReference+0x19", 60),
            ("malloc_consolidate+0x56", 30),
        ]));
        let ev = vec![EventId(0)];
        let sites = detect(&p, &SampleGroups::new(&p, &ev, 1));
        assert!(sites.is_empty(), "{sites:?}");
        let g = SampleGroups::new(&p, &ev, 1);
        let c = correct(&mut p, &ev, &g, &sites);
        assert_eq!(c.total_moved, 0);
        assert_eq!(
            corrected(&p, &c),
            p.samples.iter().map(|r| r.stack).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_statistical_site_without_an_irqs_off_caller_is_held_back() {
        // A kernel leaf reached from a plain read(2) path with no entry frame the
        // caller walk knows: statistics alone, so it is reported but not moved.
        let callers = "\tffff filemap_read+0x10 ([kernel.kallsyms])\n\t1 main+0x10 (/bin/cat)\n";
        let s = samples(
            "cat",
            "[kernel.kallsyms]",
            callers,
            &[
                ("page_counter_charge+0x4e", 36),
                ("page_counter_charge+0x90", 4),
            ],
        );
        let p = profile(&s);
        let sites = detect(&p, &SampleGroups::new(&p, &[EventId(0)], 1));
        assert_eq!(sites.len(), 1, "{sites:?}");
        assert_eq!(sites[0].confidence, Confidence::Low);
        assert_eq!(sites[0].samples, 36);
        let (moved, held) = split_by_confidence(sites);
        assert!(moved.is_empty());
        let entry = held_site(&held[0]);
        assert_eq!(entry.site, "page_counter_charge+0x4e");
        assert_eq!(entry.kind, "not moved: low confidence");
    }
}
