//! Turning a printed frame into the name a folded stack shows.
//!
//! The rules are stackcollapse-perf.pl's, as inferno implements them, so that folded
//! output is byte-compatible: strip `+0x` offsets (done by the line parser), drop
//! argument lists, fix half-demangled Rust names, name unknown frames after their DSO,
//! split Java `a->b` inline chains, and tidy Java class names.

use std::borrow::Cow;

/// Whether a DSO is the kernel: `[kernel.kallsyms]`, `[nf_conntrack_ipv4]`, `x.ko`, `vmlinux-5.4`.
pub fn is_kernel(dso: &[u8]) -> bool {
    (dso.first() == Some(&b'[') || dso.ends_with(b".ko") || is_vmlinux(dso)) && dso != b"[unknown]"
}

/// Whether a DSO is the kernel's own: `[kernel.kallsyms]`, `[guest.kernel.kallsyms]`,
/// a module or a vmlinux, and not a user mapping perf also brackets (`[heap]`, `[stack]`,
/// `[anon:…]`, `[vdso]`).
pub fn is_kernel_code(dso: &[u8]) -> bool {
    dso.starts_with(b"[kernel.")
        || dso.starts_with(b"[guest.kernel.")
        || dso.ends_with(b".ko")
        || dso.ends_with(b".ko]")
        || is_vmlinux(dso)
}

fn is_vmlinux(dso: &[u8]) -> bool {
    match rfind_short(dso, b"vmlinux") {
        Some(at) => dso[at..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_')),
        None => false,
    }
}

/// Whether a DSO is JIT code: a `/tmp/perf-PID.map` or a `jitted-*.so` from jitdump.
pub fn is_jit(dso: &[u8]) -> bool {
    (dso.starts_with(b"/tmp/perf-") && dso.ends_with(b".map"))
        || (find_short(dso, b"/jitted-").is_some() && dso.ends_with(b".so"))
}

/// Where `needle` first occurs in `hay`: for the few-byte needles and names tested once
/// per distinct frame, where setting up a substring searcher costs more than the scan.
pub fn find_short(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = needle.split_first() else {
        return Some(0);
    };
    memchr::memchr_iter(first, hay).find(|&i| hay[i + 1..].starts_with(rest))
}

/// Where `needle` last occurs in `hay`; see [`find_short`].
pub fn rfind_short(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = needle.split_first() else {
        return Some(hay.len());
    };
    memchr::memrchr_iter(first, hay).find(|&i| hay[i + 1..].starts_with(rest))
}

/// Appends to `out` the name for a frame whose symbol is `func`: unknown symbols take
/// their DSO's file name (`[libc.so.6]`), or with `addrs` their address too.
pub fn push_unknown_fallback(out: &mut Vec<u8>, func: &[u8], dso: &[u8], addr: &[u8], addrs: bool) {
    if func != b"[unknown]" {
        out.extend_from_slice(func);
        return;
    }
    let name: &[u8] = if dso == b"[unknown]" {
        if !addrs {
            out.extend_from_slice(func);
            return;
        }
        b"unknown"
    } else {
        let dso = dso.strip_suffix(b" (deleted)").unwrap_or(dso);
        &dso[memchr::memrchr(b'/', dso).map_or(0, |i| i + 1)..]
    };
    out.push(b'[');
    out.extend_from_slice(name);
    if addrs {
        out.extend_from_slice(b" <");
        out.extend_from_slice(addr);
        out.extend_from_slice(b">]");
    } else {
        out.push(b']');
    }
}

/// Tidies the name that starts at `out[start..]` in place: `;` becomes `:` (it separates
/// frames in folded stacks) and a top-level argument list is cut, except Go's
/// `pkg.(*T).M` receivers and C++ `(anonymous namespace)`.
pub fn tidy_generic(out: &mut Vec<u8>, start: usize) {
    let mut depth = 0i32;
    let mut last_dot = None;
    let mut cut = out.len();
    for i in start..out.len() {
        match out[i] {
            b';' => out[i] = b':',
            b'<' | b'{' | b'[' => depth += 1,
            b'>' | b'}' | b']' | b')' => depth -= 1,
            b'(' => {
                if depth == 0 {
                    let go_method = last_dot == Some(i);
                    let anon = out[i..].starts_with(b"(anonymous namespace)");
                    if !go_method && !anon {
                        cut = i;
                        break;
                    }
                }
                depth += 1;
            }
            b'.' => last_dot = Some(i + 1),
            _ => {}
        }
    }
    out.truncate(cut);
}

/// Drops the `L` of a Java class descriptor (`Lorg/mozilla/Foo;.call` → `org/mozilla/Foo:.call`).
pub fn tidy_java(out: &mut Vec<u8>, start: usize) {
    if out.get(start) == Some(&b'L') && memchr::memchr(b'/', &out[start..]).is_some() {
        out.remove(start);
    }
}

const RUST_HASH_LEN: usize = 17;

/// Fixes Rust symbols that a profiler demangled only halfway
/// (`_$LT$std..fs..ReadDir$GT$::next::hc14f1750ca79129b` → `<std::fs::ReadDir>::next`).
pub fn fix_rust_symbol(sym: &[u8]) -> Cow<'_, [u8]> {
    let is_hash = |s: &[u8]| s[0] == b'h' && s[1..].iter().all(u8::is_ascii_hexdigit);
    if sym.len() < RUST_HASH_LEN || !is_hash(&sym[sym.len() - RUST_HASH_LEN..]) {
        return Cow::Borrowed(sym);
    }
    let mut rest = &sym[..sym.len() - RUST_HASH_LEN];
    rest = rest.strip_suffix(b"::").unwrap_or(rest);
    if rest.starts_with(b"_$") {
        rest = &rest[1..];
    }
    const ESCAPES: [(&[u8], &[u8]); 20] = [
        (b"$SP$", b"@"),
        (b"$BP$", b"*"),
        (b"$RF$", b"&"),
        (b"$LT$", b"<"),
        (b"$GT$", b">"),
        (b"$LP$", b"("),
        (b"$RP$", b")"),
        (b"$C$", b","),
        (b"$u7e$", b"~"),
        (b"$u20$", b" "),
        (b"$u27$", b"'"),
        (b"$u3d$", b"="),
        (b"$u5b$", b"["),
        (b"$u5d$", b"]"),
        (b"$u7b$", b"{"),
        (b"$u7d$", b"}"),
        (b"$u3b$", b";"),
        (b"$u2b$", b"+"),
        (b"$u21$", b"!"),
        (b"$u22$", b"\""),
    ];
    let mut out = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        if rest[0] == b'.' {
            if rest.get(1) == Some(&b'.') {
                out.extend_from_slice(b"::");
                rest = &rest[2..];
            } else {
                out.push(b'.');
                rest = &rest[1..];
            }
        } else if rest[0] == b'$' {
            match ESCAPES.iter().find(|(pat, _)| rest.starts_with(pat)) {
                Some((pat, rep)) => {
                    out.extend_from_slice(rep);
                    rest = &rest[pat.len()..];
                }
                None => {
                    out.extend_from_slice(rest);
                    break;
                }
            }
        } else {
            let n = rest
                .iter()
                .position(|&c| c == b'$' || c == b'.')
                .unwrap_or(rest.len());
            out.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_searches_agree_with_memmem() {
        for (hay, needle) in [
            (&b"/boot/vmlinux-6.1/vmlinux"[..], &b"vmlinux"[..]),
            (b"a->b->c", b"->"),
            (b"vm", b"vmlinux"),
            (b"", b"->"),
            (b"abc", b""),
        ] {
            assert_eq!(find_short(hay, needle), memchr::memmem::find(hay, needle));
            assert_eq!(rfind_short(hay, needle), memchr::memmem::rfind(hay, needle));
        }
    }

    fn tidy(s: &str) -> String {
        let mut v = s.as_bytes().to_vec();
        tidy_generic(&mut v, 0);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn argument_lists_are_cut_but_not_go_receivers() {
        assert_eq!(
            tidy("StealTask::do_it(GCTaskManager*, unsigned int)"),
            "StealTask::do_it"
        );
        assert_eq!(tidy("net/http.(*Client).Do"), "net/http.(*Client).Do");
        assert_eq!(
            tidy("(anonymous namespace)::foo(int)"),
            "(anonymous namespace)::foo"
        );
        assert_eq!(
            tidy("std::function<void (int)>::operator()(int) const"),
            "std::function<void (int)>::operator"
        );
        assert_eq!(tidy("Ljava/lang/Object;.wait"), "Ljava/lang/Object:.wait");
    }

    #[test]
    fn kernel_and_jit_dsos() {
        assert!(is_kernel(b"[kernel.kallsyms]"));
        assert!(is_kernel(b"/lib/modules/4.3.0/build/vmlinux"));
        assert!(is_kernel(b"nf.ko"));
        assert!(!is_kernel(b"[unknown]"));
        assert!(!is_kernel(b"/usr/lib/libc.so.6"));
        assert!(is_jit(b"/tmp/perf-19982.map"));
        assert!(is_jit(b"/home/u/.debug/jit/jitted-123-4.so"));
    }

    #[test]
    fn unknown_frames_take_the_dso_name() {
        let mut v = Vec::new();
        push_unknown_fallback(&mut v, b"[unknown]", b"/usr/lib/libc.so.6", b"7f", false);
        assert_eq!(v, b"[libc.so.6]");
        v.clear();
        push_unknown_fallback(&mut v, b"[unknown]", b"[unknown]", b"7f", true);
        assert_eq!(v, b"[unknown <7f>]");
        v.clear();
        push_unknown_fallback(
            &mut v,
            b"[unknown]",
            b"/tmp/libx.so (deleted)",
            b"7f",
            false,
        );
        assert_eq!(v, b"[libx.so]");
    }

    #[test]
    fn rust_symbols() {
        assert_eq!(
            &*fix_rust_symbol(b"_$LT$std..fs..ReadDir$u20$as$u20$core..iter..traits..iterator..Iterator$GT$::next::hc14f1750ca79129b"),
            b"<std::fs::ReadDir as core::iter::traits::iterator::Iterator>::next"
        );
        assert_eq!(&*fix_rust_symbol(b"_ZN4testE"), b"_ZN4testE");
    }
}
