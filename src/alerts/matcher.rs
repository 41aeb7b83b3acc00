//! Label matchers in Alertmanager's syntax (`name="value"`, `name=~"re"`),
//! for the API's `filter` parameter and for `[[rollback.rules]] matchers`.
//!
//! Parsing follows what Alertmanager accepts for one matcher: optional
//! spaces around the operator, a value that is either double-quoted (with
//! `\"`, `\\` and `\n` escapes) or bare. Display always writes the quoted
//! form, which Alertmanager reads back to the same value.

use std::fmt;
use std::str::FromStr;

/// How a matcher compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`: the whole value matches the (RE2) regular expression.
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One label matcher. Regular expressions are not compiled here:
/// Alertmanager checks them and answers 400 with its reason, which
/// [`super::AlertsError::Refused`] carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid matcher `{input}`: {reason}")]
pub struct MatcherError {
    pub input: String,
    pub reason: String,
}

impl Matcher {
    pub fn new(name: impl Into<String>, op: MatchOp, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            op,
            value: value.into(),
        }
    }

    /// `name="value"`, the common case.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(name, MatchOp::Equal, value)
    }

    /// Parses one matcher such as `app="grafana"`, `severity!=info` or
    /// `namespace=~"ai-.*"`.
    pub fn parse(input: &str) -> Result<Self, MatcherError> {
        let fail = |reason: String| MatcherError {
            input: input.to_owned(),
            reason,
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(fail("empty; expected e.g. app=\"grafana\"".into()));
        }
        let name_len = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        let name = &s[..name_len];
        if name.is_empty() {
            return Err(fail(
                "expected a label name first (letters, digits, `_`)".into(),
            ));
        }
        if !is_label_name(name) {
            return Err(fail(format!(
                "label name `{name}` must start with a letter or `_`"
            )));
        }
        let rest = s[name_len..].trim_start();
        // Two-character operators first, so `=~` is not read as `=` + `~…`.
        let (op, rest) = [
            MatchOp::Regex,
            MatchOp::NotRegex,
            MatchOp::NotEqual,
            MatchOp::Equal,
        ]
        .into_iter()
        .find_map(|op| rest.strip_prefix(op.as_str()).map(|r| (op, r)))
        .ok_or_else(|| {
            fail(format!(
                "expected one of =, !=, =~, !~ after `{name}`, found `{}`",
                rest.chars().take(10).collect::<String>()
            ))
        })?;
        let value = parse_value(rest.trim()).map_err(fail)?;
        Ok(Self {
            name: name.to_owned(),
            op,
            value,
        })
    }
}

impl FromStr for Matcher {
    type Err = MatcherError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Matcher {
    /// `name<op>"value"` with `\`, `"` and newlines escaped, the form
    /// Alertmanager prints and parses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}\"", self.name, self.op)?;
        for c in self.value.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

/// Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*`. Alertmanager is more
/// lenient (it also takes `:`), but alert labels come from Prometheus, so
/// a name outside this set can only be a typo.
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The text after the operator: quoted with escapes, or bare.
fn parse_value(raw: &str) -> Result<String, String> {
    let Some(body) = raw.strip_prefix('"') else {
        // Bare values cannot hold a quote: it would be ambiguous whether
        // the author meant a quoted value with a typo.
        if raw.contains('"') {
            return Err(
                "a bare value must not contain `\"`; quote the value and write `\\\"`".into(),
            );
        }
        return Ok(raw.to_owned());
    };
    let mut value = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let trailing = chars.as_str();
                if trailing.is_empty() {
                    return Ok(value);
                }
                return Err(format!(
                    "unexpected `{trailing}` after the closing quote (escape inner quotes as `\\\"`)"
                ));
            }
            '\\' => match chars.next() {
                Some('n') => value.push('\n'),
                Some(e @ ('"' | '\\')) => value.push(e),
                // Alertmanager keeps an unknown escape as written, so a
                // regex such as "a\.b" means what its author expects.
                Some(other) => {
                    value.push('\\');
                    value.push(other);
                }
                None => return Err("missing closing quote after a trailing `\\`".into()),
            },
            c => value.push(c),
        }
    }
    // `"x\"` is the likely typo: the author's closing quote was escaped.
    if body.ends_with("\\\"") {
        return Err("missing closing quote (the last `\"` is escaped)".into());
    }
    Err("missing closing quote".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_matchers() {
        let cases: &[(&str, &str, MatchOp, &str)] = &[
            (r#"app="grafana""#, "app", MatchOp::Equal, "grafana"),
            ("app=grafana", "app", MatchOp::Equal, "grafana"),
            (r#"  app  !=  "x y"  "#, "app", MatchOp::NotEqual, "x y"),
            (r#"ns=~"ai-.*""#, "ns", MatchOp::Regex, "ai-.*"),
            (r#"ns!~"kube-.*""#, "ns", MatchOp::NotRegex, "kube-.*"),
            (r#"a="""#, "a", MatchOp::Equal, ""),
            ("a=", "a", MatchOp::Equal, ""),
            (r#"a="say \"hi\"""#, "a", MatchOp::Equal, "say \"hi\""),
            (r#"a="back\\slash""#, "a", MatchOp::Equal, "back\\slash"),
            (r#"a="two\nlines""#, "a", MatchOp::Equal, "two\nlines"),
            (r#"a=~"v1\.2""#, "a", MatchOp::Regex, "v1\\.2"),
            (r#"a="x,y=z""#, "a", MatchOp::Equal, "x,y=z"),
            (r#"_a1="ünï""#, "_a1", MatchOp::Equal, "ünï"),
            ("a==b", "a", MatchOp::Equal, "=b"),
        ];
        for (input, name, op, value) in cases {
            let m = Matcher::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(m, Matcher::new(*name, *op, *value), "{input}");
        }
    }

    #[test]
    fn rejects_invalid_matchers_with_a_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("   ", "empty"),
            (r#"="x""#, "label name first"),
            (r#"1app="x""#, "must start with a letter"),
            (r#"app"x""#, "expected one of"),
            ("app", "expected one of"),
            (r#"app~"x""#, "expected one of"),
            (r#"app-name="x""#, "expected one of"),
            (r#"app="x"#, "missing closing quote"),
            (r#"app="x\""#, "last `\"` is escaped"),
            (r#"app="x\"#, "after a trailing `\\`"),
            (r#"app="x"y"#, "after the closing quote"),
            (r#"app="x" , b="y""#, "after the closing quote"),
            (r#"app=x"y"#, "bare value"),
        ];
        for (input, want) in cases {
            match Matcher::parse(input) {
                Ok(m) => panic!("{input:?} parsed as {m:?}"),
                Err(e) => {
                    let text = e.to_string();
                    assert!(text.contains(want), "{input:?}: `{text}` lacks `{want}`");
                    assert!(text.contains(&format!("`{input}`")), "{text}");
                }
            }
        }
    }

    #[test]
    fn display_escapes_and_round_trips() {
        let cases: &[(Matcher, &str)] = &[
            (Matcher::equal("app", "grafana"), r#"app="grafana""#),
            (
                Matcher::new("a", MatchOp::NotEqual, "q\"b\\n\nz"),
                r#"a!="q\"b\\n\nz""#,
            ),
            (
                Matcher::new("a", MatchOp::Regex, "v1\\.2|x"),
                r#"a=~"v1\\.2|x""#,
            ),
            (Matcher::new("a", MatchOp::NotRegex, ""), r#"a!~"""#),
        ];
        for (m, want) in cases {
            assert_eq!(m.to_string(), *want);
            assert_eq!(Matcher::parse(want).as_ref(), Ok(m), "{want}");
        }
    }
}
