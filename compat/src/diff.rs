//! A small line diff for reports: `-` lines are the oracle's, `+` lines the column's.

/// A unified-style diff of two texts with `context` unchanged lines around each change.
/// Long inputs are cut to their first `MAX_LINES` lines first.
pub fn unified(old: &str, new: &str, context: usize) -> String {
    const MAX_LINES: usize = 2000;
    let a: Vec<&str> = old.lines().take(MAX_LINES).collect();
    let b: Vec<&str> = new.lines().take(MAX_LINES).collect();
    let ops = lcs_ops(&a, &b);
    let changed: Vec<bool> = ops.iter().map(|op| !matches!(op, Op::Same(_))).collect();
    let mut out = String::new();
    let mut skipped = 0usize;
    for (i, op) in ops.iter().enumerate() {
        let near = (i.saturating_sub(context)..=(i + context).min(ops.len() - 1)).any(|j| changed[j]);
        if !near {
            skipped += 1;
            continue;
        }
        if skipped > 0 {
            out.push_str(&format!("@@ {skipped} unchanged line(s) @@\n"));
            skipped = 0;
        }
        match op {
            Op::Same(l) => out.push_str(&format!(" {l}\n")),
            Op::Del(l) => out.push_str(&format!("-{l}\n")),
            Op::Add(l) => out.push_str(&format!("+{l}\n")),
        }
    }
    if skipped > 0 && !out.is_empty() {
        out.push_str(&format!("@@ {skipped} unchanged line(s) @@\n"));
    }
    if old.ends_with('\n') != new.ends_with('\n') && !old.is_empty() && !new.is_empty() {
        out.push_str("(the outputs differ in their final newline)\n");
    }
    out
}

enum Op<'a> {
    Same(&'a str),
    Del(&'a str),
    Add(&'a str),
}

fn lcs_ops<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<Op<'a>> {
    let (n, m) = (a.len(), b.len());
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if a[i] == b[j] {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push(Op::Same(a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
            ops.push(Op::Del(a[i]));
            i += 1;
        } else {
            ops.push(Op::Add(b[j]));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_changes_with_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            unified(old, new, 1),
            "@@ 3 unchanged line(s) @@\n 4\n-5\n+five\n 6\n@@ 3 unchanged line(s) @@\n"
        );
        assert_eq!(unified("a\n", "a\n", 3), "");
        assert_eq!(unified("", "x\n", 3), "+x\n");
    }
}
