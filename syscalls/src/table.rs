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
    /// A call that changes a file through a descriptor: caught when some mount is read-only
    /// (to refuse it there with EROFS) or the guest is a fake root (ownership is lxrun's),
    /// else it runs natively.
    FdWrite(Handler),
    /// A call about the caller's identity or a file's owner (getuid, capget, fstat): caught
    /// only for a fake root, whose ids and owners lxrun keeps; else it runs natively.
    Identity(Handler),
}

/// What the guest's filesystem looks like, as far as trapping goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// The guest sees the host's filesystem unchanged (path calls need nothing).
    pub identity: bool,
    /// Some mount is read-only (calls that write through a descriptor must be checked).
    pub readonly: bool,
    /// The guest is a fake root (`--fake-root`): lxrun keeps its ids and its files' owners.
    pub fake: bool,
}

impl Shape {
    /// The host's own tree.
    pub const HOST: Shape = Shape {
        identity: true,
        readonly: false,
        fake: false,
    };
    /// A guest root with a read-only mount: every call lxrun may translate traps.
    pub const FOREIGN: Shape = Shape {
        identity: false,
        readonly: true,
        fake: false,
    };
    /// The same for a fake root: everything lxrun may translate traps.
    pub const FAKE: Shape = Shape {
        identity: false,
        readonly: true,
        fake: true,
    };

    pub fn of(world: &crate::world::World) -> Shape {
        Shape {
            identity: world.vfs.is_identity(),
            readonly: world.vfs.mounts().mounts().iter().any(|m| m.readonly),
            fake: world.fake.is_some(),
        }
    }
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

    /// Whether the filter must stop the guest for this call, in a guest filesystem of `shape`.
    pub fn traps(&self, shape: Shape) -> bool {
        match self.policy {
            Policy::Passthrough => false,
            // A fake root's path calls are lxrun's even on the host's tree: they show owners.
            Policy::Path(_) => !shape.identity || shape.fake,
            Policy::FdWrite(_) => shape.readonly || shape.fake,
            Policy::Identity(_) => shape.fake,
            Policy::Translate(_) | Policy::Deny(_) => true,
        }
    }

    /// One word for docs and `--list-syscalls`.
    pub fn policy_name(&self) -> String {
        match self.policy {
            Policy::Passthrough => "passthrough".into(),
            Policy::Translate(_) => "translated".into(),
            Policy::Path(_) => "translated (paths)".into(),
            Policy::FdWrite(_) => "checked (read-only mounts, fake root)".into(),
            Policy::Identity(_) => "translated (fake root)".into(),
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

/// The number of the syscall called `name`.
pub fn number_of(name: &str) -> Option<u64> {
    ENTRIES.iter().find(|e| e.name == name).map(|e| u64::from(e.nr))
}

/// The syscall's name, or `syscall_NR` for an unassigned number.
pub fn name_of(nr: u64) -> String {
    lookup(nr).map_or_else(|| format!("syscall_{nr}"), |e| e.name.to_string())
}

/// How a number is handled, as counted in docs/syscalls.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Translated,
    Passthrough,
    Denied,
    /// A number Linux does not assign on x86_64: it traps and returns ENOSYS.
    Unimplemented,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Translated => "translated",
            Kind::Passthrough => "passthrough",
            Kind::Denied => "denied",
            Kind::Unimplemented => "unimplemented",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// One number of `0..=max_nr()`, as documented: an entry of the table or an unassigned number.
#[derive(Clone, Debug)]
pub struct Row {
    pub nr: u32,
    pub name: &'static str,
    pub kind: Kind,
    /// `translated`, `passthrough`, `denied (EPERM)`, `unimplemented (ENOSYS)`.
    pub policy: String,
    pub note: &'static str,
}

const UNASSIGNED_NAME: &str = "(unassigned)";
const UNASSIGNED_NOTE: &str = "no x86_64 syscall has this number";

/// Every number from 0 to [`max_nr`], in order, the unassigned ones included.
pub fn rows() -> Vec<Row> {
    (0..=max_nr())
        .map(|nr| match lookup(nr.into()) {
            Some(e) => Row {
                nr,
                name: e.name,
                kind: match e.policy {
                    Policy::Passthrough => Kind::Passthrough,
                    Policy::Translate(_) | Policy::Path(_) | Policy::FdWrite(_) | Policy::Identity(_) => {
                        Kind::Translated
                    }
                    Policy::Deny(_) => Kind::Denied,
                },
                policy: e.policy_name(),
                note: e.note,
            },
            None => Row {
                nr,
                name: UNASSIGNED_NAME,
                kind: Kind::Unimplemented,
                policy: "unimplemented (ENOSYS)".into(),
                note: UNASSIGNED_NOTE,
            },
        })
        .collect()
}

/// The table as text, one number a line: number, name, policy, note (`lxrun --list-syscalls`).
/// The same rows as [`markdown`].
pub fn listing() -> String {
    let mut out = String::new();
    for r in rows() {
        let line = format!("{:>3}  {:<24} {:<22} {}", r.nr, r.name, r.policy, r.note);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// docs/syscalls.md: a header with the counts per policy, then one table row per number.
/// `LXRUN_BLESS=1 cargo test --release -p lxrun-syscalls` rewrites the file from this.
pub fn markdown() -> String {
    let rows = rows();
    let count = |k: Kind| rows.iter().filter(|r| r.kind == k).count();
    let mut denied: Vec<&str> = rows
        .iter()
        .filter(|r| r.kind == Kind::Denied)
        .map(|r| r.policy.as_str())
        .collect();
    denied.sort_unstable();
    denied.dedup();
    let denied_detail: Vec<String> = denied
        .iter()
        .map(|p| {
            let n = rows.iter().filter(|r| r.policy == *p).count();
            format!("{n} {}", p.trim_start_matches("denied (").trim_end_matches(')'))
        })
        .collect();
    let plan = lxrun_loader::abi::SYS_LXRUN_PLAN;

    let mut out = String::new();
    out.push_str("# x86_64 syscalls under lxrun\n\n");
    out.push_str(
        "<!-- Generated from syscalls/src/x86_64.rs by lxrun_syscalls::table::markdown(); do not edit.\n     \
         Regenerate: LXRUN_BLESS=1 cargo test --release -p lxrun-syscalls -->\n\n",
    );
    out.push_str(&format!(
        "Every syscall number from 0 to {max} and what lxrun does with it; `lxrun --list-syscalls` prints the \
         same table as text.\n\n",
        max = max_nr()
    ));
    out.push_str("| policy | numbers | meaning |\n|---|---:|---|\n");
    out.push_str(&format!(
        "| translated | {} | caught (by seccomp: user notification or a ptrace stop) and handled by lxrun; \
         `translated (paths)`: only when the guest's tree is not the host's (a `--root` or a mount) |\n",
        count(Kind::Translated)
    ));
    out.push_str(&format!(
        "| passthrough | {} | runs natively: the filter allows it without a trap |\n",
        count(Kind::Passthrough)
    ));
    out.push_str(&format!(
        "| denied | {} | caught and refused with the errno shown ({}), reported once by name |\n",
        count(Kind::Denied),
        denied_detail.join(", ")
    ));
    out.push_str(&format!(
        "| unimplemented | {} | not assigned on x86_64: traps, returns ENOSYS, reported once |\n",
        count(Kind::Unimplemented)
    ));
    out.push_str(&format!("| **total** | **{}** | |\n\n", rows.len()));
    out.push_str(&format!(
        "Also unimplemented (ENOSYS, reported once): every number above {max}, x32 calls (bit 0x40000000) and \
         32-bit `int 0x80` calls. One more number is answered: `{plan:#x}` ({plan}), lxrun's private loader \
         call, with which the loader stub fetches its load plan (`loader/src/abi.rs`, `SYS_LXRUN_PLAN`); it \
         is translated like the calls below and is not a Linux syscall.\n\n",
        max = max_nr(),
    ));
    out.push_str("| nr | name | policy | note |\n|---:|---|---|---|\n");
    for r in &rows {
        let name = if r.kind == Kind::Unimplemented {
            r.name.to_string()
        } else {
            format!("`{}`", r.name)
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.nr,
            name,
            r.policy,
            r.note.replace('|', "\\|")
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
        "accept",
        "accept4",
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
        // (fsmount takes no path: only a context fsopen or fspick, lxrun's calls, made.)
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
            assert!(e.traps(Shape::FOREIGN), "{name} would run untranslated in a guest root");
        }
    }

    #[test]
    fn execve_is_translated() {
        assert!(matches!(
            lookup(libc::SYS_execve as u64).map(|e| e.policy),
            Some(Policy::Translate(_))
        ));
        assert!(!lookup(libc::SYS_getpid as u64).is_some_and(|e| e.traps(Shape::FOREIGN)));
    }

    #[test]
    fn rows_cover_every_number_once() {
        let rows = rows();
        assert_eq!(rows.len() as u32, max_nr() + 1);
        assert!(rows.iter().enumerate().all(|(i, r)| r.nr as usize == i));
        assert!(rows[400].kind == Kind::Unimplemented && rows[400].policy.contains("ENOSYS"));
        assert_eq!(listing().lines().count(), rows.len());
    }

    /// docs/syscalls.md is generated from the table; this fails when it is stale.
    #[test]
    fn docs_syscalls_md_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/syscalls.md");
        let want = markdown();
        if std::env::var_os("LXRUN_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &want).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/syscalls.md is stale (or missing): the syscall table changed. Regenerate it with\n    \
             LXRUN_BLESS=1 cargo test --release -p lxrun-syscalls\nand commit the result."
        );
    }
}
