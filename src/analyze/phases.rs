//! Phases: which part of a memory workload's life a sample belongs to, from the frames
//! on its stack (domain.md §2). The rules are data: [`BUILTIN_RULES`] is JSON, and
//! `--rules FILE` extends or overrides it in the same format.
//!
//! ```json
//! {"phases": [
//!   {"name": "fault", "frames": ["asm_exc_page_fault", "exc_page_fault"],
//!    "children": [{"name": "table-alloc", "frames": ["__pte_alloc", "pte_alloc_one"]}]},
//!   {"name": "user", "no_kernel_frames": true}
//! ]}
//! ```
//!
//! A phase matches a stack when any frame, at any depth, equals one of its `frames`
//! (a trailing `*` matches a prefix). Phases are tried in order; the first match wins,
//! then its children are tried the same way. Stacks no phase matches are `other`.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::ingest::intern::{FRAME_KERNEL, Interner, StackId};

/// The default rules: kernel 4.x–6.x names for x86-64.
pub const BUILTIN_RULES: &str = r#"{"phases": [
  {"name": "exit",
   "frames": ["do_exit", "do_group_exit", "exit_mmap", "mmput", "__mmput", "exit_mm",
              "__oom_reap_task_mm", "oom_reaper", "tlb_remove_table_rcu"],
   "children": [
     {"name": "oom-reap", "frames": ["__oom_reap_task_mm", "oom_reaper"]},
     {"name": "unmap", "frames": ["unmap_vmas", "unmap_page_range", "unmap_single_vma",
                                   "zap_pte_range", "zap_pmd_range", "zap_huge_pmd",
                                   "zap_p4d_range", "zap_pud_range"]},
     {"name": "free-tables", "frames": ["free_pgtables", "free_pgd_range", "free_pud_range",
                                         "free_pmd_range", "free_pte_range",
                                         "tlb_remove_table_rcu", "__tlb_remove_table",
                                         "tlb_finish_mmu", "pte_free_now"]}
   ]},
  {"name": "fault",
   "frames": ["asm_exc_page_fault", "exc_page_fault", "do_user_addr_fault", "handle_mm_fault",
              "page_fault", "do_page_fault", "__do_page_fault", "async_page_fault"],
   "children": [
     {"name": "irqs-off-entry", "frames": ["[irqs-off] page-fault entry"]},
     {"name": "oom", "frames": ["out_of_memory", "oom_kill_process"]},
     {"name": "memcg", "frames": ["try_charge_memcg", "__memcg_kmem_charge_page",
                                   "try_to_free_mem_cgroup_pages", "mem_cgroup_charge",
                                   "__mem_cgroup_charge", "charge_memcg", "memcg1_commit_charge",
                                   "[irqs-off] in memcg1_commit_charge"]},
     {"name": "table-alloc", "frames": ["__pte_alloc", "pte_alloc_one", "__pmd_alloc",
                                         "pmd_alloc_one", "__pud_alloc", "__p4d_alloc",
                                         "pud_alloc_one"]},
     {"name": "thp", "frames": ["do_huge_pmd_anonymous_page", "set_huge_zero_page",
                                 "do_huge_pmd_wp_page"]},
     {"name": "anon", "frames": ["do_anonymous_page"]}
   ]},
  {"name": "syscall",
   "frames": ["entry_SYSCALL_64", "entry_SYSCALL_64_after_hwframe", "do_syscall_64",
              "system_call_fastpath"],
   "children": [
     {"name": "irqs-off-entry", "frames": ["[irqs-off] syscall entry/exit"]},
     {"name": "mmap", "frames": ["__x64_sys_mmap", "ksys_mmap_pgoff", "vm_mmap_pgoff"]},
     {"name": "munmap", "frames": ["__x64_sys_munmap", "__vm_munmap"]},
     {"name": "mprotect", "frames": ["__x64_sys_mprotect", "do_mprotect_pkey"]},
     {"name": "madvise", "frames": ["__x64_sys_madvise", "do_madvise"]},
     {"name": "brk", "frames": ["__x64_sys_brk"]}
   ]},
  {"name": "user", "no_kernel_frames": true}
]}"#;

/// The name of the phase of stacks no rule matches.
pub const OTHER: &str = "other";

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The phase name (a path segment: `fault`, `table-alloc`).
    pub name: String,
    /// Frames that put a stack in this phase; `name*` matches a prefix.
    #[serde(default)]
    pub frames: Vec<String>,
    /// Matches stacks with no kernel frame at all.
    #[serde(default)]
    pub no_kernel_frames: bool,
    /// Sub-phases.
    #[serde(default)]
    pub children: Vec<Rule>,
}

/// A rules file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// Top-level phases in precedence order.
    pub phases: Vec<Rule>,
    /// In a `--rules` file: replace the built-in rules instead of extending them.
    #[serde(default)]
    pub replace: bool,
}

impl Rules {
    /// The built-in rules.
    pub fn builtin() -> Rules {
        serde_json::from_str(BUILTIN_RULES).expect("built-in rules are valid JSON")
    }

    /// Reads a `--rules` file's text. Phases named like a built-in one replace it; new
    /// ones are tried before the built-ins; `"replace": true` drops the built-ins.
    pub fn with_overrides(self, text: &str) -> Result<Rules, String> {
        let extra: Rules = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if extra.replace {
            return Ok(extra);
        }
        let mut phases = Vec::new();
        for r in &extra.phases {
            if !self.phases.iter().any(|b| b.name == r.name) {
                phases.push(r.clone());
            }
        }
        for b in self.phases {
            match extra.phases.iter().find(|r| r.name == b.name) {
                Some(r) => phases.push(r.clone()),
                None => phases.push(b),
            }
        }
        Ok(Rules {
            phases,
            replace: false,
        })
    }
}

/// Classifies stacks, remembering each stack's answer.
pub struct Classifier<'r> {
    rules: &'r Rules,
    memo: FxHashMap<StackId, String>,
}

impl<'r> Classifier<'r> {
    /// A classifier for these rules.
    pub fn new(rules: &'r Rules) -> Self {
        Classifier {
            rules,
            memo: FxHashMap::default(),
        }
    }

    /// The rules in use.
    pub fn rules(&self) -> &Rules {
        self.rules
    }

    /// The phase path of a stack (`fault/table-alloc`, `user`, `other`).
    pub fn classify(&mut self, interner: &Interner, stack: StackId) -> &str {
        if !self.memo.contains_key(&stack) {
            let frames: Vec<(&[u8], u8)> = interner
                .frames_of(stack)
                .into_iter()
                .map(|f| interner.frame_name(f))
                .collect();
            let path = classify_frames(&self.rules.phases, &frames).unwrap_or_else(|| OTHER.into());
            self.memo.insert(stack, path);
        }
        &self.memo[&stack]
    }
}

fn rule_matches(rule: &Rule, frames: &[(&[u8], u8)]) -> bool {
    if rule.no_kernel_frames {
        return !frames.is_empty() && frames.iter().all(|(_, flags)| flags & FRAME_KERNEL == 0);
    }
    rule.frames.iter().any(|pat| {
        let pat = pat.as_bytes();
        match pat.strip_suffix(b"*") {
            Some(prefix) => frames.iter().any(|(n, _)| n.starts_with(prefix)),
            None => frames.iter().any(|(n, _)| *n == pat),
        }
    })
}

fn classify_frames(rules: &[Rule], frames: &[(&[u8], u8)]) -> Option<String> {
    let rule = rules.iter().find(|r| rule_matches(r, frames))?;
    Some(match classify_frames(&rule.children, frames) {
        Some(child) => format!("{}/{child}", rule.name),
        None => rule.name.clone(),
    })
}

/// Weights accumulated into a phase tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhaseNode {
    /// Samples.
    pub samples: u64,
    /// Period-weighted total.
    pub weight: u64,
    /// Sub-phases by name.
    pub children: BTreeMap<String, PhaseNode>,
}

impl PhaseNode {
    /// Adds a sample under `path` (`fault/table-alloc`), counting it at every level.
    pub fn add(&mut self, path: &str, weight: u64) {
        self.add_n(path, 1, weight);
    }

    /// Adds `samples` samples weighing `weight` in all under `path`.
    pub fn add_n(&mut self, path: &str, samples: u64, weight: u64) {
        self.samples += samples;
        self.weight += weight;
        let mut node = self;
        for part in path.split('/') {
            node = node.children.entry(part.to_string()).or_default();
            node.samples += samples;
            node.weight += weight;
        }
    }

    /// The node at `path`, if any sample reached it.
    pub fn get(&self, path: &str) -> Option<&PhaseNode> {
        path.split('/').try_fold(self, |n, p| n.children.get(p))
    }

    /// The weight at `path`, 0 when absent.
    pub fn weight_of(&self, path: &str) -> u64 {
        self.get(path).map_or(0, |n| n.weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(names: &[&str], kernel: bool) -> Vec<(Vec<u8>, u8)> {
        names
            .iter()
            .map(|n| (n.as_bytes().to_vec(), if kernel { FRAME_KERNEL } else { 0 }))
            .collect()
    }

    fn classify(rules: &Rules, names: &[&str], kernel: bool) -> Option<String> {
        let f = frames(names, kernel);
        let refs: Vec<(&[u8], u8)> = f.iter().map(|(n, k)| (&n[..], *k)).collect();
        classify_frames(&rules.phases, &refs)
    }

    #[test]
    fn builtin_rules_follow_the_domain() {
        let r = Rules::builtin();
        let pf = [
            "main",
            "asm_exc_page_fault",
            "exc_page_fault",
            "do_user_addr_fault",
            "handle_mm_fault",
        ];
        assert_eq!(classify(&r, &pf, true).as_deref(), Some("fault"));
        let alloc = [
            &pf[..],
            &["__handle_mm_fault", "__pte_alloc", "pte_alloc_one"],
        ]
        .concat();
        assert_eq!(
            classify(&r, &alloc, true).as_deref(),
            Some("fault/table-alloc")
        );
        let exit = [
            "_exit",
            "entry_SYSCALL_64_after_hwframe",
            "do_syscall_64",
            "do_exit",
            "mmput",
            "exit_mmap",
            "unmap_vmas",
            "unmap_page_range",
        ];
        assert_eq!(classify(&r, &exit, true).as_deref(), Some("exit/unmap"));
        let rcu = [
            "ksoftirqd/0",
            "handle_softirqs",
            "rcu_core",
            "tlb_remove_table_rcu",
        ];
        assert_eq!(
            classify(&r, &rcu, true).as_deref(),
            Some("exit/free-tables")
        );
        let mprotect = [
            "mprotect",
            "entry_SYSCALL_64",
            "do_syscall_64",
            "__x64_sys_mprotect",
        ];
        assert_eq!(
            classify(&r, &mprotect, true).as_deref(),
            Some("syscall/mprotect")
        );
        assert_eq!(
            classify(&r, &["main", "loop"], false).as_deref(),
            Some("user")
        );
        assert_eq!(classify(&r, &["swapper", "default_idle"], true), None);
        let sticky = ["main", "asm_exc_page_fault", "[irqs-off] page-fault entry"];
        assert_eq!(
            classify(&r, &sticky, true).as_deref(),
            Some("fault/irqs-off-entry")
        );
    }

    #[test]
    fn rules_files_extend_override_and_replace() {
        let extra = r#"{"phases": [
            {"name": "idle", "frames": ["default_idle*"]},
            {"name": "fault", "frames": ["handle_mm_fault"]}
        ]}"#;
        let r = Rules::builtin().with_overrides(extra).unwrap();
        let names: Vec<_> = r.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["idle", "exit", "fault", "syscall", "user"]);
        assert_eq!(
            classify(&r, &["swapper", "default_idle_call"], true).as_deref(),
            Some("idle")
        );
        // The overriding fault rule has no children.
        let alloc = ["main", "handle_mm_fault", "__pte_alloc"];
        assert_eq!(classify(&r, &alloc, true).as_deref(), Some("fault"));
        let only = Rules::builtin()
            .with_overrides(r#"{"replace": true, "phases": [{"name": "x", "frames": ["a"]}]}"#)
            .unwrap();
        assert_eq!(only.phases.len(), 1);
        assert!(Rules::builtin().with_overrides("{").is_err());
    }

    #[test]
    fn tree_counts_every_level() {
        let mut root = PhaseNode::default();
        root.add("fault/table-alloc", 10);
        root.add("fault", 5);
        root.add("exit/unmap", 7);
        assert_eq!(root.weight, 22);
        assert_eq!(root.weight_of("fault"), 15);
        assert_eq!(root.weight_of("fault/table-alloc"), 10);
        assert_eq!(root.get("exit/unmap").unwrap().samples, 1);
        assert_eq!(root.weight_of("syscall"), 0);
    }
}
