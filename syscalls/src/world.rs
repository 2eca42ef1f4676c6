//! Supervisor-wide state the handlers see: the filesystem view, the loader stub's path, the
//! guest's processes, and what has been reported to the user.

use crate::observe::Observer;
use crate::process::Process;
use lxrun_vfs::Vfs;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Everything shared by all guest processes of one lxrun run.
pub struct World {
    pub vfs: Vfs,
    /// The path a guest execs to start the loader stub (`/proc/<lxrun>/fd/<memfd>`).
    pub stub_path: Vec<u8>,
    /// `--trace` and `--stats`, fed by the backend.
    pub observer: Observer,
    processes: Mutex<HashMap<i32, Arc<Process>>>,
    /// Calls refused as unsupported, by number, with how often each came.
    unsupported: Mutex<BTreeMap<u64, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl World {
    pub fn new(vfs: Vfs, stub_path: Vec<u8>, observer: Observer) -> World {
        World {
            vfs,
            stub_path,
            observer,
            processes: Mutex::new(HashMap::new()),
            unsupported: Mutex::new(BTreeMap::new()),
        }
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
