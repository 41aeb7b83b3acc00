//! Paths into a values tree, as `--set`, Argo CD `parameters` and the
//! Terraform helm provider's `set` blocks write them: keys joined by `.`,
//! a literal dot escaped as `\.`, list items as `[n]`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path from the root of the values; empty is the root itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    pub fn keys<I: IntoIterator<Item = S>, S: Into<String>>(keys: I) -> Self {
        Self(keys.into_iter().map(|k| Segment::Key(k.into())).collect())
    }

    pub fn child(&self, segment: Segment) -> Self {
        let mut next = self.0.clone();
        next.push(segment);
        Self(next)
    }

    pub fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The path up to its first list index: values merge lists whole, so a
    /// path is known or not down to the list.
    pub fn to_list(&self) -> KeyPath {
        let end = self
            .0
            .iter()
            .position(|s| matches!(s, Segment::Index(_)))
            .unwrap_or(self.0.len());
        KeyPath(self.0[..end].to_vec())
    }

    /// `name` as `--set` reads it: `a.b\.c[0].d` is `a`, `b.c`, 0, `d`.
    /// Refuses empty keys and unclosed or non-numeric indexes.
    pub fn parse_set(name: &str) -> Result<KeyPath, String> {
        let mut segments = Vec::new();
        let mut key = String::new();
        let mut chars = name.chars().peekable();
        // Whether the text since the last `.` or `]` produced a segment
        // already (`a[0]` then `.b`).
        let mut after_index = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(next) => key.push(next),
                    None => return Err(format!("`{name}` ends with a lone `\\`")),
                },
                '.' => {
                    if key.is_empty() && !after_index {
                        return Err(format!("`{name}` has an empty key"));
                    }
                    if !key.is_empty() {
                        segments.push(Segment::Key(std::mem::take(&mut key)));
                    }
                    after_index = false;
                }
                '[' => {
                    if !key.is_empty() {
                        segments.push(Segment::Key(std::mem::take(&mut key)));
                    } else if segments.is_empty() {
                        return Err(format!("`{name}` starts with a list index"));
                    }
                    let digits: String = chars.by_ref().take_while(|c| *c != ']').collect();
                    let index = digits
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| format!("`{name}` has a list index that is no number"))?;
                    segments.push(Segment::Index(index));
                    after_index = true;
                }
                _ => key.push(c),
            }
        }
        if !key.is_empty() {
            segments.push(Segment::Key(key));
        } else if !after_index {
            return Err(format!("`{name}` has an empty key"));
        }
        Ok(KeyPath(segments))
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(&k.replace('\\', "\\\\").replace('.', "\\."))?;
                }
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

impl serde::Serialize for KeyPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Segment {
        Segment::Key(s.into())
    }

    #[test]
    fn set_names_parse_as_helm_reads_them() {
        let cases: &[(&str, Result<Vec<Segment>, &str>)] = &[
            ("a", Ok(vec![k("a")])),
            ("a.b.c", Ok(vec![k("a"), k("b"), k("c")])),
            (
                r"podAnnotations.prometheus\.io/scrape",
                Ok(vec![k("podAnnotations"), k("prometheus.io/scrape")]),
            ),
            (
                "ingress.hosts[0].paths[1]",
                Ok(vec![
                    k("ingress"),
                    k("hosts"),
                    Segment::Index(0),
                    k("paths"),
                    Segment::Index(1),
                ]),
            ),
            ("a..b", Err("has an empty key")),
            ("a.", Err("has an empty key")),
            ("[0]", Err("starts with a list index")),
            ("a[x]", Err("is no number")),
            (r"a\", Err("lone")),
        ];
        for (name, want) in cases {
            let got = KeyPath::parse_set(name);
            match (got, want) {
                (Ok(p), Ok(w)) => assert_eq!(&p.0, w, "{name}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{name}: {e}"),
                (got, want) => panic!("{name}: {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn display_round_trips_through_parse_set() {
        for name in [
            "a.b",
            r"podAnnotations.prometheus\.io/scrape",
            "ingress.hosts[0].paths[1].path",
        ] {
            let parsed = KeyPath::parse_set(name).unwrap_or_default();
            assert_eq!(parsed.to_string(), name);
        }
        let listed = KeyPath::parse_set("a.b[2].c").unwrap_or_default();
        assert_eq!(listed.to_list().to_string(), "a.b");
    }
}
