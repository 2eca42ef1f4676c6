//! The seccomp filter, derived from the table: a verdict per syscall number only (no argument
//! inspection), so the kernel caches it and untranslated calls cost a few nanoseconds.
//!
//! Layout: check the architecture, send x32 and foreign-architecture calls to the trap, then a
//! binary search over runs of consecutive numbers that share a verdict.

use crate::table::{self, Entry};
use crate::{AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};

pub const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
pub const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
pub const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
pub const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JGE_K: u16 = 0x35;
const BPF_JSET_K: u16 = 0x45;
const BPF_JA: u16 = 0x05;
const BPF_RET_K: u16 = 0x06;
/// Offsets in `struct seccomp_data`.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;
/// Offset of argument `i`'s low word.
const fn arg_offset(i: u32) -> u32 {
    16 + 8 * i
}
const O_PATH: u32 = 0o10000000;

/// Verdicts that depend on an open's flags (never real SECCOMP_RET_* values): an O_PATH
/// descriptor cannot be installed with SECCOMP_IOCTL_NOTIF_ADDFD (the kernel refuses them), so
/// an O_PATH open stops for ptrace instead (flags in argument 1: open; argument 2: openat).
pub const O_PATH_SPLIT_ARG1: u32 = u32::MAX;
pub const O_PATH_SPLIT_ARG2: u32 = u32::MAX - 1;

/// A classic BPF instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

/// Builds the filter. `verdict` maps a table entry (None: a number Linux doesn't assign) to
/// the SECCOMP_RET_* action; `trap` is the action for calls lxrun must see but cannot name
/// (x32, other architectures, numbers beyond the table).
pub fn build(verdict: impl Fn(Option<&Entry>) -> u32, trap: u32) -> Vec<SockFilter> {
    // Runs of numbers [lo, hi] sharing a verdict, covering 0..=u32::MAX.
    let mut runs: Vec<(u32, u32)> = Vec::new(); // (lo, action)
    for nr in 0..=table::max_nr() + 1 {
        let action = if nr > table::max_nr() {
            trap
        } else {
            verdict(table::lookup(u64::from(nr)))
        };
        if runs.last().is_none_or(|&(_, a)| a != action) {
            runs.push((nr, action));
        }
    }
    let mut prog = vec![
        stmt(BPF_LD_W_ABS, ARCH_OFFSET),
        jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, trap),
        stmt(BPF_LD_W_ABS, NR_OFFSET),
        jump(BPF_JGE_K, X32_SYSCALL_BIT as u32, 0, 1),
        stmt(BPF_RET_K, trap),
    ];
    emit(&runs, &mut prog);
    // Each split leaf jumps to a block at the end: its flags' O_PATH bit picks the verdict.
    let blocks = [(O_PATH_SPLIT_ARG1, 1), (O_PATH_SPLIT_ARG2, 2)];
    for (sentinel, arg) in blocks {
        let at = prog.len();
        let mut used = false;
        for (i, ins) in prog.iter_mut().enumerate() {
            if ins.code == BPF_RET_K && ins.k == sentinel {
                *ins = stmt(BPF_JA, (at - i - 1) as u32);
                used = true;
            }
        }
        if used {
            prog.push(stmt(BPF_LD_W_ABS, arg_offset(arg)));
            prog.push(jump(BPF_JSET_K, O_PATH, 0, 1));
            prog.push(stmt(BPF_RET_K, SECCOMP_RET_TRACE));
            prog.push(stmt(BPF_RET_K, SECCOMP_RET_USER_NOTIF));
        }
    }
    prog
}

/// Emits a search over `runs` (sorted by their first number): a node tests `nr >= mid` and
/// jumps with `ja` (32-bit offset) so subtrees of any size fit.
fn emit(runs: &[(u32, u32)], prog: &mut Vec<SockFilter>) {
    if runs.len() == 1 {
        prog.push(stmt(BPF_RET_K, runs[0].1));
        return;
    }
    let mid = runs.len() / 2;
    // if nr >= runs[mid].lo: fall into the `ja` to the right half; else skip it to the left half.
    prog.push(jump(BPF_JGE_K, runs[mid].0, 0, 1));
    let ja_at = prog.len();
    prog.push(stmt(BPF_JA, 0));
    emit(&runs[..mid], prog);
    prog[ja_at].k = (prog.len() - ja_at - 1) as u32;
    emit(&runs[mid..], prog);
}

/// The verdict of a filter program for (`arch`, `nr`): a tiny BPF interpreter, for tests and
/// for checking a generated filter against the table.
pub fn evaluate(prog: &[SockFilter], arch: u32, nr: u32) -> Option<u32> {
    evaluate_call(prog, arch, nr, &[0; 6])
}

/// The verdict for a call with arguments `args` (the words lxrun's filters read).
pub fn evaluate_call(prog: &[SockFilter], arch: u32, nr: u32, args: &[u64; 6]) -> Option<u32> {
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let ins = prog.get(pc)?;
        pc += 1;
        match ins.code {
            BPF_LD_W_ABS => {
                acc = match ins.k {
                    ARCH_OFFSET => arch,
                    NR_OFFSET => nr,
                    k => *args.iter().zip(0..).find(|(_, i)| arg_offset(*i) == k)?.0 as u32,
                }
            }
            BPF_JEQ_K => pc += usize::from(if acc == ins.k { ins.jt } else { ins.jf }),
            BPF_JGE_K => pc += usize::from(if acc >= ins.k { ins.jt } else { ins.jf }),
            BPF_JSET_K => pc += usize::from(if acc & ins.k != 0 { ins.jt } else { ins.jf }),
            BPF_JA => pc += ins.k as usize,
            BPF_RET_K => return Some(ins.k),
            _ => return None,
        }
    }
}

/// The ptrace backend's verdicts: calls that need no translation run, everything else stops for
/// the tracer. `identity`: the guest sees the host's filesystem (path calls need nothing).
pub fn ptrace_verdict(identity: bool) -> impl Fn(Option<&Entry>) -> u32 {
    move |entry| match entry {
        Some(e) if !e.traps(identity) => SECCOMP_RET_ALLOW,
        _ => SECCOMP_RET_TRACE,
    }
}

/// The seccomp backend's verdicts: calls that need no translation run; execve and the calls
/// that can only be translated by rewriting registers stop for ptrace; the rest are answered
/// through user notification, without stopping the guest for a tracer.
pub fn seccomp_verdict(identity: bool) -> impl Fn(Option<&Entry>) -> u32 {
    move |entry| match entry {
        Some(e) if !e.traps(identity) => SECCOMP_RET_ALLOW,
        e if crate::proxy::needs_ptrace(e) => SECCOMP_RET_TRACE,
        Some(e) if e.name == "open" => O_PATH_SPLIT_ARG1,
        Some(e) if e.name == "openat" => O_PATH_SPLIT_ARG2,
        _ => SECCOMP_RET_USER_NOTIF,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn filter() -> Vec<SockFilter> {
        build(ptrace_verdict(false), SECCOMP_RET_TRACE)
    }

    #[test]
    fn every_number_gets_the_tables_verdict() {
        let prog = filter();
        assert!(prog.len() < 4096, "BPF_MAXINSNS");
        for nr in 0..=table::max_nr() + 10 {
            let want = ptrace_verdict(false)(table::lookup(u64::from(nr)));
            assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, nr), Some(want), "nr {nr}");
        }
    }

    #[test]
    fn foreign_calls_trap() {
        let prog = filter();
        assert_eq!(evaluate(&prog, 0x4000_0003, 1), Some(SECCOMP_RET_TRACE), "i386");
        assert_eq!(
            evaluate(&prog, AUDIT_ARCH_X86_64, 0x4000_0001),
            Some(SECCOMP_RET_TRACE),
            "x32"
        );
        assert_eq!(
            evaluate(&prog, AUDIT_ARCH_X86_64, libc::SYS_getpid as u32),
            Some(SECCOMP_RET_ALLOW)
        );
        assert_eq!(
            evaluate(&prog, AUDIT_ARCH_X86_64, libc::SYS_execve as u32),
            Some(SECCOMP_RET_TRACE)
        );
    }

    #[test]
    fn o_path_opens_stop_for_ptrace_on_the_seccomp_backend() {
        let prog = build(seccomp_verdict(false), SECCOMP_RET_USER_NOTIF);
        let (open, openat) = (libc::SYS_open as u32, libc::SYS_openat as u32);
        let o_path = u64::from(O_PATH);
        let verdict = |nr, args: [u64; 6]| evaluate_call(&prog, AUDIT_ARCH_X86_64, nr, &args);
        assert_eq!(verdict(open, [0, o_path, 0, 0, 0, 0]), Some(SECCOMP_RET_TRACE));
        assert_eq!(verdict(open, [0, 0, 0, 0, 0, 0]), Some(SECCOMP_RET_USER_NOTIF));
        assert_eq!(
            verdict(openat, [0, 0, o_path | 0o2000000, 0, 0, 0]),
            Some(SECCOMP_RET_TRACE)
        );
        assert_eq!(verdict(openat, [0, o_path, 0, 0, 0, 0]), Some(SECCOMP_RET_USER_NOTIF));
        // With the host's own tree opens are not trapped at all.
        let identity = build(seccomp_verdict(true), SECCOMP_RET_USER_NOTIF);
        assert_eq!(
            evaluate_call(&identity, AUDIT_ARCH_X86_64, openat, &[0, 0, o_path, 0, 0, 0]),
            Some(SECCOMP_RET_ALLOW)
        );
    }

    proptest! {
        #[test]
        fn any_number_matches_the_table(nr in any::<u32>()) {
            let want = if u64::from(nr) & X32_SYSCALL_BIT != 0 { SECCOMP_RET_TRACE } else { ptrace_verdict(false)(table::lookup(u64::from(nr))) };
            prop_assert_eq!(evaluate(&filter(), AUDIT_ARCH_X86_64, nr), Some(want));
        }
    }
}
