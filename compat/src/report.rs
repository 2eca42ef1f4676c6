//! The reports: matrix.md, matrix.json and the colored summary on the terminal.

use crate::diff;
use crate::exec::{Output, Status};
use crate::model::{clip, expect_text, Cell, Column, NotRun, Row, Verdict};
use console::style;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where and with what the matrix was made.
pub struct Meta {
    pub date: String,
    pub commit: String,
    pub lxrun_version: String,
    pub kernel: String,
    pub os: String,
    pub proot: String,
}

fn command_text(program: &str, args: &[&str], dir: Option<&Path>) -> Option<String> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Meta {
    pub fn collect(ws: &Path, lxrun: &Path) -> Meta {
        let commit = command_text("git", &["rev-parse", "--short=12", "HEAD"], Some(ws)).unwrap_or_default();
        let dirty = command_text("git", &["status", "--porcelain", "--", ".", ":!docs/compat"], Some(ws))
            .is_some_and(|s| !s.is_empty());
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string()))
            })
            .unwrap_or_default();
        Meta {
            date: today(),
            commit: if dirty {
                format!("{commit} (with uncommitted changes)")
            } else {
                commit
            },
            lxrun_version: command_text(&lxrun.to_string_lossy(), &["--version"], None).unwrap_or_default(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            os,
            proot: command_text("dpkg-query", &["-W", "-f=${Version}", "proot"], None)
                .map(|v| format!("proot {v}"))
                .unwrap_or_default(),
        }
    }
}

/// Today's date (UTC), YYYY-MM-DD.
fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Civil date from a day count (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

pub struct Report<'a> {
    pub rows: &'a [Row],
    pub columns: &'a [Column],
    pub not_run: &'a [NotRun],
    pub args: Vec<String>,
    pub root: Option<PathBuf>,
    pub elapsed: Duration,
    pub meta: Meta,
    /// The workspace directory with a trailing slash, left out of the reports' paths.
    pub workspace: String,
}

#[derive(Default, Clone, Copy)]
struct Totals {
    pass: usize,
    fail: usize,
    known: usize,
    fixed: usize,
    not_available: usize,
}

impl Totals {
    fn add(&mut self, v: &Verdict) {
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Known(_) => self.known += 1,
            Verdict::Fixed(_) => self.fixed += 1,
            Verdict::NotAvailable(_) => self.not_available += 1,
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The last `n` lines of `s`.
fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let start = lines.len().saturating_sub(n);
    let mut t = lines[start..].join("\n");
    if start > 0 {
        t = format!("[{start} earlier lines]\n{t}");
    }
    t
}

/// A fenced block that its content cannot close.
fn fence(lang: &str, body: &str) -> String {
    let mut ticks = "```".to_string();
    while body.contains(&ticks) {
        ticks.push('`');
    }
    let body = body.trim_end_matches('\n');
    format!("{ticks}{lang}\n{body}\n{ticks}\n")
}

fn md_cell_text(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl Report<'_> {
    /// `s` with the workspace's path left out (`target/linux-binaries/...`), so the report
    /// does not depend on where the repository is checked out.
    fn local(&self, s: &str) -> String {
        if self.workspace.len() > 1 {
            s.replace(&self.workspace, "")
        } else {
            s.to_string()
        }
    }

    fn totals(&self, col: usize) -> Totals {
        let mut t = Totals::default();
        for row in self.rows {
            t.add(&row.cells[col].verdict);
        }
        t
    }

    fn unexpected(&self) -> (usize, usize) {
        let mut fail = 0;
        let mut fixed = 0;
        for row in self.rows {
            for c in &row.cells {
                match c.verdict {
                    Verdict::Fail => fail += 1,
                    Verdict::Fixed(_) => fixed += 1,
                    _ => {}
                }
            }
        }
        (fail, fixed)
    }

    fn header_line(&self) -> String {
        format!(
            "`lxrun-compat{}` on {}: lxrun {} ({}), Linux {}, {}, {}; {} cases, {} runs, {:.0} s.",
            self.args.iter().map(|a| format!(" {a}")).collect::<String>(),
            self.meta.date,
            self.meta.commit,
            self.meta.lxrun_version,
            self.meta.kernel,
            self.meta.os,
            if self.meta.proot.is_empty() {
                "no proot"
            } else {
                &self.meta.proot
            },
            self.rows.len(),
            self.rows
                .iter()
                .map(|r| r.cells.iter().filter(|c| c.output.is_some()).count())
                .sum::<usize>(),
            self.elapsed.as_secs_f64()
        )
    }

    fn symbol(cell: &Cell, oracle: bool) -> String {
        let status = cell.output.as_ref().map(|o| o.status.to_string()).unwrap_or_default();
        match &cell.verdict {
            Verdict::Pass if oracle => format!("✅ {status}"),
            Verdict::Pass => "✅".into(),
            Verdict::Fail => format!("❌ {}", md_cell_text(&cell.problems.join("; "))),
            Verdict::Known(_) => format!("⚠️ known: {}", md_cell_text(&cell.problems.join("; "))),
            Verdict::Fixed(_) => "🎉 passes, but listed as a known failure".into(),
            Verdict::NotAvailable(_) => "— n/a".into(),
        }
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("# lxrun compatibility matrix\n\n");
        out.push_str(&format!("{}\n\n", self.header_line()));
        out.push_str(
            "Each case runs natively (the oracle: the host, or for guest-root cases `chroot DIR` as root in a \
             private mount namespace with /proc and /dev mounted), under lxrun with each backend, and under \
             proot (plain `proot`; `proot -r ROOT -b /proc -b /dev -w DIR` for guest-root cases). A cell passes when \
             its stdout and exit status equal the oracle's; the oracle itself must have the status the case \
             expects. Cases are data in `compat/cases.toml`; the known failures, each with its reason, are \
             in `compat/known-failures.toml`. Regenerate with `cargo run --release -p lxrun-compat`.\n\n",
        );
        out.push_str("| column | pass | fail | known failure | listed but passing | not available |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|\n");
        for (i, c) in self.columns.iter().enumerate() {
            let t = self.totals(i);
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                c.name, t.pass, t.fail, t.known, t.fixed, t.not_available
            ));
        }
        out.push('\n');
        let mut unavailable: Vec<String> = Vec::new();
        for c in self.columns {
            if let Some(w) = &c.unavailable {
                unavailable.push(format!("- `{}` is not available: {}", c.name, w));
            }
            if let (Some(w), true) = (&c.unavailable_root, c.unavailable.is_none()) {
                unavailable.push(format!("- `{}` is not available for guest-root cases: {}", c.name, w));
            }
        }
        if !unavailable.is_empty() {
            out.push_str(&format!("{}\n\n", unavailable.join("\n")));
        }
        if !self.not_run.is_empty() {
            let roots = self.not_run.iter().filter(|n| n.why.contains("--root")).count();
            out.push_str(&format!(
                "{} cases were not run ({} of them need a guest root, `--root DIR`); they are listed at the end.\n\n",
                self.not_run.len(),
                roots
            ));
        }
        out.push_str("✅ pass · ❌ fail · ⚠️ known failure · 🎉 listed as known but passing · — not available\n\n");
        out.push_str("## Matrix\n\n| case |");
        for c in self.columns {
            out.push_str(&format!(" {} |", c.name));
        }
        out.push_str("\n|---|");
        for _ in self.columns {
            out.push_str("---|");
        }
        out.push('\n');
        for row in self.rows {
            out.push_str(&format!("| `{}` |", row.case.name));
            for (i, cell) in row.cells.iter().enumerate() {
                out.push_str(&format!(" {} |", Self::symbol(cell, i == 0)));
            }
            out.push('\n');
        }
        out.push('\n');

        let failing: Vec<(&Row, usize)> = self
            .rows
            .iter()
            .flat_map(|r| (0..r.cells.len()).map(move |i| (r, i)))
            .filter(|(r, i)| !r.cells[*i].problems.is_empty())
            .collect();
        if !failing.is_empty() {
            out.push_str("## Differences\n\n");
            out.push_str("`-` lines are the oracle's (native) stdout, `+` lines the column's.\n\n");
            for (row, i) in failing {
                out.push_str(&self.details(row, i));
            }
        }
        if !self.not_run.is_empty() {
            out.push_str("## Not run\n\n");
            for n in self.not_run {
                out.push_str(&format!("- `{}`: {}\n", n.name, n.why));
            }
            out.push('\n');
        }
        out
    }

    fn details(&self, row: &Row, i: usize) -> String {
        let cell = &row.cells[i];
        let mut summary = format!(
            "<code>{}</code> — {}: {}",
            row.case.name,
            cell.column,
            cell.problems.join("; ")
        );
        match &cell.verdict {
            Verdict::Known(r) => summary.push_str(&format!(" (known: {r})")),
            Verdict::Fail => summary.push_str(" (not a known failure)"),
            _ => {}
        }
        let summary = self
            .local(&summary)
            .replace('<', "&lt;")
            .replace("&lt;code>", "<code>")
            .replace("&lt;/code>", "</code>");
        let mut out = format!("<details><summary>{summary}</summary>\n\n");
        out.push_str("Command:\n\n");
        out.push_str(&fence("sh", &self.local(&row.case.command_line())));
        out.push('\n');
        if let Some(s) = &cell.setup_failure {
            out.push_str(&format!("Setup failed with {}:\n\n", s.status));
            out.push_str(&fence("", &self.local(&tail(&text(&s.stderr), 20))));
        } else if let Some(o) = &cell.output {
            if i == 0 {
                out.push_str(&format!(
                    "Expected {}, got {}.\n\n",
                    expect_text(row.case.expect),
                    o.status
                ));
                out.push_str("stdout:\n\n");
                out.push_str(&fence("", &self.local(&tail(&text(&o.stdout), 40))));
            } else if let Some(oracle) = row.oracle() {
                out.push_str(&format!(
                    "Status: native {}, {} {}.\n\n",
                    oracle.status, cell.column, o.status
                ));
                let d = diff::unified(&text(&oracle.stdout), &text(&o.stdout), 3);
                if !d.is_empty() {
                    out.push_str("stdout:\n\n");
                    out.push_str(&fence("diff", &self.local(&clip(&d, 6000))));
                }
            }
            if !o.stderr.is_empty() {
                out.push_str(&format!("stderr of {} (last lines):\n\n", cell.column));
                out.push_str(&fence("", &self.local(&tail(&text(&o.stderr), 20))));
            }
        }
        out.push_str("</details>\n\n");
        out
    }

    pub fn json(&self) -> String {
        let output_json = |o: &Output, full: bool| {
            let text = |b: &[u8]| self.local(&text(b));
            let mut v = json!({
                "status": o.status.to_string(),
                "exit": match o.status { Status::Exit(c) => json!(c), _ => Value::Null },
                "signal": match o.status { Status::Signal(s) => json!(s), _ => Value::Null },
                "seconds": (o.seconds * 1000.0).round() / 1000.0,
                "stdout_bytes": o.stdout.len(),
            });
            if full {
                v["stdout"] = json!(clip(&text(&o.stdout), 8000));
                v["stderr"] = json!(clip(&text(&o.stderr), 8000));
            }
            v
        };
        let cases: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let any_problem = row.cells.iter().any(|c| !c.problems.is_empty());
                let mut cells = serde_json::Map::new();
                for (i, c) in row.cells.iter().enumerate() {
                    let mut v = json!({ "result": c.verdict.key() });
                    match &c.verdict {
                        Verdict::Known(r) | Verdict::Fixed(r) => v["known_reason"] = json!(r),
                        Verdict::NotAvailable(w) => v["why"] = json!(w),
                        _ => {}
                    }
                    if !c.problems.is_empty() {
                        v["problems"] = json!(c.problems);
                    }
                    if let Some(o) = &c.output {
                        v["run"] = output_json(o, !c.problems.is_empty() || (i == 0 && any_problem));
                    }
                    if let Some(s) = &c.setup_failure {
                        v["setup_failure"] = output_json(s, true);
                    }
                    cells.insert(c.column.clone(), v);
                }
                json!({
                    "name": row.case.name,
                    "tags": row.case.tags,
                    "variant": row.case.variant,
                    "command": self.local(&row.case.command_line()),
                    "expect": expect_text(row.case.expect),
                    "cells": cells,
                })
            })
            .collect();
        let mut totals = serde_json::Map::new();
        for (i, c) in self.columns.iter().enumerate() {
            let t = self.totals(i);
            totals.insert(
                c.name.clone(),
                json!({"pass": t.pass, "fail": t.fail, "known": t.known, "fixed": t.fixed, "not_available": t.not_available}),
            );
        }
        let doc = json!({
            "generated_by": "lxrun-compat",
            "args": self.args,
            "date": self.meta.date,
            "lxrun_commit": self.meta.commit,
            "lxrun_version": self.meta.lxrun_version,
            "kernel": self.meta.kernel,
            "os": self.meta.os,
            "proot": self.meta.proot,
            "root": self.root.as_ref().map(|r| r.to_string_lossy().into_owned()),
            "seconds": self.elapsed.as_secs(),
            "columns": self.columns.iter().map(|c| json!({
                "name": c.name,
                "unavailable": c.unavailable,
                "unavailable_root": c.unavailable_root,
            })).collect::<Vec<_>>(),
            "totals": totals,
            "cases": cases,
            "not_run": self.not_run.iter().map(|n| json!({"name": n.name, "why": n.why})).collect::<Vec<_>>(),
        });
        let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Prints the colored summary; returns whether the run is a success (nothing unexpected).
    pub fn print_summary(&self) -> bool {
        eprintln!();
        eprintln!(
            "{} {} cases, {} not run, in {:.0} s",
            style("lxrun-compat:").bold(),
            self.rows.len(),
            self.not_run.len(),
            self.elapsed.as_secs_f64()
        );
        eprintln!(
            "  {:<10} {:>6} {:>6} {:>6} {:>6} {:>6}",
            "column", "pass", "fail", "known", "fixed", "n/a"
        );
        for (i, c) in self.columns.iter().enumerate() {
            let t = self.totals(i);
            let num = |n: usize, color: console::Color| {
                let s = format!("{n:>6}");
                if n > 0 {
                    style(s).fg(color).to_string()
                } else {
                    style(s).dim().to_string()
                }
            };
            eprintln!(
                "  {:<10} {} {} {} {} {}",
                c.name,
                num(t.pass, console::Color::Green),
                num(t.fail, console::Color::Red),
                num(t.known, console::Color::Yellow),
                num(t.fixed, console::Color::Magenta),
                num(t.not_available, console::Color::White),
            );
        }
        for c in self.columns {
            if let Some(w) = c.unavailable.as_ref().or(c.unavailable_root.as_ref()) {
                eprintln!("  {} {}: {}", style("n/a").dim(), c.name, w);
            }
        }
        let mut listed = false;
        for row in self.rows {
            for cell in &row.cells {
                let tag = match &cell.verdict {
                    Verdict::Fail => style("FAIL ").red().bold(),
                    Verdict::Fixed(_) => style("FIXED").magenta().bold(),
                    Verdict::Known(_) => style("known").yellow(),
                    _ => continue,
                };
                if !listed {
                    eprintln!();
                    listed = true;
                }
                let why = match &cell.verdict {
                    Verdict::Known(r) => r.clone(),
                    Verdict::Fixed(r) => format!("passes now; remove it from compat/known-failures.toml ({r})"),
                    _ => cell.problems.join("; "),
                };
                eprintln!(
                    "  {tag} {:<8} {:<28} {}",
                    cell.column,
                    row.case.name,
                    clip(&why.replace('\n', " "), 100)
                );
            }
        }
        let roots = self.not_run.iter().filter(|n| n.why.contains("--root")).count();
        if roots > 0 {
            eprintln!(
                "\n  {} {roots} guest-root cases skipped: they run only with --root DIR",
                style("note:").dim()
            );
        }
        for n in self.not_run.iter().filter(|n| !n.why.contains("--root")) {
            eprintln!("  {} {}: {}", style("not run:").yellow(), n.name, n.why);
        }
        let (fail, fixed) = self.unexpected();
        eprintln!();
        if fail == 0 && fixed == 0 {
            eprintln!(
                "{}",
                style("OK: every cell passes or is a known failure").green().bold()
            );
            true
        } else {
            eprintln!(
                "{}",
                style(format!(
                    "FAILED: {fail} unexpected failure(s), {fixed} known failure(s) now passing \
                     (compat/known-failures.toml must stay true)"
                ))
                .red()
                .bold()
            );
            false
        }
    }
}
