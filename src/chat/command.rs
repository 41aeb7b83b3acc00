//! `/chartpilot …` commands: the grammar, parsed into a typed command or an
//! error a person can act on (a did-you-mean for a misspelt verb, the
//! missing argument by name, the valid apps or environments).
//!
//! ```text
//! help
//! status <app> [env]          sync <app> [env]        rollback <app> [env]
//! upgrade <chart> [to <version>] [env]
//! promote <chart> <from-env> <to-env>
//! freeze <env> [reason…]      unfreeze <env>          confirm <code>
//! ```
//!
//! Arguments may be quoted (`"…"`, `'…'`, and the curly quotes chat apps
//! put in). A leading `/chartpilot` is optional.

use std::fmt;

/// A parsed command. Names are as typed; [`Vocabulary`] checked them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Status {
        app: String,
        env: Option<String>,
    },
    Sync {
        app: String,
        env: Option<String>,
    },
    Rollback {
        app: String,
        env: Option<String>,
    },
    Upgrade {
        chart: String,
        version: Option<String>,
        env: Option<String>,
    },
    Promote {
        chart: String,
        from: String,
        to: String,
    },
    Freeze {
        env: String,
        reason: Option<String>,
    },
    Unfreeze {
        env: String,
    },
    Confirm {
        code: String,
    },
}

impl Command {
    /// The verb, as authorization rules name it.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Help => "help",
            Command::Status { .. } => "status",
            Command::Sync { .. } => "sync",
            Command::Rollback { .. } => "rollback",
            Command::Upgrade { .. } => "upgrade",
            Command::Promote { .. } => "promote",
            Command::Freeze { .. } => "freeze",
            Command::Unfreeze { .. } => "unfreeze",
            Command::Confirm { .. } => "confirm",
        }
    }

    /// The environment the command acts on, for authorization: the target
    /// of a promotion, the named or only environment otherwise.
    pub fn env(&self) -> Option<&str> {
        match self {
            Command::Status { env, .. }
            | Command::Sync { env, .. }
            | Command::Rollback { env, .. }
            | Command::Upgrade { env, .. } => env.as_deref(),
            Command::Promote { to, .. } => Some(to),
            Command::Freeze { env, .. } | Command::Unfreeze { env } => Some(env),
            Command::Help | Command::Confirm { .. } => None,
        }
    }
}

impl fmt::Display for Command {
    /// The canonical spelling, which parses back to the same command.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |o: &Option<String>| {
            o.as_deref()
                .map(|e| format!(" {}", quote(e)))
                .unwrap_or_default()
        };
        match self {
            Command::Help => write!(f, "help"),
            Command::Status { app, env } => write!(f, "status {}{}", quote(app), opt(env)),
            Command::Sync { app, env } => write!(f, "sync {}{}", quote(app), opt(env)),
            Command::Rollback { app, env } => write!(f, "rollback {}{}", quote(app), opt(env)),
            Command::Upgrade {
                chart,
                version,
                env,
            } => write!(
                f,
                "upgrade {}{}{}",
                quote(chart),
                version
                    .as_deref()
                    .map(|v| format!(" to {}", quote(v)))
                    .unwrap_or_default(),
                opt(env)
            ),
            Command::Promote { chart, from, to } => {
                write!(f, "promote {} {} {}", quote(chart), quote(from), quote(to))
            }
            Command::Freeze { env, reason } => write!(f, "freeze {}{}", quote(env), opt(reason)),
            Command::Unfreeze { env } => write!(f, "unfreeze {}", quote(env)),
            Command::Confirm { code } => write!(f, "confirm {}", quote(code)),
        }
    }
}

fn quote(s: &str) -> String {
    if !s.is_empty() && !s.contains(char::is_whitespace) && !s.contains(['"', '\'']) {
        s.to_owned()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// What names exist, for checking a command and for listing the valid
/// ones when a name is wrong.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub environments: Vec<String>,
    /// Application and `helm_release` names.
    pub apps: Vec<String>,
    pub charts: Vec<String>,
}

/// Why a command was not understood; `Display` is the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Empty,
    UnterminatedQuote,
    UnknownVerb {
        verb: String,
        suggestion: Option<String>,
    },
    Missing {
        verb: &'static str,
        what: &'static str,
        usage: &'static str,
    },
    TooMany {
        verb: &'static str,
        extra: String,
        usage: &'static str,
    },
    Unknown {
        kind: &'static str,
        name: String,
        valid: Vec<String>,
    },
}

/// Every verb, as rules and `help` name them.
pub const VERBS: [&str; 9] = [
    "help", "status", "sync", "rollback", "upgrade", "promote", "freeze", "unfreeze", "confirm",
];

/// Usage lines, as `help` shows them.
pub const USAGE: [&str; 9] = [
    "help",
    "status <app> [env]",
    "sync <app> [env]",
    "rollback <app> [env]",
    "upgrade <chart> [to <version>] [env]",
    "promote <chart> <from-env> <to-env>",
    "freeze <env> [reason]",
    "unfreeze <env>",
    "confirm <code>",
];

fn usage(verb: &str) -> &'static str {
    VERBS
        .iter()
        .position(|v| *v == verb)
        .map(|i| USAGE[i])
        .unwrap_or("help")
}

/// Names in a reply are listed up to this many.
const MAX_LISTED: usize = 15;

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => write!(f, "no command given; try `/chartpilot help`"),
            ParseError::UnterminatedQuote => write!(f, "a quote is not closed"),
            ParseError::UnknownVerb { verb, suggestion } => {
                write!(f, "unknown command `{verb}`")?;
                match suggestion {
                    Some(s) => write!(f, "; did you mean `{s}`?"),
                    None => write!(f, "; try `/chartpilot help`"),
                }
            }
            ParseError::Missing { verb, what, usage } => {
                write!(f, "`{verb}` needs {what}: `/chartpilot {usage}`")
            }
            ParseError::TooMany { verb, extra, usage } => {
                write!(f, "`{verb}` does not take `{extra}`: `/chartpilot {usage}`")
            }
            ParseError::Unknown { kind, name, valid } => {
                write!(f, "unknown {kind} `{name}`")?;
                if valid.is_empty() {
                    return write!(f, "; there are none");
                }
                let shown: Vec<&str> = valid.iter().take(MAX_LISTED).map(String::as_str).collect();
                write!(f, "; valid: {}", shown.join(", "))?;
                if valid.len() > MAX_LISTED {
                    write!(f, " (and {} more)", valid.len() - MAX_LISTED)?;
                }
                Ok(())
            }
        }
    }
}

/// Splits on whitespace, keeping quoted runs together. Inside `"…"` a
/// backslash escapes the next character.
fn words(text: &str) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Ok(out);
        };
        let close = match first {
            '"' => Some('"'),
            '\'' => Some('\''),
            '“' | '”' => Some('”'),
            '‘' | '’' => Some('’'),
            _ => None,
        };
        let mut word = String::new();
        match close {
            Some(close) => {
                chars.next();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    if c == close || (close == '”' && c == '“') {
                        closed = true;
                        break;
                    }
                    if c == '\\' && close == '"' {
                        if let Some(n) = chars.next() {
                            word.push(n);
                        }
                        continue;
                    }
                    word.push(c);
                }
                if !closed {
                    return Err(ParseError::UnterminatedQuote);
                }
            }
            None => {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
            }
        }
        out.push(word);
    }
}

/// The closest verb within two edits, for a misspelt one.
fn suggest(word: &str) -> Option<String> {
    VERBS
        .iter()
        .map(|v| (strsim::levenshtein(word, v), *v))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, v)| v.to_owned())
}

fn check(kind: &'static str, name: &str, valid: &[String]) -> Result<String, ParseError> {
    if valid.iter().any(|v| v == name) {
        Ok(name.to_owned())
    } else {
        let mut valid = valid.to_vec();
        valid.sort();
        valid.dedup();
        Err(ParseError::Unknown {
            kind,
            name: name.to_owned(),
            valid,
        })
    }
}

/// Parses one command line and checks its names against `vocab`.
pub fn parse(text: &str, vocab: &Vocabulary) -> Result<Command, ParseError> {
    let mut w = words(text)?;
    if w.first().is_some_and(|f| f == "/chartpilot") {
        w.remove(0);
    }
    let Some(verb) = w.first().map(|v| v.to_lowercase()) else {
        return Err(ParseError::Empty);
    };
    let args = &w[1..];
    let Some(verb) = VERBS.iter().find(|v| **v == verb).copied() else {
        return Err(ParseError::UnknownVerb {
            suggestion: suggest(&verb),
            verb,
        });
    };
    let missing = |what: &'static str| ParseError::Missing {
        verb,
        what,
        usage: usage(verb),
    };
    let too_many = |extra: &[String]| ParseError::TooMany {
        verb,
        extra: extra.join(" "),
        usage: usage(verb),
    };
    let env = |name: &String| check("environment", name, &vocab.environments);
    let app = |name: &String| check("app", name, &vocab.apps);
    let chart = |name: &String| check("chart", name, &vocab.charts);
    Ok(match verb {
        "help" => Command::Help,
        "status" | "sync" | "rollback" => {
            let a = app(args.first().ok_or_else(|| missing("an app"))?)?;
            let e = args.get(1).map(env).transpose()?;
            if args.len() > 2 {
                return Err(too_many(&args[2..]));
            }
            match verb {
                "status" => Command::Status { app: a, env: e },
                "sync" => Command::Sync { app: a, env: e },
                _ => Command::Rollback { app: a, env: e },
            }
        }
        "upgrade" => {
            let c = chart(args.first().ok_or_else(|| missing("a chart"))?)?;
            let mut rest = &args[1..];
            let mut version = None;
            if rest.first().is_some_and(|t| t.eq_ignore_ascii_case("to")) {
                version = Some(
                    rest.get(1)
                        .ok_or_else(|| missing("a version after `to`"))?
                        .clone(),
                );
                rest = &rest[2..];
            }
            let e = rest.first().map(env).transpose()?;
            if rest.len() > 1 {
                return Err(too_many(&rest[1..]));
            }
            Command::Upgrade {
                chart: c,
                version,
                env: e,
            }
        }
        "promote" => {
            let c = chart(args.first().ok_or_else(|| missing("a chart"))?)?;
            let from = env(args
                .get(1)
                .ok_or_else(|| missing("the environment to promote from"))?)?;
            let to = env(args
                .get(2)
                .ok_or_else(|| missing("the environment to promote to"))?)?;
            if args.len() > 3 {
                return Err(too_many(&args[3..]));
            }
            Command::Promote { chart: c, from, to }
        }
        "freeze" => {
            let e = env(args.first().ok_or_else(|| missing("an environment"))?)?;
            let reason = (args.len() > 1).then(|| args[1..].join(" "));
            Command::Freeze { env: e, reason }
        }
        "unfreeze" => {
            let e = env(args.first().ok_or_else(|| missing("an environment"))?)?;
            if args.len() > 1 {
                return Err(too_many(&args[1..]));
            }
            Command::Unfreeze { env: e }
        }
        _ => {
            let code = args
                .first()
                .ok_or_else(|| missing("the code chartpilot gave"))?;
            if args.len() > 1 {
                return Err(too_many(&args[1..]));
            }
            Command::Confirm { code: code.clone() }
        }
    })
}

#[cfg(test)]
mod tests;
