//! Version ranges as Helm evaluates them (Masterminds semver v3), which is
//! also what Argo CD's `targetRevision` and Terraform's helm provider hand
//! to Helm: `8.x`, `~1.4`, `^1.4.0`, `>=1.0.0 <2.0.0`, `1.2 - 1.5`,
//! `~> 5.51`, `* || 0.x`.
//!
//! The rules, as the library applies them:
//! - `||` separates alternatives; inside one, comparators separated by
//!   commas or whitespace must all hold.
//! - Missing parts and `x`, `X`, `*` are wildcards: `1.2` = `1.2.x`.
//! - `>` and `<=` with a partial version take the whole partial as the
//!   bound (`>1.2` = `>=1.3.0`, `<=1.5` = `<1.6.0`); `<` and `>=` take its
//!   zeros.
//! - `~1.2.3` = `>=1.2.3 <1.3.0`, `~1` = `>=1.0.0 <2.0.0`; `~>` is `~`
//!   (Helm evaluates it, not Terraform's pessimistic operator).
//! - `^1.2.3` = `>=1.2.3 <2.0.0`, `^0.2.3` = `>=0.2.3 <0.3.0`, `^0.0.3` =
//!   `>=0.0.3 <0.0.4`.
//! - A pre-release satisfies a comparator only when that comparator names
//!   a pre-release itself; so one unlabelled comparator in an alternative
//!   keeps pre-releases out of it, as in Helm.
//! - `latest` (Argo CD's spelling for no pin) is any stable version.

use std::cmp::Ordering;
use std::fmt;

/// Longer text is not a range anyone wrote by hand; refusing it keeps the
/// parser's work bounded whatever a repository holds.
pub const MAX_CONSTRAINT_LEN: usize = 256;

/// A parsed range; [`Constraint::matches`] says whether a version is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    raw: String,
    /// Alternatives (`||`), each a list of comparators that must all hold.
    alternatives: Vec<Vec<Comparator>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

/// A version as a range writes it: some leading numbers, the rest wild.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Partial {
    nums: [u64; 3],
    /// How many of `nums` were written (0 for `*`).
    given: usize,
    pre: semver::Prerelease,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    v: Partial,
}

impl Constraint {
    /// Reads a range; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Constraint, String> {
        if text.len() > MAX_CONSTRAINT_LEN {
            return Err(format!("longer than {MAX_CONSTRAINT_LEN} characters"));
        }
        let trimmed = text.trim();
        let alternatives = if trimmed.eq_ignore_ascii_case("latest") {
            vec![vec![any()]]
        } else {
            trimmed
                .split("||")
                .map(parse_alternative)
                .collect::<Result<_, _>>()?
        };
        Ok(Constraint {
            raw: text.to_owned(),
            alternatives,
        })
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether some comparator names a pre-release, which is how a range
    /// asks for them.
    pub fn names_prerelease(&self) -> bool {
        self.alternatives
            .iter()
            .flatten()
            .any(|c| !c.v.pre.is_empty())
    }

    pub fn matches(&self, v: &semver::Version) -> bool {
        self.alternatives
            .iter()
            .any(|all| all.iter().all(|c| c.matches(v)))
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// `v?MAJOR.MINOR.PATCH(-pre)?(+build)?`: a pin, not a range. Short forms
/// (`1.2`) are ranges to Helm, so they are not exact.
pub fn is_exact_version(text: &str) -> bool {
    let s = text.strip_prefix(['v', 'V']).unwrap_or(text);
    semver::Version::parse(s).is_ok()
}

fn any() -> Comparator {
    Comparator {
        op: Op::Eq,
        v: Partial {
            nums: [0; 3],
            given: 0,
            pre: semver::Prerelease::EMPTY,
        },
    }
}

/// Characters that start an operator; a version never contains them.
const OP_CHARS: &[char] = &['=', '!', '<', '>', '~', '^'];

fn parse_alternative(text: &str) -> Result<Vec<Comparator>, String> {
    let mut tokens: Vec<(Option<Op>, &str)> = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if rest.is_empty() {
            break;
        }
        let op_len = rest.find(|c| !OP_CHARS.contains(&c)).unwrap_or(rest.len());
        let op = match &rest[..op_len] {
            "" => None,
            "=" => Some(Op::Eq),
            "!=" => Some(Op::Ne),
            ">" => Some(Op::Gt),
            "<" => Some(Op::Lt),
            ">=" | "=>" => Some(Op::Ge),
            "<=" | "=<" => Some(Op::Le),
            "~" | "~>" => Some(Op::Tilde),
            "^" => Some(Op::Caret),
            other => return Err(format!("unknown operator `{other}`")),
        };
        rest = rest[op_len..].trim_start();
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ',' || OP_CHARS.contains(&c) || c == '|')
            .unwrap_or(rest.len());
        let version = &rest[..end];
        if version.is_empty() {
            return Err(match rest.chars().next() {
                Some('|') => "a single `|`; alternatives are separated by `||`".to_owned(),
                _ => "an operator without a version".to_owned(),
            });
        }
        tokens.push((op, version));
        rest = &rest[end..];
    }
    if tokens.is_empty() {
        // An empty alternative is `*` to Helm.
        return Ok(vec![any()]);
    }
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&(op, version)) = tokens.get(i) {
        // `A - B`: the `-` is a token of its own between two bare versions.
        if let (None, Some((None, "-")), Some((None, upper))) =
            (op, tokens.get(i + 1), tokens.get(i + 2))
        {
            out.push(Comparator {
                op: Op::Ge,
                v: partial(version)?,
            });
            out.push(Comparator {
                op: Op::Le,
                v: partial(upper)?,
            });
            i += 3;
            continue;
        }
        out.push(Comparator {
            op: op.unwrap_or(Op::Eq),
            v: partial(version)?,
        });
        i += 1;
    }
    Ok(out)
}

fn is_wild(part: &str) -> bool {
    matches!(part, "x" | "X" | "*")
}

fn partial(text: &str) -> Result<Partial, String> {
    let bad = |why: &str| format!("`{text}` is not a version: {why}");
    let s = text.strip_prefix(['v', 'V']).unwrap_or(text);
    // Build metadata never counts in a comparison.
    let s = s.split_once('+').map_or(s, |(core, _)| core);
    let (core, pre) = match s.split_once('-') {
        Some((_, "")) => return Err(bad("an empty pre-release")),
        Some((core, pre)) => (
            core,
            semver::Prerelease::new(pre).map_err(|e| bad(&e.to_string()))?,
        ),
        None => (s, semver::Prerelease::EMPTY),
    };
    let mut nums = [0u64; 3];
    let mut given = 0;
    let mut wild = false;
    for (i, field) in core.split('.').enumerate() {
        let slot = nums
            .get_mut(i)
            .ok_or_else(|| bad("more than three numbers"))?;
        if is_wild(field) {
            wild = true;
            continue;
        }
        if wild {
            return Err(bad("a number after a wildcard"));
        }
        if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("expected numbers, `x` or `*`"));
        }
        *slot = field.parse().map_err(|_| bad("number too large"))?;
        given = i + 1;
    }
    Ok(Partial { nums, given, pre })
}

impl Partial {
    /// The lowest version the partial covers: its zeros.
    fn floor(&self) -> semver::Version {
        semver::Version {
            major: self.nums[0],
            minor: self.nums[1],
            patch: self.nums[2],
            pre: self.pre.clone(),
            build: semver::BuildMetadata::EMPTY,
        }
    }

    /// The first release core past everything the partial covers
    /// (`1.2` → `1.3.0`); None for `*` or a number at its maximum.
    fn ceil(&self) -> Option<[u64; 3]> {
        let [a, b, c] = self.nums;
        match self.given {
            1 => Some([a.checked_add(1)?, 0, 0]),
            2 => Some([a, b.checked_add(1)?, 0]),
            3 => Some([a, b, c.checked_add(1)?]),
            _ => None,
        }
    }
}

fn core(v: &semver::Version) -> [u64; 3] {
    [v.major, v.minor, v.patch]
}

/// `v` is below the release core `bound`; a pre-release of the bound
/// itself is not below it, as Helm compares numbers there.
fn core_below(v: &semver::Version, bound: Option<[u64; 3]>) -> bool {
    bound.is_none_or(|b| core(v) < b)
}

impl Comparator {
    fn matches(&self, v: &semver::Version) -> bool {
        if !v.pre.is_empty() && self.v.pre.is_empty() {
            return false;
        }
        in_range(self.op, &self.v, v)
    }
}

/// Whether `v` is in what `op p` describes, pre-release rule aside.
fn in_range(op: Op, p: &Partial, v: &semver::Version) -> bool {
    let floor = p.floor();
    let at_least = |bound: &semver::Version| v.cmp_precedence(bound) != Ordering::Less;
    match op {
        Op::Eq if p.given == 3 => v.cmp_precedence(&floor) == Ordering::Equal,
        Op::Eq => at_least(&floor) && core_below(v, p.ceil()),
        Op::Ne => !in_range(Op::Eq, p, v),
        Op::Gt if p.given == 3 => v.cmp_precedence(&floor) == Ordering::Greater,
        Op::Gt => match p.ceil() {
            Some(c) => core(v) >= c,
            None => v.cmp_precedence(&floor) == Ordering::Greater,
        },
        Op::Ge => at_least(&floor),
        Op::Lt => v.cmp_precedence(&floor) == Ordering::Less,
        Op::Le if p.given == 3 => v.cmp_precedence(&floor) != Ordering::Greater,
        Op::Le => core_below(v, p.ceil()),
        Op::Tilde => {
            let upper = match p.given {
                // `~0.0.0` is any version to Helm.
                3 if p.nums == [0, 0, 0] => None,
                0 => None,
                1 => p.ceil(),
                _ => Partial {
                    given: 2,
                    ..p.clone()
                }
                .ceil(),
            };
            at_least(&floor) && core_below(v, upper)
        }
        Op::Caret => {
            let significant = match p.nums {
                _ if p.given == 0 => 0,
                [0, 0, _] if p.given == 3 => 3,
                [0, _, _] if p.given >= 2 => 2,
                _ => 1,
            };
            let upper = match significant {
                0 => None,
                n => Partial {
                    given: n,
                    ..p.clone()
                }
                .ceil(),
            };
            at_least(&floor) && core_below(v, upper)
        }
    }
}

#[cfg(test)]
mod tests;
