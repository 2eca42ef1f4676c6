//! The policy table: one entry per x86_64 syscall number. The dispatch, the seccomp filter and
//! docs/syscalls.md are all derived from it, so they cannot disagree.

use crate::context::SyscallCtx;
use crate::outcome::Outcome;
use crate::x86_64::ENTRIES;
use crate::Errno;
use crate::SyscallArgs;

/// A translation handler: decodes its arguments, does the work, says what the guest sees.
pub type Handler = fn(&mut SyscallCtx<'_>, &SyscallArgs) -> Result<Outcome, Errno>;

/// What lxrun does with a syscall.
#[derive(Clone, Copy)]
pub enum Policy {
    /// Runs natively; the filter lets it through without a trap.
    Passthrough,
    /// Caught and handed to a handler.
    Translate(Handler),
    /// A path-taking call: caught and translated when the guest's filesystem differs from the
    /// host's (a `--root`, a bind); with the host's own tree it runs natively.
    Path(Handler),
    /// Caught and refused with this errno (reported once by name).
    Deny(Errno),
}

/// One row of the table.
#[derive(Clone, Copy)]
pub struct Entry {
    pub nr: u32,
    pub name: &'static str,
    pub policy: Policy,
    pub note: &'static str,
}

impl Entry {
    pub(crate) const fn new(nr: u32, name: &'static str, policy: Policy, note: &'static str) -> Entry {
        Entry { nr, name, policy, note }
    }

    /// Whether the filter must stop the guest for this call; `identity`: the guest sees the
    /// host's filesystem unchanged.
    pub fn traps(&self, identity: bool) -> bool {
        match self.policy {
            Policy::Passthrough => false,
            Policy::Path(_) => !identity,
            Policy::Translate(_) | Policy::Deny(_) => true,
        }
    }

    /// One word for docs and `--list-syscalls`.
    pub fn policy_name(&self) -> String {
        match self.policy {
            Policy::Passthrough => "passthrough".into(),
            Policy::Translate(_) => "translated".into(),
            Policy::Path(_) => "translated (paths)".into(),
            Policy::Deny(e) => format!("denied ({})", e.name()),
        }
    }
}

/// Highest syscall number Linux assigns on x86_64 that lxrun knows about.
pub fn max_nr() -> u32 {
    ENTRIES.last().map_or(0, |e| e.nr)
}

/// Every entry, in number order.
pub fn entries() -> &'static [Entry] {
    ENTRIES
}

/// The entry for `nr`, or None for a number Linux does not assign (unimplemented: ENOSYS).
pub fn lookup(nr: u64) -> Option<&'static Entry> {
    let nr = u32::try_from(nr).ok()?;
    ENTRIES.binary_search_by_key(&nr, |e| e.nr).ok().map(|i| &ENTRIES[i])
}

/// The syscall's name, or `syscall_NR` for an unassigned number.
pub fn name_of(nr: u64) -> String {
    lookup(nr).map_or_else(|| format!("syscall_{nr}"), |e| e.name.to_string())
}

/// The table as text, one syscall a line: number, name, policy, note (`lxrun --list-syscalls`).
pub fn listing() -> String {
    let mut out = String::new();
    for e in ENTRIES {
        out.push_str(&format!(
            "{:>3}  {:<24} {:<18} {}\n",
            e.nr,
            e.name,
            e.policy_name(),
            e.note
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_named() {
        for w in ENTRIES.windows(2) {
            assert!(w[0].nr < w[1].nr, "{} before {}", w[0].name, w[1].name);
        }
        assert!(ENTRIES.iter().all(|e| !e.name.is_empty()));
    }

    #[test]
    fn table_matches_libc_numbers() {
        let known: &[(&str, libc::c_long)] = &[
            ("read", libc::SYS_read),
            ("execve", libc::SYS_execve),
            ("execveat", libc::SYS_execveat),
            ("readlinkat", libc::SYS_readlinkat),
            ("statx", libc::SYS_statx),
            ("clone3", libc::SYS_clone3),
            ("openat2", libc::SYS_openat2),
            ("faccessat2", libc::SYS_faccessat2),
            ("io_uring_setup", libc::SYS_io_uring_setup),
            ("ptrace", libc::SYS_ptrace),
        ];
        for (name, nr) in known {
            assert_eq!(lookup(*nr as u64).map(|e| e.name), Some(*name));
        }
        assert!(lookup(400).is_none(), "336..=423 is unassigned on x86_64");
        assert_eq!(name_of(400), "syscall_400");
    }

    /// Every x86_64 syscall that takes a path (or a socket address that may be one). None may
    /// reach the host untranslated when the guest has its own root.
    const PATH_TAKING: &[&str] = &[
        "open",
        "creat",
        "openat",
        "openat2",
        "stat",
        "lstat",
        "newfstatat",
        "statx",
        "access",
        "faccessat",
        "faccessat2",
        "readlink",
        "readlinkat",
        "mkdir",
        "mkdirat",
        "mknod",
        "mknodat",
        "rmdir",
        "unlink",
        "unlinkat",
        "rename",
        "renameat",
        "renameat2",
        "link",
        "linkat",
        "symlink",
        "symlinkat",
        "chmod",
        "fchmodat",
        "fchmodat2",
        "chown",
        "lchown",
        "fchownat",
        "utime",
        "utimes",
        "futimesat",
        "utimensat",
        "truncate",
        "chdir",
        "fchdir",
        "getcwd",
        "chroot",
        "statfs",
        "setxattr",
        "lsetxattr",
        "getxattr",
        "lgetxattr",
        "listxattr",
        "llistxattr",
        "removexattr",
        "lremovexattr",
        "setxattrat",
        "getxattrat",
        "listxattrat",
        "removexattrat",
        "inotify_add_watch",
        "fanotify_mark",
        "execve",
        "execveat",
        "bind",
        "connect",
        "sendto",
        "sendmsg",
        "getsockname",
        "getpeername",
        "mount",
        "umount2",
        "pivot_root",
        "swapon",
        "swapoff",
        "acct",
        "quotactl",
        "uselib",
        "open_by_handle_at",
        "name_to_handle_at",
        "open_tree",
        "move_mount",
        "fsopen",
        "fspick",
        "fsconfig",
        "fsmount",
        "mount_setattr",
        "open_tree_attr",
        "file_getattr",
        "file_setattr",
        "statmount",
        "listmount",
    ];

    #[test]
    fn no_path_taking_syscall_reaches_the_host_untranslated() {
        for name in PATH_TAKING {
            let e = ENTRIES
                .iter()
                .find(|e| e.name == *name)
                .unwrap_or_else(|| panic!("{name} missing from the table"));
            assert!(e.traps(false), "{name} would run untranslated in a guest root");
        }
    }

    #[test]
    fn execve_is_translated() {
        assert!(matches!(
            lookup(libc::SYS_execve as u64).map(|e| e.policy),
            Some(Policy::Translate(_))
        ));
        assert!(!lookup(libc::SYS_getpid as u64).is_some_and(|e| e.traps(false)));
    }
}
