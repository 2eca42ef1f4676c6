//! Supervisor-wide state the handlers see: the filesystem view, the loader stub's path, the
//! guest's processes, and what has been reported to the user.

use crate::observe::Observer;
use crate::process::Process;
use lxrun_vfs::Vfs;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

/// Owners (uid, gid) by (st_dev, st_ino).
pub type Owners = HashMap<(u64, u64), (u32, u32)>;

/// A fake root's set-up.
#[derive(Clone, Debug)]
pub struct FakeRoot {
    /// The identity of the first guest process.
    pub start: crate::identity::Identity,
    /// The host ids whose files are root's to the guest.
    pub host: lxrun_vfs::meta::HostIds,
    /// Owners of symlinks, sockets and FIFOs, which cannot carry a record (user xattrs), by (st_dev, st_ino):
    /// kept for this run only.
    pub link_owners: Arc<Mutex<Owners>>,
}

/// What a thread's call, caught by ptrace, left for the user-notification worker that answers
/// the SYS_LXRUN_TAKE_FD it became (registers only: nothing for the kernel to read from memory
/// another guest thread can write).
#[derive(Debug)]
pub enum Handoff {
    /// A file lxrun opened for the call, to install (and whether it is close-on-exec).
    Fd(OwnedFd, bool),
    /// The call itself, translated, for the worker to perform: one that may wait (a FIFO's
    /// open, a connect, a send), which must not stop the tracer's loop.
    Call(crate::SyscallArgs, Vec<(usize, crate::NewArg)>),
}

/// Everything shared by all guest processes of one lxrun run.
pub struct World {
    pub vfs: Vfs,
    /// The path a guest execs to start the loader stub (`/proc/<lxrun>/fd/<memfd>`).
    pub stub_path: Vec<u8>,
    /// The stub, open once for every exec that puts it into a process (systrap mode).
    stub_file: std::sync::OnceLock<std::fs::File>,
    /// `--trace` and `--stats`, fed by the backend.
    pub observer: Observer,
    /// Set when the backend's filter sends the hottest path calls to the stub's in-process
    /// fast path: every load plan then tells the stub to install it.
    pub fast_path: std::sync::OnceLock<lxrun_loader::plan::FastPathConfig>,
    /// A fake root (`--fake-root`, `--fake-id`): the identity the first guest process starts
    /// with; lxrun keeps every process's ids and the owners of the files they make.
    pub fake: Option<FakeRoot>,
    /// The backend leaves translated calls to the guest's own call (the ptrace backend on a
    /// kernel without user notification): what they name must be reachable by the guest.
    pub guest_calls: std::sync::atomic::AtomicBool,
    /// What execve read of the programs and interpreters it checked, for their next exec.
    pub exec_cache: crate::exec_cache::ExecCache,
    processes: Mutex<HashMap<i32, Arc<Process>>>,
    /// Thread id to thread group id, for every guest thread.
    threads: Mutex<HashMap<i32, i32>>,
    /// Host fds a rewritten call of a thread refers to by path (`/proc/<lxrun>/fd/N`), kept
    /// open until that thread's next trapped call, when the rewritten call has surely run.
    held: Mutex<HashMap<i32, Vec<OwnedFd>>>,
    /// What waits for a thread's SYS_LXRUN_TAKE_FD.
    handoff: Mutex<HashMap<i32, Handoff>>,
    /// AF_UNIX names as bound by the guest, by the name the host's socket got: getsockname
    /// answers with what the guest asked for (relative, or through a long path).
    socket_names: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    /// Calls refused as unsupported, by number, with how often each came.
    unsupported: Mutex<BTreeMap<u64, u64>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl World {
    pub fn new(vfs: Vfs, stub_path: Vec<u8>, observer: Observer) -> World {
        World {
            vfs,
            stub_path,
            stub_file: std::sync::OnceLock::new(),
            observer,
            fast_path: std::sync::OnceLock::new(),
            guest_calls: std::sync::atomic::AtomicBool::new(false),
            exec_cache: Default::default(),
            fake: None,
            processes: Mutex::new(HashMap::new()),
            threads: Mutex::new(HashMap::new()),
            held: Mutex::new(HashMap::new()),
            handoff: Mutex::new(HashMap::new()),
            socket_names: Mutex::new(HashMap::new()),
            unsupported: Mutex::new(BTreeMap::new()),
        }
    }

    /// The loader stub's file, opened at the first call.
    pub fn stub_file(&self) -> std::io::Result<&std::fs::File> {
        if let Some(f) = self.stub_file.get() {
            return Ok(f);
        }
        let f = std::fs::File::open(lxrun_vfs::path(&self.stub_path))?;
        Ok(self.stub_file.get_or_init(|| f))
    }

    /// Registers guest process `tgid`.
    pub fn add_process(&self, tgid: i32, process: Arc<Process>) {
        lock(&self.processes).insert(tgid, process);
    }

    /// The guest process with thread group id `tgid`, if lxrun runs it.
    pub fn process(&self, tgid: i32) -> Option<Arc<Process>> {
        lock(&self.processes).get(&tgid).cloned()
    }

    pub fn remove_process(&self, tgid: i32) {
        lock(&self.processes).remove(&tgid);
    }

    /// Registers guest thread `tid` of process `tgid`.
    pub fn add_thread(&self, tid: i32, tgid: i32) {
        lock(&self.threads).insert(tid, tgid);
    }

    /// Forgets thread `tid` (it exited), and releases what it held.
    pub fn remove_thread(&self, tid: i32) {
        lock(&self.threads).remove(&tid);
        lock(&self.held).remove(&tid);
        lock(&self.handoff).remove(&tid);
    }

    /// The thread group of guest thread `tid`.
    pub fn tgid_of(&self, tid: i32) -> Option<i32> {
        lock(&self.threads).get(&tid).copied()
    }

    /// The process a guest thread or process id belongs to.
    pub fn process_of(&self, pid: i32) -> Option<Arc<Process>> {
        let tgid = lock(&self.threads).get(&pid).copied().unwrap_or(pid);
        self.process(tgid)
    }

    /// Keeps `fd` open for thread `tid` until its next trapped call.
    pub fn hold(&self, tid: i32, fd: OwnedFd) {
        lock(&self.held).entry(tid).or_default().push(fd);
    }

    /// Leaves `what`, for thread `tid`'s call, to its SYS_LXRUN_TAKE_FD.
    pub fn hand_off(&self, tid: i32, what: Handoff) {
        lock(&self.handoff).insert(tid, what);
    }

    /// What was left for thread `tid`'s SYS_LXRUN_TAKE_FD.
    pub fn take_handoff(&self, tid: i32) -> Option<Handoff> {
        lock(&self.handoff).remove(&tid)
    }

    /// Closes what thread `tid` held for its previous call.
    pub fn release(&self, tid: i32) {
        let mut held = lock(&self.held);
        if let Some(v) = held.get_mut(&tid) {
            v.clear();
        }
    }

    /// Remembers that the guest bound `guest` where the host has `host`.
    pub fn bound_socket(&self, host: Vec<u8>, guest: Vec<u8>) {
        lock(&self.socket_names).insert(host, guest);
    }

    /// The name the guest gave a socket the host knows as `host`.
    pub fn socket_name(&self, host: &[u8]) -> Option<Vec<u8>> {
        lock(&self.socket_names).get(host).cloned()
    }

    /// Counts an unsupported call; true the first time this number is seen (report it then).
    pub fn note_unsupported(&self, nr: u64) -> bool {
        let mut u = lock(&self.unsupported);
        let n = u.entry(nr).or_insert(0);
        *n += 1;
        *n == 1
    }

    /// Unsupported calls seen so far, by number.
    pub fn unsupported(&self) -> BTreeMap<u64, u64> {
        lock(&self.unsupported).clone()
    }

    /// The end of the run: flushes the trace and returns the `--stats` summary, if asked for.
    pub fn finish_observing(&self) -> Option<String> {
        let unsupported: Vec<(u64, u64)> = self.unsupported().into_iter().collect();
        self.observer.finish(&unsupported)
    }
}
