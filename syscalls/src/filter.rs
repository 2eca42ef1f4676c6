//! The seccomp filter, derived from the table: a verdict per syscall number only (no argument
//! inspection), so the kernel caches it and untranslated calls cost a few nanoseconds.
//!
//! Layout: check the architecture, send x32 and foreign-architecture calls to the trap, then a
//! binary search over runs of consecutive numbers that share a verdict.

use crate::table::{self, Entry, Shape};
use crate::{AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use lxrun_loader::gate::GateAddrs;

pub const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
pub const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
pub const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
pub const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_LD_MEM: u16 = 0x60;
const BPF_ST: u16 = 0x02;
const BPF_AND_K: u16 = 0x54;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JGE_K: u16 = 0x35;
const BPF_JGT_K: u16 = 0x25;
const BPF_JSET_K: u16 = 0x45;
const BPF_JA: u16 = 0x05;
const BPF_RET_K: u16 = 0x06;
/// Offsets in `struct seccomp_data` (64-bit fields: low word first).
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
/// Verdicts that depend on prctl's option: the options lxrun's handler looks at
/// (`handlers::ids::PRCTL_OPTIONS_SEEN`) stop for user notification or ptrace, every other
/// (PR_SET_NAME, PR_SET_MM: the loader stub makes them at each exec) runs.
pub const PRCTL_SPLIT_NOTIF: u32 = u32::MAX - 8;
pub const PRCTL_SPLIT_TRACE: u32 = u32::MAX - 9;
const PR_SET_SECCOMP: u32 = 22;
const IP_OFFSET: u32 = 8;
const ARGS_OFFSET: u32 = 16;

/// Turns every leaf of `prog` that returns `sentinel` into a jump to the end of `prog`, where
/// the caller appends the block that decides; whether there was any.
fn leaves_to_end(prog: &mut [SockFilter], sentinel: u32) -> bool {
    let at = prog.len();
    let mut used = false;
    for (i, ins) in prog.iter_mut().enumerate() {
        if ins.code == BPF_RET_K && ins.k == sentinel {
            *ins = stmt(BPF_JA, (at - i - 1) as u32);
            used = true;
        }
    }
    used
}

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
    build_with(verdict, trap, None, false, false)
}

/// Builds the filter, with the in-process fast path (`lxrun_loader::abi::fast`) when `gate`
/// says where the stub's gate is: the calls its SIGSYS handler serves trap into the guest,
/// except from the stub, whose calls get `verdict`'s action; `openat2` from the gate runs
/// only with an `open_how` of the gate's own table.
pub fn build_with(
    verdict: impl Fn(Option<&Entry>) -> u32,
    trap: u32,
    gate: Option<&GateAddrs>,
    systrap: bool,
    fake: bool,
) -> Vec<SockFilter> {
    // Leaves that jump to the fast path's blocks (never real SECCOMP_RET_* values).
    const TO_PATH_BLOCK: u32 = u32::MAX - 2;
    const TO_SIGNAL_BLOCK: u32 = u32::MAX - 3;
    const TO_EXEC_BLOCK: u32 = u32::MAX - 4;
    const TO_THREAD_BLOCK: u32 = u32::MAX - 5;
    const TO_ROOT_FD_BLOCK: u32 = u32::MAX - 6;
    const TO_STUB_OWN_BLOCK: u32 = u32::MAX - 7;
    // Past PRCTL_SPLIT_NOTIF and PRCTL_SPLIT_TRACE, which are resolved first.
    const TO_PRCTL_BLOCK: u32 = u32::MAX - 10;
    let action_of = |nr: u32| {
        let entry = table::lookup(u64::from(nr));
        let name = entry.map(|e| e.name).unwrap_or_default();
        match gate {
            Some(_) if systrap && SYSTRAP_CALLS.contains(&name) => TO_EXEC_BLOCK,
            Some(_) if systrap && THREAD_CALLS.contains(&name) => TO_THREAD_BLOCK,
            // The stub adds a filter of its own (`watch_proc_dir`): that one is not the guest's.
            Some(_) if systrap && name == "seccomp" && verdict(entry) != SECCOMP_RET_ALLOW => TO_STUB_OWN_BLOCK,
            Some(_) if systrap && name == "prctl" && verdict(entry) != SECCOMP_RET_ALLOW => TO_PRCTL_BLOCK,
            Some(_) if systrap && ROOT_FD_CALLS.contains(&name) && verdict(entry) == SECCOMP_RET_ALLOW => {
                TO_ROOT_FD_BLOCK
            }
            // Only where lxrun would translate them: on the host's own tree they run natively.
            Some(_)
                if (FAST_PATH_CALLS.contains(&name) || name == "openat2")
                    && !(fake && OWNER_CALLS.contains(&name))
                    && verdict(entry) != SECCOMP_RET_ALLOW =>
            {
                TO_PATH_BLOCK
            }
            Some(_) if FAST_SIGNAL_CALLS.contains(&name) => TO_SIGNAL_BLOCK,
            _ => verdict(entry),
        }
    };
    // Runs of numbers [lo, hi] sharing a verdict, covering 0..=u32::MAX.
    let mut runs: Vec<(u32, u32)> = Vec::new(); // (lo, action)
    for nr in 0..=table::max_nr() + 1 {
        let action = if nr > table::max_nr() { trap } else { action_of(nr) };
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
        if leaves_to_end(&mut prog, sentinel) {
            prog.push(stmt(BPF_LD_W_ABS, arg_offset(arg)));
            prog.push(jump(BPF_JSET_K, O_PATH, 0, 1));
            prog.push(stmt(BPF_RET_K, SECCOMP_RET_TRACE));
            prog.push(stmt(BPF_RET_K, SECCOMP_RET_USER_NOTIF));
        }
    }
    for (sentinel, stop) in [
        (PRCTL_SPLIT_NOTIF, SECCOMP_RET_USER_NOTIF),
        (PRCTL_SPLIT_TRACE, SECCOMP_RET_TRACE),
    ] {
        if leaves_to_end(&mut prog, sentinel) {
            // The option's low word only: the kernel takes it as an int.
            let seen = crate::handlers::ids::PRCTL_OPTIONS_SEEN;
            prog.push(stmt(BPF_LD_W_ABS, arg_offset(0)));
            // PR_SET_SECCOMP stops for ptrace: its strict mode becomes the guest's own call
            // adding a filter, a rewrite user notification cannot make.
            prog.push(jump(BPF_JEQ_K, PR_SET_SECCOMP, seen.len() as u8 + 2, 0));
            for (i, &option) in seen.iter().enumerate() {
                prog.push(jump(BPF_JEQ_K, option as u32, (seen.len() - i) as u8, 0));
            }
            prog.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
            prog.push(stmt(BPF_RET_K, stop));
            prog.push(stmt(BPF_RET_K, SECCOMP_RET_TRACE));
        }
    }
    let Some(gate) = gate else {
        return prog;
    };
    let lookup = |name: &str| table::number_of(name).unwrap_or(u64::MAX) as u32;
    let notify = SECCOMP_RET_USER_NOTIF;
    let (path, signals) = (
        path_block(
            gate,
            notify,
            [
                lookup("openat2"),
                lookup("readlinkat"),
                lookup("faccessat2"),
                lookup("statx"),
            ],
        ),
        signal_block(gate, lookup("rt_sigprocmask")),
    );
    let exec = exec_block(gate, notify, lookup("execveat"));
    let threads = thread_block(gate, lookup("clone"));
    let root_fd = root_fd_block(
        gate,
        crate::handlers::exec::root_fd_number() as u32,
        [lookup("dup2"), lookup("dup3"), lookup("close_range")],
    );
    let path_at = prog.len();
    let signals_at = path_at + path.len();
    let exec_at = signals_at + signals.len();
    let threads_at = exec_at + exec.len();
    let stub_own = stub_own_block(gate, notify);
    let root_fd_at = threads_at + threads.len();
    let stub_own_at = root_fd_at + root_fd.len();
    let prctl = prctl_block(notify);
    let prctl_at = stub_own_at + stub_own.len();
    let leaves = [
        TO_PATH_BLOCK,
        TO_SIGNAL_BLOCK,
        TO_EXEC_BLOCK,
        TO_THREAD_BLOCK,
        TO_ROOT_FD_BLOCK,
        TO_STUB_OWN_BLOCK,
        TO_PRCTL_BLOCK,
    ];
    for (i, ins) in prog.iter_mut().enumerate() {
        if ins.code == BPF_RET_K && leaves.contains(&ins.k) {
            let target = match ins.k {
                TO_PATH_BLOCK => path_at,
                TO_SIGNAL_BLOCK => signals_at,
                TO_EXEC_BLOCK => exec_at,
                TO_THREAD_BLOCK => threads_at,
                TO_ROOT_FD_BLOCK => root_fd_at,
                TO_STUB_OWN_BLOCK => stub_own_at,
                _ => prctl_at,
            };
            *ins = stmt(BPF_JA, (target - i - 1) as u32);
        }
    }
    prog.extend(path);
    prog.extend(signals);
    prog.extend(exec);
    prog.extend(threads);
    prog.extend(root_fd);
    prog.extend(stub_own);
    prog.extend(prctl);
    prog
}

/// The ptrace modes' stand-in for a guest's strict mode: read, write, exit and rt_sigreturn
/// run; anything else (another architecture, x32 included) raises a SIGSYS with
/// `fast::STRICT_DATA`, which the tracer answers by killing the process with SIGKILL, as the
/// kernel's strict mode kills. (Systrap mode's is the stub's, which kills from its handler.)
pub fn strict_mode() -> Vec<SockFilter> {
    let kill = SECCOMP_RET_TRAP | lxrun_loader::abi::fast::STRICT_DATA;
    let allowed = ["read", "write", "exit", "rt_sigreturn"].map(|n| table::number_of(n).unwrap_or(u64::MAX) as u32);
    let mut prog = vec![
        stmt(BPF_LD_W_ABS, ARCH_OFFSET),
        jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, kill),
        stmt(BPF_LD_W_ABS, NR_OFFSET),
    ];
    for (i, nr) in allowed.iter().enumerate() {
        // To the allow after the kill: past the compares left and the kill.
        prog.push(jump(BPF_JEQ_K, *nr, (allowed.len() - i) as u8, 0));
    }
    prog.push(stmt(BPF_RET_K, kill));
    prog.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    prog
}

/// Systrap mode (no ptrace): the calls the stub's handler carries out with lxrun's help.
pub const SYSTRAP_CALLS: [&str; 4] = ["execve", "execveat", "chdir", "open_tree"];

/// execve, execveat, chdir, open_tree in systrap mode (the number is in the accumulator): trapped into the
/// guest's handler; from the gate, only execveat of a descriptor with the sealed empty path
/// and AT_EMPTY_PATH runs (the loader stub lxrun put there); the stub's others go to lxrun.
fn exec_block(gate: &GateAddrs, notify: u32, execveat: u32) -> Vec<SockFilter> {
    let mut b = Block::new();
    let (allow, notif, trap, outside, in_stub) = (b.label(), b.label(), b.label(), b.label(), b.label());
    // execveat(fd, <the sealed empty path>, ..., AT_EMPTY_PATH) runs from anywhere: the
    // launch child (lxrun's code) execs the first stub so; a guest gains nothing by it that
    // the gate would not give it (it can exec only a file it holds open).
    let _ = in_stub;
    b.op(BPF_ST, 0);
    b.jump(BPF_JEQ_K, execveat, L::Next, L::At(outside));
    b.expect64(ARGS_OFFSET + 8, gate.how, L::At(outside));
    b.expect64(ARGS_OFFSET + 4 * 8, 0x1000, L::At(outside));
    b.ret(allow, SECCOMP_RET_ALLOW);
    b.here(outside);
    b.branch_on_stub(gate, L::At(notif), L::At(trap));
    b.ret(notif, notify);
    b.ret(trap, FAST_PATH_TRAP);
    b.assemble()
}

/// Systrap mode: the calls by which a thread starts, ends, or sets its alternate signal stack,
/// which the stub's handler makes so that every thread has an alternate stack of lxrun's to
/// take SIGSYS on (clone only when the kernel would start the thread without one: CLONE_VM
/// without CLONE_VFORK; clone3 always, its flags being in memory, also to give the handler
/// back to a child whose handlers CLONE_CLEAR_SIGHAND clears). All run untouched from the
/// stub (the table passes them).
pub const THREAD_CALLS: [&str; 4] = ["clone", "clone3", "exit", "sigaltstack"];
const CLONE_VM: u32 = 0x100;
const CLONE_VFORK: u32 = 0x4000;

/// clone, clone3, exit and sigaltstack in systrap mode (the number is in the accumulator):
/// trapped into the guest's handler, except from the stub and except a clone the kernel gives
/// the parent's alternate stack (a new process's copy, or a vfork child's share), which run.
fn thread_block(gate: &GateAddrs, clone: u32) -> Vec<SockFilter> {
    let mut b = Block::new();
    let (allow, trap, outside) = (b.label(), b.label(), b.label());
    b.op(BPF_ST, 0);
    b.branch_on_stub(gate, L::At(allow), L::At(outside));
    b.here(outside);
    b.op(BPF_LD_MEM, 0);
    b.jump(BPF_JEQ_K, clone, L::Next, L::At(trap));
    // clone(flags, ...): the flags are a 64-bit argument whose upper half the kernel ignores.
    b.op(BPF_LD_W_ABS, ARGS_OFFSET);
    b.jump(BPF_JSET_K, CLONE_VM, L::Next, L::At(allow));
    b.jump(BPF_JSET_K, CLONE_VFORK, L::At(allow), L::At(trap));
    b.ret(allow, SECCOMP_RET_ALLOW);
    b.ret(trap, FAST_PATH_TRAP);
    b.assemble()
}

/// seccomp, which the stub calls for itself (the number is in the accumulator): from the stub it
/// runs; the guest's SECCOMP_SET_MODE_STRICT traps into its handler, which stands for strict
/// mode with a filter (`op` is an `unsigned int`); its other calls are notified to lxrun.
fn stub_own_block(gate: &GateAddrs, notify: u32) -> Vec<SockFilter> {
    const SECCOMP_SET_MODE_STRICT: u32 = 0;
    let mut b = Block::new();
    let (allow, notif, outside, trap) = (b.label(), b.label(), b.label(), b.label());
    b.branch_on_stub(gate, L::At(allow), L::At(outside));
    b.here(outside);
    b.op(BPF_LD_W_ABS, ARGS_OFFSET);
    b.jump(BPF_JEQ_K, SECCOMP_SET_MODE_STRICT, L::At(trap), L::At(notif));
    b.ret(allow, SECCOMP_RET_ALLOW);
    b.ret(notif, notify);
    b.ret(trap, FAST_PATH_TRAP);
    b.assemble()
}

/// prctl in systrap mode (the number is in the accumulator): PR_SET_SECCOMP with
/// SECCOMP_MODE_STRICT traps into the handler (as seccomp's strict mode); the other options
/// lxrun looks at are notified to it, the rest run (the prctl split). `option` is an `int`,
/// the mode an `unsigned long`.
fn prctl_block(notify: u32) -> Vec<SockFilter> {
    const SECCOMP_MODE_STRICT: u64 = 1;
    let mut b = Block::new();
    let (notif, seccomp) = (b.label(), b.label());
    b.op(BPF_LD_W_ABS, ARGS_OFFSET);
    b.jump(BPF_JEQ_K, PR_SET_SECCOMP, L::At(seccomp), L::Next);
    for option in crate::handlers::ids::PRCTL_OPTIONS_SEEN {
        b.jump(BPF_JEQ_K, option as u32, L::At(notif), L::Next);
    }
    b.op(BPF_RET_K, SECCOMP_RET_ALLOW);
    b.here(seccomp);
    b.expect64(ARGS_OFFSET + 8, SECCOMP_MODE_STRICT, L::At(notif));
    b.op(BPF_RET_K, FAST_PATH_TRAP);
    b.ret(notif, notify);
    b.assemble()
}

/// Systrap mode: the calls that could close, replace or copy the guest root's directory lxrun
/// keeps in each process, which the stub's handler answers as if nothing were there.
pub const ROOT_FD_CALLS: [&str; 4] = ["close", "dup2", "dup3", "close_range"];

/// close, dup2, dup3 and close_range in systrap mode (the number is in the accumulator):
/// trapped into the guest's handler when they name descriptor `root` (close's, or either of a
/// dup's; a range holding it), except from the stub; all others run. Descriptors are
/// `unsigned int`s: the upper halves of the arguments do not count.
fn root_fd_block(gate: &GateAddrs, root: u32, [dup2, dup3, close_range]: [u32; 3]) -> Vec<SockFilter> {
    let mut b = Block::new();
    let (allow, trap, outside, dup, range, second) = (b.label(), b.label(), b.label(), b.label(), b.label(), b.label());
    b.op(BPF_ST, 0);
    b.branch_on_stub(gate, L::At(allow), L::At(outside));
    b.here(outside);
    b.op(BPF_LD_MEM, 0);
    b.jump(BPF_JEQ_K, dup2, L::At(dup), L::Next);
    b.jump(BPF_JEQ_K, dup3, L::At(dup), L::Next);
    b.jump(BPF_JEQ_K, close_range, L::At(range), L::Next);
    // close(fd)
    b.op(BPF_LD_W_ABS, ARGS_OFFSET);
    b.jump(BPF_JEQ_K, root, L::At(trap), L::At(allow));
    b.here(dup);
    b.op(BPF_LD_W_ABS, ARGS_OFFSET);
    b.jump(BPF_JEQ_K, root, L::At(trap), L::At(second));
    b.here(second);
    b.op(BPF_LD_W_ABS, ARGS_OFFSET + 8);
    b.jump(BPF_JEQ_K, root, L::At(trap), L::At(allow));
    // close_range(first, last, flags): first <= root <= last.
    b.here(range);
    b.op(BPF_LD_W_ABS, ARGS_OFFSET);
    b.jump(BPF_JGT_K, root, L::At(allow), L::Next);
    b.op(BPF_LD_W_ABS, ARGS_OFFSET + 8);
    b.jump(BPF_JGE_K, root, L::At(trap), L::At(allow));
    b.ret(allow, SECCOMP_RET_ALLOW);
    b.ret(trap, FAST_PATH_TRAP);
    b.assemble()
}

/// The path calls the stub's SIGSYS handler tries to answer itself.
pub const FAST_PATH_CALLS: [&str; 13] = [
    "open",
    "stat",
    "lstat",
    "openat",
    "newfstatat",
    "statx",
    "listxattr",
    "llistxattr",
    "readlink",
    "readlinkat",
    "access",
    "faccessat",
    "faccessat2",
];
/// Those of them that show a file's owner or check permissions: a fake root's owners and ids
/// are lxrun's, so its calls go to lxrun.
/// (Opens stay with the handler, which leaves all but O_PATH ones to lxrun for a fake root:
/// `FLAG_PATH_OPENS_ONLY`.)
pub const OWNER_CALLS: [&str; 9] = [
    "stat",
    "lstat",
    "newfstatat",
    "statx",
    "access",
    "faccessat",
    "faccessat2",
    "listxattr",
    "llistxattr",
];
/// The signal calls it filters so that SIGSYS stays deliverable.
pub const FAST_SIGNAL_CALLS: [&str; 2] = ["rt_sigaction", "rt_sigprocmask"];
/// SIGSYS, and rt_sigprocmask's SIG_UNBLOCK.
const SIGSYS: u32 = 31;
const SIG_UNBLOCK: u32 = 1;

/// The fast path's trap: SIGSYS, with `si_errno` telling the handler it is the filter's.
pub const FAST_PATH_TRAP: u32 = SECCOMP_RET_TRAP | lxrun_loader::abi::fast::TRAP_DATA;

/// A jump target inside a block.
#[derive(Clone, Copy, PartialEq, Eq)]
enum L {
    Next,
    At(usize),
}

/// A small straight-line program with forward jumps to labels, resolved by `assemble`.
struct Block {
    code: Vec<(SockFilter, L, L)>,
    labels: Vec<Option<usize>>,
}

impl Block {
    fn new() -> Block {
        Block {
            code: Vec::new(),
            labels: Vec::new(),
        }
    }
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn here(&mut self, l: usize) {
        self.labels[l] = Some(self.code.len());
    }
    fn op(&mut self, code: u16, k: u32) {
        self.code.push((stmt(code, k), L::Next, L::Next));
    }
    fn jump(&mut self, code: u16, k: u32, jt: L, jf: L) {
        self.code.push((jump(code, k, 0, 0), jt, jf));
    }
    fn ret(&mut self, l: usize, action: u32) {
        self.here(l);
        self.op(BPF_RET_K, action);
    }
    fn assemble(self) -> Vec<SockFilter> {
        let offset = |from: usize, to: L| match to {
            L::Next => 0,
            L::At(l) => self.labels[l].map_or(0, |at| at - from - 1) as u8,
        };
        self.code
            .iter()
            .enumerate()
            .map(|(i, (ins, jt, jf))| SockFilter {
                jt: offset(i, *jt),
                jf: offset(i, *jf),
                ..*ins
            })
            .collect()
    }

    /// Goes on if the 64-bit field at `offset` equals `v`, else to `no`.
    fn expect64(&mut self, offset: u32, v: u64, no: L) {
        self.op(BPF_LD_W_ABS, offset + 4);
        self.jump(BPF_JEQ_K, (v >> 32) as u32, L::Next, no);
        self.op(BPF_LD_W_ABS, offset);
        self.jump(BPF_JEQ_K, v as u32, L::Next, no);
    }

    /// Goes to `inside` if the instruction pointer lies in the stub, else to `outside`.
    fn branch_on_stub(&mut self, gate: &GateAddrs, inside: L, outside: L) {
        self.op(BPF_LD_W_ABS, IP_OFFSET + 4);
        self.jump(BPF_JEQ_K, (gate.start >> 32) as u32, L::Next, outside);
        self.op(BPF_LD_W_ABS, IP_OFFSET);
        self.jump(BPF_JGE_K, gate.start as u32, L::Next, outside);
        self.jump(BPF_JGE_K, gate.end as u32, outside, inside);
    }
}

/// Whether the filter can check the gate's addresses with 32-bit compares: the stub, the gate
/// and its table share their upper address word.
pub fn gate_fits(gate: &GateAddrs) -> bool {
    let hi = gate.start >> 32;
    [gate.end - 1, gate.ip, gate.how, gate.how + gate.how_len - 1]
        .iter()
        .all(|a| a >> 32 == hi)
        && gate.start < gate.end
}

/// The fast path's path calls (the number is in the accumulator): from outside the stub they
/// trap (openat2 too: the handler sends its O_PATH opens, which user notification cannot
/// answer, to lxrun another way); from the stub they get `notify`; from the gate, openat2
/// with one of the table's `open_how`s runs.
///
/// readlinkat, faccessat2 and statx of the sealed empty path run from anywhere:
/// they act on a descriptor the caller holds (the handler's, opened through the gate), as
/// fstat would.
fn path_block(gate: &GateAddrs, notify: u32, [openat2, readlinkat, faccessat2, statx]: [u32; 4]) -> Vec<SockFilter> {
    let mut b = Block::new();
    let (allow, notif, trap, outside, in_stub) = (b.label(), b.label(), b.label(), b.label(), b.label());
    let (on_fd, allow_on_fd, start) = (b.label(), b.label(), b.label());
    b.op(BPF_ST, 0);
    b.jump(BPF_JEQ_K, readlinkat, L::At(on_fd), L::Next);
    b.jump(BPF_JEQ_K, statx, L::At(on_fd), L::Next);
    b.jump(BPF_JEQ_K, faccessat2, L::At(on_fd), L::At(start));
    b.here(on_fd);
    b.expect64(ARGS_OFFSET + 8, gate.how, L::At(start));
    b.ret(allow_on_fd, SECCOMP_RET_ALLOW);
    b.here(start);
    b.branch_on_stub(gate, L::At(in_stub), L::At(outside));
    b.here(in_stub);
    b.op(BPF_LD_W_ABS, IP_OFFSET);
    b.jump(BPF_JEQ_K, gate.ip as u32, L::Next, L::At(notif));
    b.op(BPF_LD_MEM, 0);
    b.jump(BPF_JEQ_K, openat2, L::Next, L::At(notif));
    // open_how: an entry of the table (bounds and 32-byte alignment), of its size.
    let how = ARGS_OFFSET + 2 * 8;
    b.op(BPF_LD_W_ABS, how + 4);
    b.jump(BPF_JEQ_K, (gate.how >> 32) as u32, L::Next, L::At(notif));
    b.op(BPF_LD_W_ABS, how);
    b.jump(BPF_JGE_K, gate.how as u32, L::Next, L::At(notif));
    b.jump(BPF_JGE_K, (gate.how + gate.how_len) as u32, L::At(notif), L::Next);
    b.op(BPF_AND_K, (lxrun_loader::abi::fast::STRIDE - 1) as u32);
    b.jump(BPF_JEQ_K, 0, L::Next, L::At(notif));
    b.expect64(ARGS_OFFSET + 3 * 8, 24, L::At(notif));
    b.ret(allow, SECCOMP_RET_ALLOW);
    b.ret(notif, notify);
    b.here(outside);
    b.ret(trap, FAST_PATH_TRAP);
    b.assemble()
}

/// rt_sigaction and rt_sigprocmask (the number is in the accumulator): the stub's run; the
/// guest's trap when they could block SIGSYS or touch its disposition.
fn signal_block(gate: &GateAddrs, sigprocmask: u32) -> Vec<SockFilter> {
    let mut b = Block::new();
    let (allow, trap, outside, mask, tail) = (b.label(), b.label(), b.label(), b.label(), b.label());
    b.op(BPF_ST, 0);
    b.branch_on_stub(gate, L::At(allow), L::At(outside));
    b.here(outside);
    b.op(BPF_LD_MEM, 0);
    b.jump(BPF_JEQ_K, sigprocmask, L::At(mask), L::Next);
    // rt_sigaction(sig, act, ...): SIGSYS's is virtual; a new action may mask SIGSYS.
    b.op(BPF_LD_W_ABS, ARGS_OFFSET);
    b.jump(BPF_JEQ_K, SIGSYS, L::At(trap), L::At(tail));
    // rt_sigprocmask(how, set, ...): only SIG_UNBLOCK or a NULL set cannot block SIGSYS.
    b.here(mask);
    b.op(BPF_LD_W_ABS, ARGS_OFFSET);
    b.jump(BPF_JEQ_K, SIG_UNBLOCK, L::At(allow), L::Next);
    b.here(tail);
    b.expect64(ARGS_OFFSET + 8, 0, L::At(trap));
    b.ret(allow, SECCOMP_RET_ALLOW);
    b.ret(trap, FAST_PATH_TRAP);
    b.assemble()
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
    evaluate_call(
        prog,
        &SeccompData {
            nr,
            arch,
            ip: 0,
            args: [0; 6],
        },
    )
}

/// What a filter sees of a call (`struct seccomp_data`).
#[derive(Clone, Copy, Debug)]
pub struct SeccompData {
    pub nr: u32,
    pub arch: u32,
    pub ip: u64,
    pub args: [u64; 6],
}

/// The verdict of a filter program for one call (the instructions lxrun's filters use).
pub fn evaluate_call(prog: &[SockFilter], data: &SeccompData) -> Option<u32> {
    let word = |off: u32| -> Option<u32> {
        let field = |v: u64, at: u32| Some(if off == at { v as u32 } else { (v >> 32) as u32 });
        match off {
            NR_OFFSET => Some(data.nr),
            ARCH_OFFSET => Some(data.arch),
            IP_OFFSET | 12 => field(data.ip, IP_OFFSET),
            o if (ARGS_OFFSET..ARGS_OFFSET + 48).contains(&o) && o % 4 == 0 => {
                let i = ((o - ARGS_OFFSET) / 8) as usize;
                field(data.args[i], ARGS_OFFSET + 8 * i as u32)
            }
            _ => None,
        }
    };
    let (mut pc, mut acc, mut mem) = (0usize, 0u32, [0u32; 16]);
    loop {
        let ins = prog.get(pc)?;
        pc += 1;
        match ins.code {
            BPF_LD_W_ABS => acc = word(ins.k)?,
            BPF_LD_MEM => acc = *mem.get(ins.k as usize)?,
            BPF_ST => *mem.get_mut(ins.k as usize)? = acc,
            BPF_AND_K => acc &= ins.k,
            BPF_JEQ_K => pc += usize::from(if acc == ins.k { ins.jt } else { ins.jf }),
            BPF_JGE_K => pc += usize::from(if acc >= ins.k { ins.jt } else { ins.jf }),
            BPF_JGT_K => pc += usize::from(if acc > ins.k { ins.jt } else { ins.jf }),
            BPF_JSET_K => pc += usize::from(if acc & ins.k != 0 { ins.jt } else { ins.jf }),
            BPF_JA => pc += ins.k as usize,
            BPF_RET_K => return Some(ins.k),
            _ => return None,
        }
    }
}

/// `prog` (from [`build`]) with one private call, SYS_LXRUN_TAKE_FD, sent to user
/// notification: the ptrace backend's way to hand the guest a descriptor lxrun opened. Checked
/// right after the call's number is loaded, before any jump of `prog` that could cross it.
pub fn with_handoff(prog: Vec<SockFilter>) -> Vec<SockFilter> {
    with_private(prog, lxrun_loader::abi::SYS_LXRUN_TAKE_FD, SECCOMP_RET_USER_NOTIF)
}

/// `prog` (from [`build`]) with the stub's SYS_LXRUN_ENTRY stopping for ptrace: the ptrace
/// modes report a traced guest's exec at the program's entry from that stop (in
/// seccomp-ptrace mode unknown numbers are notified, and a notification has no registers).
pub fn with_entry_stop(prog: Vec<SockFilter>) -> Vec<SockFilter> {
    with_private(prog, lxrun_loader::abi::SYS_LXRUN_ENTRY, SECCOMP_RET_TRACE)
}

/// `prog` with the private call `nr` given `action`, checked right after the call's number is
/// loaded, before any jump of `prog` that could cross it.
fn with_private(mut prog: Vec<SockFilter>, nr: u64, action: u32) -> Vec<SockFilter> {
    // [0] load arch, [1] x86_64?, [2] trap, [3] load nr: every later jump is relative and
    // forward from here on.
    let at = 4;
    debug_assert!(prog
        .get(at - 1)
        .is_some_and(|i| i.code == BPF_LD_W_ABS && i.k == NR_OFFSET));
    prog.splice(at..at, [jump(BPF_JEQ_K, nr as u32, 0, 1), stmt(BPF_RET_K, action)]);
    prog
}

/// The calls a guest tracer makes that the ptrace modes emulate (lxrun is the kernel's tracer
/// of every guest task, so the guest's ptrace cannot reach the kernel): ptrace itself, and the
/// waits that collect a tracee's stops.
pub const GUEST_TRACING_CALLS: [&str; 3] = ["ptrace", "wait4", "waitid"];

/// `verdict` with [`GUEST_TRACING_CALLS`] stopping for ptrace: only a tracer sees the
/// registers and the stops these need.
pub fn tracing_guests(verdict: impl Fn(Option<&Entry>) -> u32) -> impl Fn(Option<&Entry>) -> u32 {
    move |entry| match entry {
        Some(e) if GUEST_TRACING_CALLS.contains(&e.name) => SECCOMP_RET_TRACE,
        e => verdict(e),
    }
}

/// The ptrace backend's verdicts: calls that need no translation run, everything else stops for
/// the tracer, in a guest filesystem of `shape`.
pub fn ptrace_verdict(shape: Shape) -> impl Fn(Option<&Entry>) -> u32 {
    move |entry| match entry {
        Some(e) if !e.traps(shape) => SECCOMP_RET_ALLOW,
        Some(e) if e.name == "prctl" => PRCTL_SPLIT_TRACE,
        _ => SECCOMP_RET_TRACE,
    }
}

/// The seccomp backend's verdicts: calls that need no translation run; execve and the calls
/// that can only be translated by rewriting registers stop for ptrace; the rest are answered
/// through user notification, without stopping the guest for a tracer.
pub fn seccomp_verdict(shape: Shape) -> impl Fn(Option<&Entry>) -> u32 {
    move |entry| match entry {
        Some(e) if !e.traps(shape) => SECCOMP_RET_ALLOW,
        e if crate::proxy::needs_ptrace(e) => SECCOMP_RET_TRACE,
        Some(e) if e.name == "open" => O_PATH_SPLIT_ARG1,
        Some(e) if e.name == "openat" => O_PATH_SPLIT_ARG2,
        Some(e) if e.name == "prctl" => PRCTL_SPLIT_NOTIF,
        _ => SECCOMP_RET_USER_NOTIF,
    }
}

#[cfg(test)]
mod strict_tests {
    use super::*;

    #[test]
    fn strict_mode_lets_four_calls_run() {
        let prog = strict_mode();
        let kill = SECCOMP_RET_TRAP | lxrun_loader::abi::fast::STRICT_DATA;
        for nr in 0..=table::max_nr() + 1 {
            let name = table::name_of(u64::from(nr));
            let want = if matches!(name.as_str(), "read" | "write" | "exit" | "rt_sigreturn") {
                SECCOMP_RET_ALLOW
            } else {
                kill
            };
            assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, nr), Some(want), "{name}");
        }
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT as u32), Some(kill));
        assert_eq!(evaluate(&prog, 0x4000_0003, 3), Some(kill));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn guest_tracing_calls_and_the_entry_call_stop_for_ptrace() {
        let prog = with_entry_stop(build(
            tracing_guests(seccomp_verdict(Shape::HOST)),
            SECCOMP_RET_USER_NOTIF,
        ));
        for name in GUEST_TRACING_CALLS {
            let nr = table::number_of(name).unwrap() as u32;
            assert_eq!(
                evaluate(&prog, AUDIT_ARCH_X86_64, nr),
                Some(SECCOMP_RET_TRACE),
                "{name}"
            );
        }
        let entry = lxrun_loader::abi::SYS_LXRUN_ENTRY as u32;
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, entry), Some(SECCOMP_RET_TRACE));
        let plain = build(seccomp_verdict(Shape::HOST), SECCOMP_RET_USER_NOTIF);
        assert_eq!(
            evaluate(&plain, AUDIT_ARCH_X86_64, 61),
            Some(SECCOMP_RET_ALLOW),
            "wait4 elsewhere"
        );
    }

    #[test]
    fn the_handoff_call_alone_is_notified() {
        let plain = build(ptrace_verdict(Shape::FOREIGN), SECCOMP_RET_TRACE);
        let prog = with_handoff(plain.clone());
        let take_fd = lxrun_loader::abi::SYS_LXRUN_TAKE_FD;
        assert_eq!(
            evaluate(&prog, AUDIT_ARCH_X86_64, take_fd as u32),
            Some(SECCOMP_RET_USER_NOTIF)
        );
        for nr in (0..=table::max_nr() + 2).chain([0x4c58, 0x4c5b, 0x4c5d, X32_SYSCALL_BIT as u32]) {
            assert_eq!(
                evaluate(&prog, AUDIT_ARCH_X86_64, nr),
                evaluate(&plain, AUDIT_ARCH_X86_64, nr),
                "{nr}"
            );
        }
        assert_eq!(
            evaluate(&prog, 0x4000_0003, take_fd as u32),
            Some(SECCOMP_RET_TRACE),
            "i386"
        );
    }

    use super::*;
    use proptest::prelude::*;

    fn filter() -> Vec<SockFilter> {
        build(ptrace_verdict(Shape::FOREIGN), SECCOMP_RET_TRACE)
    }

    #[test]
    fn every_number_gets_the_tables_verdict() {
        let prog = filter();
        assert!(prog.len() < 4096, "BPF_MAXINSNS");
        for nr in 0..=table::max_nr() + 10 {
            let want = ptrace_verdict(Shape::FOREIGN)(table::lookup(u64::from(nr)));
            if want == PRCTL_SPLIT_TRACE {
                continue; // prctl_stops_only_for_the_options_lxrun_looks_at
            }
            assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, nr), Some(want), "nr {nr}");
        }
    }

    #[test]
    fn prctl_stops_only_for_the_options_lxrun_looks_at() {
        const PR_SET_NAME: u64 = 15;
        const PR_SET_MM: u64 = 35;
        const PR_SET_NO_NEW_PRIVS: u64 = 38;
        let prctl = table::number_of("prctl").unwrap() as u32;
        let call = |option: u64| SeccompData {
            nr: prctl,
            arch: AUDIT_ARCH_X86_64,
            ip: 0,
            args: [option, 0, 0, 0, 0, 0],
        };
        let programs = [
            (
                build(ptrace_verdict(Shape::FOREIGN), SECCOMP_RET_TRACE),
                SECCOMP_RET_TRACE,
            ),
            (
                build(seccomp_verdict(Shape::HOST), SECCOMP_RET_USER_NOTIF),
                SECCOMP_RET_USER_NOTIF,
            ),
        ];
        for (prog, stop) in &programs {
            for option in crate::handlers::ids::PRCTL_OPTIONS_SEEN {
                // PR_SET_SECCOMP is ptrace's in every mode (strict mode is a rewrite).
                let want = if option == u64::from(PR_SET_SECCOMP) {
                    SECCOMP_RET_TRACE
                } else {
                    *stop
                };
                assert_eq!(evaluate_call(prog, &call(option)), Some(want), "option {option}");
            }
            // The kernel reads an int: the high half cannot hide an option from lxrun.
            let hidden = (1 << 32) | PR_SET_NO_NEW_PRIVS;
            assert_eq!(evaluate_call(prog, &call(hidden)), Some(*stop));
            for option in [PR_SET_NAME, PR_SET_MM, 0, u64::from(u32::MAX)] {
                assert_eq!(
                    evaluate_call(prog, &call(option)),
                    Some(SECCOMP_RET_ALLOW),
                    "option {option}"
                );
            }
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
        let prog = build(seccomp_verdict(Shape::FOREIGN), SECCOMP_RET_USER_NOTIF);
        let (open, openat) = (libc::SYS_open as u32, libc::SYS_openat as u32);
        let o_path = u64::from(O_PATH);
        let verdict = |nr, args: [u64; 6]| {
            let data = SeccompData {
                nr,
                arch: AUDIT_ARCH_X86_64,
                ip: 0,
                args,
            };
            evaluate_call(&prog, &data)
        };
        assert_eq!(verdict(open, [0, o_path, 0, 0, 0, 0]), Some(SECCOMP_RET_TRACE));
        assert_eq!(verdict(open, [0, 0, 0, 0, 0, 0]), Some(SECCOMP_RET_USER_NOTIF));
        assert_eq!(
            verdict(openat, [0, 0, o_path | 0o2000000, 0, 0, 0]),
            Some(SECCOMP_RET_TRACE)
        );
        assert_eq!(verdict(openat, [0, o_path, 0, 0, 0, 0]), Some(SECCOMP_RET_USER_NOTIF));
        // With the host's own tree opens are not trapped at all.
        let identity = build(seccomp_verdict(Shape::HOST), SECCOMP_RET_USER_NOTIF);
        assert_eq!(
            evaluate_call(
                &identity,
                &SeccompData {
                    nr: openat,
                    arch: AUDIT_ARCH_X86_64,
                    ip: 0,
                    args: [0, 0, o_path, 0, 0, 0]
                }
            ),
            Some(SECCOMP_RET_ALLOW)
        );
    }

    /// A gate as the stub would have it, its image at `start`.
    /// The default mode's filter for a foreign root, with `gate`.
    fn systrap_filter(gate: &GateAddrs) -> Vec<SockFilter> {
        build_with(
            seccomp_verdict(Shape::FOREIGN),
            SECCOMP_RET_USER_NOTIF,
            Some(gate),
            true,
            false,
        )
    }

    fn test_gate(start: u64) -> GateAddrs {
        use lxrun_loader::abi::fast;
        GateAddrs {
            ip: start + 0x1012,
            how: start + 0x1020,
            how_len: (fast::ENTRIES * fast::STRIDE) as u64,
            start,
            end: start + 0x10000,
        }
    }

    #[test]
    fn the_guests_openat2_traps_into_the_stub_in_systrap_mode() {
        let start = 0x7ff0_0000_0000;
        let gate = test_gate(start);
        assert!(gate_fits(&gate));
        let prog = systrap_filter(&gate);
        let openat2 = |ip, how| {
            let data = SeccompData {
                nr: libc::SYS_openat2 as u32,
                arch: AUDIT_ARCH_X86_64,
                ip,
                args: [0, 0, how, 24, 0, 0],
            };
            evaluate_call(&prog, &data)
        };
        // The guest's own: to the handler (which sends its O_PATH opens to lxrun).
        assert_eq!(openat2(0x40_0000, 0x1000), Some(FAST_PATH_TRAP));
        // Re-issued by the handler: to lxrun.
        assert_eq!(openat2(start + 0x2000, 0x1000), Some(SECCOMP_RET_USER_NOTIF));
        // From the gate with an entry of its table: runs; with anything else: to lxrun.
        assert_eq!(openat2(gate.ip, gate.how + 32), Some(SECCOMP_RET_ALLOW));
        assert_eq!(openat2(gate.ip, 0x1000), Some(SECCOMP_RET_USER_NOTIF));
    }

    #[test]
    fn readlink_access_and_statx_trap_into_the_stub_but_run_on_its_empty_path() {
        let start = 0x7ff0_0000_0000;
        let gate = test_gate(start);
        let prog = systrap_filter(&gate);
        let call = |nr: i64, ip, path| {
            let data = SeccompData {
                nr: nr as u32,
                arch: AUDIT_ARCH_X86_64,
                ip,
                args: [3, path, 0, 0, 0x1000, 0],
            };
            evaluate_call(&prog, &data)
        };
        for nr in [libc::SYS_readlinkat, libc::SYS_faccessat2, libc::SYS_statx] {
            // On a descriptor with the sealed empty path: runs, from the gate or anywhere.
            assert_eq!(call(nr, gate.ip, gate.how), Some(SECCOMP_RET_ALLOW));
            assert_eq!(call(nr, 0x40_0000, gate.how), Some(SECCOMP_RET_ALLOW));
            // Any other path: the guest's to the handler, the stub's to lxrun, even from the gate.
            assert_eq!(call(nr, 0x40_0000, 0x1000), Some(FAST_PATH_TRAP));
            assert_eq!(call(nr, start + 0x2000, 0x1000), Some(SECCOMP_RET_USER_NOTIF));
            assert_eq!(call(nr, gate.ip, gate.how + 1), Some(SECCOMP_RET_USER_NOTIF));
        }
        for nr in [
            libc::SYS_readlink,
            libc::SYS_access,
            libc::SYS_faccessat,
            libc::SYS_listxattr,
            libc::SYS_llistxattr,
        ] {
            assert_eq!(call(nr, 0x40_0000, gate.how), Some(FAST_PATH_TRAP));
            assert_eq!(call(nr, start + 0x2000, 0x1000), Some(SECCOMP_RET_USER_NOTIF));
        }
        // flistxattr, with which the handler answers a listxattr, runs: it names no path.
        assert_eq!(call(libc::SYS_flistxattr, start + 0x2000, 0), Some(SECCOMP_RET_ALLOW));
    }

    #[test]
    fn systrap_traps_calls_naming_the_root_descriptor() {
        let gate = test_gate(0x7ff0_0000_0000);
        let prog = systrap_filter(&gate);
        let root = crate::handlers::exec::root_fd_number() as u64;
        let (guest, stub) = (0x40_1000, 0x7ff0_0000_2000);
        let high = 7 << 32;
        for (nr, args, ip, want) in [
            (libc::SYS_close, [root, 0], guest, FAST_PATH_TRAP),
            (libc::SYS_close, [root | high, 0], guest, FAST_PATH_TRAP),
            (libc::SYS_close, [root, 0], stub, SECCOMP_RET_ALLOW),
            (libc::SYS_close, [5, 0], guest, SECCOMP_RET_ALLOW),
            (libc::SYS_dup2, [4, root], guest, FAST_PATH_TRAP),
            (libc::SYS_dup2, [root, 4], guest, FAST_PATH_TRAP),
            (libc::SYS_dup3, [4, root], guest, FAST_PATH_TRAP),
            (libc::SYS_dup3, [4, 5], guest, SECCOMP_RET_ALLOW),
            (libc::SYS_close_range, [3, u64::from(u32::MAX)], guest, FAST_PATH_TRAP),
            (libc::SYS_close_range, [root, root], guest, FAST_PATH_TRAP),
            (libc::SYS_close_range, [3, root - 1], guest, SECCOMP_RET_ALLOW),
            (
                libc::SYS_close_range,
                [root + 1, u64::from(u32::MAX)],
                guest,
                SECCOMP_RET_ALLOW,
            ),
            (libc::SYS_close_range, [3, u64::from(u32::MAX)], stub, SECCOMP_RET_ALLOW),
        ] {
            let data = SeccompData {
                nr: nr as u32,
                arch: AUDIT_ARCH_X86_64,
                ip,
                args: [args[0], args[1], 0, 0, 0, 0],
            };
            assert_eq!(
                evaluate_call(&prog, &data),
                Some(want),
                "nr {nr} args {args:?} ip {ip:#x}"
            );
        }
    }

    #[test]
    fn systrap_traps_thread_calls_but_the_stubs() {
        // The filter lets the stub's own run: the table must not translate them.
        for name in THREAD_CALLS {
            let nr = table::number_of(name).unwrap();
            assert!(!table::lookup(nr).unwrap().traps(Shape::FOREIGN), "{name}");
        }
        let gate = test_gate(0x7ff0_0000_0000);
        let prog = systrap_filter(&gate);
        let verdict = |nr: i64, ip: u64, flags: u64| {
            let data = SeccompData {
                nr: nr as u32,
                arch: AUDIT_ARCH_X86_64,
                ip,
                args: [flags, 0, 0, 0, 0, 0],
            };
            evaluate_call(&prog, &data)
        };
        let (guest, stub) = (0x40_1000, 0x7ff0_0000_2000);
        let thread = (libc::CLONE_VM | libc::CLONE_FS | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64;
        let vfork = (libc::CLONE_VM | libc::CLONE_VFORK) as u64 | 17;
        for (nr, flags, ip, want) in [
            (libc::SYS_clone, thread, guest, FAST_PATH_TRAP),
            (libc::SYS_clone, thread | 1 << 40, guest, FAST_PATH_TRAP),
            (libc::SYS_clone, thread, stub, SECCOMP_RET_ALLOW),
            (libc::SYS_clone, vfork, guest, SECCOMP_RET_ALLOW),
            (libc::SYS_clone, 17, guest, SECCOMP_RET_ALLOW),
            (libc::SYS_exit, 0, guest, FAST_PATH_TRAP),
            (libc::SYS_exit, 0, stub, SECCOMP_RET_ALLOW),
            (libc::SYS_sigaltstack, 0, guest, FAST_PATH_TRAP),
            (libc::SYS_sigaltstack, 0, stub, SECCOMP_RET_ALLOW),
            (libc::SYS_exit_group, 0, guest, SECCOMP_RET_ALLOW),
        ] {
            assert_eq!(
                verdict(nr, ip, flags),
                Some(want),
                "nr {nr} flags {flags:#x} ip {ip:#x}"
            );
        }
        // Outside systrap mode they are not the handler's.
        let plain = build_with(
            seccomp_verdict(Shape::FOREIGN),
            SECCOMP_RET_USER_NOTIF,
            Some(&gate),
            false,
            false,
        );
        let data = SeccompData {
            nr: libc::SYS_clone as u32,
            arch: AUDIT_ARCH_X86_64,
            ip: guest,
            args: [thread, 0, 0, 0, 0, 0],
        };
        assert_eq!(evaluate_call(&plain, &data), Some(SECCOMP_RET_ALLOW));
    }

    proptest! {
        #[test]
        fn any_number_matches_the_table(nr in any::<u32>()) {
            let want = if u64::from(nr) & X32_SYSCALL_BIT != 0 { SECCOMP_RET_TRACE } else { ptrace_verdict(Shape::FOREIGN)(table::lookup(u64::from(nr))) };
            prop_assert_eq!(evaluate(&filter(), AUDIT_ARCH_X86_64, nr), Some(want));
        }
    }
}
