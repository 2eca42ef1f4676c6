//! Forgetting guests that exit. Without ptrace, lxrun learns of a process or thread at its
//! first trapped call and is told of no exit but its own children's; with pids reused (pid_max
//! may be 32768), a stale entry would give a new process another's cwd and root. So each
//! discovered process and thread gets a pidfd, and one thread waits on them all with epoll.

use lxrun_syscalls::world::World;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex, OnceLock};

struct Watch {
    epoll: OwnedFd,
    /// The pidfds being waited on, by tid; the key's top bit marks a thread (not a process).
    pidfds: Mutex<HashMap<u64, OwnedFd>>,
}

static WATCH: OnceLock<Watch> = OnceLock::new();

const THREAD: u64 = 1 << 63;

static WORLD: OnceLock<Arc<World>> = OnceLock::new();

/// Readies forgetting exited guests in `world`; the thread that does it starts with the first
/// guest discovered (a run on the host's tree may discover none).
pub(super) fn start(world: &Arc<World>) {
    let _ = WORLD.set(world.clone());
}

/// The epoll set and its thread, started once.
fn watch_set() -> Option<&'static Watch> {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        // SAFETY: epoll_create1 has no preconditions.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            tracing::warn!("epoll_create1: {}", std::io::Error::last_os_error());
            return;
        }
        let watch = Watch {
            // SAFETY: a new descriptor we own.
            epoll: unsafe { OwnedFd::from_raw_fd(fd) },
            pidfds: Mutex::new(HashMap::new()),
        };
        let (Some(world), Ok(())) = (WORLD.get(), WATCH.set(watch)) else {
            return;
        };
        let world = world.clone();
        std::thread::spawn(move || forget_exited(&world));
    });
    WATCH.get()
}

/// Waits on `tid`'s exit: a thread of a process (`thread`), or a whole process.
pub(super) fn watch(tid: i32, thread: bool) {
    let Some(w) = watch_set() else {
        return;
    };
    const PIDFD_THREAD: u32 = libc::O_EXCL as u32;
    let flags = if thread { PIDFD_THREAD } else { 0 };
    // SAFETY: pidfd_open takes a pid and flags.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, flags) } as i32;
    if fd < 0 {
        return; // already gone: its calls will find it missing and rediscover
    }
    // SAFETY: a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let key = tid as u64 | if thread { THREAD } else { 0 };
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: key,
    };
    // SAFETY: registering a descriptor we hold open in the map below.
    if unsafe { libc::epoll_ctl(w.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev) } == 0 {
        lock(&w.pidfds).insert(key, fd);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn forget_exited(world: &World) {
    let Some(w) = WATCH.get() else {
        return;
    };
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 32];
    loop {
        // SAFETY: epoll_wait fills at most `events.len()` entries.
        let n = unsafe { libc::epoll_wait(w.epoll.as_raw_fd(), events.as_mut_ptr(), events.len() as i32, -1) };
        for ev in events.iter().take(n.max(0) as usize) {
            let key = ev.u64;
            // Closing the pidfd also takes it out of the epoll set.
            lock(&w.pidfds).remove(&key);
            let tid = (key & !THREAD) as i32;
            world.remove_thread(tid);
            if key & THREAD == 0 {
                world.remove_process(tid);
            }
        }
    }
}
