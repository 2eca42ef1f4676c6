//! lxrun: run an unmodified Linux ELF program in user space.

mod cli;
mod exit;
mod search;

use anyhow::{bail, Context};
use clap::Parser;
use cli::{BackendChoice, Cli, TraceFormat};
use lxrun_backends::{BackendKind, Launch, StubFile};
use lxrun_syscalls::observe::Observer;
use lxrun_syscalls::trace::{Format, TraceOptions};
use lxrun_syscalls::world::World;
use lxrun_vfs::Vfs;
use std::ffi::{CString, OsStr};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

fn main() {
    let cli = Cli::parse();
    if let Err(e) = init_logging(cli.verbose, cli.log.as_deref()) {
        eprintln!("lxrun: {e:#}");
        std::process::exit(exit::SETUP_FAILURE);
    }
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("lxrun: {e:#}");
            std::process::exit(exit::SETUP_FAILURE);
        }
    }
}

/// lxrun's own diagnostics go to stderr, or to `log` (`--log FILE`, appended to).
fn init_logging(verbose: u8, log: Option<&Path>) -> anyhow::Result<()> {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LXRUN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    match log {
        None => builder.with_writer(std::io::stderr).init(),
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("--log {}", path.display()))?;
            builder.with_writer(std::sync::Mutex::new(file)).with_ansi(false).init();
        }
    }
    Ok(())
}

/// The observer `--trace` and `--stats` ask for (none: the guest runs at full speed).
fn observer(cli: &Cli) -> anyhow::Result<Observer> {
    let trace = match &cli.trace {
        None => None,
        Some(target) => {
            let out: Box<dyn Write + Send> = match target {
                None => Box::new(std::io::stderr()),
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path).with_context(|| format!("--trace={}", path.display()))?,
                )),
            };
            let format = match cli.trace_format {
                TraceFormat::Text => Format::Text,
                TraceFormat::Json => Format::Json,
            };
            Some((
                out,
                TraceOptions {
                    format,
                    host_paths: cli.trace_host,
                },
            ))
        }
    };
    Ok(Observer::new(trace, cli.stats))
}

/// Options that parse but whose work is not built yet: refuse clearly, never ignore.
fn refuse_unimplemented(cli: &Cli) -> anyhow::Result<()> {
    let mut missing = Vec::new();
    if cli.root.as_deref().is_some_and(|r| r != std::path::Path::new("/")) {
        missing.push("--root");
    }
    if !cli.binds.is_empty() {
        missing.push("--bind");
    }
    if cli.backend == BackendChoice::Seccomp {
        missing.push("--backend seccomp");
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
        BackendChoice::Auto => {
            tracing::info!("backend auto: ptrace (the seccomp user-notify backend is not built yet)");
            BackendKind::Ptrace
        }
        BackendChoice::Ptrace => BackendKind::Ptrace,
        BackendChoice::Seccomp => unreachable!("refused above"),
    };

    let program = cli.command[0].clone();
    let path_var = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let resolved = match search::find_program(&program, &path_var) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("lxrun: {}: {}", program.to_string_lossy(), e.message());
            return Ok(e.status());
        }
    };
    if let Some(dir) = &cli.cwd {
        if !dir.is_dir() {
            eprintln!("lxrun: --cwd {}: not a directory", dir.display());
            return Ok(exit::SETUP_FAILURE);
        }
    }

    let launch = Launch {
        program: cstring(resolved.as_os_str())?,
        argv: cli.command.iter().map(|a| cstring(a)).collect::<anyhow::Result<_>>()?,
        envp: std::env::vars_os()
            .map(|(k, v)| {
                let mut kv = k.into_vec();
                kv.push(b'=');
                kv.extend(v.into_vec());
                CString::new(kv).context("environment entry contains a NUL byte")
            })
            .collect::<anyhow::Result<_>>()?,
        cwd: cli.cwd.as_deref().map(|d| cstring(d.as_os_str())).transpose()?,
    };
    let stub = StubFile::create().map_err(|e| anyhow::anyhow!("cannot create the loader stub's memfd: {e}"))?;
    let world = World::new(Vfs::host_root(), stub.path().to_vec(), observer(&cli)?);
    let outcome = lxrun_backends::run(backend, &world, &launch);
    // The trace is flushed and the summary printed even when lxrun itself failed.
    if let Some(report) = world.finish_observing() {
        eprint!("{report}");
    }
    let outcome = outcome?;
    if let Some(why) = outcome.launch_error {
        eprintln!("lxrun: {}: {why}", program.to_string_lossy());
    }
    exit::reproduce(outcome.exit)
}
