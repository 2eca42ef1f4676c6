//! `lxrun rootfs create debian:SUITE DIR`: a root filesystem built by a user who is not root.
//! The host's debootstrap runs under lxrun's own fake root (`-0`), so its second stage (chroot,
//! dpkg's chowns and mknods) works and the owners it sets are recorded in DIR; a spinner says
//! which step it is at.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

#[derive(Parser, Debug)]
#[command(name = "lxrun rootfs", about = "Root filesystems for lxrun, made without root")]
struct RootfsCli {
    #[command(subcommand)]
    command: RootfsCommand,
}

#[derive(Subcommand, Debug)]
enum RootfsCommand {
    /// Build DISTRO:SUITE (debian:trixie, ubuntu:noble) into DIR with the host's debootstrap
    Create {
        /// debian:SUITE or ubuntu:SUITE
        #[arg(value_name = "DISTRO:SUITE")]
        spec: String,
        /// The new root's directory (created)
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Package mirror [default: debootstrap's for the suite]
        #[arg(long, value_name = "URL")]
        mirror: Option<String>,
        /// debootstrap's variant
        #[arg(long, default_value = "minbase")]
        variant: String,
        /// More packages, comma-separated
        #[arg(long, value_name = "PKGS")]
        include: Option<String>,
    },
}

/// Runs `lxrun rootfs ...` (`args` after the word `rootfs`); its exit status.
pub fn main(args: Vec<OsString>) -> anyhow::Result<i32> {
    let cli = RootfsCli::parse_from(std::iter::once(OsString::from("lxrun rootfs")).chain(args));
    let RootfsCommand::Create {
        spec,
        dir,
        mirror,
        variant,
        include,
    } = cli.command;
    let (distro, suite) = spec
        .split_once(':')
        .filter(|(_, s)| !s.is_empty())
        .with_context(|| format!("{spec}: expected DISTRO:SUITE, e.g. debian:trixie"))?;
    // Without --mirror, debootstrap's own default for the suite.
    if !matches!(distro, "debian" | "ubuntu") {
        bail!("{distro}: lxrun rootfs knows debian and ubuntu (debootstrap's)");
    }
    let path = format!(
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:{}",
        std::env::var("PATH").unwrap_or_default()
    );
    let host = |p: &[u8]| Some(PathBuf::from(std::ffi::OsStr::from_bytes(p)));
    let Ok(debootstrap) = crate::search::find_program("debootstrap".as_ref(), path.as_ref(), host) else {
        eprintln!("lxrun: debootstrap not found: install it (Debian, Ubuntu: apt-get install debootstrap)");
        return Ok(127);
    };
    let debootstrap = PathBuf::from(std::ffi::OsStr::from_bytes(&debootstrap));
    let mut cmd = Command::new(std::env::current_exe().context("finding lxrun itself")?);
    cmd.args(["-0", "--"])
        .arg(&debootstrap)
        .arg(format!("--variant={variant}"));
    if let Some(pkgs) = &include {
        cmd.arg(format!("--include={pkgs}"));
    }
    cmd.arg(suite).arg(&dir);
    if let Some(m) = &mirror {
        cmd.arg(m);
    }
    cmd.env("PATH", &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().context("starting debootstrap under lxrun -0")?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar.set_message(format!("debootstrap {suite} into {}", dir.display()));
    let mut tail: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let (mut step, mut count) = (String::new(), 0usize);
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("I: ") {
                let verb = rest.split_whitespace().next().unwrap_or_default().to_string();
                if verb != step {
                    (step, count) = (verb, 0);
                }
                count += 1;
                bar.set_message(format!("{rest} [{step} {count}]"));
            }
            if tail.len() == 20 {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
    let status = child.wait().context("waiting for debootstrap")?;
    bar.finish_and_clear();
    if !status.success() {
        for line in &tail {
            eprintln!("{line}");
        }
        eprintln!("lxrun: debootstrap failed ({status})");
        return Ok(status.code().unwrap_or(1));
    }
    eprintln!(
        "lxrun: {} is ready: lxrun -0 --root {} -- apt-get install -y PACKAGE",
        dir.display(),
        dir.display()
    );
    Ok(0)
}
