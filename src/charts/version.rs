//! Chart versions as repositories publish them.
//!
//! Most charts use SemVer, some with a `v` prefix (`v1.13.2`) and a few with
//! short forms (`v0.6`, `1.10`). Those are read as SemVer (`0.6.0`, `1.10.0`)
//! while the raw spelling is kept for edits and output. Anything else falls
//! back to a lenient comparison of its digit and text runs, so no input makes
//! ordering fail or panic.

use std::cmp::Ordering;
use std::fmt;

use crate::settings::UpdateType;

/// A published or pinned chart version: the raw spelling plus what it means.
#[derive(Debug, Clone)]
pub struct Version {
    raw: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Semver(semver::Version),
    /// Neither SemVer nor a short form of it: digit and text runs, in order.
    Lenient(Vec<Part>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Digits without leading zeros, compared by length then text, so huge
    /// numbers need no integer type.
    Num(String),
    Text(String),
}

impl Version {
    /// Reads any string; never fails.
    pub fn parse(raw: &str) -> Version {
        let kind = match parse_semver(strip_v(raw)) {
            Some(v) => Kind::Semver(v),
            None => Kind::Lenient(lenient_parts(strip_v(raw))),
        };
        Version {
            raw: raw.to_owned(),
            kind,
        }
    }

    /// As written (`v1.13.2` stays `v1.13.2`).
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The SemVer reading, when there is one (`v0.6` reads as `0.6.0`).
    pub fn semver(&self) -> Option<&semver::Version> {
        match &self.kind {
            Kind::Semver(v) => Some(v),
            Kind::Lenient(_) => None,
        }
    }

    /// A SemVer pre-release (`1.2.0-rc.1`); for other spellings, any `-`
    /// suffix, as Helm and the benchmark's fixture treat them.
    pub fn is_prerelease(&self) -> bool {
        match &self.kind {
            Kind::Semver(v) => !v.pre.is_empty(),
            Kind::Lenient(_) => strip_v(&self.raw).contains('-'),
        }
    }

    /// SemVer precedence: build metadata and spelling (`v1.2` = `1.2.0`) do
    /// not count. Lenient versions rank below every SemVer one, so the order
    /// stays total and transitive when a chart mixes schemes.
    pub fn cmp_precedence(&self, other: &Version) -> Ordering {
        match (&self.kind, &other.kind) {
            (Kind::Semver(a), Kind::Semver(b)) => a.cmp_precedence(b),
            (Kind::Semver(_), Kind::Lenient(_)) => Ordering::Greater,
            (Kind::Lenient(_), Kind::Semver(_)) => Ordering::Less,
            (Kind::Lenient(a), Kind::Lenient(b)) => cmp_parts(a, b),
        }
    }

    /// Major, minor and patch numbers; for lenient versions the leading
    /// numeric runs (missing ones count as 0, absurdly long ones as max).
    fn core(&self) -> [u64; 3] {
        match &self.kind {
            Kind::Semver(v) => [v.major, v.minor, v.patch],
            Kind::Lenient(parts) => {
                let mut core = [0; 3];
                let nums = parts.iter().map_while(|p| match p {
                    Part::Num(n) => Some(n.parse().unwrap_or(u64::MAX)),
                    Part::Text(_) => None,
                });
                for (slot, n) in core.iter_mut().zip(nums) {
                    *slot = n;
                }
                core
            }
        }
    }
}

/// What kind of move `from` → `to` is; `None` when `to` is not newer.
///
/// The first differing number of major.minor.patch decides, also for 0.x
/// (0.3 → 0.4 is minor), as the benchmark's ground truth counts. A newer
/// version with the same numbers (`1.0.0-rc.1` → `1.0.0`) is a patch.
pub fn update_type(from: &Version, to: &Version) -> Option<UpdateType> {
    if to.cmp_precedence(from) != Ordering::Greater {
        return None;
    }
    let (a, b) = (from.core(), to.core());
    Some(if a[0] != b[0] {
        UpdateType::Major
    } else if a[1] != b[1] {
        UpdateType::Minor
    } else {
        UpdateType::Patch
    })
}

impl Ord for Version {
    /// Precedence first; then build metadata and spelling, only so that
    /// sorting is deterministic and agrees with `Eq`.
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_precedence(other)
            .then_with(|| match (&self.kind, &other.kind) {
                (Kind::Semver(a), Kind::Semver(b)) => a.build.cmp(&b.build),
                _ => Ordering::Equal,
            })
            .then_with(|| self.raw.cmp(&other.raw))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl std::str::FromStr for Version {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Version::parse(s))
    }
}

fn strip_v(raw: &str) -> &str {
    raw.strip_prefix(['v', 'V']).unwrap_or(raw)
}

/// Strict SemVer, or its short forms `1` and `1.2` with the same optional
/// pre-release and build parts.
fn parse_semver(s: &str) -> Option<semver::Version> {
    if let Ok(v) = semver::Version::parse(s) {
        return Some(v);
    }
    let (rest, build) = match s.split_once('+') {
        // `1.2+` and `1.2-` are not SemVer, though the `semver` crate's
        // part parsers accept empty parts.
        Some((_, "")) => return None,
        Some((rest, build)) => (rest, semver::BuildMetadata::new(build).ok()?),
        None => (s, semver::BuildMetadata::EMPTY),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((_, "")) => return None,
        Some((core, pre)) => (core, semver::Prerelease::new(pre).ok()?),
        None => (rest, semver::Prerelease::EMPTY),
    };
    let mut nums = [0u64; 3];
    for (i, field) in core.split('.').enumerate() {
        // A fourth number makes it lenient, not SemVer.
        let slot = nums.get_mut(i)?;
        if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = field.parse().ok()?;
    }
    Some(semver::Version {
        major: nums[0],
        minor: nums[1],
        patch: nums[2],
        pre,
        build,
    })
}

/// Digit runs and text runs; separators (`.`, `-`, `+`, `_`) only split.
fn lenient_parts(s: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if matches!(c, '.' | '-' | '+' | '_') {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let digit = c.is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != digit || matches!(c, '.' | '-' | '+' | '_'))
            .unwrap_or(rest.len());
        let run = &rest[..end];
        parts.push(if digit {
            let trimmed = run.trim_start_matches('0');
            Part::Num(if trimmed.is_empty() { "0" } else { trimmed }.to_owned())
        } else {
            Part::Text(run.to_owned())
        });
        rest = &rest[end..];
    }
    parts
}

/// Run by run: numbers by value, text by bytes, a number above text, and a
/// longer list above its own prefix.
fn cmp_parts(a: &[Part], b: &[Part]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Part::Num(x), Part::Num(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
            (Part::Text(x), Part::Text(y)) => x.cmp(y),
            (Part::Num(_), Part::Text(_)) => Ordering::Greater,
            (Part::Text(_), Part::Num(_)) => Ordering::Less,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests;
