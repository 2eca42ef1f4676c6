//! Command-line interface.

use clap::{Parser, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

/// Run an unmodified Linux x86_64 program under lxrun: its syscalls are caught and translated
/// in user space, its program and interpreter loaded by lxrun's own loader.
#[derive(Parser, Debug)]
#[command(name = "lxrun", version, about, long_about = None)]
#[command(override_usage = "lxrun [OPTIONS] [--] PROGRAM [ARGS]...")]
#[command(
    after_help = "Root filesystems without root:\n  lxrun rootfs create debian:trixie DIR   debootstrap under a fake root (-0), then\n  lxrun -0 --root DIR -- apt-get install -y PACKAGE"
)]
pub struct Cli {
    /// Directory to use as the guest's root filesystem [default: /]
    #[arg(short = 'r', long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// How syscalls are caught: auto picks the best the kernel supports
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,

    /// Bind a host file or directory into the guest (repeatable; GUEST defaults to HOST; ":ro" makes it read-only)
    #[arg(short = 'b', long = "bind", value_name = "HOST[:GUEST][:ro]")]
    pub binds: Vec<String>,

    /// Mount a fresh, empty, writable directory at GUEST (repeatable)
    #[arg(long = "tmpfs", value_name = "GUEST")]
    pub tmpfs: Vec<String>,

    /// With --root, do not mount the defaults (/proc, /dev, /sys, /etc/resolv.conf, /etc/hosts)
    #[arg(long)]
    pub no_default_mounts: bool,

    /// Fake root: the guest runs as uid 0 with every capability as far as it can tell; the
    /// owners, modes and devices it sets are kept on the files (user.lxrun.meta xattrs)
    #[arg(short = '0', long)]
    pub fake_root: bool,

    /// Like --fake-root, as another identity (numeric UID:GID)
    #[arg(long, value_name = "UID:GID")]
    pub fake_id: Option<String>,

    /// Directory the program starts in [default: the current directory if the guest has it, else /]
    #[arg(short = 'w', long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,

    /// Print every syscall of every guest thread, strace-style, to stderr or FILE
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub trace: Option<Option<PathBuf>>,

    /// With --trace: also show the host path each guest path argument was translated to
    #[arg(long, requires = "trace")]
    pub trace_host: bool,

    /// With --trace: strace's notation (text) or one JSON object per line (json)
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = TraceFormat::Text, requires = "trace")]
    pub trace_format: TraceFormat,

    /// Print a per-syscall summary (like strace -c) on stderr when the guest exits
    #[arg(long)]
    pub stats: bool,

    /// Write lxrun's own diagnostics (-v, LXRUN_LOG) to FILE instead of stderr
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Print the syscall table (number, name, policy) and exit
    #[arg(long)]
    pub list_syscalls: bool,

    /// More of lxrun's own diagnostics on stderr (-v, -vv); LXRUN_LOG=debug does the same
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The program to run (searched in PATH when it has no slash) and its arguments
    #[arg(
        value_name = "PROGRAM",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required_unless_present = "list_syscalls"
    )]
    pub command: Vec<OsString>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    /// strace's notation
    Text,
    /// One JSON object per line
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// The fastest backend this kernel supports
    Auto,
    /// seccomp SECCOMP_RET_TRACE stops served through ptrace
    Ptrace,
    /// seccomp user notification, with the in-process fast path and no ptrace on Linux >= 6.10
    Seccomp,
    /// seccomp user notification, with ptrace for execve and process tracking (what seccomp
    /// falls back to without mseal, and uses for --trace and --stats)
    SeccompPtrace,
}
