//! Per-syscall decoding: which argument is what, which are only known at the call's exit,
//! and how the result prints.
//!
//! Like strace, arguments are printed in order; the first argument the kernel fills in (an
//! output buffer or structure) and everything after it are printed at the syscall's exit.

use super::consts::*;
use super::fmt::{self, Names, MAX_STRLEN};
use super::structs;
use crate::memory::{GuestMemory, GuestPtr};
use crate::SyscallArgs;

/// What one argument is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum A {
    /// `int` in decimal.
    Int,
    /// `long` in decimal.
    Long,
    /// Unsigned, in decimal.
    ULong,
    Hex,
    Ptr,
    Fd,
    /// A directory fd: `AT_FDCWD` or a number.
    DirFd,
    Path,
    /// A string cut at 32 bytes.
    Str,
    /// A mode in octal (`0755`).
    Oct,
    /// `mode_t` with its file type (mknod).
    FileMode,
    /// open's mode: printed only when the flags (argument N) create a file.
    OpenMode(usize),
    /// Data the guest passes in, its length in argument N.
    InBuf(usize),
    /// Data the kernel fills in; as much as the result says is shown.
    OutBuf,
    /// Like OutBuf, in `\x` notation (getrandom).
    OutBufHex,
    /// getcwd's buffer: a NUL-terminated string of `result` bytes.
    OutCwd,
    Named(Names),
    /// A named constant, printed as `0x.. /* PREFIX_??? */` when unknown.
    NamedOr(Names, &'static str),
    Flags(Names),
    OpenFlags,
    /// Flags that may include O_CLOEXEC/O_NONBLOCK only (pipe2, dup3, ...).
    FdFlags,
    AtFlags,
    AccessAtFlags,
    AccessMode,
    Prot,
    MapFlags,
    Signal,
    SigSetIn(usize),
    SigSetOut(usize),
    SigactionIn,
    SigactionOut,
    StatOut,
    StatxOut,
    SockaddrIn(usize),
    SockaddrOut,
    SockLenOut,
    SockType,
    /// A protocol, named when the domain (argument N) is AF_INET/AF_INET6.
    Protocol(usize),
    Argv,
    Envp,
    WaitStatusOut,
    /// A struct pointer the kernel fills in that we show as an address.
    OutPtr,
    RlimitIn,
    RlimitOut,
    UtsnameOut,
    IovIn(usize),
    IovOut(usize),
    IntPairOut,
    TimespecIn,
    TimespecOut,
    TimevalIn,
    TimevalOut,
    /// An `fd_set` of as many descriptors as argument 0 says.
    FdSet,
    SysinfoOut,
    /// A list of group ids of argument 0's length (setgroups) or the result's (getgroups).
    GidsIn,
    GidsOut,
    IntOut,
    DirentsOut,
    PollFds(usize),
    FcntlArg,
    CloneFlags,
    CloneStack,
    CloneRest,
    Clone3,
    FutexOp,
    FutexRest,
    PrctlArgs,
    IoctlArg,
    SigreturnMask,
    RestartSyscall,
}

impl A {
    /// Whether the kernel fills this argument in: it and every later one print at exit.
    fn is_out(self) -> bool {
        matches!(
            self,
            A::OutBuf
                | A::OutBufHex
                | A::OutCwd
                | A::SigSetOut(_)
                | A::SigactionOut
                | A::StatOut
                | A::StatxOut
                | A::SockaddrOut
                | A::SockLenOut
                | A::WaitStatusOut
                | A::OutPtr
                | A::RlimitOut
                | A::UtsnameOut
                | A::IovOut(_)
                | A::IntPairOut
                | A::TimespecOut
                | A::TimevalOut
                | A::SysinfoOut
                | A::GidsOut
                | A::IntOut
                | A::DirentsOut
                | A::CloneRest
                | A::Clone3
        )
    }
}

/// How the result prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum R {
    Dec,
    Hex,
    Oct,
    /// The call does not return (exit, exit_group): `= ?`.
    NoReturn,
    /// fcntl: F_GETFL and F_GETFD results show their flags.
    Fcntl,
    /// poll: the ready descriptors follow the count.
    Poll,
    /// select, pselect6: the ready sets follow the count.
    Select,
}

/// A syscall's decoding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec {
    pub args: &'static [A],
    pub ret: R,
}

const fn s(args: &'static [A], ret: R) -> Spec {
    Spec { args, ret }
}

use A::*;

const SIX_HEX: &[A] = &[Hex, Hex, Hex, Hex, Hex, Hex];

/// The decoding of the syscall named `name`; unknown calls show six hexadecimal arguments.
pub(crate) fn spec(name: &str) -> Spec {
    let d = R::Dec;
    match name {
        "read" => s(&[Fd, OutBuf, ULong], d),
        "write" => s(&[Fd, InBuf(2), ULong], d),
        "pread64" => s(&[Fd, OutBuf, ULong, Long], d),
        "pwrite64" => s(&[Fd, InBuf(2), ULong, Long], d),
        "readv" => s(&[Fd, IovOut(2), Int], d),
        "writev" => s(&[Fd, IovIn(2), Int], d),
        "preadv" | "preadv2" => s(&[Fd, IovOut(2), Int, Long], d),
        "pwritev" | "pwritev2" => s(&[Fd, IovIn(2), Int, Long], d),
        "open" => s(&[Path, OpenFlags, OpenMode(1)], d),
        "openat" => s(&[DirFd, Path, OpenFlags, OpenMode(2)], d),
        "creat" => s(&[Path, Oct], d),
        "close" => s(&[Fd], d),
        "close_range" => s(&[Fd, Fd, Flags(CLOSE_RANGE_FLAGS)], d),
        "stat" | "lstat" => s(&[Path, StatOut], d),
        "fstat" => s(&[Fd, StatOut], d),
        "newfstatat" => s(&[DirFd, Path, StatOut, AtFlags], d),
        "statx" => s(&[DirFd, Path, AtFlags, Flags(STATX_MASK), StatxOut], d),
        "statfs" => s(&[Path, OutPtr], d),
        "fstatfs" => s(&[Fd, OutPtr], d),
        "lseek" => s(&[Fd, Long, Named(WHENCE)], d),
        "mmap" => s(&[Ptr, ULong, Prot, MapFlags, Fd, Hex], R::Hex),
        "mprotect" | "pkey_mprotect" => s(&[Ptr, ULong, Prot], d),
        "munmap" => s(&[Ptr, ULong], d),
        "mremap" => s(&[Ptr, ULong, ULong, Flags(MREMAP_FLAGS), Ptr], R::Hex),
        "madvise" => s(&[Ptr, ULong, Named(MADVISE)], d),
        "msync" => s(&[Ptr, ULong, Flags(MS_FLAGS)], d),
        "mlock" | "munlock" => s(&[Ptr, ULong], d),
        "brk" => s(&[Ptr], R::Hex),
        "rt_sigaction" => s(&[Signal, SigactionIn, SigactionOut, ULong], d),
        "rt_sigprocmask" => s(&[Named(SIG_HOW), SigSetIn(3), SigSetOut(3), ULong], d),
        "rt_sigreturn" => s(&[SigreturnMask], d),
        "rt_sigsuspend" => s(&[SigSetIn(1), ULong], d),
        "rt_sigpending" => s(&[SigSetOut(1), ULong], d),
        "rt_sigtimedwait" => s(&[SigSetIn(3), OutPtr, Ptr, ULong], d),
        "sigaltstack" => s(&[Ptr, Ptr], d),
        "ioctl" => s(&[Fd, NamedOr(IOCTLS, "_IOC"), IoctlArg], d),
        "access" => s(&[Path, AccessMode], d),
        "faccessat" => s(&[DirFd, Path, AccessMode], d),
        "faccessat2" => s(&[DirFd, Path, AccessMode, AccessAtFlags], d),
        "pipe" => s(&[IntPairOut], d),
        "pipe2" => s(&[IntPairOut, FdFlags], d),
        "poll" => s(&[PollFds(1), Int, Int], R::Poll),
        "ppoll" => s(&[PollFds(1), Int, TimespecIn, SigSetIn(4), ULong], R::Poll),
        "select" => s(&[Int, FdSet, FdSet, FdSet, TimevalIn], R::Select),
        "pselect6" => s(&[Int, FdSet, FdSet, FdSet, TimespecIn, Ptr], R::Select),
        "sched_yield" | "pause" | "getpid" | "getppid" | "getuid" | "geteuid" | "getgid" | "getegid" | "gettid"
        | "getpgrp" | "setsid" | "fork" | "vfork" | "sync" | "vhangup" | "munlockall" | "inotify_init" => s(&[], d),
        "dup" => s(&[Fd], d),
        "dup2" => s(&[Fd, Fd], d),
        "dup3" => s(&[Fd, Fd, FdFlags], d),
        "nanosleep" => s(&[TimespecIn, Ptr], d),
        "clock_nanosleep" => s(&[Named(CLOCKS), Flags(TIMER_FLAGS), TimespecIn, Ptr], d),
        "clock_gettime" | "clock_getres" => s(&[Named(CLOCKS), TimespecOut], d),
        "gettimeofday" => s(&[TimevalOut, Ptr], d),
        "getitimer" => s(&[Named(ITIMERS), OutPtr], d),
        "setitimer" => s(&[Named(ITIMERS), Ptr, Ptr], d),
        "alarm" => s(&[ULong], d),
        "sendfile" => s(&[Fd, Fd, Ptr, ULong], d),
        "socket" => s(&[Named(ADDRESS_FAMILIES), SockType, Protocol(0)], d),
        "socketpair" => s(&[Named(ADDRESS_FAMILIES), SockType, Protocol(0), IntPairOut], d),
        "connect" | "bind" => s(&[Fd, SockaddrIn(2), ULong], d),
        "listen" => s(&[Fd, Int], d),
        "accept" => s(&[Fd, SockaddrOut, SockLenOut], d),
        "accept4" => s(&[Fd, SockaddrOut, SockLenOut, FdFlags], d),
        "getsockname" | "getpeername" => s(&[Fd, SockaddrOut, SockLenOut], d),
        "sendto" => s(&[Fd, InBuf(2), ULong, Flags(MSG_FLAGS), SockaddrIn(5), ULong], d),
        "recvfrom" => s(&[Fd, OutBuf, ULong, Flags(MSG_FLAGS), SockaddrOut, SockLenOut], d),
        "sendmsg" => s(&[Fd, Ptr, Flags(MSG_FLAGS)], d),
        "recvmsg" => s(&[Fd, OutPtr, Flags(MSG_FLAGS)], d),
        "shutdown" => s(&[Fd, Named(SHUTDOWN_HOW)], d),
        "setsockopt" => s(&[Fd, Named(SOCKOPT_LEVELS), Int, Ptr, ULong], d),
        "getsockopt" => s(&[Fd, Named(SOCKOPT_LEVELS), Int, OutPtr, Ptr], d),
        "clone" => s(&[CloneStack, CloneFlags, CloneRest], d),
        "clone3" => s(&[Clone3, ULong], d),
        "execve" => s(&[Path, Argv, Envp], d),
        "execveat" => s(&[DirFd, Path, Argv, Envp, AtFlags], d),
        "exit" | "exit_group" => s(&[Int], R::NoReturn),
        "wait4" => s(&[Int, WaitStatusOut, Flags(WAIT_OPTIONS), OutPtr], d),
        "waitid" => s(&[Named(WAITID_TYPES), Int, OutPtr, Flags(WAIT_OPTIONS), OutPtr], d),
        "kill" => s(&[Int, Signal], d),
        "tkill" => s(&[Int, Signal], d),
        "tgkill" => s(&[Int, Int, Signal], d),
        "uname" => s(&[UtsnameOut], d),
        "fcntl" => s(&[Fd, Named(FCNTL_CMDS), FcntlArg], R::Fcntl),
        "flock" => s(&[Fd, Flags(FLOCK_OPS)], d),
        "fsync" | "fdatasync" | "fchdir" | "syncfs" => s(&[Fd], d),
        "truncate" => s(&[Path, Long], d),
        "ftruncate" => s(&[Fd, Long], d),
        "getdents" | "getdents64" => s(&[Fd, DirentsOut, ULong], d),
        "getcwd" => s(&[OutCwd, ULong], d),
        "chdir" | "rmdir" | "unlink" | "chroot" | "acct" => s(&[Path], d),
        "mount" => s(&[Str, Path, Str, Flags(MOUNT_FLAGS), Str], d),
        "umount2" => s(&[Path, Flags(UMOUNT_FLAGS)], d),
        "file_getattr" | "file_setattr" => s(&[DirFd, Path, Ptr, ULong, AtFlags], d),
        "rename" | "link" | "symlink" => s(&[Path, Path], d),
        "renameat" | "linkat" => s(&[DirFd, Path, DirFd, Path, AtFlags], d),
        "renameat2" => s(&[DirFd, Path, DirFd, Path, Flags(RENAME_FLAGS)], d),
        "symlinkat" => s(&[Path, DirFd, Path], d),
        "mkdir" => s(&[Path, Oct], d),
        "mkdirat" => s(&[DirFd, Path, Oct], d),
        "mknod" => s(&[Path, FileMode, Hex], d),
        "mknodat" => s(&[DirFd, Path, FileMode, Hex], d),
        "unlinkat" => s(&[DirFd, Path, AtFlags], d),
        "readlink" => s(&[Path, OutBuf, ULong], d),
        "readlinkat" => s(&[DirFd, Path, OutBuf, ULong], d),
        "chmod" => s(&[Path, Oct], d),
        "fchmod" => s(&[Fd, Oct], d),
        "fchmodat" => s(&[DirFd, Path, Oct], d),
        "chown" | "lchown" => s(&[Path, Int, Int], d),
        "fchown" => s(&[Fd, Int, Int], d),
        "fchownat" => s(&[DirFd, Path, Int, Int, AtFlags], d),
        "umask" => s(&[Oct], R::Oct),
        "utimensat" => s(&[DirFd, Path, Ptr, AtFlags], d),
        "getrlimit" => s(&[Named(RLIMITS), RlimitOut], d),
        "setrlimit" => s(&[Named(RLIMITS), RlimitIn], d),
        "prlimit64" => s(&[Int, Named(RLIMITS), RlimitIn, RlimitOut], d),
        "getrusage" => s(&[Named(RUSAGE_WHO), OutPtr], d),
        "sysinfo" => s(&[SysinfoOut], d),
        "times" => s(&[OutPtr], d),
        "setuid" | "setgid" | "setfsuid" | "setfsgid" | "getpgid" | "getsid" => s(&[Int], d),
        "setpgid" | "setreuid" | "setregid" => s(&[Int, Int], d),
        "setresuid" | "setresgid" => s(&[Int, Int, Int], d),
        "getresuid" | "getresgid" => s(&[IntOut, IntOut, IntOut], d),
        "getgroups" => s(&[Int, GidsOut], d),
        "setgroups" => s(&[Int, GidsIn], d),
        "prctl" => s(&[PrctlArgs], d),
        "arch_prctl" => s(&[NamedOr(ARCH_PRCTL, "ARCH"), Hex], d),
        "futex" => s(&[Ptr, FutexOp, FutexRest], d),
        "set_tid_address" => s(&[Ptr], d),
        "set_robust_list" => s(&[Ptr, ULong], d),
        "get_robust_list" => s(&[Int, OutPtr, Ptr], d),
        "rseq" => s(&[Ptr, Hex, Hex, Hex], d),
        "getrandom" => s(&[OutBufHex, ULong, Flags(GRND_FLAGS)], d),
        "fadvise64" => s(&[Fd, Long, Long, Named(FADVISE)], d),
        "fallocate" => s(&[Fd, Hex, Long, Long], d),
        "sched_getaffinity" => s(&[Int, ULong, OutPtr], d),
        "sched_setaffinity" => s(&[Int, ULong, Ptr], d),
        "sched_getscheduler" => s(&[Int], d),
        "sched_setscheduler" => s(&[Int, Named(SCHED_POLICIES), Ptr], d),
        "getpriority" | "setpriority" => s(&[Int, Int, Int], d),
        "restart_syscall" => s(&[RestartSyscall], d),
        "epoll_create" => s(&[Int], d),
        "epoll_create1" => s(&[Flags(EPOLL_FLAGS)], d),
        "epoll_ctl" => s(&[Fd, Named(EPOLL_CTL), Fd, Ptr], d),
        "epoll_wait" => s(&[Fd, OutPtr, Int, Int], d),
        "epoll_pwait" => s(&[Fd, OutPtr, Int, Int, Ptr, ULong], d),
        "eventfd2" => s(&[ULong, Flags(EFD_FLAGS)], d),
        "memfd_create" => s(&[Str, Flags(MEMFD_FLAGS)], d),
        "inotify_init1" | "signalfd4" | "timerfd_create" => s(&[Hex, Hex], d),
        "inotify_add_watch" => s(&[Fd, Path, Hex], d),
        "getxattr" | "lgetxattr" => s(&[Path, Str, OutPtr, ULong], d),
        "fgetxattr" => s(&[Fd, Str, OutPtr, ULong], d),
        "listxattr" | "llistxattr" => s(&[Path, OutPtr, ULong], d),
        "pidfd_open" => s(&[Int, Hex], d),
        "sendfile64" => s(&[Fd, Fd, Ptr, ULong], d),
        "copy_file_range" => s(&[Fd, Ptr, Fd, Ptr, ULong, Hex], d),
        "splice" => s(&[Fd, Ptr, Fd, Ptr, ULong, Hex], d),
        "membarrier" => s(&[Hex, Hex, Int], d),
        "capget" | "capset" => s(&[Ptr, Ptr], d),
        "personality" => s(&[Hex], R::Hex),
        _ => s(SIX_HEX, d),
    }
}

/// Decodes argument `i` of `call` as kind `a`. `ret` is the result once the call has exited.
/// None: the argument is not shown (open's mode without O_CREAT, fcntl's unused argument).
pub(crate) fn arg(a: A, i: usize, call: &SyscallArgs, mem: &GuestMemory, ret: Option<i64>) -> Option<String> {
    let v = call.args[i];
    let failed = ret.is_some_and(fmt::is_error);
    // An output of a failed call was never written: show where it would have gone (a
    // socket address length is also an input, so it is always there).
    if a.is_out() && failed && !matches!(a, A::CloneRest | A::Clone3 | A::SockLenOut) {
        return Some(fmt::ptr(v));
    }
    let ok = ret.unwrap_or(0);
    Some(match a {
        Int | Fd => (v as i32).to_string(),
        Long => (v as i64).to_string(),
        ULong => v.to_string(),
        Hex => fmt::hex(v),
        Ptr | OutPtr => fmt::ptr(v),
        DirFd => dirfd(v),
        Path => fmt::path(mem, v),
        Str => fmt::cstring(mem, v, MAX_STRLEN),
        Oct => fmt::octal(v & 0o7777),
        FileMode => structs::file_mode(v),
        OpenMode(f) => {
            let flags = call.args[f];
            if flags & 0o100 == 0 && flags & 0o20000000 == 0 {
                return None;
            }
            fmt::octal(v & 0o7777)
        }
        InBuf(len) => fmt::buffer(mem, v, call.args[len], false),
        OutBuf => fmt::buffer(mem, v, ok.max(0) as u64, false),
        OutBufHex => fmt::buffer(mem, v, ok.max(0) as u64, true),
        OutCwd => {
            let n = (ok.max(1) as usize).saturating_sub(1).min(fmt::PATH_LEN);
            let mut b = vec![0u8; n];
            match mem.read_bytes(v, &mut b) {
                Ok(()) => fmt::quote(&b, false),
                Err(_) => fmt::ptr(v),
            }
        }
        Named(names) => fmt::xlat(v, names, None),
        NamedOr(names, prefix) => fmt::xlat(v, names, Some(prefix)),
        Flags(names) => fmt::flags(v, names, "0"),
        OpenFlags => open_flags(v),
        FdFlags => fmt::flags(v, OPEN_FLAGS, "0"),
        AtFlags => {
            if call.nr == libc::SYS_statx as u64 && v & 0x6000 == 0 {
                let rest = fmt::flags(v, AT_FLAGS, "");
                if rest.is_empty() {
                    "AT_STATX_SYNC_AS_STAT".into()
                } else {
                    format!("AT_STATX_SYNC_AS_STAT|{rest}")
                }
            } else {
                fmt::flags(v, AT_FLAGS, "0")
            }
        }
        AccessAtFlags => fmt::flags(v, ACCESS_AT_FLAGS, "0"),
        AccessMode => fmt::flags(v, ACCESS_MODES, "F_OK"),
        Prot => fmt::flags(v, PROT, "PROT_NONE"),
        MapFlags => {
            let ty = fmt::xlat(v & 0xf, MAP_TYPE, None);
            let rest = fmt::flags(v & !0xf, MAP_FLAGS, "");
            if rest.is_empty() {
                ty
            } else {
                format!("{ty}|{rest}")
            }
        }
        Signal => fmt::signal(v as i32 as i64),
        SigSetIn(size) | SigSetOut(size) => structs::sigset_at(mem, v, call.args[size]),
        SigactionIn | SigactionOut => {
            if v == 0 {
                "NULL".into()
            } else {
                structs::sigaction(mem, v)
            }
        }
        StatOut => structs::stat(mem, v),
        StatxOut => structs::statx(mem, v),
        SockaddrIn(len) => structs::sockaddr(mem, v, call.args[len]),
        SockaddrOut => {
            let len = call.args.get(i + 1).copied().unwrap_or(0);
            match fmt::read_struct::<4>(mem, len) {
                Some(l) if v != 0 => structs::sockaddr(mem, v, u64::from(u32::from_le_bytes(l))),
                _ => fmt::ptr(v),
            }
        }
        SockLenOut | IntOut => structs::int_at(mem, v),
        SockType => {
            let ty = fmt::xlat(v & 0xf, SOCK_TYPES, None);
            let rest = fmt::flags(v & !0xf, SOCK_FLAGS, "");
            if rest.is_empty() {
                ty
            } else {
                format!("{ty}|{rest}")
            }
        }
        Protocol(domain) => match call.args[domain] {
            2 | 10 => fmt::xlat(v, IP_PROTOCOLS, None),
            _ => (v as i32).to_string(),
        },
        Argv => argv(mem, v),
        Envp => envp(mem, v),
        WaitStatusOut => {
            if v == 0 || ok == 0 {
                fmt::ptr(v)
            } else {
                match fmt::read_struct::<4>(mem, v) {
                    Some(b) => structs::wait_status(i32::from_le_bytes(b)),
                    None => fmt::ptr(v),
                }
            }
        }
        RlimitIn | RlimitOut => {
            if v == 0 {
                "NULL".into()
            } else {
                structs::rlimit(mem, v)
            }
        }
        UtsnameOut => structs::utsname(mem, v),
        IovIn(n) => structs::iovec(mem, v, call.args[n], None),
        IovOut(n) => structs::iovec(mem, v, call.args[n], Some(ok.max(0) as u64)),
        IntPairOut => structs::int_pair(mem, v),
        TimespecIn | TimespecOut => {
            if v == 0 {
                "NULL".into()
            } else {
                structs::timespec(mem, v)
            }
        }
        TimevalIn | TimevalOut => {
            if v == 0 {
                "NULL".into()
            } else {
                structs::timeval(mem, v)
            }
        }
        FdSet => structs::fd_set(mem, v, call.args[0]),
        SysinfoOut => structs::sysinfo(mem, v),
        GidsIn => structs::gids(mem, v, call.args[0]),
        GidsOut => structs::gids(mem, v, if call.args[0] == 0 { 0 } else { ok.max(0) as u64 }),
        DirentsOut => match structs::dirent_count(mem, v, ok.max(0) as u64) {
            Some(n) => format!("{} /* {n} entries */", fmt::ptr(v)),
            None => fmt::ptr(v),
        },
        PollFds(n) => structs::pollfds(mem, v, call.args[n], false),
        FcntlArg => return fcntl_arg(call, mem),
        CloneStack => format!("child_stack={}", fmt::ptr(call.args[1])),
        CloneFlags => format!("flags={}", clone_flags(call.args[0])),
        CloneRest => return clone_rest(call, mem, ret),
        Clone3 => clone3(mem, v, ret),
        FutexOp => futex_op(v),
        FutexRest => return futex_rest(call, mem),
        PrctlArgs => prctl(call, mem),
        IoctlArg => fmt::ptr(v),
        SigreturnMask => match call.sp.checked_add(296) {
            Some(at) => format!("{{mask={}}}", structs::sigset_at(mem, at, 8)),
            None => "{mask=?}".into(),
        },
        // Filled in by the printer, which remembers the interrupted call.
        RestartSyscall => "<... resuming interrupted call ...>".into(),
    })
}

fn dirfd(v: u64) -> String {
    if v as i32 == -100 {
        "AT_FDCWD".into()
    } else {
        (v as i32).to_string()
    }
}

/// Open flags: the access mode, then the other flags (`O_RDONLY|O_CLOEXEC`).
pub(crate) fn open_flags(v: u64) -> String {
    let mode = fmt::xlat(v & 3, OPEN_ACCMODE, None);
    let rest = fmt::flags(v & !3, OPEN_FLAGS, "");
    if rest.is_empty() {
        mode
    } else {
        format!("{mode}|{rest}")
    }
}

/// `["a", "b"]`: at most 32 strings of at most 32 bytes each.
fn argv(mem: &GuestMemory, addr: u64) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    let mut parts = Vec::new();
    for i in 0..=MAX_STRLEN as u64 {
        let Some(p) = addr
            .checked_add(8 * i)
            .and_then(|a| mem.read(GuestPtr::<u64>::new(a)).ok())
        else {
            if i == 0 {
                return fmt::ptr(addr);
            }
            parts.push("...".to_string());
            break;
        };
        if p == 0 {
            break;
        }
        if i == MAX_STRLEN as u64 {
            parts.push("...".to_string());
            break;
        }
        parts.push(fmt::cstring(mem, p, MAX_STRLEN));
    }
    format!("[{}]", parts.join(", "))
}

/// The environment, abbreviated as strace does: `0x7ffc... /* 35 vars */`.
fn envp(mem: &GuestMemory, addr: u64) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    match mem.read_ptr_array(GuestPtr::new(addr), 1 << 20) {
        Ok(v) => format!("{} /* {} vars */", fmt::ptr(addr), v.len()),
        Err(_) => fmt::ptr(addr),
    }
}

fn clone_flags(flags: u64) -> String {
    let sig = flags & 0xff;
    let rest = fmt::flags(flags & !0xff, CLONE_FLAGS, "");
    match (rest.is_empty(), sig) {
        (true, 0) => "0".into(),
        (true, s) => fmt::signal(s as i64),
        (false, 0) => rest,
        (false, s) => format!("{rest}|{}", fmt::signal(s as i64)),
    }
}

/// clone's arguments after the flags, those the flags make meaningful:
/// `parent_tid=[N], tls=0x..., child_tidptr=0x...`.
fn clone_rest(call: &SyscallArgs, mem: &GuestMemory, ret: Option<i64>) -> Option<String> {
    let [flags, _stack, parent_tid, child_tid, tls, _] = call.args;
    let mut parts = Vec::new();
    if flags & 0x100000 != 0 {
        let shown = match ret {
            Some(r) if !fmt::is_error(r) => structs::int_at(mem, parent_tid),
            _ => fmt::ptr(parent_tid),
        };
        parts.push(format!("parent_tid={shown}"));
    }
    if flags & 0x80000 != 0 {
        parts.push(format!("tls={}", fmt::ptr(tls)));
    }
    if flags & (0x1000000 | 0x200000) != 0 {
        parts.push(format!("child_tidptr={}", fmt::ptr(child_tid)));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// `struct clone_args`, and after a successful call ` => {parent_tid=[N]}`.
fn clone3(mem: &GuestMemory, addr: u64, ret: Option<i64>) -> String {
    let Some(b) = fmt::read_struct::<88>(mem, addr) else {
        return fmt::ptr(addr);
    };
    let f = |i: usize| fmt::le(&b, 8 * i, 8);
    let flags = f(0);
    let mut parts = vec![format!("flags={}", fmt::flags(flags, CLONE_FLAGS, "0"))];
    if flags & 0x1000 != 0 {
        parts.push(format!("pidfd={}", fmt::ptr(f(1))));
    }
    if flags & (0x1000000 | 0x200000) != 0 {
        parts.push(format!("child_tid={}", fmt::ptr(f(2))));
    }
    if flags & 0x100000 != 0 {
        parts.push(format!("parent_tid={}", fmt::ptr(f(3))));
    }
    let sig = f(4);
    parts.push(format!(
        "exit_signal={}",
        if sig == 0 { "0".into() } else { fmt::signal(sig as i64) }
    ));
    parts.push(format!("stack={}", fmt::ptr(f(5))));
    parts.push(format!("stack_size={}", fmt::hex(f(6))));
    if flags & 0x80000 != 0 {
        parts.push(format!("tls={}", fmt::ptr(f(7))));
    }
    let mut s = format!("{{{}}}", parts.join(", "));
    if ret.is_some_and(|r| r > 0) && flags & 0x100000 != 0 {
        s.push_str(&format!(" => {{parent_tid={}}}", structs::int_at(mem, f(3))));
    }
    s
}

fn futex_op(v: u64) -> String {
    let cmd = v & 0x7f;
    let mut s = fmt::xlat(cmd, FUTEX_OPS, None);
    if v & 128 != 0 {
        s.push_str("_PRIVATE");
    }
    if v & 256 != 0 {
        s.push_str("|FUTEX_CLOCK_REALTIME");
    }
    let rest = v & !(0x7f | 128 | 256);
    if rest != 0 {
        s.push_str(&format!("|{rest:#x}"));
    }
    s
}

/// futex's arguments after the operation, as the operation uses them.
fn futex_rest(call: &SyscallArgs, mem: &GuestMemory) -> Option<String> {
    let [_, op, val, timeout, uaddr2, val3] = call.args;
    let val = val as u32;
    let ts = || {
        if timeout == 0 {
            "NULL".to_string()
        } else {
            structs::timespec(mem, timeout)
        }
    };
    Some(match op & 0x7f {
        0 => format!("{val}, {}", ts()),
        9 => {
            let bits = if val3 as u32 == u32::MAX {
                "FUTEX_BITSET_MATCH_ANY".to_string()
            } else {
                fmt::hex(val3 & 0xffff_ffff)
            };
            format!("{val}, {}, {bits}", ts())
        }
        1 | 7 | 8 => val.to_string(),
        10 => format!("{val}, NULL, {}", fmt::hex(val3 & 0xffff_ffff)),
        3 => format!("{val}, {}, {}", timeout, fmt::ptr(uaddr2)),
        4 => format!("{val}, {}, {}, {}", timeout, fmt::ptr(uaddr2), val3 as u32),
        _ => format!("{val}, {}, {}, {}", fmt::ptr(timeout), fmt::ptr(uaddr2), fmt::hex(val3)),
    })
}

fn fcntl_arg(call: &SyscallArgs, mem: &GuestMemory) -> Option<String> {
    let v = call.args[2];
    match call.args[1] {
        1 | 3 | 9 | 11 | 1025 | 1032 | 1034 => None,
        2 => Some(fmt::flags(v, FD_FLAGS, "0")),
        4 => Some(open_flags(v)),
        5..=7 | 36..=38 => Some(structs::flock(mem, v)),
        _ => Some((v as i32).to_string()),
    }
}

fn prctl(call: &SyscallArgs, mem: &GuestMemory) -> String {
    let [option, a2, a3, a4, a5, _] = call.args;
    let name = fmt::xlat(option, PRCTL, Some("PR"));
    match option {
        1 => format!("{name}, {}", fmt::signal(a2 as i32 as i64)),
        15 => format!("{name}, {}", fmt::cstring(mem, a2, 16)),
        2 | 16 => format!("{name}, {}", fmt::ptr(a2)),
        3 | 21 | 37 | 39 => name,
        4 | 8 | 23 | 24 | 36 => format!("{name}, {}", a2),
        _ => format!(
            "{name}, {}, {}, {}, {}",
            fmt::hex(a2),
            fmt::hex(a3),
            fmt::hex(a4),
            fmt::hex(a5)
        ),
    }
}

/// Decodes the arguments of `call` that are known at its entry: (argument index, text) of
/// each shown, and the index of the first argument left for the exit (== spec.args.len()
/// when there is none).
pub(crate) fn entry_args(spec: &Spec, call: &SyscallArgs, mem: &GuestMemory) -> (Vec<(usize, String)>, usize) {
    let split = spec.args.iter().position(|a| a.is_out()).unwrap_or(spec.args.len());
    let texts = spec.args[..split]
        .iter()
        .enumerate()
        .filter_map(|(i, &a)| arg(a, i, call, mem, None).map(|t| (i, t)))
        .collect();
    (texts, split)
}

/// Whether anything will be shown at exit (clone shows its tid pointers only when its flags
/// use them), so that the entry part ends with `, ` as strace's does.
pub(crate) fn exit_part_present(spec: &Spec, split: usize, call: &SyscallArgs) -> bool {
    spec.args[split..]
        .iter()
        .any(|&a| a != A::CloneRest || call.args[0] & (0x100000 | 0x80000 | 0x1000000 | 0x200000) != 0)
}

/// Decodes the arguments from `from` on, once the call returned `ret`.
pub(crate) fn exit_args(spec: &Spec, from: usize, call: &SyscallArgs, mem: &GuestMemory, ret: i64) -> Vec<String> {
    spec.args
        .iter()
        .enumerate()
        .skip(from)
        .filter_map(|(i, &a)| arg(a, i, call, mem, Some(ret)))
        .collect()
}

/// The result as strace prints it after `= `.
pub(crate) fn result(spec: &Spec, call: &SyscallArgs, mem: &GuestMemory, ret: i64) -> String {
    if fmt::is_error(ret) {
        return fmt::error_return(-ret);
    }
    match spec.ret {
        R::Dec | R::NoReturn => ret.to_string(),
        R::Hex => fmt::hex(ret as u64),
        R::Oct => fmt::octal(ret as u64),
        R::Fcntl => match call.args[1] {
            1 if ret != 0 => format!("{:#x} (flags {})", ret, fmt::flags(ret as u64, FD_FLAGS, "0")),
            3 => format!("{:#x} (flags {})", ret, open_flags(ret as u64)),
            _ => ret.to_string(),
        },
        R::Select => {
            if ret == 0 {
                return "0 (Timeout)".into();
            }
            let parts: Vec<String> = [(1, "in"), (2, "out"), (3, "except")]
                .iter()
                .filter(|(i, _)| call.args[*i] != 0)
                .map(|(i, name)| (name, structs::fd_set(mem, call.args[*i], call.args[0])))
                .filter(|(_, set)| set != "[]")
                .map(|(name, set)| format!("{name} {set}"))
                .collect();
            format!("{ret} ({})", parts.join(", "))
        }
        R::Poll => {
            if ret == 0 {
                "0 (Timeout)".into()
            } else {
                format!("{ret} ({})", structs::pollfds(mem, call.args[0], call.args[1], true))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> GuestMemory {
        GuestMemory::new(std::process::id() as i32)
    }

    fn call(nr: i64, args: [u64; 6]) -> SyscallArgs {
        SyscallArgs {
            nr: nr as u64,
            args,
            arch: crate::AUDIT_ARCH_X86_64,
            sp: 0,
            ip: 0,
        }
    }

    fn decode(name: &str, c: &SyscallArgs, ret: i64) -> String {
        let sp = spec(name);
        let (texts, from) = entry_args(&sp, c, &me());
        let mut texts: Vec<String> = texts.into_iter().map(|(_, t)| t).collect();
        texts.extend(exit_args(&sp, from, c, &me(), ret));
        format!("{name}({}) = {}", texts.join(", "), result(&sp, c, &me(), ret))
    }

    #[test]
    fn open_flags_and_modes() {
        let path = c"/etc/hostname";
        let c = call(libc::SYS_openat, [-100i64 as u64, path.as_ptr() as u64, 0, 0, 0, 0]);
        assert_eq!(
            decode("openat", &c, 3),
            r#"openat(AT_FDCWD, "/etc/hostname", O_RDONLY) = 3"#
        );
        let flags = (libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC) as u64;
        let c = call(libc::SYS_openat, [3, path.as_ptr() as u64, flags, 0o640, 0, 0]);
        assert_eq!(
            decode("openat", &c, -2),
            r#"openat(3, "/etc/hostname", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0640) = -1 ENOENT (No such file or directory)"#
        );
        assert_eq!(
            open_flags((libc::O_RDWR | libc::O_APPEND) as u64 | 0o100000),
            "O_RDWR|O_APPEND|O_LARGEFILE"
        );
        assert_eq!(open_flags(libc::O_RDONLY as u64 | 0x8000_0000), "O_RDONLY|0x80000000");
        // strace's order is not the bits' order.
        let flags = libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_ASYNC;
        assert_eq!(
            open_flags(flags as u64),
            "O_RDONLY|O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC|O_DIRECTORY|FASYNC"
        );
        assert_eq!(open_flags((libc::O_RDWR | libc::O_TMPFILE) as u64), "O_RDWR|O_TMPFILE");
        assert_eq!(open_flags((libc::O_WRONLY | libc::O_SYNC) as u64), "O_WRONLY|O_SYNC");
    }

    #[test]
    fn memory_and_process_calls() {
        let c = call(libc::SYS_mmap, [0, 8192, 3, 0x22, -1i64 as u64, 0]);
        assert_eq!(
            decode("mmap", &c, 0x7f00_0000_0000),
            "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000"
        );
        let c = call(libc::SYS_mprotect, [0x4000, 4096, 0, 0, 0, 0]);
        assert_eq!(decode("mprotect", &c, 0), "mprotect(0x4000, 4096, PROT_NONE) = 0");
        let c = call(libc::SYS_clone, [0x1200011, 0, 0, 0x1234, 0, 0]);
        assert_eq!(
            decode("clone", &c, 42),
            "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x1234) = 42"
        );
        let c = call(libc::SYS_exit_group, [0; 6]);
        assert_eq!(spec("exit_group").ret, R::NoReturn);
        assert_eq!(decode("exit_group", &c, 0), "exit_group(0) = 0");
        let c = call(libc::SYS_kill, [42, 15, 0, 0, 0, 0]);
        assert_eq!(decode("kill", &c, 0), "kill(42, SIGTERM) = 0");
        let c = call(libc::SYS_arch_prctl, [0x3001, 0x10, 0, 0, 0, 0]);
        assert_eq!(
            decode("arch_prctl", &c, -22),
            "arch_prctl(0x3001 /* ARCH_??? */, 0x10) = -1 EINVAL (Invalid argument)"
        );
        let c = call(libc::SYS_futex, [0x1000, 0x81, 1, 0, 0, 0]);
        assert_eq!(decode("futex", &c, 0), "futex(0x1000, FUTEX_WAKE_PRIVATE, 1) = 0");
    }

    #[test]
    fn buffers_are_shown_as_much_as_read() {
        let data = *b"hello world\n";
        let c = call(libc::SYS_read, [3, data.as_ptr() as u64, 100, 0, 0, 0]);
        assert_eq!(decode("read", &c, 5), r#"read(3, "hello", 100) = 5"#);
        assert_eq!(
            decode("read", &c, -11),
            format!(
                "read(3, {:#x}, 100) = -1 EAGAIN (Resource temporarily unavailable)",
                data.as_ptr() as u64
            )
        );
        let c = call(libc::SYS_write, [1, data.as_ptr() as u64, 12, 0, 0, 0]);
        assert_eq!(decode("write", &c, 12), r#"write(1, "hello world\n", 12) = 12"#);
    }

    #[test]
    fn fcntl_and_umask_results() {
        let c = call(libc::SYS_fcntl, [3, 3, 0, 0, 0, 0]);
        assert_eq!(
            decode("fcntl", &c, 0x8402),
            "fcntl(3, F_GETFL) = 0x8402 (flags O_RDWR|O_APPEND|O_LARGEFILE)"
        );
        let c = call(libc::SYS_fcntl, [3, 2, 1, 0, 0, 0]);
        assert_eq!(decode("fcntl", &c, 0), "fcntl(3, F_SETFD, FD_CLOEXEC) = 0");
        let c = call(libc::SYS_umask, [0o22, 0, 0, 0, 0, 0]);
        assert_eq!(decode("umask", &c, 0o22), "umask(022) = 022");
    }

    #[test]
    fn select_and_socket_lengths() {
        let set: [u64; 1] = [1 << 3 | 1 << 5];
        let c = call(libc::SYS_pselect6, [6, set.as_ptr() as u64, 0, 0, 0, 0]);
        assert_eq!(
            decode("pselect6", &c, 2),
            "pselect6(6, [3 5], NULL, NULL, NULL, NULL) = 2 (in [3 5])"
        );
        assert_eq!(
            decode("pselect6", &c, 0),
            "pselect6(6, [3 5], NULL, NULL, NULL, NULL) = 0 (Timeout)"
        );
        // The address length is an input too: shown even when the call failed.
        let len: u32 = 16;
        let c = call(libc::SYS_getpeername, [0, 0x1000, &len as *const u32 as u64, 0, 0, 0]);
        assert_eq!(
            decode("getpeername", &c, -88),
            "getpeername(0, 0x1000, [16]) = -1 ENOTSOCK (Socket operation on non-socket)"
        );
    }

    #[test]
    fn argv_and_envp() {
        let a = c"/bin/cat";
        let b = c"/etc/hostname";
        let argv = [a.as_ptr() as u64, b.as_ptr() as u64, 0];
        let envp = [a.as_ptr() as u64, 0];
        let c = call(
            libc::SYS_execve,
            [a.as_ptr() as u64, argv.as_ptr() as u64, envp.as_ptr() as u64, 0, 0, 0],
        );
        assert_eq!(
            decode("execve", &c, 0),
            format!(
                r#"execve("/bin/cat", ["/bin/cat", "/etc/hostname"], {:#x} /* 1 vars */) = 0"#,
                envp.as_ptr() as u64
            )
        );
    }
}
