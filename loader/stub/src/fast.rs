//! The in-process fast path (`abi::fast`): a SIGSYS handler that answers the commonest path
//! calls inside the guest process, with no round trip to lxrun.
//!
//! The filter traps stat, lstat, open, openat, openat2 and newfstatat made outside the stub.
//! The handler opens the path with `openat2` through the gate, beneath the caller's directory
//! fd, with no symlink, no `..` above that fd and no mount crossing (all enforced by the
//! kernel), then answers from the opened file, or with ENOENT/ENOTDIR where the walk ended
//! there; absolute paths likewise from the guest root's directory. Whatever it cannot answer
//! exactly (symlinks, other errors, names of mount points, /proc, any openat2 of the guest's) it
//! re-issues from the stub, which the filter sends to lxrun like any translated call; an O_PATH
//! open it cannot answer it asks lxrun for with SYS_LXRUN_OPEN_PATH instead. It also keeps
//! SIGSYS deliverable: the guest's signal masks and handler masks never block it, and the
//! guest's own SIGSYS disposition is kept apart. It
//! runs on a signal stack of lxrun's, never the guest thread's (`altstack`).

use crate::abi::fast;
use crate::altstack;
use crate::frame::{self, REG_R10, REG_R8, REG_R9, REG_RAX, REG_RDI, REG_RDX, REG_RSI, UC_SIGMASK};
use crate::sys;
use core::arch::{asm, global_asm};
use core::ptr::{addr_of, addr_of_mut};

/// The gate and its `open_how` table, in the stub's (read-only, sealed) text.
#[link_section = ".text.lxrun_gate"]
#[used]
static GATE: fast::Gate = fast::Gate {
    marker: fast::MARKER,
    code: fast::CODE,
    how: fast::table(),
};

// sigreturn for the handler (x86_64 signals need SA_RESTORER).
global_asm!(".globl lxrun_restorer", "lxrun_restorer:", "mov eax, 15", "syscall", "ud2");

extern "C" {
    fn lxrun_restorer();
}

const NR_OPEN: u64 = 2;
const NR_MMAP: u64 = 9;
const NR_MUNMAP: u64 = 11;
const NR_STAT: u64 = 4;
const NR_FSTAT: u64 = 5;
const NR_LSTAT: u64 = 6;
const NR_RT_SIGACTION: u64 = 13;
const NR_RT_SIGPROCMASK: u64 = 14;
const NR_GETPID: u64 = 39;
const NR_GETTID: u64 = 186;
const NR_TGKILL: u64 = 234;
const NR_OPENAT: u64 = 257;
const NR_NEWFSTATAT: u64 = 262;
const NR_RECVMSG: u64 = 47;
const NR_FCNTL: u64 = 72;
const NR_PROCESS_VM_READV: u64 = 310;
const NR_PROCESS_VM_WRITEV: u64 = 311;
const NR_OPENAT2: u64 = 437;
const NR_ACCESS: u64 = 21;
const NR_READLINK: u64 = 89;
const NR_READLINKAT: u64 = 267;
const NR_FACCESSAT: u64 = 269;
const NR_FACCESSAT2: u64 = 439;
const NR_STATX: u64 = 332;
const NR_GETDENTS64: u64 = 217;
const NR_SECCOMP: u64 = 317;
const NR_LISTXATTR: u64 = 194;
const NR_LLISTXATTR: u64 = 195;
const NR_FLISTXATTR: u64 = 196;
/// statx's AT_STATX_SYNC_TYPE bits: passed on as they are.
const AT_STATX_SYNC_TYPE: u64 = 0x6000;
const NR_EXECVE: u64 = 59;
const NR_EXECVEAT: u64 = 322;
const NR_CHDIR: u64 = 80;
const NR_OPEN_TREE: u64 = 428;
const NR_CLONE: u64 = 56;
const NR_EXIT: u64 = 60;
const NR_SIGALTSTACK: u64 = 131;
const NR_FCHDIR: u64 = 81;
const AT_EMPTY_PATH: u64 = 0x1000;
const NR_MSEAL: u64 = 462;
const NR_CLOSE: u64 = 3;
const NR_DUP2: u64 = 33;
const NR_DUP3: u64 = 292;
const NR_CLOSE_RANGE: u64 = 436;
const NR_CLONE3: u64 = 435;
const NR_PRCTL: u64 = 157;
const NR_KILL: u64 = 62;
const NR_READ: u64 = 0;
const NR_WRITE: u64 = 1;
const NR_RT_SIGRETURN: u64 = 15;
const SIGKILL: u64 = 9;

const SIGSYS: u64 = 31;
const SIGSYS_BIT: u64 = 1 << (SIGSYS - 1);
const SYS_SECCOMP: i32 = 1;
const SA_SIGINFO: u64 = 4;
const SA_RESTORER: u64 = 0x0400_0000;
const SA_ONSTACK: u64 = 0x0800_0000;
const SA_NODEFER: u64 = 0x4000_0000;
const SIG_BLOCK: u64 = 0;
const SIG_UNBLOCK: u64 = 1;
const SIG_SETMASK: u64 = 2;
const EINVAL: i64 = 22;
const EFAULT: i64 = 14;
const EMFILE: i64 = 24;
const MSG_DONTWAIT: u64 = 0x40;
const MSG_CMSG_CLOEXEC: u64 = 0x4000_0000;
const SOL_SOCKET: u64 = 1;
const SCM_RIGHTS: u64 = 1;
const AT_FDCWD: u64 = -100i64 as u64;
const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const AT_EACCESS: u64 = 0x200;
const AT_NO_AUTOMOUNT: u64 = 0x800;
const O_ACCMODE: u64 = 3;
const O_NOCTTY: u64 = 0o400;
const O_LARGEFILE: u64 = 0o100000;
const S_IFMT: u64 = 0o170000;
const S_IFCHR: u64 = 0o020000;
const S_IFLNK: u64 = 0o120000;
const S_IFBLK: u64 = 0o060000;
const S_IFREG: u64 = 0o100000;
const S_IFDIR: u64 = 0o040000;

/// The kernel's `struct sigaction` for rt_sigaction with an 8-byte mask.
#[repr(C)]
#[derive(Clone, Copy)]
struct KSigaction {
    handler: u64,
    flags: u64,
    restorer: u64,
    mask: u64,
}

const DEFAULT_ACTION: KSigaction = KSigaction {
    handler: 0,
    flags: 0,
    restorer: 0,
    mask: 0,
};

/// The start of `siginfo_t` for a seccomp SIGSYS.
#[repr(C)]
struct SigInfo {
    signo: i32,
    errno: i32,
    code: i32,
    _pad: i32,
    call_addr: u64,
    syscall: i32,
    arch: u32,
}

/// What the stub's own filters (`watch_proc_dir`, `strict`) are built of: classic BPF codes
/// and the verdicts they return.
const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;
const ALLOW: u32 = 0x7fff_0000;
const TRAP: u32 = 0x0003_0000;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// The last component of every mount point, `/`-separated; st_dev of the guest's /proc.
static mut NAMES: [u8; fast::NAMES_MAX] = [0; fast::NAMES_MAX];
static mut NAMES_LEN: usize = 0;
static mut PROC_DEV: u64 = 0;
/// The guest root's directory (fd, or -1), and what it must be.
static mut ROOT: (i64, u64, u64) = (-1, 0, 0);
/// The stub's image, `[start, end)`: its calls are its own (the directory filter lets them run).
static mut IMAGE: (u64, u64) = (0, 0);
/// This image has added the directory filter (`hide_root_fd`).
static mut DIR_FILTER: bool = false;
/// Only O_PATH opens are answered here (a fake root's others are lxrun's to check).
static mut PATH_OPENS_ONLY: bool = false;
/// The guest's own disposition of SIGSYS (the process's real one is the handler's).
static mut GUEST_SIGSYS: KSigaction = DEFAULT_ACTION;
/// The handler's own disposition of SIGSYS (set again in a child clone3 cleared it for).
static mut HANDLER_ACTION: KSigaction = DEFAULT_ACTION;
/// The process that entered strict mode (its filter lets it kill itself, and nothing else).
static mut STRICT_PID: u64 = 0;

/// Seals every page the stub's image maps in `[start, end)`, one PT_LOAD at a time: mseal
/// refuses a range with a hole (ENOMEM), and the linker may leave one between segments.
fn seal_image(start: u64, end: u64) -> bool {
    const PT_LOAD: u32 = 1;
    const PAGE: u64 = 4096;
    // SAFETY: the ELF header and program headers are mapped at `start` (the first PT_LOAD
    // starts at file offset 0); every read stays inside them.
    unsafe {
        let phoff = core::ptr::read_unaligned((start + 32) as *const u64);
        let phentsize = u64::from(core::ptr::read_unaligned((start + 54) as *const u16));
        let phnum = u64::from(core::ptr::read_unaligned((start + 56) as *const u16));
        if phentsize < 56 || phoff + phnum * phentsize > PAGE {
            return false;
        }
        for i in 0..phnum {
            let ph = start + phoff + i * phentsize;
            if core::ptr::read_unaligned(ph as *const u32) != PT_LOAD {
                continue;
            }
            let vaddr = core::ptr::read_unaligned((ph + 16) as *const u64);
            let memsz = core::ptr::read_unaligned((ph + 40) as *const u64);
            let lo = vaddr & !(PAGE - 1);
            let hi = (vaddr + memsz + PAGE - 1) & !(PAGE - 1);
            if lo < start || hi > end || call(NR_MSEAL, [lo, hi - lo, 0, 0, 0, 0]) != 0 {
                return false;
            }
        }
    }
    true
}

fn call(n: u64, a: [u64; 6]) -> i64 {
    // SAFETY: every call site passes arguments valid for that syscall.
    unsafe { sys::call(n, a) }
}

/// Installs the handler, on an alternate stack of lxrun's (`altstack`), and seals the stub's
/// mapped pages in `[start, end)` (the gate's table must stay what the filter was told). False if the
/// kernel refuses any of it.
pub fn install(names: &[u8], proc_dev: u64, root: (i64, u64, u64), path_opens_only: bool, start: u64, end: u64) -> bool {
    let Some(dst) = (unsafe { (*addr_of_mut!(NAMES)).get_mut(..names.len()) }) else {
        return false;
    };
    dst.copy_from_slice(names);
    // SAFETY: the process is single-threaded until the guest starts.
    unsafe {
        NAMES_LEN = names.len();
        PROC_DEV = proc_dev;
        ROOT = root;
        PATH_OPENS_ONLY = path_opens_only;
        GUEST_SIGSYS = DEFAULT_ACTION;
        IMAGE = (start, end);
        DIR_FILTER = false;
    }
    let act = KSigaction {
        handler: on_sigsys as usize as u64,
        // SIGSYS stays deliverable while the handler runs: a guest handler that interrupts it
        // (a signal during a call lxrun answers) may make a trapped call of its own, which
        // with SIGSYS blocked would kill the process.
        flags: SA_SIGINFO | SA_RESTORER | SA_ONSTACK | SA_NODEFER,
        restorer: lxrun_restorer as usize as u64,
        mask: 0,
    };
    // SAFETY: the process is single-threaded until the guest starts.
    unsafe { HANDLER_ACTION = act };
    // SIGSYS must be deliverable whatever mask the program was exec'd with.
    let sigsys = SIGSYS_BIT;
    altstack::install_here()
        && call(NR_RT_SIGACTION, [SIGSYS, addr_of!(HANDLER_ACTION) as u64, 0, 8, 0, 0]) == 0
        && call(NR_RT_SIGPROCMASK, [SIG_UNBLOCK, addr_of!(sigsys) as u64, 0, 8, 0, 0]) == 0
        && seal_image(start, end)
}

unsafe extern "C" fn on_sigsys(sig: i32, info: *mut SigInfo, uc: *mut u8) {
    if (*info).code == SYS_SECCOMP && (*info).errno as u32 == fast::STRICT_DATA && *addr_of!(STRICT_PID) != 0 {
        // A call strict mode forbids: the kernel's strict mode kills with SIGKILL.
        loop {
            call(NR_KILL, [*addr_of!(STRICT_PID), SIGKILL, 0, 0, 0, 0]);
        }
    }
    if (*info).code != SYS_SECCOMP || (*info).errno as u32 != fast::TRAP_DATA {
        return not_ours(sig, info, uc);
    }
    let nr = (*info).syscall as u64;
    let reg = |r: usize| frame::greg(uc, r);
    let a = [reg(REG_RDI), reg(REG_RSI), reg(REG_RDX), reg(REG_R10), reg(REG_R8), reg(REG_R9)];
    let ret = match nr {
        NR_RT_SIGACTION => sigaction(a),
        NR_RT_SIGPROCMASK => sigprocmask(a, uc.add(UC_SIGMASK).cast::<u64>()),
        NR_EXECVE | NR_EXECVEAT => exec(nr, a, uc.add(UC_SIGMASK).cast::<u64>()),
        NR_CHDIR => chdir(a),
        // Its descriptor is an O_PATH file (OPEN_TREE_CLOEXEC is O_CLOEXEC).
        NR_OPEN_TREE => open_path(nr, a, a[2]),
        NR_SIGALTSTACK => altstack::sigaltstack(a[0], a[1], uc),
        NR_CLONE => altstack::clone(a, uc),
        NR_CLONE3 => clone3(a, uc),
        NR_EXIT => altstack::exit(a[0], uc),
        NR_GETDENTS64 => getdents_hiding_root_fd(a),
        NR_CLOSE | NR_DUP2 | NR_DUP3 | NR_CLOSE_RANGE => root_fd_guard(nr, a),
        NR_SECCOMP | NR_PRCTL => strict(nr, a),
        // Re-issued from the stub, a call goes to lxrun as if the guest had made it.
        _ => path_call(nr, a).unwrap_or_else(|| {
            let r = to_lxrun(nr, a);
            if matches!(nr, NR_OPEN | NR_OPENAT | NR_OPENAT2) {
                watch_proc_dir(r);
            }
            r
        }),
    };
    frame::set_greg(uc, REG_RAX, ret as u64);
}

/// A seccomp BPF instruction.
#[repr(C)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: u64,
}

/// The first directory of /proc this process opens (lxrun opened it): from then on its
/// getdents64 on low descriptors trap here (one more seccomp filter, which the process's
/// children and later images keep), so a listing of /proc/PID/fd leaves out lxrun's fd 1023.
/// A process that never looks at /proc pays nothing.
fn watch_proc_dir(fd: i64) {
    // SAFETY: plain reads of statics written before the guest started (DIR_FILTER: by this
    // thread or another, at worst a second filter is added).
    let (proc_dev, (start, end), added) = unsafe { (*addr_of!(PROC_DEV), *addr_of!(IMAGE), *addr_of!(DIR_FILTER)) };
    if fd < 0 || added {
        return;
    }
    let mut st = [0u64; 18];
    if call(NR_FSTAT, [fd as u64, addr_of_mut!(st) as u64, 0, 0, 0, 0]) < 0 || st[0] != proc_dev || st[3] & S_IFMT != S_IFDIR {
        return;
    }
    let f = |code, jt, jf, k| SockFilter { code, jt, jf, k };
    // Jump offsets count from the next instruction: 13 is the trap, 14 the allow.
    let prog = [
        f(LD_W_ABS, 0, 0, 4),
        f(JEQ_K, 0, 12, AUDIT_ARCH_X86_64),
        f(LD_W_ABS, 0, 0, 0),
        f(JEQ_K, 0, 10, NR_GETDENTS64 as u32),
        // Descriptors below 64 only (where lowest-first allocation puts a directory just opened).
        f(LD_W_ABS, 0, 0, 20),
        f(JEQ_K, 0, 8, 0),
        f(LD_W_ABS, 0, 0, 16),
        f(JGE_K, 6, 0, 64),
        // The stub's own calls run.
        f(LD_W_ABS, 0, 0, 12),
        f(JEQ_K, 0, 3, (start >> 32) as u32),
        f(LD_W_ABS, 0, 0, 8),
        f(JGE_K, 0, 1, start as u32),
        f(JGE_K, 0, 1, end as u32),
        f(RET_K, 0, 0, TRAP | fast::TRAP_DATA),
        f(RET_K, 0, 0, ALLOW),
    ];
    let fprog = SockFprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as u64,
    };
    const SECCOMP_SET_MODE_FILTER: u64 = 1;
    if call(NR_SECCOMP, [SECCOMP_SET_MODE_FILTER, 0, addr_of!(fprog) as u64, 0, 0, 0]) == 0 {
        // SAFETY: a flag; a race between threads costs one more filter at most.
        unsafe { DIR_FILTER = true };
    }
}

/// The guest's strict mode (the filter traps seccomp's SECCOMP_SET_MODE_STRICT and prctl's
/// PR_SET_SECCOMP with SECCOMP_MODE_STRICT here): lxrun's filter is there already, which the
/// kernel's strict mode would refuse, so a filter stands for it: read, write, exit and
/// rt_sigreturn run, anything else raises STRICT_DATA, for which the handler kills the process
/// with SIGKILL (the filter lets it, and only it, kill itself so). On a thread's way out of a
/// trapped exit, the stub's sigaltstack, gettid, rt_sigprocmask and munmap run too.
fn strict(nr: u64, a: [u64; 6]) -> i64 {
    // do_seccomp: flags (an unsigned int) and args must be empty; prctl passes neither.
    if nr == NR_SECCOMP && (a[1] as u32 != 0 || a[2] != 0) {
        return -EINVAL;
    }
    let allowed = call(crate::abi::SYS_LXRUN_STRICT, [0; 6]);
    if allowed != 0 {
        return allowed;
    }
    let pid = call(NR_GETPID, [0; 6]) as u64;
    // SAFETY: plain accesses of statics (IMAGE written before the guest started).
    let (start, end) = unsafe {
        *addr_of_mut!(STRICT_PID) = pid;
        *addr_of!(IMAGE)
    };
    let f = |code, jt, jf, k| SockFilter { code, jt, jf, k };
    let kill = TRAP | fast::STRICT_DATA;
    // Jump offsets count from the next instruction: 21 is the allow, 22 the kill.
    let prog = [
        f(LD_W_ABS, 0, 0, 4),
        f(JEQ_K, 0, 20, AUDIT_ARCH_X86_64),
        f(LD_W_ABS, 0, 0, 0),
        f(JEQ_K, 17, 0, NR_READ as u32),
        f(JEQ_K, 16, 0, NR_WRITE as u32),
        f(JEQ_K, 15, 0, NR_EXIT as u32),
        f(JEQ_K, 14, 0, NR_RT_SIGRETURN as u32),
        f(JEQ_K, 4, 0, NR_KILL as u32),
        f(JEQ_K, 7, 0, NR_MUNMAP as u32),
        f(JEQ_K, 6, 0, NR_RT_SIGPROCMASK as u32),
        f(JEQ_K, 5, 0, NR_GETTID as u32),
        f(JEQ_K, 4, 10, NR_SIGALTSTACK as u32),
        // 12: kill(pid, SIGKILL) of this process.
        f(LD_W_ABS, 0, 0, 16),
        f(JEQ_K, 0, 8, pid as u32),
        f(LD_W_ABS, 0, 0, 24),
        f(JEQ_K, 5, 6, SIGKILL as u32),
        // 16: from the stub only (a thread's way out of a trapped exit).
        f(LD_W_ABS, 0, 0, 12),
        f(JEQ_K, 0, 4, (start >> 32) as u32),
        f(LD_W_ABS, 0, 0, 8),
        f(JGE_K, 0, 2, start as u32),
        f(JGE_K, 1, 0, end as u32),
        f(RET_K, 0, 0, ALLOW),
        f(RET_K, 0, 0, kill),
    ];
    let fprog = SockFprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as u64,
    };
    const SECCOMP_SET_MODE_FILTER: u64 = 1;
    call(NR_SECCOMP, [SECCOMP_SET_MODE_FILTER, 0, addr_of!(fprog) as u64, 0, 0, 0])
}

/// Whether `fd` is the guest root's directory lxrun put in this process (and still there).
fn is_root_fd(fd: u64) -> bool {
    // SAFETY: a plain read of a static written before the guest started (or by `move_root`).
    let (root, dev, ino) = unsafe { *addr_of!(ROOT) };
    let mut st = [0u64; 18];
    root >= 0
        && fd as u32 == root as u32
        && call(NR_FSTAT, [root as u64, addr_of_mut!(st) as u64, 0, 0, 0, 0]) == 0
        && st[0] == dev
        && st[1] == ino
}

/// close, dup2, dup3 and close_range that name the root's descriptor (the filter traps only
/// those): the guest sees no descriptor there. close says EBADF; a dup onto it moves lxrun's
/// descriptor out of the way first; a range to close is closed around it.
fn root_fd_guard(nr: u64, a: [u64; 6]) -> i64 {
    const EBADF: i64 = 9;
    match nr {
        NR_CLOSE if is_root_fd(a[0]) => -EBADF,
        NR_DUP2 | NR_DUP3 if is_root_fd(a[0]) => -EBADF,
        NR_DUP2 | NR_DUP3 => {
            if is_root_fd(a[1]) {
                move_root();
            }
            call(nr, a)
        }
        NR_CLOSE_RANGE => {
            // SAFETY: a plain read of a static.
            let root = unsafe { (*addr_of!(ROOT)).0 } as u32;
            let (first, last) = (a[0] as u32, a[1] as u32);
            if first > last || !(first..=last).contains(&root) || !is_root_fd(u64::from(root)) {
                return call(nr, a);
            }
            // CLOSE_RANGE_UNSHARE goes with the first call made; an empty range on either
            // side is skipped (both empty: a range past every descriptor, for the flags alone).
            let below = (first < root).then(|| (first, root - 1));
            let above = (root < last).then(|| (root + 1, last));
            let mut ranges = [below, above];
            if below.is_none() && above.is_none() {
                ranges[0] = Some((u32::MAX, u32::MAX));
            }
            let mut flags = a[2];
            for (lo, hi) in ranges.into_iter().flatten() {
                let r = call(nr, [u64::from(lo), u64::from(hi), flags, 0, 0, 0]);
                if r < 0 {
                    return r;
                }
                flags &= !CLOSE_RANGE_UNSHARE;
            }
            0
        }
        _ => call(nr, a),
    }
}

const CLOSE_RANGE_UNSHARE: u64 = 2;

/// Moves the root's directory to a free descriptor below it (the guest wants its number); the
/// filter guards only the first number, so at the new one it is merely hidden from listings.
/// If no number is free, the handler has no root and leaves absolute paths to lxrun.
fn move_root() {
    const F_DUPFD_CLOEXEC: u64 = 1030;
    // SAFETY: plain accesses of a static; another thread's handler checks the descriptor
    // against dev and ino before each use, so a stale number costs it a trip to lxrun.
    unsafe {
        let (root, dev, ino) = *addr_of!(ROOT);
        let mut moved = -1;
        for min in [root / 2, 3] {
            moved = call(NR_FCNTL, [root as u64, F_DUPFD_CLOEXEC, min as u64, 0, 0, 0]);
            if moved >= 0 {
                break;
            }
        }
        *addr_of_mut!(ROOT) = (moved, dev, ino);
    }
}

/// getdents64 on a low descriptor, once the process has looked at /proc: natively, then
/// without the entry of lxrun's fd 1023 in a listing of /proc's, as a guest would see it
/// without lxrun (a listing left empty by that is read on, so it never ends early).
fn getdents_hiding_root_fd(a: [u64; 6]) -> i64 {
    // SAFETY: plain reads of statics written before the guest started.
    let (proc_dev, (root, dev, ino)) = unsafe { (*addr_of!(PROC_DEV), *addr_of!(ROOT)) };
    let mut st = [0u64; 18];
    let proc_dir = call(NR_FSTAT, [a[0], addr_of_mut!(st) as u64, 0, 0, 0, 0]) == 0 && st[0] == proc_dev;
    // /proc itself (procfs's root is inode 1): its pid entries are lxrun's to filter.
    const PROC_ROOT_INO: u64 = 1;
    let proc_root = proc_dir && st[1] == PROC_ROOT_INO;
    let ours = root >= 0
        && call(NR_FSTAT, [root as u64, addr_of_mut!(st) as u64, 0, 0, 0, 0]) == 0
        && st[0] == dev
        && st[1] == ino;
    let mut digits = [0u8; 12];
    let name = decimal(root as u32, &mut digits);
    loop {
        let n = call(NR_GETDENTS64, [a[0], a[1], a[2], 0, 0, 0]);
        if n <= 0 || !proc_dir {
            return n;
        }
        let left = if proc_root {
            call(crate::abi::SYS_LXRUN_PROC_PIDS, [a[1], n as u64, 0, 0, 0, 0])
        } else if ours {
            // SAFETY: the kernel just wrote `n` bytes of dirents at a[1].
            unsafe { drop_entry(a[1] as *mut u8, n as usize, name) as i64 }
        } else {
            n
        };
        if left != 0 {
            return left;
        }
    }
}

/// `n` in decimal with a NUL, in `buf`.
fn decimal(mut n: u32, buf: &mut [u8; 12]) -> &[u8] {
    let mut at = buf.len() - 1;
    buf[at] = 0;
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// Removes the symlink entry named `name` (with its NUL) from `len` bytes of linux_dirent64s
/// at `buf`; the length left.
unsafe fn drop_entry(buf: *mut u8, len: usize, name: &[u8]) -> usize {
    const DT_LNK: u8 = 10;
    let mut at = 0usize;
    while at + 19 < len {
        let reclen = usize::from(core::ptr::read_unaligned(buf.add(at + 16).cast::<u16>()));
        if reclen == 0 || at + reclen > len {
            break;
        }
        let kind = *buf.add(at + 18);
        let entry_name = core::slice::from_raw_parts(buf.add(at + 19), (reclen - 19).min(name.len()));
        if kind == DT_LNK && entry_name == name {
            core::ptr::copy(buf.add(at + reclen), buf.add(at), len - at - reclen);
            return len - reclen;
        }
        at += reclen;
    }
    len
}

/// A SIGSYS the filter did not raise for the fast path (kill, or the guest's own filter): what
/// the guest's disposition says.
unsafe fn not_ours(sig: i32, info: *mut SigInfo, uc: *mut u8) {
    let act = *addr_of!(GUEST_SIGSYS);
    match act.handler {
        0 => {
            // The default action (dump core): it lands when this handler returns.
            let dfl = DEFAULT_ACTION;
            call(NR_RT_SIGACTION, [SIGSYS, addr_of!(dfl) as u64, 0, 8, 0, 0]);
            call(NR_TGKILL, [call(NR_GETPID, [0; 6]) as u64, call(NR_GETTID, [0; 6]) as u64, SIGSYS, 0, 0, 0]);
        }
        1 => {}
        h if act.flags & SA_SIGINFO != 0 => {
            let f: extern "C" fn(i32, *mut SigInfo, *mut u8) = core::mem::transmute(h as usize);
            f(sig, info, uc);
        }
        h => {
            let f: extern "C" fn(i32) = core::mem::transmute(h as usize);
            f(sig);
        }
    }
}

/// Copies between the guest's memory and ours through the kernel, so a bad pointer is EFAULT
/// for the guest rather than a crash in the handler.
fn copy(nr: u64, local: u64, remote: u64, len: u64) -> bool {
    let l = [local, len];
    let r = [remote, len];
    let pid = call(NR_GETPID, [0; 6]) as u64;
    call(nr, [pid, addr_of!(l) as u64, 1, addr_of!(r) as u64, 1, 0]) == len as i64
}

/// clone3(args, size): the arguments read once, checked as the kernel checks them (EINVAL for
/// less than its first version, E2BIG past a page or for nonzero bytes past the fields it
/// knows, EFAULT), and the kernel given the handler's copy (`altstack::clone3`).
unsafe fn clone3(a: [u64; 6], uc: *mut u8) -> i64 {
    const VER0: u64 = 64;
    const KNOWN: u64 = 88;
    const E2BIG: i64 = 7;
    let size = a[1];
    if size < VER0 {
        return -EINVAL;
    }
    if size > 4096 {
        return -E2BIG;
    }
    let mut args = [0u64; (KNOWN / 8) as usize];
    let known = size.min(KNOWN);
    if !copy(NR_PROCESS_VM_READV, args.as_mut_ptr() as u64, a[0], known) {
        return -EFAULT;
    }
    let mut at = known;
    while at < size {
        let mut chunk = [0u8; 64];
        let n = (size - at).min(64);
        if !copy(NR_PROCESS_VM_READV, chunk.as_mut_ptr() as u64, a[0] + at, n) {
            return -EFAULT;
        }
        if chunk[..n as usize].iter().any(|&b| b != 0) {
            return -E2BIG;
        }
        at += n;
    }
    let cleared = altstack::clone3(&mut args, known, addr_of!(HANDLER_ACTION) as u64, uc);
    // A copy of the process that returned here with its handlers cleared: the guest's SIGSYS
    // handler went too (an ignored signal stays ignored).
    if cleared == 0 {
        let guest = addr_of_mut!(GUEST_SIGSYS);
        if (*guest).handler > 1 {
            *guest = DEFAULT_ACTION;
        }
    }
    cleared
}

/// rt_sigaction: SIGSYS's disposition is the guest's in name only; every other handler is
/// installed with SIGSYS left out of its mask.
unsafe fn sigaction(a: [u64; 6]) -> i64 {
    let (sig, act, oact) = (a[0] & 0xffff_ffff, a[1], a[2]);
    if a[3] != 8 {
        return -EINVAL;
    }
    if sig == SIGSYS {
        let old = *addr_of!(GUEST_SIGSYS);
        let mut new = old;
        let size = core::mem::size_of::<KSigaction>() as u64;
        if act != 0 && !copy(NR_PROCESS_VM_READV, addr_of_mut!(new) as u64, act, size) {
            return -EFAULT;
        }
        if oact != 0 && !copy(NR_PROCESS_VM_WRITEV, addr_of!(old) as u64, oact, size) {
            return -EFAULT;
        }
        *addr_of_mut!(GUEST_SIGSYS) = new;
        return 0;
    }
    let r = call(NR_RT_SIGACTION, [sig, act, oact, 8, 0, 0]);
    if r < 0 || act == 0 {
        return r;
    }
    let mut cur = DEFAULT_ACTION;
    if call(NR_RT_SIGACTION, [sig, 0, addr_of_mut!(cur) as u64, 8, 0, 0]) == 0 && cur.mask & SIGSYS_BIT != 0 {
        cur.mask &= !SIGSYS_BIT;
        call(NR_RT_SIGACTION, [sig, addr_of!(cur) as u64, 0, 8, 0, 0]);
    }
    0
}

/// rt_sigprocmask (SIG_BLOCK or SIG_SETMASK with a set): the kernel applies it to the guest's
/// mask (so it checks the pointers and fills `oset`), and the result, without SIGSYS, goes
/// into the signal frame, which sigreturn restores.
unsafe fn sigprocmask(a: [u64; 6], frame_mask: *mut u64) -> i64 {
    if a[3] != 8 {
        return -EINVAL;
    }
    call(NR_RT_SIGPROCMASK, [SIG_SETMASK, frame_mask as u64, 0, 8, 0, 0]);
    let r = call(NR_RT_SIGPROCMASK, [a[0], a[1], a[2], 8, 0, 0]);
    if r < 0 {
        return r;
    }
    let mut cur = 0u64;
    call(NR_RT_SIGPROCMASK, [SIG_BLOCK, 0, addr_of_mut!(cur) as u64, 8, 0, 0]);
    *frame_mask = cur & !SIGSYS_BIT;
    0
}

/// The open flags the fast path serves as `openat2` through the gate (read-only opens), as
/// the table's bits; None for anything else.
fn open_flags(flags: u64) -> Option<u64> {
    let flags = flags & 0xffff_ffff;
    let known = fast::BITS.iter().fold(0, |m, b| m | b);
    if flags & O_ACCMODE != 0 || flags & !(known | O_NOCTTY | O_LARGEFILE) != 0 {
        return None;
    }
    // SAFETY: written once before the guest starts.
    if unsafe { PATH_OPENS_ONLY } && flags & fast::O_PATH == 0 {
        return None;
    }
    Some(flags & known)
}

fn gate_openat2(dirfd: u64, path: u64, how_flags: u64, rooted: bool) -> i64 {
    let index = fast::index(how_flags) | if rooted { fast::ROOTED } else { 0 };
    let how = addr_of!(GATE.how[index]) as u64;
    gate_call(NR_OPENAT2, [dirfd, path, how, 24, 0])
}

/// A call from the gate, the one instruction whose openat2 and execveat the filter lets run
/// (with arguments it checks).
fn gate_call(nr: u64, a: [u64; 5]) -> i64 {
    let gate = addr_of!(GATE.code) as u64;
    let ret: i64;
    // SAFETY: the gate is `syscall; ret`; the caller vouches for the arguments.
    unsafe {
        asm!(
            "call {gate}",
            gate = in(reg) gate,
            inlateout("rax") nr as i64 => ret,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    ret
}

/// execve/execveat: lxrun checks it and puts the loader stub into the process; the stub is
/// exec'd from the gate by descriptor (the empty path is the sealed table's first zero byte).
fn exec(nr: u64, a: [u64; 6], frame_mask: *const u64) -> i64 {
    // Room for a `#!` chain's argv, off the stack: a vfork child (musl's posix_spawn) may run
    // this handler on a stack of a few kilobytes. A successful exec drops it with the old
    // address space.
    const BUF: u64 = 4096;
    let buf = call(NR_MMAP, [0, BUF, 3, 0x22, u64::MAX, 0]);
    if buf < 0 {
        return buf;
    }
    let unmap = || call(NR_MUNMAP, [buf as u64, BUF, 0, 0, 0, 0]);
    let mut req = crate::abi::ExecRequest {
        nr,
        args: a,
        argv_out: 0,
        buf: buf as u64,
        buf_len: BUF,
    };
    let fd = call(crate::abi::SYS_LXRUN_EXEC, [addr_of_mut!(req) as u64, 0, 0, 0, 0, 0]);
    if fd < 0 {
        unmap();
        return fd;
    }
    let envp = if nr == NR_EXECVE { a[2] } else { a[3] };
    let empty = addr_of!(GATE.how[0]) as u64;
    // SAFETY: lxrun wrote argv_out before answering.
    let argv = unsafe { core::ptr::read_volatile(addr_of!(req.argv_out)) };
    // The new program inherits the signal mask: the guest's (the frame's), not whatever this
    // handler runs with. A failed exec returns here, and sigreturn puts the frame's mask back.
    call(NR_RT_SIGPROCMASK, [SIG_SETMASK, frame_mask as u64, 0, 8, 0, 0]);
    let r = gate_call(NR_EXECVEAT, [fd as u64, empty, argv, envp, AT_EMPTY_PATH]);
    call(sys::CLOSE, [fd as u64, 0, 0, 0, 0, 0]);
    unmap();
    r
}

/// A call the handler leaves to lxrun: re-issued from the stub, it goes there as if the guest
/// had made it; but lxrun cannot make an O_PATH descriptor the answer to a call (ADDFD refuses
/// them), so such opens go through `open_path`.
fn to_lxrun(nr: u64, a: [u64; 6]) -> i64 {
    match o_path_flags(nr, a) {
        Some(flags) => open_path(nr, a, flags),
        None => call(nr, a),
    }
}

/// The flags of an open, openat or openat2 that asks for O_PATH; None for any other call (and
/// for an openat2 whose `open_how` lxrun refuses as the kernel would: too small, unreadable).
fn o_path_flags(nr: u64, a: [u64; 6]) -> Option<u64> {
    const OPEN_HOW_SIZE_VER0: u64 = 24;
    let flags = match nr {
        NR_OPEN => a[1] & 0xffff_ffff,
        NR_OPENAT => a[2] & 0xffff_ffff,
        NR_OPENAT2 => {
            // open_how.flags, its first field.
            let mut flags = 0u64;
            if a[3] < OPEN_HOW_SIZE_VER0 || !copy(NR_PROCESS_VM_READV, addr_of_mut!(flags) as u64, a[2], 8) {
                return None;
            }
            flags
        }
        _ => return None,
    };
    (flags & fast::O_PATH != 0).then_some(flags)
}

/// An O_PATH open (`flags`), performed by lxrun: it answers with a socket it put into the
/// process, on which the descriptor waits (SCM_RIGHTS passes O_PATH files).
fn open_path(nr: u64, a: [u64; 6], flags: u64) -> i64 {
    let sock = call(crate::abi::SYS_LXRUN_OPEN_PATH, [nr, a[0], a[1], a[2], a[3], 0]);
    if sock < 0 {
        return sock;
    }
    let cloexec = flags & fast::O_CLOEXEC != 0;
    let fd = receive_fd(sock as u64, cloexec);
    call(sys::CLOSE, [sock as u64, 0, 0, 0, 0, 0]);
    if fd < 0 {
        return fd;
    }
    lowest(fd, cloexec)
}

/// `fd` moved to the lowest free number, as an open would have given it: the socket held
/// that one while the descriptor came.
fn lowest(fd: i64, cloexec: bool) -> i64 {
    const F_DUPFD: u64 = 0;
    const F_DUPFD_CLOEXEC: u64 = 1030;
    let cmd = if cloexec { F_DUPFD_CLOEXEC } else { F_DUPFD };
    let low = call(NR_FCNTL, [fd as u64, cmd, 0, 0, 0, 0]);
    if low < 0 || low > fd {
        if low >= 0 {
            call(sys::CLOSE, [low as u64, 0, 0, 0, 0, 0]);
        }
        return fd;
    }
    call(sys::CLOSE, [fd as u64, 0, 0, 0, 0, 0]);
    low
}

/// `struct msghdr`.
#[repr(C)]
struct MsgHdr {
    name: u64,
    namelen: u64,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
    flags: u64,
}

/// The one descriptor waiting on `sock`, close-on-exec if `cloexec`. lxrun sent it before it
/// answered: nothing to wait for (a guest thread that put something else at that number in
/// the meantime gets an error, not a hang).
fn receive_fd(sock: u64, cloexec: bool) -> i64 {
    let mut byte = 0u8;
    let iov = [addr_of_mut!(byte) as u64, 1];
    // CMSG_SPACE(sizeof(int)): a cmsghdr (u64 length, i32 level, i32 type), an int, padding.
    let mut control = [0u64; 3];
    let mut msg = MsgHdr {
        name: 0,
        namelen: 0,
        iov: addr_of!(iov) as u64,
        iovlen: 1,
        control: addr_of_mut!(control) as u64,
        controllen: 24,
        flags: 0,
    };
    let flags = MSG_DONTWAIT | if cloexec { MSG_CMSG_CLOEXEC } else { 0 };
    let r = call(NR_RECVMSG, [sock, addr_of_mut!(msg) as u64, flags, 0, 0, 0]);
    if r < 0 {
        return r;
    }
    // SAFETY: the kernel wrote them; they are ours.
    let (len, head, fd) = unsafe {
        (
            core::ptr::read_volatile(addr_of!(msg.controllen)),
            core::ptr::read_volatile(addr_of!(control[1])),
            core::ptr::read_volatile(addr_of!(control[2])),
        )
    };
    // No descriptor came: the process had no room for it (the kernel dropped it).
    if len < 20 || head != SOL_SOCKET | SCM_RIGHTS << 32 {
        return -EMFILE;
    }
    fd as u32 as i32 as i64
}

/// chdir: lxrun resolves it and answers with the directory's descriptor.
fn chdir(a: [u64; 6]) -> i64 {
    let fd = call(crate::abi::SYS_LXRUN_CHDIR, [a[0], 0, 0, 0, 0, 0]);
    if fd < 0 {
        return fd;
    }
    let r = call(NR_FCHDIR, [fd as u64, 0, 0, 0, 0, 0]);
    call(sys::CLOSE, [fd as u64, 0, 0, 0, 0, 0]);
    r
}

/// Whether a component of the NUL-terminated `path` is a component of a mount point's path:
/// such a path may lead into a mount (or a directory made up on the way to one), which only
/// lxrun's walker knows.
unsafe fn names_a_mount(path: *const u8) -> bool {
    let names = match (*addr_of!(NAMES)).get(..*addr_of!(NAMES_LEN)) {
        Some(n) => n,
        None => return true,
    };
    let (mut start, mut i) = (0usize, 0usize);
    loop {
        let c = *path.add(i);
        if c == b'/' || c == 0 {
            let comp = core::slice::from_raw_parts(path.add(start), i - start);
            if !comp.is_empty() && names.split(|&b| b == b'/').any(|n| n == comp) {
                return true;
            }
            if c == 0 {
                return false;
            }
            start = i + 1;
        }
        i += 1;
        if i > 4096 {
            return true;
        }
    }
}

/// Linux's PATH_MAX (with the NUL) and its limit of symlinks in one lookup.
const PATH_MAX: usize = 4096;
const MAX_SYMLINKS: u32 = 40;
const ELOOP: i64 = 40;
const ENOENT: i64 = 2;

/// The guest root's directory, if the descriptor still is it.
fn root_dir() -> Option<u64> {
    // SAFETY: a plain read of a static written before the guest started (or by `move_root`).
    let (root, dev, ino) = unsafe { *addr_of!(ROOT) };
    let mut st = [0u64; 18];
    let ok = root >= 0
        && call(NR_FSTAT, [root as u64, addr_of_mut!(st) as u64, 0, 0, 0, 0]) == 0
        && st[0] == dev
        && st[1] == ino;
    ok.then_some(root as u64)
}

/// Copies the guest's NUL-terminated path at `at` into `buf`: a string the kernel has just
/// read whole (process_vm_readv would be a call to lxrun from here).
///
/// # Safety
/// `at` points at a NUL-terminated string the kernel read for this call.
unsafe fn read_path(at: u64, buf: &mut [u8; PATH_MAX]) -> Option<()> {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = core::ptr::read_volatile((at as *const u8).add(i));
        if *b == 0 {
            return Some(());
        }
    }
    None
}

/// Opens the first `end` bytes of the path in `buf` from `at` without following its last name.
fn open_prefix(at: (u64, bool), buf: &mut [u8; PATH_MAX], end: usize) -> i64 {
    let saved = buf[end];
    buf[end] = 0;
    let fd = gate_openat2(at.0, buf.as_ptr() as u64, fast::O_PATH | fast::O_NOFOLLOW | fast::O_CLOEXEC, at.1);
    buf[end] = saved;
    fd
}

/// Replaces the first symlink on the way of the path in `buf` (walked from `at`) by its
/// target, as the kernel's walk would go on: the new path, and where it is walked from (an
/// absolute target from the root). The symlink is the longest prefix the gate opens without
/// following (every shorter one opens, every longer one meets the link: ELOOP), found by
/// halving. None where lxrun must answer (no root, an empty target, too long a path, a last
/// name that is the symlink when `nofollow`).
fn splice_link(at: (u64, bool), buf: &mut [u8; PATH_MAX], nofollow: bool) -> Option<(u64, bool)> {
    let len = buf.iter().position(|&c| c == 0)?;
    // Where each component starts and ends.
    let mut comps = [(0u16, 0u16); 256];
    let (mut n, mut i) = (0usize, 0usize);
    while i < len {
        if buf[i] == b'/' {
            i += 1;
            continue;
        }
        let start = i;
        while i < len && buf[i] != b'/' {
            i += 1;
        }
        *comps.get_mut(n)? = (start as u16, i as u16);
        n += 1;
    }
    // The longest prefix opened so far stays open: it is the symlink once the search ends.
    let close = |fd: i64| {
        if fd >= 0 {
            call(sys::CLOSE, [fd as u64, 0, 0, 0, 0, 0]);
        }
    };
    let (mut lo, mut hi, mut link) = (0usize, n + 1, -1i64);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        let fd = open_prefix(at, buf, usize::from(comps[mid - 1].1));
        if fd >= 0 {
            close(link);
            (lo, link) = (mid, fd);
        } else {
            hi = mid;
        }
    }
    // The last name itself, not to be followed (O_NOFOLLOW): the kernel's ELOOP, from lxrun.
    let found = comps.get(lo.wrapping_sub(1)).filter(|_| !(lo == n && nofollow));
    let Some(&(start, end)) = found else {
        close(link);
        return None;
    };
    let (start, end) = (usize::from(start), usize::from(end));
    let mut target = [0u8; PATH_MAX];
    // SAFETY: GATE is the stub's sealed gate; its first entry begins with a zero byte.
    let empty = unsafe { addr_of!(GATE.how[0]) } as u64;
    // (What is no symlink says ENOENT here.)
    let t = call(NR_READLINKAT, [link as u64, empty, target.as_mut_ptr() as u64, PATH_MAX as u64, 0, 0]);
    close(link);
    if t <= 0 {
        return None;
    }
    let target = &target[..t as usize];
    let (head, from) = if target[0] == b'/' { (0, (root_dir()?, true)) } else { (start, at) };
    let rest = len - end;
    if head + target.len() + rest >= PATH_MAX {
        return None;
    }
    buf.copy_within(end..=len, head + target.len());
    buf[head..head + target.len()].copy_from_slice(target);
    Some(from)
}

/// What a path call does with the file it names, once the gate has opened it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    /// stat into this buffer.
    Stat(u64),
    /// open: the descriptor is the answer.
    Open,
    /// readlink into (buffer, size).
    Readlink(u64, u64),
    /// access with (mode, AT_EACCESS or 0).
    Access(u64, u64),
    /// statx with (its AT_STATX_SYNC_TYPE bits, mask, buffer).
    Statx(u64, u64, u64),
    /// listxattr into (buffer, size).
    List(u64, u64),
}

/// stat, lstat, newfstatat, statx, open, openat, readlink, readlinkat, access, faccessat and
/// faccessat2, answered here when that is exactly what lxrun would answer. None: leave the
/// call to lxrun.
unsafe fn path_call(nr: u64, a: [u64; 6]) -> Option<i64> {
    let dirfd = |v: u64| v as i32 as i64 as u64;
    let stat_flags = |flags: u64| {
        if flags & 0xffff_ffff & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) != 0 {
            None
        } else if flags & AT_SYMLINK_NOFOLLOW != 0 {
            Some(fast::O_PATH | fast::O_NOFOLLOW | fast::O_CLOEXEC)
        } else {
            Some(fast::O_PATH | fast::O_CLOEXEC)
        }
    };
    let access_flags = |flags: u64| stat_flags(flags & !AT_EACCESS);
    let link = fast::O_PATH | fast::O_NOFOLLOW | fast::O_CLOEXEC;
    // (directory fd, path, what to do with the file, flags for the gate)
    let (dir, path, act, how) = match nr {
        NR_STAT => (AT_FDCWD, a[0], Use::Stat(a[1]), stat_flags(0)?),
        NR_LSTAT => (AT_FDCWD, a[0], Use::Stat(a[1]), stat_flags(AT_SYMLINK_NOFOLLOW)?),
        NR_NEWFSTATAT => (dirfd(a[0]), a[1], Use::Stat(a[2]), stat_flags(a[3])?),
        NR_OPEN => (AT_FDCWD, a[0], Use::Open, open_flags(a[1])?),
        NR_OPENAT => (dirfd(a[0]), a[1], Use::Open, open_flags(a[2])?),
        NR_READLINK => (AT_FDCWD, a[0], Use::Readlink(a[1], a[2]), link),
        NR_READLINKAT => (dirfd(a[0]), a[1], Use::Readlink(a[2], a[3]), link),
        NR_ACCESS => (AT_FDCWD, a[0], Use::Access(a[1], 0), stat_flags(0)?),
        NR_FACCESSAT => (dirfd(a[0]), a[1], Use::Access(a[2], 0), stat_flags(0)?),
        NR_FACCESSAT2 => (dirfd(a[0]), a[1], Use::Access(a[2], a[3] & AT_EACCESS), access_flags(a[3])?),
        NR_LISTXATTR => (AT_FDCWD, a[0], Use::List(a[1], a[2]), stat_flags(0)?),
        NR_LLISTXATTR => (AT_FDCWD, a[0], Use::List(a[1], a[2]), link),
        // Both sync types at once, or the reserved mask bit: the kernel's EINVAL, from lxrun.
        NR_STATX if a[2] & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE || a[3] & 0x8000_0000 != 0 => return None,
        NR_STATX => (
            dirfd(a[0]),
            a[1],
            Use::Statx(a[2] & AT_STATX_SYNC_TYPE, a[3], a[4]),
            stat_flags(a[2] & !AT_STATX_SYNC_TYPE)?,
        ),
        _ => return None,
    };
    if path == 0 || matches!(act, Use::Stat(0) | Use::Statx(_, _, 0)) {
        return None;
    }
    // The kernel checks readlink's size, and access's mode and flags, before the path.
    match act {
        Use::Readlink(_, size) if size as i32 <= 0 => return Some(-EINVAL),
        Use::Access(mode, _) if mode as u32 & !0o7 != 0 => return Some(-EINVAL),
        _ => {}
    }
    // `..` above `dir` and mount crossings fail here (EXDEV) and go to lxrun.
    let mut at = (dir, false);
    let mut fd = gate_openat2(dir, path, how, false);
    // An absolute path (the kernel has read it: EXDEV), from the root's directory.
    const EXDEV: i64 = 18;
    if fd == -EXDEV && *(path as *const u8) == b'/' {
        at = (root_dir()?, true);
        fd = gate_openat2(at.0, path, how, true);
    }
    // A symlink on the way (the gate's walk follows none: ELOOP) is spliced in here, as
    // lxrun's walk splices it, while no name on the way is a mount's (a symlink there is the
    // mount's, for lxrun to read).
    let mut buf = [0u8; PATH_MAX];
    let mut path = path;
    let mut links = 0;
    if fd == -ELOOP {
        read_path(path, &mut buf)?;
        path = buf.as_ptr() as u64;
    }
    while fd == -ELOOP {
        links += 1;
        if links > MAX_SYMLINKS || names_a_mount(buf.as_ptr()) {
            return None;
        }
        at = splice_link(at, &mut buf, how & fast::O_NOFOLLOW != 0)?;
        fd = gate_openat2(at.0, path, how, at.1);
        if fd == -EXDEV {
            return None;
        }
    }
    // readlinkat of the empty path reads the symlink its descriptor holds (or says ENOENT):
    // lxrun's to answer, with the guest's descriptor.
    if fd == -ENOENT && nr == NR_READLINKAT && *(path as *const u8) == 0 {
        return None;
    }
    if fd < 0 {
        // A missing name is missing for lxrun too: the kernel's walk met no symlink (ELOOP),
        // no `..` above its start and no mount crossing (EXDEV) before it, and no component
        // names a mount point (nor a directory lxrun makes up on the way to one).
        const ENOTDIR: i64 = 20;
        if (fd == -ENOENT || fd == -ENOTDIR) && !names_a_mount(path as *const u8) {
            return Some(fd);
        }
        return None;
    }
    let fd = fd as u64;
    let close = || call(sys::CLOSE, [fd, 0, 0, 0, 0, 0]);
    if names_a_mount(path as *const u8) {
        close();
        return None;
    }
    let proc_dev = *addr_of!(PROC_DEV);
    let empty = addr_of!(GATE.how[0]) as u64;
    let mut st = [0u64; 18];
    let (statbuf, on) = match act {
        Use::Stat(buf) => (buf, true),
        _ => (addr_of_mut!(st) as u64, false),
    };
    let r = call(NR_FSTAT, [fd, statbuf, 0, 0, 0, 0]);
    // st_dev, just written by the kernel: /proc's answers are lxrun's.
    if r < 0 || *(statbuf as *const u64) == proc_dev {
        close();
        return if on && r < 0 { Some(r) } else { None };
    }
    let answer = match act {
        Use::Stat(_) => 0,
        // The sealed empty path: the filter lets these two run on a descriptor.
        // readlinkat of the empty path says ENOENT for what is not a symlink; readlink EINVAL.
        Use::Readlink(_, _) if st[3] & S_IFMT != S_IFLNK => -EINVAL,
        Use::Readlink(buf, size) => call(NR_READLINKAT, [fd, empty, buf, size, 0, 0]),
        Use::Access(mode, eaccess) => call(NR_FACCESSAT2, [fd, empty, mode, AT_EMPTY_PATH | eaccess, 0, 0]),
        Use::Statx(sync, mask, buf) => call(NR_STATX, [fd, empty, AT_EMPTY_PATH | sync, mask, buf, 0]),
        // No xattr call takes an O_PATH descriptor: a regular file or a directory is opened
        // for reading the same confined way (no FIFO waits, no device is opened), anything
        // else (a symlink: llistxattr's own object) and a file it may not read go to lxrun.
        Use::List(buf, size) => {
            let kind = st[3] & S_IFMT;
            if kind != S_IFREG && kind != S_IFDIR {
                close();
                return None;
            }
            let dir = if kind == S_IFDIR { fast::O_DIRECTORY } else { 0 };
            let readable = gate_openat2(at.0, path, fast::O_NOFOLLOW | fast::O_NONBLOCK | fast::O_CLOEXEC | dir, at.1);
            if readable < 0 {
                close();
                return None;
            }
            let r = call(NR_FLISTXATTR, [readable as u64, buf, size, 0, 0, 0]);
            call(sys::CLOSE, [readable as u64, 0, 0, 0, 0, 0]);
            r
        }

        Use::Open => {
            // Devices: a terminal opened without O_NOCTTY is lxrun's to open.
            if matches!(st[3] & S_IFMT, S_IFCHR | S_IFBLK) {
                close();
                return None;
            }
            return Some(fd as i64);
        }
    };
    close();
    Some(answer)
}
