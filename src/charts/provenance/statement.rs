//! The text a Helm `.prov` signs: the chart's `Chart.yaml`, a `...` line,
//! then `files:` mapping archive names to `sha256:<hex>` digests.

use std::collections::BTreeMap;

use yaml_rust2::Yaml;

/// What a provenance file states about the archive it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `name` of the signed `Chart.yaml`, when it has one.
    pub chart: Option<String>,
    /// `version` of the signed `Chart.yaml`, as written.
    pub version: Option<String>,
    /// Archive file name → lowercase hex SHA-256.
    pub files: BTreeMap<String, String>,
}

/// Parses the signed text (line endings `\n` or `\r\n`). Like Helm, the
/// first `...` line ends the chart metadata; the rest is the files block.
pub fn parse(text: &str) -> Result<Statement, String> {
    let text = text.replace("\r\n", "\n");
    let mut metadata = String::new();
    let mut files = None;
    let mut lines = text.split_inclusive('\n');
    for line in lines.by_ref() {
        if line.trim_end() == "..." {
            files = Some(lines.collect::<String>());
            break;
        }
        metadata.push_str(line);
    }
    let files = files.ok_or("no `...` line between Chart.yaml and the files block")?;
    let meta = first_document(&metadata, "Chart.yaml")?;
    let text_of = |key: &str| match &meta[key] {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        _ => None,
    };
    let (chart, version) = (text_of("name"), text_of("version"));
    if chart.is_none() {
        return Err("the signed Chart.yaml has no name".into());
    }
    let block = first_document(&files, "files block")?;
    let Yaml::Hash(entries) = &block["files"] else {
        return Err("the files block has no `files:` mapping".into());
    };
    let mut out = BTreeMap::new();
    for (name, digest) in entries {
        let (Some(name), Some(digest)) = (name.as_str(), digest.as_str()) else {
            return Err("a `files:` entry is not `name: sha256:<hex>`".into());
        };
        out.insert(name.to_owned(), sha256_hex(digest)?);
    }
    if out.is_empty() {
        return Err("the `files:` mapping is empty".into());
    }
    Ok(Statement {
        chart,
        version,
        files: out,
    })
}

fn first_document(text: &str, what: &str) -> Result<Yaml, String> {
    let docs = crate::yaml::load_bounded(text, what).map_err(|e| e.to_string())?;
    match docs.into_iter().next() {
        Some(doc @ Yaml::Hash(_)) => Ok(doc),
        _ => Err(format!("the {what} is not a mapping")),
    }
}

/// `sha256:<64 hex>` → lowercase hex; Helm writes no other algorithm.
fn sha256_hex(digest: &str) -> Result<String, String> {
    let hex = digest
        .trim()
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("digest `{}` is not sha256:<hex>", shorten(digest)))?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("digest `{}` is not sha256:<hex>", shorten(digest)));
    }
    Ok(hex.to_ascii_lowercase())
}

/// Quoted input stays short in an error that may reach a PR.
fn shorten(text: &str) -> String {
    const SHOWN: usize = 80;
    match text.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "3f1c2a0b9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b";

    fn prov_text(meta: &str, files: &str) -> String {
        format!("{meta}\n...\n{files}")
    }

    #[test]
    fn helm_layout_parses() {
        let text = prov_text(
            "apiVersion: v2\nname: app\nversion: 1.2.0\ndescription: x\n",
            &format!("files:\n  app-1.2.0.tgz: sha256:{HEX}\n"),
        );
        let s = parse(&text).unwrap();
        assert_eq!(s.chart.as_deref(), Some("app"));
        assert_eq!(s.version.as_deref(), Some("1.2.0"));
        assert_eq!(s.files.get("app-1.2.0.tgz").map(String::as_str), Some(HEX));
    }

    #[test]
    fn variants_and_refusals() {
        let files = format!("files:\n  a-1.0.tgz: sha256:{}\n", HEX.to_uppercase());
        let ok: &[(&str, String, &str)] = &[
            (
                "crlf",
                prov_text("name: a\r\nversion: 1.0\r\n", &files).replace('\n', "\r\n"),
                "1.0",
            ),
            (
                "numeric version",
                prov_text("name: a\nversion: 1.0\n", &files),
                "1.0",
            ),
            (
                "integer version",
                prov_text("name: a\nversion: 2\n", &files),
                "2",
            ),
            (
                "trailing spaces on ...",
                format!("name: a\nversion: 1.0\n...  \n{files}"),
                "1.0",
            ),
        ];
        for (case, text, version) in ok {
            let s = parse(text).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(s.version.as_deref(), Some(*version), "{case}");
            assert_eq!(s.files["a-1.0.tgz"], HEX, "{case}: lowercased");
        }
        let bad: &[(&str, String, &str)] = &[
            ("no separator", format!("name: a\n{files}"), "no `...` line"),
            ("no name", prov_text("version: 1\n", &files), "has no name"),
            ("metadata not a map", prov_text("- a\n", &files), "Chart.yaml is not a mapping"),
            ("no files key", prov_text("name: a\n", "other: 1\n"), "no `files:`"),
            ("empty files", prov_text("name: a\n", "files: {}\n"), "empty"),
            ("md5 digest", prov_text("name: a\n", "files:\n  a.tgz: md5:abc\n"), "not sha256"),
            ("short hex", prov_text("name: a\n", "files:\n  a.tgz: sha256:abc\n"), "not sha256"),
            ("non-hex", prov_text("name: a\n", &format!("files:\n  a.tgz: sha256:{}\n", "z".repeat(64))), "not sha256"),
            ("list value", prov_text("name: a\n", "files:\n  a.tgz: [x]\n"), "not `name: sha256"),
            ("bad yaml", prov_text("name: [a\n", &files), "Chart.yaml"),
            ("alias bomb", prov_text("name: a\n", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\nfiles: *f\n"), "files block"),
        ];
        for (case, text, reason) in bad {
            let e = parse(text).expect_err(case);
            assert!(e.contains(reason), "{case}: {e}");
        }
    }

    #[test]
    fn long_digests_are_shortened_in_errors() {
        let digest = "x".repeat(500);
        let e = sha256_hex(&digest).unwrap_err();
        assert!(e.len() < 150, "{e}");
    }
}
