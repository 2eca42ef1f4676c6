//! lxrun: run an unmodified Linux ELF program in user space.

mod cli;
mod exit;
mod guestfs;
mod search;

use anyhow::{bail, Context};
use clap::Parser;
use cli::{BackendChoice, Cli};
use lxrun_backends::{BackendKind, Launch, StubFile};
use lxrun_syscalls::world::World;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

fn main() {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("lxrun: {e:#}");
            std::process::exit(exit::SETUP_FAILURE);
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LXRUN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// Options that parse but whose work is not built yet: refuse clearly, never ignore.
fn refuse_unimplemented(cli: &Cli) -> anyhow::Result<()> {
    let mut missing = Vec::new();
    if cli.trace {
        missing.push("--trace");
    }
    if cli.stats {
        missing.push("--stats");
    }
    if !missing.is_empty() {
        bail!("{} not implemented yet", missing.join(", "));
    }
    Ok(())
}

fn cstring(s: &OsStr) -> anyhow::Result<CString> {
    CString::new(s.as_bytes()).with_context(|| format!("{s:?} contains a NUL byte"))
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    if cli.list_syscalls {
        print!("{}", lxrun_syscalls::table::listing());
        return Ok(0);
    }
    refuse_unimplemented(&cli)?;
    let backend = match cli.backend {
        BackendChoice::Auto => match lxrun_backends::seccomp_support() {
            Ok(()) => {
                tracing::info!("backend auto: seccomp (user notification; ptrace only for execve)");
                BackendKind::Seccomp
            }
            Err(why) => {
                tracing::info!("backend auto: ptrace, because {why}");
                BackendKind::Ptrace
            }
        },
        BackendChoice::Ptrace => BackendKind::Ptrace,
        BackendChoice::Seccomp => {
            if let Err(why) = lxrun_backends::seccomp_support() {
                bail!("--backend seccomp: {why}");
            }
            BackendKind::Seccomp
        }
    };

    let run_dir = guestfs::RunDir::create()?;
    let fs = guestfs::FsOptions {
        root: cli.root.as_deref(),
        binds: &cli.binds,
        tmpfs: &cli.tmpfs,
        default_mounts: !cli.no_default_mounts,
    };
    let vfs = guestfs::build(&fs, &run_dir)?;
    let (guest_cwd, host_cwd) = guestfs::initial_cwd(&vfs, cli.cwd.as_deref())?;

    let program = cli.command[0].clone();
    let path_var = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let found = search::find_program(&program, &path_var, |p| {
        guestfs::lookup(&vfs, &guest_cwd, p).map(|r| r.host)
    });
    let Ok(resolved) = found else {
        eprintln!("lxrun: {}: command not found", program.to_string_lossy());
        return Ok(127);
    };

    let launch = Launch {
        program: CString::new(resolved).context("PROGRAM contains a NUL byte")?,
        argv: cli.command.iter().map(|a| cstring(a)).collect::<anyhow::Result<_>>()?,
        envp: std::env::vars_os()
            .map(|(k, v)| {
                let mut kv = k.into_vec();
                kv.push(b'=');
                kv.extend(v.into_vec());
                CString::new(kv).context("environment entry contains a NUL byte")
            })
            .collect::<anyhow::Result<_>>()?,
        cwd: Some(cstring(host_cwd.as_os_str())?),
        guest_cwd,
    };
    let stub = StubFile::create().map_err(|e| anyhow::anyhow!("cannot create the loader stub's memfd: {e}"))?;
    let world = std::sync::Arc::new(World::new(vfs, stub.path().to_vec()));
    let outcome = lxrun_backends::run(backend, &world, &launch)?;
    if let Some(why) = outcome.launch_error {
        eprintln!("lxrun: {}: {why}", program.to_string_lossy());
    }
    exit::reproduce(outcome.exit)
}
