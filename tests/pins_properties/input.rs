//! What every generator shares: the random input, a tape of small choices,
//! and a writer that remembers where each pin's version token lands.

use std::ops::Range;

use chartpilot::pins::{PinKind, SourceFile};
use proptest::collection::vec;
use proptest::prelude::*;

/// What proptest varies. Layout choices (indentation, quoting, comments,
/// key order, line endings) are read from `tape`, which shrinks towards
/// zeros, i.e. towards the plainest file; the values are separate so a
/// failing case still shows readable versions.
#[derive(Debug, Clone)]
pub struct Input {
    pub tape: Vec<u8>,
    pub versions: Vec<String>,
    pub new_versions: Vec<String>,
    pub comments: Vec<String>,
}

/// Semver with or without `v`, prerelease and build metadata: everything
/// `edit::plan` accepts as a version and a chart author writes.
fn version() -> impl Strategy<Value = String> {
    let number = "(0|[1-9][0-9]{0,2})";
    let ident = "[0-9A-Za-z-]{1,6}";
    let regex = format!(
        "v?{number}\\.{number}\\.{number}(-{ident}(\\.{ident}){{0,2}})?(\\+{ident}(\\.{ident}){{0,2}})?"
    );
    proptest::string::string_regex(&regex).unwrap_or_else(|e| panic!("{regex}: {e}"))
}

/// Comment text: printable ASCII, which includes quotes, `=`, `:`, `{`
/// and `#`, plus characters of two, three and four bytes.
fn comment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~äß✓🚀]{0,24}",
        Just("version = \"9.9.9\"".to_owned()),
        Just("targetRevision: 9.9.9".to_owned()),
    ]
}

pub fn inputs() -> impl Strategy<Value = Input> {
    (
        vec(any::<u8>(), 0..400),
        vec(version(), 1..8),
        vec(version(), 1..4),
        vec(comment(), 1..6),
    )
        .prop_map(|(tape, versions, new_versions, comments)| Input {
            tape,
            versions,
            new_versions,
            comments,
        })
}

/// Reads choices off the input's tape, round and round; an empty tape
/// always answers 0.
pub struct Dice<'a> {
    input: &'a Input,
    at: usize,
    versions: usize,
}

impl<'a> Dice<'a> {
    pub fn new(input: &'a Input) -> Self {
        Self {
            input,
            at: 0,
            versions: 0,
        }
    }

    fn byte(&mut self) -> u8 {
        let tape = &self.input.tape;
        let b = if tape.is_empty() {
            0
        } else {
            tape[self.at % tape.len()]
        };
        self.at += 1;
        b
    }

    /// 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    /// True about one time in `n`; never for a zero byte.
    pub fn one_in(&mut self, n: u8) -> bool {
        let b = self.byte();
        b != 0 && b.is_multiple_of(n)
    }

    /// Each version of the input in turn.
    pub fn version(&mut self) -> String {
        let v = &self.input.versions;
        self.versions += 1;
        v[(self.versions - 1) % v.len()].clone()
    }

    pub fn comment(&mut self) -> String {
        let c = &self.input.comments;
        c[self.below(c.len())].clone()
    }

    /// A copy of `items` in an order read off the tape.
    pub fn shuffled<T: Clone>(&mut self, items: &[T]) -> Vec<T> {
        let mut out = items.to_vec();
        for i in (1..out.len()).rev() {
            let j = self.below(i + 1);
            out.swap(i, j);
        }
        out
    }

    /// Fewer than `max` characters out of `chars`, e.g. indentation.
    pub fn blanks(&mut self, chars: &[char], max: usize) -> String {
        let len = self.below(max);
        (0..len).map(|_| chars[self.below(chars.len())]).collect()
    }
}

/// A pin a generated file must yield.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub file: String,
    pub line: usize,
    pub name: String,
    pub kind: PinKind,
    pub chart: Option<String>,
    pub repository: Option<String>,
    pub version: String,
    pub span: Range<usize>,
}

impl Expected {
    /// Scan order.
    pub fn key(&self) -> (String, usize, usize, String) {
        (
            self.file.clone(),
            self.line,
            self.span.start,
            self.name.clone(),
        )
    }
}

/// What a version token belongs to.
#[derive(Debug, Clone)]
pub struct Owner {
    pub kind: PinKind,
    pub name: String,
    pub chart: Option<String>,
    pub repository: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum Eol {
    Lf,
    Crlf,
    /// Each line break chosen on its own, as after a careless merge.
    Mixed,
}

/// One file being written.
pub struct Out {
    path: String,
    text: String,
    line: usize,
    eol: Eol,
    pub pins: Vec<Expected>,
}

impl Out {
    pub fn new(path: &str, d: &mut Dice) -> Self {
        let eol = match d.below(3) {
            0 => Eol::Lf,
            1 => Eol::Crlf,
            _ => Eol::Mixed,
        };
        Self {
            path: path.to_owned(),
            text: String::new(),
            line: 1,
            eol,
            pins: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn push(&mut self, s: &str) {
        assert!(!s.contains('\n'), "line breaks go through nl(): {s:?}");
        self.text.push_str(s);
    }

    pub fn nl(&mut self, d: &mut Dice) {
        let crlf = match self.eol {
            Eol::Lf => false,
            Eol::Crlf => true,
            Eol::Mixed => d.below(2) == 1,
        };
        self.text.push_str(if crlf { "\r\n" } else { "\n" });
        self.line += 1;
    }

    /// Writes a version token, remembering where it is: one pin for each
    /// of its owners.
    pub fn version(&mut self, version: &str, owners: &[Owner]) {
        let start = self.text.len();
        self.push(version);
        for owner in owners {
            self.pins.push(Expected {
                file: self.path.clone(),
                line: self.line,
                name: owner.name.clone(),
                kind: owner.kind,
                chart: owner.chart.clone(),
                repository: owner.repository.clone(),
                version: version.to_owned(),
                span: start..self.text.len(),
            });
        }
    }

    /// The file, with or without a line break at its end.
    pub fn finish(mut self, d: &mut Dice) -> (SourceFile, Vec<Expected>) {
        if d.one_in(4) {
            while self.text.ends_with('\n') || self.text.ends_with('\r') {
                self.text.pop();
            }
        }
        let file = SourceFile {
            path: self.path,
            text: self.text,
        };
        (file, self.pins)
    }
}

/// A generated repository and the pins it holds.
#[derive(Debug, Default)]
pub struct Case {
    pub files: Vec<SourceFile>,
    pub pins: Vec<Expected>,
}

impl Case {
    pub fn add(&mut self, (file, pins): (SourceFile, Vec<Expected>)) {
        self.files.push(file);
        self.pins.extend(pins);
    }
}
