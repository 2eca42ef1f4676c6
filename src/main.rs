//! lxrun: run an unmodified Linux ELF program in user space.

mod cli;
mod exit;
mod guestfs;
mod rootfs;
mod search;

use anyhow::{bail, Context};
use clap::Parser;
use cli::{BackendChoice, Cli, TraceFormat};
use lxrun_backends::{BackendKind, Launch, StubFile};
use lxrun_syscalls::observe::Observer;
use lxrun_syscalls::trace::{Format, TraceOptions};
use lxrun_syscalls::world::World;
use std::ffi::{CString, OsStr};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

fn main() {
    // `lxrun rootfs ...` is lxrun's own tool; any other first word is the program (a program
    // called rootfs runs as `lxrun -- rootfs`).
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == "rootfs") {
        match rootfs::main(args.collect()) {
            Ok(code) => std::process::exit(code),
            Err(e) => {
                eprintln!("lxrun: {e:#}");
                std::process::exit(exit::SETUP_FAILURE);
            }
        }
    }
    let cli = Cli::parse();
    if let Err(e) = init_logging(cli.verbose, cli.log.as_deref()) {
        eprintln!("lxrun: {e:#}");
        std::process::exit(exit::SETUP_FAILURE);
    }
    tracing::debug!(target: "startup", "options read, logging on");
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
        None => builder.with_writer(|| QuietStderr).init(),
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

/// The fake root `-0` / `--fake-id UID:GID` ask for.
fn fake_root(cli: &Cli) -> anyhow::Result<Option<lxrun_syscalls::world::FakeRoot>> {
    let (uid, gid) = match (&cli.fake_id, cli.fake_root) {
        (Some(spec), _) => {
            let parse = |s: &str| s.parse::<u32>().ok().filter(|&id| id != u32::MAX);
            match spec.split_once(':').map(|(u, g)| (parse(u), parse(g))) {
                Some((Some(u), Some(g))) => (u, g),
                _ => bail!("--fake-id {spec}: expected UID:GID (numbers)"),
            }
        }
        (None, true) => (0, 0),
        (None, false) => return Ok(None),
    };
    Ok(Some(lxrun_syscalls::world::FakeRoot {
        start: lxrun_syscalls::identity::Identity::new(uid, gid),
        host: lxrun_vfs::meta::HostIds::current(),
        link_owners: Default::default(),
    }))
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

fn cstring(s: &OsStr) -> anyhow::Result<CString> {
    CString::new(s.as_bytes()).with_context(|| format!("{s:?} contains a NUL byte"))
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    if cli.list_syscalls {
        print!("{}", lxrun_syscalls::table::listing());
        return Ok(0);
    }
    let backend = match cli.backend {
        BackendChoice::Auto => match lxrun_backends::seccomp_support() {
            Ok(()) => {
                tracing::info!("backend auto: seccomp (user notification)");
                BackendKind::Seccomp
            }
            Err(why) => {
                tracing::info!("backend auto: ptrace, because {why}");
                BackendKind::Ptrace
            }
        },
        BackendChoice::Ptrace => BackendKind::Ptrace,
        BackendChoice::Seccomp | BackendChoice::SeccompPtrace => {
            if let Err(why) = lxrun_backends::seccomp_support() {
                bail!("--backend seccomp: {why}");
            }
            if cli.backend == BackendChoice::SeccompPtrace {
                BackendKind::SeccompPtrace
            } else {
                BackendKind::Seccomp
            }
        }
    };

    let run_dir = guestfs::RunDir::create()?;
    let fs = guestfs::FsOptions {
        root: cli.root.as_deref(),
        binds: &cli.binds,
        tmpfs: &cli.tmpfs,
        default_mounts: !cli.no_default_mounts,
    };
    // Before any thread starts: the kernel moves only a process of one thread to a namespace.
    let kernel_mounts = guestfs::private_mounts();
    let mut vfs = guestfs::build(&fs, &run_dir)?;
    if let Some(km) = kernel_mounts {
        vfs.set_kernel_mounts(km);
    }
    if cli.fake_root || cli.fake_id.is_some() {
        vfs.translate_all();
    }
    let (guest_cwd, host_cwd) = guestfs::initial_cwd(&vfs, cli.cwd.as_deref())?;
    tracing::debug!(target: "startup", "guest filesystem built");

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
    let stub =
        StubFile::create(run_dir.user_dir()).map_err(|e| anyhow::anyhow!("cannot create the loader stub: {e}"))?;
    let mut world = World::new(vfs, stub.path().to_vec(), observer(&cli)?);
    world.fake = fake_root(&cli)?;
    let world = std::sync::Arc::new(world);
    tracing::debug!(target: "startup", "program found, stub written");
    let outcome = lxrun_backends::run(backend, &world, &launch);
    tracing::debug!(target: "startup", "the guests are gone");
    // The trace is flushed and the summary printed even when lxrun itself failed.
    if let Some(report) = world.finish_observing() {
        eprint!("{report}");
    }
    let outcome = outcome?;
    if let Some(why) = outcome.launch_error {
        eprintln!("lxrun: {}: {why}", program.to_string_lossy());
    }
    // Cleaned up now: dying of the guest's signal below runs no destructor.
    drop(stub);
    drop(run_dir);
    exit::reproduce(outcome.exit)
}

/// lxrun's log on stderr, where a failed write (a closed pipe) is dropped: tracing-subscriber
/// reports one with eprintln!, which would panic the thread that logged, a worker answering a
/// guest among them.
struct QuietStderr;

impl std::io::Write for QuietStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
