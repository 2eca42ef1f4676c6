//! Columns, cells and verdicts: what the runner produces and the reports show.

use crate::cases::{Case, Expect};
use crate::exec::{Output, Status};

/// One column of the matrix.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
    /// Why this column cannot run host cases, if it cannot.
    pub unavailable: Option<String>,
    /// Why this column cannot run `root` cases, if it cannot.
    pub unavailable_root: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// The oracle: the host itself, or `chroot DIR` in a private mount namespace.
    Native,
    /// The oracle run a second time (`--oracle-twice`): finds cases whose output is not stable.
    NativeAgain,
    Lxrun(String),
    /// `lxrun -0` (the default backend) run by an unprivileged user (nobody): against root's
    /// oracle, what a user who is not root gets with the fake root.
    FakeRoot,
    Proot,
}

impl Column {
    pub fn unavailable_for(&self, case: &Case) -> Option<&str> {
        if case.is_root() {
            self.unavailable_root.as_deref()
        } else {
            self.unavailable.as_deref()
        }
    }
}

/// The judgement of one cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Same stdout and status as the oracle (for the native column: the expected status).
    Pass,
    /// Differs from the oracle (or, native: not the expected status), not a known failure.
    Fail,
    /// Differs, and is listed in known-failures.toml with this reason.
    Known(String),
    /// Listed in known-failures.toml but passes now: the list must be updated.
    Fixed(String),
    /// The column cannot run this case (lxrun refuses the backend or --root, no proot).
    NotAvailable(String),
}

impl Verdict {
    pub fn key(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Known(_) => "known",
            Verdict::Fixed(_) => "fixed",
            Verdict::NotAvailable(_) => "n/a",
        }
    }
}

/// One cell: the run (if any), what differs from the oracle, and the verdict.
#[derive(Clone, Debug)]
pub struct Cell {
    pub column: String,
    pub output: Option<Output>,
    /// Setup that failed before the command could run.
    pub setup_failure: Option<Output>,
    /// Human-readable differences (empty when the cell matches).
    pub problems: Vec<String>,
    pub verdict: Verdict,
}

/// A case and its row of cells (the first is the oracle's).
#[derive(Clone, Debug)]
pub struct Row {
    pub case: Case,
    pub cells: Vec<Cell>,
}

impl Row {
    pub fn oracle(&self) -> Option<&Output> {
        self.cells.first().and_then(|c| c.output.as_ref())
    }
}

/// A case that was not run, and why.
#[derive(Clone, Debug)]
pub struct NotRun {
    pub name: String,
    pub why: String,
}

pub fn expect_text(e: Expect) -> String {
    match e {
        Expect::Exit(c) => Status::Exit(c).to_string(),
        Expect::Signal(s) => Status::Signal(s).to_string(),
    }
}

/// Differences of the oracle from what the case expects of it.
pub fn oracle_problems(case: &Case, setup_failure: Option<&Output>, out: &Output) -> Vec<String> {
    if let Some(s) = setup_failure {
        return vec![format!("setup failed ({})", s.status)];
    }
    let ok = match case.expect {
        Expect::Exit(c) => out.status == Status::Exit(c),
        Expect::Signal(s) => out.status == Status::Signal(s),
    };
    if ok {
        Vec::new()
    } else {
        vec![format!("expected {}, got {}", expect_text(case.expect), out.status)]
    }
}

/// Differences of a column's run from the oracle's: status and stdout.
pub fn compare(column: &str, oracle: &Output, setup_failure: Option<&Output>, out: &Output) -> Vec<String> {
    if let Some(s) = setup_failure {
        return vec![format!("setup failed ({})", s.status)];
    }
    let mut problems = Vec::new();
    if oracle.status != out.status {
        problems.push(format!("status: native {}, {column} {}", oracle.status, out.status));
    }
    if oracle.stdout != out.stdout {
        problems.push(format!(
            "stdout differs{}",
            first_difference(&oracle.stdout, &out.stdout)
        ));
    }
    problems
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let a = String::from_utf8_lossy(a);
    let b = String::from_utf8_lossy(b);
    let (mut al, mut bl) = (a.lines(), b.lines());
    let mut n = 1;
    loop {
        match (al.next(), bl.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            (None, None) => return " (in the final newline)".into(),
            (x, y) => {
                return format!(
                    " (line {n}: native {:?}, got {:?})",
                    clip(x.unwrap_or("<end>"), 60),
                    clip(y.unwrap_or("<end>"), 60)
                )
            }
        }
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}
