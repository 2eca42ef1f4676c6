//! lxrun's syscall layer: the x86_64 table with a policy per number, the dispatch that follows
//! it, the seccomp filter derived from it, guest memory access, and the handlers by family.
//!
//! Backends (ptrace, seccomp user-notify) decode a trapped call into [`SyscallArgs`], call
//! [`dispatch`] and carry out the [`Outcome`]; nothing in here knows which backend caught it.

pub mod context;
pub mod creds;
pub mod exec_cache;
pub mod fds;
pub mod filter;
mod handlers;
pub mod identity;
pub mod memory;
pub mod observe;
pub mod outcome;
pub mod process;
pub mod proxy;
pub mod stats;
pub mod table;
pub mod trace;
pub mod world;
mod x86_64;

pub use context::SyscallCtx;
pub use lxrun_abi::Errno;
pub use outcome::{After, Argv, ExecRewrite, NewArg, Outcome};
pub use table::{Entry, Policy};

/// AUDIT_ARCH_X86_64: the seccomp/ptrace architecture tag of native 64-bit calls.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// Set in the number of x32 ABI calls.
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;

/// One trapped call, decoded from registers by the backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallArgs {
    pub nr: u64,
    pub args: [u64; 6],
    /// AUDIT_ARCH_* of the call (i386 `int 0x80` calls from 64-bit code differ).
    pub arch: u32,
    /// The thread's stack pointer at the call.
    pub sp: u64,
    /// The address after the syscall instruction.
    pub ip: u64,
}

/// Handles one trapped call according to the table.
pub fn dispatch(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Outcome {
    // Whatever this thread's previous rewritten call referred to has been used by now.
    ctx.world.release(ctx.tid);
    if call.arch != AUDIT_ARCH_X86_64 || call.nr & X32_SYSCALL_BIT != 0 {
        let abi = if call.arch == AUDIT_ARCH_X86_64 {
            "x32"
        } else {
            "32-bit"
        };
        return unsupported(ctx, call.nr, &format!("{abi} syscall"));
    }
    if call.nr == lxrun_loader::abi::SYS_LXRUN_PLAN {
        let plan = result(handlers::exec::fetch_plan(ctx, call));
        tracing::debug!(target: "startup", tid = ctx.tid, "load plan given");
        return plan;
    }
    // Systrap mode's private calls exist only when its handler is installed.
    let systrap = ctx.world.fast_path.get().is_some();
    if call.nr == lxrun_loader::abi::SYS_LXRUN_EXEC && systrap {
        return result(handlers::exec::exec_for_stub(ctx, call));
    }
    if call.nr == lxrun_loader::abi::SYS_LXRUN_CHDIR && systrap {
        return result(handlers::fs::chdir_for_stub(ctx, call));
    }
    if call.nr == lxrun_loader::abi::SYS_LXRUN_STRICT && systrap {
        return result(handlers::ids::strict_for_stub(ctx));
    }
    if call.nr == lxrun_loader::abi::SYS_LXRUN_PROC_PIDS && systrap {
        return result(handlers::fs::proc_pids_for_stub(ctx, call));
    }
    let Some(entry) = table::lookup(call.nr) else {
        return unsupported(ctx, call.nr, &table::name_of(call.nr));
    };
    match entry.policy {
        Policy::Passthrough => Outcome::Continue,
        Policy::Translate(handler) | Policy::Path(handler) | Policy::FdWrite(handler) | Policy::Identity(handler) => {
            result(handler(ctx, call))
        }
        Policy::Deny(errno) => {
            if ctx.world.note_unsupported(call.nr) {
                say(&format!(
                    "lxrun: {} refused with {} in {}: {}",
                    entry.name,
                    errno.name(),
                    ctx.program(),
                    entry.note
                ));
            }
            Outcome::Fail(errno)
        }
    }
}

/// Systrap mode's SYS_LXRUN_OPEN_PATH (`lxrun_loader::abi`): the O_PATH open the stub's
/// handler carries, and what its handler answers, for the backend to perform (it must hand the
/// descriptor over in its own way). ENOSYS outside systrap mode.
pub fn open_path_for_stub(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<(SyscallArgs, Outcome), Errno> {
    if call.nr != lxrun_loader::abi::SYS_LXRUN_OPEN_PATH || ctx.world.fast_path.get().is_none() {
        return Err(Errno::ENOSYS);
    }
    handlers::path::open_path_for_stub(ctx, call)
}

/// At the exit of a call whose handler answered `Outcome::ContinueThen(after)`, with the
/// call's result `ret` (the guest is stopped there, its memory intact).
pub fn after_exit(ctx: &SyscallCtx<'_>, after: After, ret: i64) {
    match after {
        After::PeerName { addr, lenp, room } => handlers::socket::accepted(ctx, ret, addr, lenp, room),
    }
}

/// A backend that performs accept/accept4 itself where the handler answered
/// `Outcome::ContinueThen(After::PeerName ..)` (it sees no call's exit): writes the accepted
/// `sock`'s peer name for the guest, translated as at the exit; `reported` is the address
/// the backend's accept got.
pub fn write_accepted_peer(
    ctx: &SyscallCtx<'_>,
    after: After,
    sock: &std::os::fd::OwnedFd,
    reported: &[u8],
) -> Result<(), Errno> {
    match after {
        After::PeerName { addr, lenp, .. } => handlers::socket::write_accepted(ctx, sock, reported, addr, lenp),
    }
}

fn result(r: Result<Outcome, Errno>) -> Outcome {
    r.unwrap_or_else(Outcome::Fail)
}

/// ENOSYS, reported once per number: `lxrun: unsupported syscall NAME (NR) in PROGRAM`.
fn unsupported(ctx: &SyscallCtx<'_>, nr: u64, name: &str) -> Outcome {
    if ctx.world.note_unsupported(nr) {
        say(&format!(
            "lxrun: unsupported syscall {name} ({nr}) in {}",
            ctx.program()
        ));
    }
    Outcome::Fail(Errno::ENOSYS)
}

/// One line for the user on stderr. A stderr that is gone (a closed pipe) is no reason to stop
/// answering the guest: eprintln! would panic there.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
