//! strace's output as text: split per task and normalized, so that two runs of the same
//! program (strace natively, and lxrun's own --trace or strace under lxrun) compare equal where
//! only pids, addresses and scheduling differ.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// One task's complete calls and events, in order, keyed by pid.
pub type Tasks = BTreeMap<i32, Vec<String>>;

/// Splits a trace (strace's `PID line` or lxrun's `[pid N] line`, lines without a prefix
/// belonging to `main`) into per-task sequences, joining `<unfinished ...>` lines with their
/// `<... NAME resumed>` continuation.
pub fn per_task(text: &str, main: i32) -> Tasks {
    let mut tasks: Tasks = BTreeMap::new();
    let mut open: HashMap<i32, String> = HashMap::new();
    for line in text.lines() {
        let (pid, rest) = if let Some(r) = line.strip_prefix("[pid ") {
            let (n, rest) = r.split_once("] ").unwrap_or((r, ""));
            (n.trim().parse().unwrap_or(main), rest)
        } else if line.starts_with(|c: char| c.is_ascii_digit()) {
            let (n, rest) = line.split_once(' ').unwrap_or((line, ""));
            (n.parse().unwrap_or(main), rest.trim_start())
        } else {
            (main, line)
        };
        if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            open.insert(pid, head.to_string());
            continue;
        }
        let full = if let Some(r) = rest.strip_prefix("<... ") {
            let tail = r.split_once(" resumed>").map_or(r, |(_, t)| t);
            format!("{}{tail}", open.remove(&pid).unwrap_or_default())
        } else {
            rest.to_string()
        };
        tasks.entry(pid).or_default().push(full);
    }
    tasks
}

/// Normalizes what legitimately differs between two runs: pids (named P0, P1, ... in
/// numeric order), addresses, random bytes, the working directory, and the result padding.
pub fn normalize(tasks: &Tasks, dir: &Path) -> Vec<Vec<String>> {
    let labels: Vec<(String, String)> = tasks
        .keys()
        .enumerate()
        .map(|(i, pid)| (pid.to_string(), format!("P{i}")))
        .collect();
    tasks
        .values()
        .map(|lines| {
            lines
                .iter()
                .map(|l| {
                    let mut l = l.replace(&dir.display().to_string(), "DIR");
                    // Only where pids are (a pid may equal a size elsewhere on the line).
                    const PID_CALLS: &[&str] = &[
                        "clone(",
                        "clone3(",
                        "fork(",
                        "vfork(",
                        "getpid(",
                        "gettid(",
                        "set_tid_address(",
                        "wait4(",
                        "waitid(",
                        "kill(",
                        "tkill(",
                        "tgkill(",
                        "--- SIG",
                    ];
                    if PID_CALLS.iter().any(|c| l.starts_with(c)) {
                        for (pid, label) in &labels {
                            l = replace_number(&l, pid, label);
                        }
                    }
                    if l.starts_with("getrandom(\"") {
                        if let Some((_, rest)) = l.split_once("\", ") {
                            l = format!("getrandom(RANDOM, {rest}");
                        }
                    }
                    // The parent is strace in one run and lxrun in the other.
                    if l.starts_with("getppid()") {
                        l = "getppid() = PPID".into();
                    }
                    let l = hex_to_addr(&l);
                    // `)      = 0` and `) = 0` are the same line.
                    l.split_whitespace().collect::<Vec<_>>().join(" ")
                })
                .collect()
        })
        .collect()
}

/// Replaces whole decimal numbers equal to `n`.
pub fn replace_number(s: &str, n: &str, with: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) {
            let end = (i..b.len()).find(|&j| !b[j].is_ascii_digit()).unwrap_or(b.len());
            let word = &s[i..end];
            out.push_str(if word == n { with } else { word });
            i = end;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// `0x7ffd1234` -> `0xADDR`.
pub fn hex_to_addr(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let digits = rest[at + 2..].chars().take_while(|c| c.is_ascii_hexdigit()).count();
        if digits == 0 {
            out.push_str("0x");
        } else {
            out.push_str("0xADDR");
        }
        rest = &rest[at + 2 + digits..];
    }
    out.push_str(rest);
    out
}
