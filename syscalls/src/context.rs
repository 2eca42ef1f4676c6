//! What a handler gets: the calling thread, its process, its memory and the shared world.

use crate::memory::GuestMemory;
use crate::process::Process;
use crate::world::World;
use std::sync::Arc;

/// The context of one trapped syscall.
pub struct SyscallCtx<'a> {
    /// The calling thread's id (host pid namespace, which is the guest's too).
    pub tid: i32,
    pub process: Arc<Process>,
    pub mem: GuestMemory,
    pub world: &'a World,
}

impl SyscallCtx<'_> {
    /// The guest program's name for messages: its exe's file name.
    pub fn program(&self) -> String {
        let exe = self.process.state().exe.clone();
        let base = exe.rsplit(|&c| c == b'/').next().unwrap_or_default();
        String::from_utf8_lossy(base).into_owned()
    }
}
