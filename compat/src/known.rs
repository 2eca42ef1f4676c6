//! compat/known-failures.toml: the cells that are known to fail, each with its reason.

use anyhow::{bail, Context};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KnownFile {
    #[serde(default, rename = "failure")]
    failures: Vec<Known>,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Known {
    pub case: String,
    pub column: String,
    pub reason: String,
    /// The cell fails only sometimes: passing does not fail the run either.
    #[serde(default)]
    pub flaky: bool,
}

/// Known failures by (case, column).
#[derive(Default, Debug)]
pub struct KnownFailures {
    map: BTreeMap<(String, String), Known>,
}

/// The columns a known failure may name.
pub const COLUMNS: &[&str] = &["native", "ptrace", "seccomp", "seccomp-ptrace", "fake-root", "proot"];

impl KnownFailures {
    pub fn load(path: &Path, case_names: &BTreeSet<String>) -> anyhow::Result<KnownFailures> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text, case_names).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str, case_names: &BTreeSet<String>) -> anyhow::Result<KnownFailures> {
        let file: KnownFile = toml::from_str(text)?;
        let mut map = BTreeMap::new();
        for k in file.failures {
            if !case_names.contains(&k.case) {
                bail!(
                    "known failure of {:?}: there is no such case (remove the entry)",
                    k.case
                );
            }
            if !COLUMNS.contains(&k.column.as_str()) {
                bail!(
                    "known failure of {:?}: column {:?} is not one of {COLUMNS:?}",
                    k.case,
                    k.column
                );
            }
            if k.reason.trim().is_empty() {
                bail!("known failure of {:?} in {}: give the reason", k.case, k.column);
            }
            if map.insert((k.case.clone(), k.column.clone()), k.clone()).is_some() {
                bail!("known failure of {:?} in {} listed twice", k.case, k.column);
            }
        }
        Ok(KnownFailures { map })
    }

    /// The known failure of this cell, if it is one.
    pub fn get(&self, case: &str, column: &str) -> Option<&Known> {
        self.map.get(&(case.to_string(), column.to_string()))
    }
}
