//! How a translated call can be performed by lxrun on the guest's behalf: the direction and size
//! of each argument. The seccomp backend uses it to run a `Rewrite` outcome itself (it cannot
//! change the guest's registers): paths come from the rewrite, other input buffers are copied
//! in from the guest, output buffers copied back, guest fds borrowed with pidfd_getfd, and a
//! new fd is installed into the guest with SECCOMP_IOCTL_NOTIF_ADDFD.
//!
//! Calls without a spec here (execve, execveat, chdir) stay with ptrace (see [`needs_ptrace`]).

use crate::table::Entry;

/// A byte count: fixed, or taken from an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Const(usize),
    Arg(usize),
}

/// One argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// Passed as it is.
    Int,
    /// A path the handler rewrote (or a NULL/empty one it left alone).
    Path,
    /// A dirfd: paths are absolute after translation, so it becomes AT_FDCWD.
    DirFd,
    /// A NUL-terminated string read from the guest.
    InStr,
    /// Bytes read from the guest (NULL stays NULL).
    In(Size),
    /// A buffer filled on success and copied back whole.
    Out(Size),
    /// A buffer of which the first `result` bytes are copied back (readlink, getxattr).
    OutResult(Size),
    /// A file descriptor of the guest, borrowed for the call.
    Fd,
    /// The mode of a file the call creates: lxrun runs with umask 0 and applies the guest's.
    Mode,
    /// A `struct xattr_args { u64 value; u32 size; u32 flags; }` (setxattrat, getxattrat) of
    /// the size in argument `usize`, copied in; its `value` buffer is copied in too, or (`get`)
    /// lent and its first `result` bytes copied back.
    XattrArgs { usize: usize, get: bool },
    /// sendmsg's `struct msghdr`: the handler's copy (with the translated `msg_name`), its
    /// iovecs and their bytes and its control data copied in, the guest's descriptors in
    /// SCM_RIGHTS borrowed.
    MsgHdr,
}

/// What the result is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    Int,
    /// A new host fd to install in the guest; close-on-exec when O_CLOEXEC is set in the
    /// open flags at this argument (None: never).
    NewFd(Option<usize>),
    /// openat2: the flags are the first field of the `open_how` at argument 2.
    NewFdHow,
}

/// The argument layout of a call lxrun can perform on behalf.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub args: &'static [Arg],
    pub ret: Ret,
}

use Arg::*;
use Size::{Arg as SizeArg, Const};

const fn s(args: &'static [Arg], ret: Ret) -> Spec {
    Spec { args, ret }
}

const STAT: usize = 144;
const STATX: usize = 256;
const STATFS: usize = 120;

/// The spec for syscall `name`.
pub fn spec(name: &str) -> Option<Spec> {
    Some(match name {
        "open" => s(&[Path, Int, Mode], Ret::NewFd(Some(1))),
        "creat" => s(&[Path, Mode], Ret::NewFd(None)),
        "openat" => s(&[DirFd, Path, Int, Mode], Ret::NewFd(Some(2))),
        // Systrap mode's SYS_LXRUN_OPEN_PATH carries it (its descriptor is an O_PATH file).
        "open_tree" => s(&[DirFd, Path, Int], Ret::NewFd(Some(2))),
        "openat2" => s(&[DirFd, Path, In(SizeArg(3)), Int], Ret::NewFdHow),
        "stat" | "lstat" => s(&[Path, Out(Const(STAT))], Ret::Int),
        "newfstatat" => s(&[DirFd, Path, Out(Const(STAT)), Int], Ret::Int),
        "statx" => s(&[DirFd, Path, Int, Int, Out(Const(STATX))], Ret::Int),
        "statfs" => s(&[Path, Out(Const(STATFS))], Ret::Int),
        "access" => s(&[Path, Int], Ret::Int),
        "faccessat" => s(&[DirFd, Path, Int], Ret::Int),
        "faccessat2" => s(&[DirFd, Path, Int, Int], Ret::Int),
        "readlink" => s(&[Path, OutResult(SizeArg(2)), Int], Ret::Int),
        "readlinkat" => s(&[DirFd, Path, OutResult(SizeArg(3)), Int], Ret::Int),
        "mkdir" => s(&[Path, Mode], Ret::Int),
        "mkdirat" => s(&[DirFd, Path, Mode], Ret::Int),
        "mknod" => s(&[Path, Mode, Int], Ret::Int),
        "mknodat" => s(&[DirFd, Path, Mode, Int], Ret::Int),
        "rmdir" | "unlink" => s(&[Path], Ret::Int),
        "unlinkat" => s(&[DirFd, Path, Int], Ret::Int),
        "rename" | "link" => s(&[Path, Path], Ret::Int),
        "renameat" => s(&[DirFd, Path, DirFd, Path], Ret::Int),
        "renameat2" | "linkat" => s(&[DirFd, Path, DirFd, Path, Int], Ret::Int),
        "symlink" => s(&[InStr, Path], Ret::Int),
        "symlinkat" => s(&[InStr, DirFd, Path], Ret::Int),
        "chmod" => s(&[Path, Int], Ret::Int),
        "fchmodat" => s(&[DirFd, Path, Int], Ret::Int),
        "fchmodat2" => s(&[DirFd, Path, Int, Int], Ret::Int),
        "file_getattr" => s(&[DirFd, Path, Out(SizeArg(3)), Int, Int], Ret::Int),
        "file_setattr" => s(&[DirFd, Path, In(SizeArg(3)), Int, Int], Ret::Int),
        "chown" | "lchown" => s(&[Path, Int, Int], Ret::Int),
        "fchownat" => s(&[DirFd, Path, Int, Int, Int], Ret::Int),
        "utime" => s(&[Path, In(Const(16))], Ret::Int),
        "utimes" => s(&[Path, In(Const(32))], Ret::Int),
        "futimesat" => s(&[DirFd, Path, In(Const(32))], Ret::Int),
        "utimensat" => s(&[DirFd, Path, In(Const(32)), Int], Ret::Int),
        "truncate" => s(&[Path, Int], Ret::Int),
        "getxattr" | "lgetxattr" => s(&[Path, InStr, OutResult(SizeArg(3)), Int], Ret::Int),
        "listxattr" | "llistxattr" => s(&[Path, OutResult(SizeArg(2)), Int], Ret::Int),
        "setxattr" | "lsetxattr" => s(&[Path, InStr, In(SizeArg(3)), Int, Int], Ret::Int),
        "removexattr" | "lremovexattr" => s(&[Path, InStr], Ret::Int),
        "inotify_add_watch" => s(&[Fd, Path, Int], Ret::Int),
        "fanotify_mark" => s(&[Fd, Int, Int, DirFd, Path], Ret::Int),
        "bind" | "connect" => s(&[Fd, In(SizeArg(2)), Int], Ret::Int),
        "sendto" => s(&[Fd, In(SizeArg(2)), Int, Int, In(SizeArg(5)), Int], Ret::Int),
        "sendmsg" => s(&[Fd, MsgHdr, Int], Ret::Int),
        "fchmod" | "ftruncate" => s(&[Fd, Int], Ret::Int),
        "fchown" => s(&[Fd, Int, Int], Ret::Int),
        "fallocate" => s(&[Fd, Int, Int, Int], Ret::Int),
        "fsetxattr" => s(&[Fd, InStr, In(SizeArg(3)), Int, Int], Ret::Int),
        "fremovexattr" => s(&[Fd, InStr], Ret::Int),
        "setxattrat" => s(
            &[DirFd, Path, Int, InStr, XattrArgs { usize: 5, get: false }, Int],
            Ret::Int,
        ),
        "getxattrat" => s(
            &[DirFd, Path, Int, InStr, XattrArgs { usize: 5, get: true }, Int],
            Ret::Int,
        ),
        "listxattrat" => s(&[DirFd, Path, Int, OutResult(SizeArg(4)), Int], Ret::Int),
        "removexattrat" => s(&[DirFd, Path, Int, InStr], Ret::Int),
        _ => return None,
    })
}

/// Whether call `name`, performed, has no effect but its return value: done for a guest thread
/// that is already gone it leaves no trace (the answer then fails with ENOENT). Not so for a
/// call with an output buffer: by then the thread's id may name another process, whose memory
/// the output would be written to.
pub fn only_answers(name: &str) -> bool {
    matches!(name, "access" | "faccessat" | "faccessat2")
}

/// Calls whose handlers answer without running anything new (Return, Fail, Continue): they
/// need no spec to be served by user notification.
const ANSWERED: &[&str] = &[
    // A fake root's ids and owners (or, without one, the native call).
    "fstat",
    "getuid",
    "getgid",
    "geteuid",
    "getegid",
    "getgroups",
    "getresuid",
    "getresgid",
    "capget",
    "prctl",
    "fgetxattr",
    "flistxattr",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setfsuid",
    "setfsgid",
    "setgroups",
    "capset",
    "umask",
    "getcwd",
    "fchdir",
    "chroot",
    "getsockname",
    "getpeername",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "seccomp",
    "copy_file_range",
    "mount",
    "umount2",
    "fsopen",
    "fsconfig",
    "fspick",
    "move_mount",
    "mount_setattr",
    "statmount",
    "listmount",
    "acct",
    "name_to_handle_at",
    "open_by_handle_at",
];

/// Whether a trapped call must be caught by ptrace rather than user notification: execve (its
/// registers are rewritten to exec the loader stub), calls lxrun can only translate by
/// rewriting their arguments in place, and accept/accept4 (whose output is translated at the
/// call's exit, which only a tracer sees: `Outcome::ContinueThen`), and openat2, which may ask
/// for an O_PATH descriptor (SECCOMP_IOCTL_NOTIF_ADDFD refuses those; the flags are in a
/// struct no filter can read; open and openat are split on their flags by the filter), and
/// open_tree, whose descriptor is always an O_PATH file, and seccomp, whose strict mode becomes
/// the guest's own call adding a filter (prctl's PR_SET_SECCOMP likewise, by the prctl split).
pub fn needs_ptrace(entry: Option<&Entry>) -> bool {
    let Some(e) = entry else { return false };
    match e.policy {
        crate::Policy::Passthrough | crate::Policy::Deny(_) => false,
        _ if e.name == "openat2" || e.name == "open_tree" => true,
        // Strict mode becomes the guest's own call adding lxrun's stand-in filter.
        _ if e.name == "seccomp" => true,
        crate::Policy::Translate(_)
        | crate::Policy::Path(_)
        | crate::Policy::FdWrite(_)
        | crate::Policy::Identity(_) => !(ANSWERED.contains(&e.name) || spec(e.name).is_some()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table;

    #[test]
    fn every_translated_call_has_a_mechanism() {
        let ptrace: Vec<&str> = table::entries()
            .iter()
            .filter(|e| needs_ptrace(Some(e)))
            .map(|e| e.name)
            .collect();
        assert_eq!(
            ptrace,
            [
                "accept",
                "execve",
                "chdir",
                "accept4",
                "seccomp",
                "execveat",
                "open_tree",
                "openat2"
            ],
            "only these stay with ptrace"
        );
        for e in table::entries() {
            if let Some(sp) = spec(e.name) {
                assert!(sp.args.len() <= 6, "{}", e.name);
            }
        }
    }
}
