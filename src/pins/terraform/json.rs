//! `jsondecode(file("${path.module}/chart.json"))`: which JSON files a
//! configuration reads, and where a string value sits inside one, byte for
//! byte, so the pin can be edited there. A small scanner rather than
//! serde_json, which forgets where values were written.

use std::collections::BTreeSet;
use std::ops::Range;

/// JSON files larger than this are data, not a chart's pin; they are not
/// looked into, which also bounds the work per reference.
pub(super) const MAX_JSON_BYTES: usize = 256 * 1024;

/// Arrays and objects nested deeper than this are not scanned: chart
/// defaults are flat, and the scanner recurses once per level.
const MAX_JSON_DEPTH: usize = 32;

/// How a configuration names a file of its own module.
const MODULE_PREFIX: &str = "${path.module}/";

/// The repository paths of the JSON files that the Terraform files read
/// with `jsondecode(file("${path.module}/…"))`. A text search, without
/// parsing: the walk asks before reading any JSON, so a repository with
/// thousands of unrelated JSON files reads none of them.
pub fn wanted<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, text) in files {
        if !text.contains("jsondecode") {
            continue;
        }
        let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        let mut rest = text;
        while let Some(at) = rest.find(MODULE_PREFIX) {
            rest = rest.get(at + MODULE_PREFIX.len()..).unwrap_or_default();
            let end = rest.find('"').unwrap_or(rest.len());
            let name = rest.get(..end).unwrap_or_default();
            if name.ends_with(".json") {
                out.extend(module_file(dir, name));
            }
        }
    }
    out
}

/// `${path.module}/rel` of the module in `dir`, relative to the scanned
/// root; None for paths leaving it or holding further interpolation.
pub(super) fn module_file(dir: &str, rel: &str) -> Option<String> {
    if rel.contains("${") || rel.starts_with('/') {
        return None;
    }
    super::index::join_inside(dir, rel)
}

/// The span of the contents of the string at `path` (object keys) in the
/// JSON `text`, quotes excluded; or why there is none.
pub(super) fn string_at(text: &str, path: &[&str]) -> Result<Range<usize>, String> {
    if text.len() > MAX_JSON_BYTES {
        return Err(format!("larger than {MAX_JSON_BYTES} bytes"));
    }
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    let found = scanner.find(path, 0)?;
    let inner = found.start + 1..found.end - 1;
    match text.get(inner.clone()) {
        Some(s) if s.contains('\\') => Err("the value is written with escape sequences".into()),
        Some("") => Err("the value is an empty string".into()),
        Some(_) => Ok(inner),
        None => Err("the value is not a string".into()),
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        self.blanks();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("not valid JSON at byte {}", self.at))
        }
    }

    /// A string token, quotes included.
    fn string(&mut self) -> Result<Range<usize>, String> {
        self.blanks();
        let start = self.at;
        self.expect(b'"')?;
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err("unterminated string".into()),
                Some(b'\\') => self.at += 2,
                Some(b'"') => {
                    self.at += 1;
                    return Ok(start..self.at);
                }
                Some(_) => self.at += 1,
            }
        }
    }

    /// The value at `path` below the value starting here; the whole value
    /// is skipped either way, so the scanner stays in step.
    fn find(&mut self, path: &[&str], depth: usize) -> Result<Range<usize>, String> {
        if depth > MAX_JSON_DEPTH {
            return Err(format!("nested deeper than {MAX_JSON_DEPTH} levels"));
        }
        self.blanks();
        match (self.peek(), path.split_first()) {
            (Some(b'"'), None) => self.string(),
            (Some(b'{'), want) => {
                self.at += 1;
                let mut found = None;
                self.blanks();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                } else {
                    loop {
                        let key = self.string()?;
                        self.expect(b':')?;
                        let name = self.bytes.get(key.start + 1..key.end - 1);
                        // A repeated key: the last one wins, as in jsondecode.
                        match want {
                            Some((first, rest)) if name == Some(first.as_bytes()) => {
                                let start = self.at;
                                let value = self.find(rest, depth + 1);
                                if value.is_err() {
                                    // Not there: step over the value whole.
                                    self.at = start;
                                    self.skip(depth + 1)?;
                                }
                                found = Some(value);
                            }
                            _ => self.skip(depth + 1)?,
                        }
                        self.blanks();
                        match self.peek() {
                            Some(b',') => self.at += 1,
                            Some(b'}') => {
                                self.at += 1;
                                break;
                            }
                            _ => return Err(format!("not valid JSON at byte {}", self.at)),
                        }
                    }
                }
                match (found, want) {
                    (Some(found), _) => found,
                    (None, Some((first, _))) => Err(format!("no key {first}")),
                    (None, None) => Err("the value is an object".into()),
                }
            }
            (Some(_), Some((first, _))) => Err(format!("cannot look up {first} in a non-object")),
            (Some(_), None) => Err("the value is not a string".into()),
            (None, _) => Err("the file ends early".into()),
        }
    }

    /// Skips one value of any kind.
    fn skip(&mut self, depth: usize) -> Result<(), String> {
        if depth > MAX_JSON_DEPTH {
            return Err(format!("nested deeper than {MAX_JSON_DEPTH} levels"));
        }
        self.blanks();
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(open @ (b'{' | b'[')) => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.at += 1;
                self.blanks();
                if self.peek() == Some(close) {
                    self.at += 1;
                    return Ok(());
                }
                loop {
                    if open == b'{' {
                        self.string()?;
                        self.expect(b':')?;
                    }
                    self.skip(depth + 1)?;
                    self.blanks();
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(c) if c == close => {
                            self.at += 1;
                            return Ok(());
                        }
                        _ => return Err(format!("not valid JSON at byte {}", self.at)),
                    }
                }
            }
            Some(_) => {
                // Numbers, true, false, null: up to the next delimiter.
                let start = self.at;
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n')
                ) {
                    self.at += 1;
                }
                if self.at == start {
                    return Err(format!("not valid JSON at byte {}", self.at));
                }
                Ok(())
            }
            None => Err("the file ends early".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_found_by_key_with_their_spans() {
        let text = "{\n  \"chart\": \"c\",\n  \"n\": [1, {\"version\": \"0\"}, true],\n  \"nested\": {\"version\": \"2.0.0\"},\n  \"version\": \"1.16.0\"\n}\n";
        let at = |path: &[&str]| string_at(text, path).map(|s| &text[s]);
        assert_eq!(at(&["version"]), Ok("1.16.0"));
        assert_eq!(at(&["nested", "version"]), Ok("2.0.0"));
        assert_eq!(at(&["chart"]), Ok("c"));
        assert!(at(&["nope"]).is_err_and(|e| e.contains("no key nope")));
        assert!(at(&["n"]).is_err());
        assert!(at(&["chart", "x"]).is_err());
        assert!(string_at("{\"version\": \"1\\u002e0\"}", &["version"]).is_err());
        assert!(string_at("{\"version\": \"1.0\"", &["version"]).is_err());
        assert!(string_at(&"[".repeat(100), &["version"]).is_err());
        let big = format!(
            "{{\"version\": \"1.0\", \"x\": \"{}\"}}",
            "a".repeat(MAX_JSON_BYTES)
        );
        assert!(string_at(&big, &["version"]).is_err_and(|e| e.contains("larger")));
    }

    #[test]
    fn wanted_files_are_module_files_named_in_jsondecode() {
        let tf = "locals {\n  d = jsondecode(file(\"${path.module}/chart.json\"))\n  p = file(\"${path.module}/../x/policy.json\")\n  y = file(\"${path.module}/values.yaml\")\n}\n";
        let got = wanted([
            ("a/b/main.tf", tf),
            ("c/main.tf", "x = \"${path.module}/n.json\""),
        ]);
        let want: BTreeSet<String> = ["a/b/chart.json", "a/x/policy.json"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(got, want);
        assert_eq!(module_file("", "../x.json"), None);
        assert_eq!(module_file("m", "${var.f}.json"), None);
    }
}
