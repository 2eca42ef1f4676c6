//! What a handler decides; the backend that caught the call carries it out.

use crate::Errno;

/// The result of handling one trapped syscall.
#[derive(Debug)]
pub enum Outcome {
    /// Let the original call run on the host, untouched.
    Continue,
    /// Skip the call; the guest sees this non-negative value.
    Return(i64),
    /// Skip the call; the guest sees `-errno`.
    Fail(Errno),
    /// Replace the call by an execve of lxrun's loader stub (the plan is already pending).
    Exec(ExecRewrite),
    /// Skip the call; the guest gets a descriptor of this file (its number is the result), for
    /// a call lxrun performed on its own copies of the guest's descriptors.
    NewFd { fd: std::os::fd::OwnedFd, cloexec: bool },
    /// Run the call on the host with some arguments replaced (translated paths).
    Rewrite(Vec<(usize, NewArg)>),
    /// Let the original call run untouched, then, at its exit, do `After` with its result
    /// (`crate::after_exit`). Only the ptrace mechanism sees a call's exit: a call that may
    /// answer this is caught by ptrace in both backends (`proxy::needs_ptrace`).
    ContinueThen(After),
}

/// Work left for a call's exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// accept/accept4 returned a socket whose peer's AF_UNIX name the kernel wrote (as the host
    /// knows it) at `addr`, with its length at `lenp`, where the guest had room for `room`
    /// bytes: write the guest's name instead.
    PeerName { addr: u64, lenp: u64, room: u32 },
}

/// A replacement argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewArg {
    Int(u64),
    /// Bytes placed in the guest's memory (paths carry their NUL); the argument points at them.
    Bytes(Vec<u8>),
    /// A translated path: how lxrun's own call reaches it without a walk the guest could
    /// redirect (`target`, by descriptor), and the host path (with its NUL), which only the
    /// ptrace backend still hands to the guest's kernel call.
    Path {
        host: Vec<u8>,
        target: lxrun_vfs::Target,
    },
    /// A descriptor argument: the file lxrun holds (borrowed from the guest and checked), for
    /// the call to act on instead of the guest's number, which may name another file by now.
    Fd(lxrun_vfs::Opened),
    /// A struct placed in the guest's memory whose pointer fields (at the given byte offsets)
    /// point at further bytes placed beside it (a msghdr and its new msg_name); a backend that
    /// performs the call itself points them at its own copies.
    Struct {
        bytes: Vec<u8>,
        pointers: Vec<(usize, Vec<u8>)>,
    },
}

/// How the guest's execve becomes an execve of the stub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRewrite {
    /// The argv the stub (and so the guest program) receives.
    pub argv: Argv,
    /// The guest's envp pointer, passed on as it is.
    pub envp: u64,
}

/// The argument vector for the rewritten execve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Argv {
    /// The guest's own argv pointer (an ELF program: nothing changes).
    Guest(u64),
    /// New leading strings (a `#!` chain's interpreters, options and script paths), followed by
    /// the guest's original argv[1..] pointers.
    Prefixed { prefix: Vec<Vec<u8>>, rest: Vec<u64> },
}
