//! `--stats`: per-syscall counters (calls, errors, time spent in lxrun), and how many calls
//! each interception mechanism caught. Lock-free atomics, so backends that serve several
//! threads at once can count concurrently.

use crate::table;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How a call reached lxrun.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// A SECCOMP_RET_TRACE stop served through ptrace.
    PtraceSeccomp,
}

impl Mechanism {
    const ALL: [Mechanism; 1] = [Mechanism::PtraceSeccomp];

    fn index(self) -> usize {
        match self {
            Mechanism::PtraceSeccomp => 0,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mechanism::PtraceSeccomp => "ptrace-seccomp stops",
        }
    }
}

#[derive(Default)]
struct Counter {
    calls: AtomicU64,
    errors: AtomicU64,
    nanos: AtomicU64,
}

#[derive(Default)]
struct MechanismCounts {
    /// Calls the table translates or refuses: caught in any mode.
    translated: AtomicU64,
    /// Passthrough calls, caught only because they are being observed.
    observed: AtomicU64,
    /// The loader stub's own calls (not the guest's).
    stub: AtomicU64,
}

/// The counters of one run.
pub struct Stats {
    /// Indexed by syscall number; the last slot collects numbers outside the table.
    per_nr: Vec<Counter>,
    mechanisms: [MechanismCounts; Mechanism::ALL.len()],
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

/// One row of the summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    pub calls: u64,
    pub errors: u64,
    pub time: Duration,
}

impl Stats {
    pub fn new() -> Stats {
        let n = table::max_nr() as usize + 2;
        Stats {
            per_nr: (0..n).map(|_| Counter::default()).collect(),
            mechanisms: Default::default(),
        }
    }

    fn slot(&self, nr: u64) -> &Counter {
        let last = self.per_nr.len() - 1;
        let i = usize::try_from(nr).map_or(last, |i| i.min(last));
        &self.per_nr[i]
    }

    /// A call that finished: its raw result (`-errno` on error) and the time lxrun spent on it.
    pub fn record(&self, nr: u64, ret: i64, time: Duration) {
        let c = self.slot(nr);
        c.calls.fetch_add(1, Ordering::Relaxed);
        if (-4095..0).contains(&ret) {
            c.errors.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(time.as_nanos()).unwrap_or(u64::MAX);
        c.nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// A call caught by `how`; `stub` for the loader stub's own calls.
    pub fn caught(&self, how: Mechanism, nr: u64, stub: bool, shape: crate::table::Shape) {
        let m = &self.mechanisms[how.index()];
        let counter = if stub {
            &m.stub
        } else if table::lookup(nr).is_some_and(|e| !e.traps(shape)) {
            &m.observed
        } else {
            &m.translated
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The rows with at least one call, by time spent (then calls, then name).
    pub fn rows(&self) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .per_nr
            .iter()
            .enumerate()
            .filter_map(|(nr, c)| {
                let calls = c.calls.load(Ordering::Relaxed);
                (calls > 0).then(|| Row {
                    name: if nr + 1 == self.per_nr.len() {
                        "(other)".into()
                    } else {
                        table::name_of(nr as u64)
                    },
                    calls,
                    errors: c.errors.load(Ordering::Relaxed),
                    time: Duration::from_nanos(c.nanos.load(Ordering::Relaxed)),
                })
            })
            .collect();
        rows.sort_by(|a, b| {
            b.time
                .cmp(&a.time)
                .then(b.calls.cmp(&a.calls))
                .then(a.name.cmp(&b.name))
        });
        rows
    }

    /// The summary printed at exit: a table like `strace -c`'s (the time is lxrun's), then
    /// the calls each mechanism caught and the unsupported calls (`unsupported`: number and
    /// count, from [`crate::world::World::unsupported`]).
    pub fn report(&self, unsupported: &[(u64, u64)]) -> String {
        let rows = self.rows();
        let total: Duration = rows.iter().map(|r| r.time).sum();
        let mut out = String::new();
        let rule = "------ ----------- ----------- --------- --------- ----------------\n";
        out.push_str("% time     seconds  usecs/call     calls    errors syscall\n");
        out.push_str(rule);
        let line = |out: &mut String, pct: f64, time: Duration, calls: u64, errors: u64, name: &str| {
            let usecs = time.as_micros() as u64 / calls.max(1);
            let errors = if errors == 0 { String::new() } else { errors.to_string() };
            let _ = writeln!(
                out,
                "{pct:6.2} {:11.6} {usecs:11} {calls:9} {errors:>9} {name}",
                time.as_secs_f64()
            );
        };
        for r in &rows {
            let pct = if total.is_zero() {
                0.0
            } else {
                100.0 * r.time.as_secs_f64() / total.as_secs_f64()
            };
            line(&mut out, pct, r.time, r.calls, r.errors, &r.name);
        }
        out.push_str(rule);
        let calls = rows.iter().map(|r| r.calls).sum();
        let errors = rows.iter().map(|r| r.errors).sum();
        line(&mut out, 100.0, total, calls, errors, "total");
        out.push_str("\ncalls caught, by mechanism (calls the seccomp filter lets through are not counted):\n");
        for how in Mechanism::ALL {
            let m = &self.mechanisms[how.index()];
            let (t, o, s) = (
                m.translated.load(Ordering::Relaxed),
                m.observed.load(Ordering::Relaxed),
                m.stub.load(Ordering::Relaxed),
            );
            let _ = writeln!(
                out,
                "  {}: {} ({t} translated or refused by lxrun, {o} passthrough calls stopped only to be observed, {s} by lxrun's loader stub)",
                how.name(),
                t + o + s
            );
        }
        if unsupported.is_empty() {
            out.push_str("unsupported syscalls: none\n");
        } else {
            let list: Vec<String> = unsupported
                .iter()
                .map(|(nr, n)| format!("{} ({nr}) x{n}", table::name_of(*nr)))
                .collect();
            let _ = writeln!(out, "unsupported syscalls: {}", list.join(", "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_errors_and_sorts_by_time() {
        let s = Stats::new();
        s.record(libc::SYS_openat as u64, 3, Duration::from_micros(10));
        s.record(libc::SYS_openat as u64, -2, Duration::from_micros(30));
        s.record(libc::SYS_read as u64, 5, Duration::from_micros(100));
        s.record(u64::MAX, -38, Duration::ZERO);
        let rows = s.rows();
        assert_eq!(rows[0].name, "read");
        assert_eq!(
            rows[1],
            Row {
                name: "openat".into(),
                calls: 2,
                errors: 1,
                time: Duration::from_micros(40)
            }
        );
        assert_eq!(rows[2].name, "(other)");
        let report = s.report(&[(400, 2)]);
        assert!(report.contains("% time     seconds  usecs/call     calls    errors syscall"));
        assert!(report.contains("        2         1 openat"), "{report}");
        assert!(report.contains("100.00    0.000140"), "{report}");
        assert!(
            report.contains("unsupported syscalls: syscall_400 (400) x2"),
            "{report}"
        );
    }

    #[test]
    fn mechanisms_split_translated_from_observed() {
        let s = Stats::new();
        s.caught(
            Mechanism::PtraceSeccomp,
            libc::SYS_execve as u64,
            false,
            crate::table::Shape::HOST,
        );
        s.caught(
            Mechanism::PtraceSeccomp,
            libc::SYS_getpid as u64,
            false,
            crate::table::Shape::HOST,
        );
        s.caught(
            Mechanism::PtraceSeccomp,
            libc::SYS_mmap as u64,
            true,
            crate::table::Shape::HOST,
        );
        let report = s.report(&[]);
        assert!(
            report.contains("ptrace-seccomp stops: 3 (1 translated or refused by lxrun, 1 passthrough calls stopped only to be observed, 1 by lxrun's loader stub)"),
            "{report}"
        );
        assert!(report.contains("unsupported syscalls: none"));
    }

    #[test]
    fn counters_are_shared_between_threads() {
        let s = std::sync::Arc::new(Stats::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        s.record(0, 0, Duration::from_nanos(1));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(s.rows()[0].calls, 4000);
    }
}
