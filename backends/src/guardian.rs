//! Without ptrace there is no PTRACE_O_EXITKILL: nothing in the kernel kills a guest when the
//! lxrun that supervises it is killed. So in systrap mode the guests hang below a guardian: a
//! small process lxrun starts first (sharing lxrun's memory, as the launch child does, so it
//! costs no copy of lxrun), which starts the launch child, reaps its children (a subreaper: every
//! orphaned guest comes to it) and reports each status to lxrun over a pipe. Whichever of the two
//! dies first, the other kills every guest:
//! - lxrun killed: the guardian's pidfd of lxrun becomes readable; it SIGKILLs its descendants;
//! - the guardian killed: lxrun reads EOF early, and the orphaned guests come to lxrun (a
//!   subreaper too), which kills them.
//!
//! The guardian runs on a stack of its own and makes raw system calls only: no allocation, no
//! thread-local state (those are lxrun's main thread's), no panics.

use crate::launch::{raw, raw6};
use crate::SupervisorError;
use std::os::fd::{FromRawFd, OwnedFd};

/// One status the guardian reports: a child's pid and its wait status.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Report {
    pub pid: i32,
    pub status: i32,
}

/// The guardian, once started: its pid, the launch child's and the pipe its reports arrive on.
pub(crate) struct Guardian {
    pub pid: i32,
    pub first: i32,
    pub reports: OwnedFd,
}

/// What the guardian needs, prepared before it starts and never freed (a few bytes per run).
struct Guard {
    lxrun: i32,
    report_rd: i32,
    report_wr: i32,
    launch: extern "C" fn(*mut libc::c_void) -> i32,
    launch_stack: *mut libc::c_void,
    launch_arg: *mut libc::c_void,
}

static GUARDIAN: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Whether `pid` is lxrun or its guardian: a guest whose parent it is was orphaned.
pub(crate) fn is_lxrun(pid: i32) -> bool {
    pid == std::process::id() as i32 || pid == GUARDIAN.load(std::sync::atomic::Ordering::Relaxed)
}

/// Starts the guardian, which starts `launch(launch_arg)` on `launch_stack` as its child (with
/// CLONE_VM, as lxrun would have) and reports that child's pid first.
pub(crate) fn start(
    launch: extern "C" fn(*mut libc::c_void) -> i32,
    launch_stack: *mut libc::c_void,
    launch_arg: *mut libc::c_void,
) -> Result<Guardian, SupervisorError> {
    let fail = |what: &str| SupervisorError::Start(format!("{what}: {}", std::io::Error::last_os_error()));
    let mut p = [0i32; 2];
    // SAFETY: `p` has room for two descriptors.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(fail("pipe"));
    }
    // SAFETY: the read end is ours from here on.
    let reports = unsafe { OwnedFd::from_raw_fd(p[0]) };
    let guard: &'static Guard = Box::leak(Box::new(Guard {
        lxrun: std::process::id() as i32,
        report_rd: p[0],
        report_wr: p[1],
        launch,
        launch_stack,
        launch_arg,
    }));
    // Orphans of a guardian that was killed come to lxrun.
    // SAFETY: a prctl on ourselves.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let stack_top = crate::launch::child_stack()?;
    // SAFETY: `guard` lives as long as lxrun.
    let pid = unsafe {
        libc::clone(
            guardian_main,
            stack_top,
            libc::CLONE_VM | libc::SIGCHLD,
            (guard as *const Guard).cast_mut().cast(),
        )
    };
    // SAFETY: the write end is the guardian's now.
    unsafe { libc::close(p[1]) };
    if pid < 0 {
        return Err(fail("clone"));
    }
    GUARDIAN.store(pid, std::sync::atomic::Ordering::Relaxed);
    let mut first = 0i32;
    // SAFETY: reading 4 bytes into a local.
    let n = unsafe { libc::read(p[0], (&mut first as *mut i32).cast(), 4) };
    if n != 4 || first < 0 {
        return Err(SupervisorError::Start(format!(
            "the guardian could not start the guest: {}",
            std::io::Error::from_raw_os_error(if n == 4 { -first } else { libc::EIO })
        )));
    }
    Ok(Guardian { pid, first, reports })
}

impl Guardian {
    /// The next status the guardian reports; None once it has exited.
    pub(crate) fn next(&self) -> Option<Report> {
        use std::os::fd::AsRawFd;
        let mut r = Report::default();
        loop {
            // SAFETY: reading one record into a local (the guardian writes whole records, which
            // a pipe delivers whole).
            let n = unsafe {
                libc::read(
                    self.reports.as_raw_fd(),
                    (&mut r as *mut Report).cast(),
                    std::mem::size_of::<Report>(),
                )
            };
            match n {
                8 => return Some(r),
                n if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => continue,
                _ => return None,
            }
        }
    }
}

const SIGCHLD_BIT: u64 = 1 << (libc::SIGCHLD - 1);

/// The guardian: starts the launch child, then reaps and reports until it has no child left,
/// or kills every descendant once lxrun is gone.
extern "C" fn guardian_main(arg: *mut libc::c_void) -> i32 {
    // SAFETY: `arg` is the `Guard` lxrun leaked for us; every call is a raw syscall on memory
    // prepared before the clone or on this stack.
    unsafe {
        let g = &*(arg as *const Guard);
        let exit = |code: u64| -> ! {
            loop {
                raw(libc::SYS_exit_group, [code, 0, 0, 0]);
            }
        };
        let report = |r: Report| {
            raw(libc::SYS_write, [g.report_wr as u64, &r as *const Report as u64, 8, 0]);
        };
        raw(libc::SYS_close, [g.report_rd as u64, 0, 0, 0]);
        raw(libc::SYS_prctl, [libc::PR_SET_CHILD_SUBREAPER as u64, 1, 0, 0]);
        // The launch child, as lxrun would have started it: with lxrun's descriptors.
        let first = libc::clone(g.launch, g.launch_stack, libc::CLONE_VM | libc::SIGCHLD, g.launch_arg);
        raw(libc::SYS_write, [g.report_wr as u64, &first as *const i32 as u64, 4, 0]);
        if first < 0 {
            exit(1);
        }
        // (After the launch child started with lxrun's dispositions, as a guest must.)
        // Signals are for the guest (the terminal's reach it directly, lxrun forwards the
        // rest): none may stop or kill the guardian. SIGCHLD is read from a signalfd.
        let ignore = [1u64, 0, 0, 0]; // struct kernel_sigaction: SIG_IGN
        for sig in 1..=64u64 {
            if ![libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(&(sig as i32)) {
                raw(libc::SYS_rt_sigaction, [sig, ignore.as_ptr() as u64, 0, 8]);
            }
        }
        raw(
            libc::SYS_rt_sigprocmask,
            [libc::SIG_BLOCK as u64, &SIGCHLD_BIT as *const u64 as u64, 0, 8],
        );
        // Then none of lxrun's: a pipe whose other end lxrun closes must see EOF.
        let wr = g.report_wr as u64;
        if wr > 0 {
            raw(libc::SYS_close_range, [0, wr - 1, 0, 0]);
        }
        raw(libc::SYS_close_range, [wr + 1, u32::MAX as u64, 0, 0]);
        let sigfd = raw(
            libc::SYS_signalfd4,
            [
                u64::MAX,
                &SIGCHLD_BIT as *const u64 as u64,
                8,
                (libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) as u64,
            ],
        );
        // lxrun already gone (pidfd_open fails): as if it had just died.
        let lxrun = raw(libc::SYS_pidfd_open, [g.lxrun as u64, 0, 0, 0]);
        let mut fds = [
            libc::pollfd {
                fd: sigfd as i32,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: lxrun as i32,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        loop {
            // Reap whatever has changed, then wait for SIGCHLD or lxrun's end.
            loop {
                let mut status = 0i32;
                let pid = raw6(
                    libc::SYS_wait4,
                    [
                        u64::MAX,
                        &mut status as *mut i32 as u64,
                        (libc::WNOHANG | libc::WUNTRACED | libc::__WALL) as u64,
                        0,
                        0,
                    ],
                );
                if pid == -(libc::ECHILD as i64) {
                    exit(0);
                }
                if pid <= 0 {
                    break;
                }
                report(Report {
                    pid: pid as i32,
                    status,
                });
            }
            raw(libc::SYS_poll, [fds.as_mut_ptr() as u64, 2, u64::MAX, 0]);
            if fds[1].revents != 0 || lxrun < 0 {
                kill_descendants_raw(raw(libc::SYS_getpid, [0; 4]) as i32);
                fds[1].events = 0; // only reaping is left
            }
            let mut info = [0u8; 128];
            raw(libc::SYS_read, [sigfd as u64, info.as_mut_ptr() as u64, 128, 0]);
        }
    }
}

/// The most processes one pass over /proc considers.
const MAX_PROCS: usize = 32768;
/// (pid, parent pid) of every process, for the guardian's last pass (lxrun's memory; touched
/// only if lxrun dies first).
static mut TREE: [(i32, i32); MAX_PROCS] = [(0, 0); MAX_PROCS];

/// SIGKILLs every descendant of `root`, read from /proc with raw calls, pass after pass until a
/// pass finds none (a guest may fork while the tree is read).
unsafe fn kill_descendants_raw(root: i32) {
    for _ in 0..100 {
        let n = read_tree();
        let tree = &mut *std::ptr::addr_of_mut!(TREE);
        let Some(tree) = tree.get_mut(..n) else {
            return;
        };
        // Mark descendants by setting their pid negative, until a pass adds none.
        let mut found = 0;
        loop {
            let mut added = false;
            for i in 0..tree.len() {
                let (pid, ppid) = tree[i];
                if pid > 0 && (ppid == root || tree.iter().any(|&(p, _)| p == -ppid)) {
                    tree[i].0 = -pid;
                    added = true;
                    found += 1;
                }
            }
            if !added {
                break;
            }
        }
        if found == 0 {
            return;
        }
        for &(pid, _) in tree.iter() {
            if pid < 0 {
                raw(libc::SYS_kill, [(-pid) as u64, libc::SIGKILL as u64, 0, 0]);
            }
        }
        let pause = [0i64, 1_000_000]; // 1 ms
        raw(libc::SYS_nanosleep, [pause.as_ptr() as u64, 0, 0, 0]);
    }
}

/// Fills TREE with (pid, parent pid) of every live process; returns how many.
unsafe fn read_tree() -> usize {
    let proc_fd = raw(
        libc::SYS_open,
        [
            c"/proc".as_ptr() as u64,
            (libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64,
            0,
            0,
        ],
    );
    if proc_fd < 0 {
        return 0;
    }
    let tree = &mut *std::ptr::addr_of_mut!(TREE);
    let mut n = 0;
    let mut buf = [0u8; 4096];
    loop {
        let len = raw(
            libc::SYS_getdents64,
            [proc_fd as u64, buf.as_mut_ptr() as u64, buf.len() as u64, 0],
        );
        if len <= 0 {
            break;
        }
        let mut off = 0usize;
        while off + 19 < len as usize {
            let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            let name = buf.get(off + 19..off + reclen).unwrap_or(&[]);
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if let (Some(pid), Some(slot)) = (number(name), tree.get_mut(n)) {
                if let Some(ppid) = live_parent(proc_fd, name) {
                    *slot = (pid, ppid);
                    n += 1;
                }
            }
            if reclen == 0 {
                break;
            }
            off += reclen;
        }
    }
    raw(libc::SYS_close, [proc_fd as u64, 0, 0, 0]);
    n
}

/// A decimal pid, or None.
fn number(s: &[u8]) -> Option<i32> {
    if s.is_empty() || s.len() > 9 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i32, |v, &d| v * 10 + i32::from(d - b'0')))
}

/// The parent pid in `/proc/NAME/stat` (after the parenthesized name: the state, then the
/// parent); None for a zombie, which its parent's wait takes away.
unsafe fn live_parent(proc_fd: i64, name: &[u8]) -> Option<i32> {
    let mut path = [0u8; 24];
    let rel = name.len() + 5;
    path.get_mut(..name.len())?.copy_from_slice(name);
    path.get_mut(name.len()..rel)?.copy_from_slice(b"/stat");
    let fd = raw(
        libc::SYS_openat,
        [
            proc_fd as u64,
            path.as_ptr() as u64,
            (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
            0,
        ],
    );
    if fd < 0 {
        return None;
    }
    let mut stat = [0u8; 512];
    let len = raw(
        libc::SYS_read,
        [fd as u64, stat.as_mut_ptr() as u64, stat.len() as u64, 0],
    );
    raw(libc::SYS_close, [fd as u64, 0, 0, 0]);
    let stat = stat.get(..usize::try_from(len).ok()?)?;
    let after = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = stat.get(after + 1..)?.split(|&b| b == b' ').filter(|f| !f.is_empty());
    if fields.next()? == b"Z" {
        return None;
    }
    number(fields.next()?)
}

/// Kills every descendant of lxrun: the guests a guardian that was killed left to it.
pub(crate) fn kill_orphans() {
    // SAFETY: only reads /proc and signals our own descendants.
    unsafe { kill_descendants_raw(std::process::id() as i32) };
}
