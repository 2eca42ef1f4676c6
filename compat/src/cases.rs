//! The cases: data in compat/cases.toml, checked and expanded here (one case per build variant
//! for the linux-binaries programs).

use anyhow::{bail, Context};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CasesFile {
    /// The linux-binaries build variants, for cases with `per_variant = true`.
    variants: Vec<String>,
    /// Seconds a run may take unless the case says otherwise.
    timeout: u64,
    #[serde(rename = "case")]
    cases: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    /// The command, run as is (searched in PATH when argv[0] has no slash).
    argv: Option<Vec<String>>,
    /// Or a snippet run with `shell -c`.
    script: Option<String>,
    #[serde(default = "default_shell")]
    shell: String,
    stdin: Option<String>,
    /// A bash snippet run in the scratch directory before the command, the oracle's way
    /// (natively, or chrooted for `root` cases). Its failure is the case's failure.
    setup: Option<String>,
    #[serde(default)]
    needs: Needs,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// The exit status the oracle must have (default 0): a check of the case itself.
    status: Option<i32>,
    /// Or the signal the oracle must die of.
    signal: Option<i32>,
    timeout: Option<u64>,
    /// Expand into NAME/VARIANT for each linux-binaries variant; `{bin}` in argv, script and
    /// setup is the variant's directory.
    #[serde(default)]
    per_variant: bool,
}

fn default_shell() -> String {
    "/bin/bash".into()
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Needs {
    /// Runs only with `--root DIR` (a Debian guest root), inside that root.
    #[serde(default)]
    pub root: bool,
    /// Programs that must be found in PATH (on the host, or in the guest root).
    #[serde(default)]
    pub tools: Vec<String>,
}

/// What the oracle must do for the case to be meaningful.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Exit(i32),
    Signal(i32),
}

/// One case, ready to run.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub argv: Vec<String>,
    /// The snippet, for reports (when the case is a script).
    pub script: Option<String>,
    pub stdin: Option<Vec<u8>>,
    pub setup: Option<String>,
    pub needs: Needs,
    pub tags: Vec<String>,
    pub env: Vec<(String, String)>,
    pub expect: Expect,
    pub timeout: Duration,
    /// The timeout is the file's default (`--timeout` replaces it), not the case's own.
    pub default_timeout: bool,
    /// The linux-binaries variant, for expanded cases.
    pub variant: Option<String>,
}

impl Case {
    pub fn is_root(&self) -> bool {
        self.needs.root
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// A shell-like rendering of the command.
    pub fn command_line(&self) -> String {
        match &self.script {
            Some(s) => format!("{} -c {}", self.argv[0], quote(s)),
            None => self.argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
        }
    }
}

pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%{}".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Reads and checks a cases file; `bin_dir` is where linux-binaries were built
/// (`<target>/linux-binaries`), substituted for `{bin}` as `<bin_dir>/<variant>`.
pub fn load(path: &Path, bin_dir: &Path) -> anyhow::Result<Vec<Case>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text, bin_dir).with_context(|| format!("in {}", path.display()))
}

pub fn parse(text: &str, bin_dir: &Path) -> anyhow::Result<Vec<Case>> {
    let file: CasesFile = toml::from_str(text)?;
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for raw in file.cases {
        let name = raw.name.clone();
        check_case(&raw).with_context(|| format!("case {name:?}"))?;
        let variants: Vec<Option<&String>> = if raw.per_variant {
            file.variants.iter().map(Some).collect()
        } else {
            vec![None]
        };
        for variant in variants {
            let subst = |s: &str| match variant {
                Some(v) => s.replace("{bin}", &bin_dir.join(v).to_string_lossy()),
                None => s.to_string(),
            };
            let name = match variant {
                Some(v) => format!("{}/{v}", raw.name),
                None => raw.name.clone(),
            };
            if !names.insert(name.clone()) {
                bail!("two cases are named {name:?}");
            }
            let (argv, script) = match (&raw.argv, &raw.script) {
                (Some(argv), None) => (argv.iter().map(|a| subst(a)).collect(), None),
                (None, Some(s)) => {
                    let s = subst(s);
                    (vec![raw.shell.clone(), "-c".into(), s.clone()], Some(s))
                }
                _ => unreachable!("checked"),
            };
            out.push(Case {
                name,
                argv,
                script,
                stdin: raw.stdin.as_ref().map(|s| s.clone().into_bytes()),
                setup: raw.setup.as_deref().map(subst),
                needs: raw.needs.clone(),
                tags: raw.tags.clone(),
                env: raw.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                expect: match raw.signal {
                    Some(sig) => Expect::Signal(sig),
                    None => Expect::Exit(raw.status.unwrap_or(0)),
                },
                timeout: Duration::from_secs(raw.timeout.unwrap_or(file.timeout)),
                default_timeout: raw.timeout.is_none(),
                variant: variant.cloned(),
            });
        }
    }
    Ok(out)
}

fn check_case(raw: &RawCase) -> anyhow::Result<()> {
    if raw.name.is_empty()
        || !raw
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./+".contains(c))
    {
        bail!("a name is letters, digits and - _ . / +");
    }
    match (&raw.argv, &raw.script) {
        (Some(a), None) if !a.is_empty() => {}
        (None, Some(_)) => {}
        _ => bail!("give exactly one of argv (not empty) and script"),
    }
    if raw.status.is_some() && raw.signal.is_some() {
        bail!("give at most one of status and signal");
    }
    let mentions_bin = raw.argv.iter().flatten().any(|a| a.contains("{bin}"))
        || raw.script.as_deref().is_some_and(|s| s.contains("{bin}"))
        || raw.setup.as_deref().is_some_and(|s| s.contains("{bin}"));
    if mentions_bin && !raw.per_variant {
        bail!("{{bin}} is only defined with per_variant = true");
    }
    if raw.per_variant && raw.needs.root {
        bail!("linux-binaries cases run on the host root");
    }
    if raw.tags.iter().any(|t| t == "root") != raw.needs.root {
        bail!("tag a case \"root\" exactly when it has needs.root = true");
    }
    Ok(())
}
