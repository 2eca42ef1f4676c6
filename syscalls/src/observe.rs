//! What backends report when the run is observed (`--trace`, `--stats`): each call's entry
//! and exit, signals, and the start and end of tasks. The observer hands them to the trace
//! printer and the counters; neither knows which backend caught a call.
//!
//! An observed run catches every syscall, not only the translated ones, and needs each
//! call's exit for its result. A run that is not observed never calls in here.

use crate::memory::GuestMemory;
use crate::stats::{Mechanism, Stats};
use crate::trace::{Printer, TraceOptions};
use crate::SyscallArgs;
use lxrun_loader::abi::TRAMPOLINE_AT;
use lxrun_loader::elf::STUB_BASE;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Calls made from here are the loader stub's (its text is linked at STUB_BASE and small).
const STUB_SPAN: u64 = 1 << 20;

#[derive(Default)]
struct TaskState {
    /// Between an exec and the loader stub's jump to the program: calls from the stub's
    /// code are lxrun's, not the guest's, and are not shown.
    in_stub: bool,
    /// The call in progress: its number, whether it is the stub's, lxrun's time on it so far.
    call: Option<(u64, bool, Duration)>,
}

/// The observers of one run: the trace printer and the counters, either or both.
#[derive(Default)]
pub struct Observer {
    printer: Option<Mutex<Printer>>,
    stats: Option<Stats>,
    tasks: Mutex<HashMap<i32, TaskState>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Observer {
    /// Nobody observes: backends run at full speed.
    pub fn none() -> Observer {
        Observer::default()
    }

    /// Traces to `out` (if given) and counts (if `stats`).
    pub fn new(trace: Option<(Box<dyn Write + Send>, TraceOptions)>, stats: bool) -> Observer {
        Observer {
            printer: trace.map(|(out, options)| Mutex::new(Printer::new(out, options))),
            stats: stats.then(Stats::new),
            tasks: Mutex::new(HashMap::new()),
        }
    }

    /// Whether backends must catch every call and report entries and exits.
    pub fn enabled(&self) -> bool {
        self.printer.is_some() || self.stats.is_some()
    }

    fn with_printer(&self, f: impl FnOnce(&mut Printer)) {
        if let Some(p) = &self.printer {
            f(&mut lock(p));
        }
    }

    /// A new guest task (the first one, or one created by clone, fork or vfork).
    pub fn task_new(&self, tid: i32) {
        lock(&self.tasks).entry(tid).or_default();
        self.with_printer(|p| p.task_new(tid));
    }

    /// `tid` stopped at `call`'s entry, caught by `how`; lxrun's handler has not run yet.
    pub fn syscall_entry(
        &self,
        tid: i32,
        call: &SyscallArgs,
        mem: &GuestMemory,
        world: &crate::world::World,
        how: Mechanism,
    ) {
        let vfs = &world.vfs;
        let stub = {
            let mut tasks = lock(&self.tasks);
            let task = tasks.entry(tid).or_default();
            if task.in_stub && !(TRAMPOLINE_AT..STUB_BASE + STUB_SPAN).contains(&call.ip) {
                task.in_stub = false;
            }
            task.call = Some((call.nr, task.in_stub, Duration::ZERO));
            task.in_stub
        };
        if let Some(s) = &self.stats {
            s.caught(how, call.nr, stub, crate::table::Shape::of(world));
        }
        if !stub {
            self.with_printer(|p| p.entry(tid, call, mem, vfs));
        }
    }

    /// lxrun spent `time` on `tid`'s current call at its entry.
    pub fn syscall_handled(&self, tid: i32, time: Duration) {
        if let Some((_, _, t)) = lock(&self.tasks).get_mut(&tid).and_then(|t| t.call.as_mut()) {
            *t += time;
        }
    }

    /// `tid`'s current call returned `ret` (`-errno` on error); lxrun spent `time` at its exit.
    pub fn syscall_exit(&self, tid: i32, ret: i64, mem: &GuestMemory, time: Duration) {
        let Some((nr, stub, spent)) = lock(&self.tasks).get_mut(&tid).and_then(|t| t.call.take()) else {
            return;
        };
        if stub {
            return;
        }
        if let Some(s) = &self.stats {
            s.record(nr, ret, spent + time);
        }
        self.with_printer(|p| p.exit(tid, ret, mem));
    }

    /// Thread `former` completed an execve and is now `tid`; the loader stub runs next.
    pub fn exec(&self, tid: i32, former: i32) {
        {
            let mut tasks = lock(&self.tasks);
            if former != tid {
                let call = tasks.remove(&former).and_then(|t| t.call);
                tasks.entry(tid).or_default().call = call;
            }
            tasks.entry(tid).or_default().in_stub = true;
        }
        self.with_printer(|p| p.exec(tid, former));
    }

    /// A signal is about to be delivered to `tid`; `info` is its raw siginfo.
    pub fn signal(&self, tid: i32, info: &[u8; 128]) {
        self.with_printer(|p| p.signal(tid, info));
    }

    /// `tid` entered a group-stop by `sig`.
    pub fn group_stop(&self, tid: i32, sig: i32) {
        self.with_printer(|p| p.group_stop(tid, sig));
    }

    /// `tid` exited with `code`.
    pub fn exited(&self, tid: i32, code: i32) {
        lock(&self.tasks).remove(&tid);
        self.with_printer(|p| p.exited(tid, code));
    }

    /// `tid` was killed by `sig`.
    pub fn killed(&self, tid: i32, sig: i32, core: bool) {
        lock(&self.tasks).remove(&tid);
        self.with_printer(|p| p.killed(tid, sig, core));
    }

    /// The end of the run: flushes the trace; the `--stats` summary, if asked for.
    pub fn finish(&self, unsupported: &[(u64, u64)]) -> Option<String> {
        self.with_printer(|p| p.flush());
        self.stats.as_ref().map(|s| s.report(unsupported))
    }
}
