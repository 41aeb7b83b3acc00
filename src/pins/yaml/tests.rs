use super::*;

fn file(text: &str) -> SourceFile {
    SourceFile {
        path: "x.yaml".into(),
        text: text.into(),
    }
}

fn parse_ok(text: &str) -> Vec<Document> {
    let parsed = parse(&file(text));
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    parsed.documents
}

/// The scalar at `path` of the only document, checked against the text.
fn scalar_at(text: &str, path: &[&str]) -> Scalar {
    let docs = parse_ok(text);
    assert_eq!(docs.len(), 1);
    let scalar = docs[0].root.path(path).and_then(Node::as_scalar).cloned();
    let scalar = scalar.unwrap_or_else(|| panic!("no scalar at {path:?}"));
    if scalar.exact {
        assert_eq!(&text[scalar.span.clone()], scalar.value);
    }
    scalar
}

#[test]
fn quoting_styles_span_the_value_only() {
    let text = "a: 1.2.3\nb: '1.2.3'\nc: \"1.2.3\"\n";
    for (key, line) in [("a", 1), ("b", 2), ("c", 3)] {
        let s = scalar_at(text, &[key]);
        assert_eq!(s.value, "1.2.3");
        assert!(s.exact);
        assert_eq!(s.line, line);
    }
    assert_eq!(scalar_at(text, &["a"]).span, 3..8);
    assert_eq!(scalar_at(text, &["b"]).span, 13..18);
    assert_eq!(scalar_at(text, &["c"]).style, Style::DoubleQuoted);
}

#[test]
fn trailing_comments_are_not_part_of_the_token() {
    let text = "version: v1.2.3  # keep in sync\nother: 'x' # c\n";
    let s = scalar_at(text, &["version"]);
    assert_eq!((s.value.as_str(), s.span), ("v1.2.3", 9..15));
    assert_eq!(scalar_at(text, &["other"]).value, "x");
}

#[test]
fn crlf_line_endings() {
    let text = "a: 1\r\nb:\r\n  c: \"2.0.0\"\r\n  d: 3.1.4\r\n";
    let c = scalar_at(text, &["b", "c"]);
    assert_eq!((c.span.clone(), c.line), (16..21, 3));
    let d = scalar_at(text, &["b", "d"]);
    assert_eq!(&text[d.span], "3.1.4");
    assert_eq!(d.line, 4);
}

#[test]
fn characters_before_the_value_are_counted_in_bytes() {
    let text = "# Größe 日本語 ✓\nname: \"wéird – ñame\"\nversion: '1.0.0' # ünïcode\nv2: 2.0.0\n";
    let name = scalar_at(text, &["name"]);
    assert_eq!(name.value, "wéird – ñame");
    assert!(name.exact);
    let v = scalar_at(text, &["version"]);
    assert_eq!(&text[v.span.clone()], "1.0.0");
    assert_eq!(v.line, 3);
    assert_eq!(&text[scalar_at(text, &["v2"]).span], "2.0.0");
}

#[test]
fn byte_order_mark_is_skipped() {
    let text = "\u{feff}version: 1.0.0\n";
    let s = scalar_at(text, &["version"]);
    assert_eq!(&text[s.span], "1.0.0");
}

#[test]
fn flow_collections() {
    let text = "deps: [{name: a, version: 1.0.0}, {name: b, version: \"2.0.0\"}]\nm: {x: 'y'}\n";
    let docs = parse_ok(text);
    let deps = docs[0]
        .root
        .get("deps")
        .map(Node::items)
        .unwrap_or_default();
    assert_eq!(deps.len(), 2);
    let v = deps[1].get("version").and_then(Node::as_scalar).cloned();
    let v = v.unwrap_or_else(|| panic!("no version"));
    assert_eq!(&text[v.span], "2.0.0");
    let first = deps[0]
        .get("version")
        .and_then(Node::as_scalar)
        .map(|s| s.span.clone());
    assert_eq!(first.map(|s| &text[s]), Some("1.0.0"));
    assert_eq!(scalar_at(text, &["m", "x"]).value, "y");
}

#[test]
fn mappings_keep_key_order() {
    let docs = parse_ok("z: 1\na: 2\nm: 3\n");
    let keys: Vec<&str> = docs[0]
        .root
        .entries()
        .iter()
        .filter_map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(keys, ["z", "a", "m"]);
}

#[test]
fn multi_document_files() {
    let text = "# header\n---\na: 1\n---\n---\nb: 2\n...\n---\n# only a comment\n---\nc: 3";
    let docs = parse_ok(text);
    let values: Vec<(&str, usize)> = docs
        .iter()
        .filter_map(|d| d.root.entries().first())
        .filter_map(|(k, v)| Some((k.as_str()?, v.line())))
        .collect();
    assert_eq!(values, [("a", 3), ("b", 6), ("c", 11)]);
}

#[test]
fn anchors_and_aliases_and_merge_keys() {
    let text = "base: &b\n  repo: https://x\n  version: &v 1.0.0\ncopy: *b\nv: *v\nmerged:\n  <<: *b\n  version: 2.0.0\n";
    let docs = parse_ok(text);
    let root = &docs[0].root;
    let via_alias = root.path(&["copy", "version"]).and_then(Node::as_scalar);
    assert_eq!(via_alias.map(|s| &text[s.span.clone()]), Some("1.0.0"));
    assert_eq!(root.get("v").and_then(Node::as_str), Some("1.0.0"));
    assert_eq!(
        root.path(&["merged", "repo"]).and_then(Node::as_str),
        Some("https://x")
    );
    assert_eq!(
        root.path(&["merged", "version"]).and_then(Node::as_str),
        Some("2.0.0")
    );
}

#[test]
fn alias_bombs_stay_small() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..30 {
        let prev = if i == 0 {
            "a".to_owned()
        } else {
            format!("a{}", i - 1)
        };
        text.push_str(&format!(
            "a{i}: &a{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    let docs = parse_ok(&text);
    assert_eq!(docs[0].root.entries().len(), 31);
}

#[test]
fn escaped_and_folded_scalars_are_not_exact() {
    let text = "a: \"1.\\u0032.3\"\nb: 'it''s'\nc: |\n  1.2.3\nd: one\n  two\n";
    let a = scalar_at(text, &["a"]);
    assert_eq!(
        (a.value.as_str(), a.exact, &text[a.span.clone()]),
        ("1.2.3", false, "1.\\u0032.3")
    );
    let b = scalar_at(text, &["b"]);
    assert_eq!(
        (b.value.as_str(), b.exact, &text[b.span.clone()]),
        ("it's", false, "it''s")
    );
    assert!(!scalar_at(text, &["c"]).exact);
    let d = scalar_at(text, &["d"]);
    assert_eq!(
        (d.value.as_str(), d.exact, &text[d.span.clone()]),
        ("one two", false, "one\n  two")
    );
}

#[test]
fn missing_values_are_null_and_not_editable() {
    let text = "a:\nb: ~\nc: ''\n";
    let a = scalar_at(text, &["a"]);
    assert!(a.is_null() && !a.exact);
    assert!(scalar_at(text, &["b"]).is_null());
    let c = scalar_at(text, &["c"]);
    assert!(!c.is_null());
    assert_eq!(c.span, 12..12);
    assert_eq!(parse_ok(text)[0].root.get("a").and_then(Node::as_str), None);
}

#[test]
fn unquoted_template_values_become_template_scalars() {
    let text = "chart: {{ .Values.chart }}\nversion: '{{values.v}}'\n";
    let chart = scalar_at(text, &["chart"]);
    assert_eq!(chart.value, "{{ .Values.chart }}");
    assert_eq!(&text[chart.span], "{{ .Values.chart }}");
    assert_eq!(scalar_at(text, &["version"]).value, "{{values.v}}");
}

#[test]
fn template_documents_are_skipped_with_a_warning() {
    let text = "a: 1\n---\n{{- if .Values.enabled }}\nb: 2\n{{- end }}\n---\nc: 3\n";
    let parsed = parse(&file(text));
    assert_eq!(parsed.documents.len(), 2);
    assert_eq!(parsed.warnings.len(), 1);
    let warning = &parsed.warnings[0];
    assert_eq!((warning.file.as_str(), warning.line), ("x.yaml", Some(3)));
    assert!(warning.message.contains("template"), "{}", warning.message);
}

#[test]
fn invalid_yaml_is_a_warning_with_its_line() {
    let text = "a: 1\nb: [unclosed\nc: 'x'\n";
    let parsed = parse(&file(text));
    assert!(parsed.documents.is_empty());
    assert_eq!(parsed.warnings.len(), 1);
    assert!(parsed.warnings[0]
        .message
        .starts_with("skipped: invalid YAML"));
    assert!(parsed.warnings[0].line.is_some_and(|l| l >= 2));
    let quoted_braces = "a: 'x {{ y }}'\nb: [\n";
    let parsed = parse(&file(quoted_braces));
    assert!(
        parsed.warnings[0].message.contains("invalid YAML"),
        "{:?}",
        parsed.warnings
    );
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let text = format!("a: {}{}\n", "[".repeat(50_000), "]".repeat(50_000));
    let parsed = parse(&file(&text));
    assert!(parsed.documents.is_empty());
    assert_eq!(parsed.warnings.len(), 1);
    let block: String = (0..300)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    assert_eq!(parse(&file(&block)).warnings.len(), 1);
}

#[test]
fn empty_and_comment_only_files() {
    assert!(parse_ok("").is_empty());
    assert!(parse_ok("# nothing\n\n").is_empty());
    assert!(parse_ok("---\n").len() <= 1);
}

/// Every prefix and a spread of byte mutations of a realistic file parse
/// without a panic, and every exact span still matches its value.
#[test]
fn never_panics_on_mangled_input() {
    let original = "apiVersion: argoproj.io/v1alpha1\r\nkind: Application\nmetadata: {name: \"é\", labels: {env: 'dev'}}\nspec:\n  source: &s\n    chart: x # c\n    targetRevision: '1.0'\n  sources: [*s]\n---\n{{ .V }}: |\n  a\n";
    let mut inputs: Vec<String> = (0..=original.len())
        .filter_map(|n| original.get(..n))
        .map(str::to_owned)
        .collect();
    let mut seed: u32 = 7;
    for _ in 0..2000 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let mut bytes = original.as_bytes().to_vec();
        let at = (seed as usize >> 4) % bytes.len();
        let alphabet = b"{}[]'\"#:-&*!|> \n\t\\";
        bytes[at] = alphabet[(seed as usize >> 20) % alphabet.len()];
        inputs.extend(String::from_utf8(bytes).ok());
    }
    for input in inputs {
        for doc in parse(&file(&input)).documents {
            check_spans(&input, &doc.root, 0);
        }
    }
}

fn check_spans(text: &str, node: &Node, depth: usize) {
    if depth > build::MAX_DEPTH {
        return;
    }
    match node {
        Node::Scalar(s) if s.exact => assert_eq!(text.get(s.span.clone()), Some(s.value.as_str())),
        Node::Scalar(_) | Node::Alias(_) => {}
        Node::Sequence { items, .. } => items.iter().for_each(|n| check_spans(text, n, depth + 1)),
        Node::Mapping { entries, .. } => entries.iter().for_each(|(k, v)| {
            check_spans(text, k, depth + 1);
            check_spans(text, v, depth + 1);
        }),
    }
}
