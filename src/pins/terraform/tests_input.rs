//! Input nobody should write: broken, truncated and mangled files end in
//! warnings or reasons, never in a panic or a span that misses its version.

use super::tests::{row, scan_checked, sources, summary};

#[test]
fn parse_errors_become_warnings_and_other_files_still_scan() {
    let files = sources(&[
        (
            "broken.tf",
            "resource \"helm_release\" \"x\" {\n  chart = \"x\"\n  version = \n",
        ),
        (
            "ok.tf",
            "resource \"helm_release\" \"y\" {\n  chart   = \"y\"\n  version = \"1.0.0\"\n}\n",
        ),
        ("bad.tfvars", "v = = 1\n"),
    ]);
    let scan = scan_checked(&files);
    assert_eq!(summary(&scan), vec![row("ok.tf", 3, "y", Some("1.0.0"))]);
    let warned: Vec<(&str, Option<usize>)> = scan
        .warnings
        .iter()
        .map(|w| (w.file.as_str(), w.line))
        .collect();
    assert_eq!(
        warned,
        vec![("broken.tf", Some(3)), ("bad.tfvars", Some(1))]
    );
}

#[test]
fn no_panic_on_any_prefix_of_a_file() {
    let text = "locals {\n  v = var.versions[0][\"a\"]\n}\nvariable \"versions\" {\n  default = [{ a = \"1.0.0\" }]\n}\nmodule \"m\" {\n  source = \"../m\"\n  v = \"${local.v}\"\n}\nresource \"helm_release\" \"é\" {\n  chart = \"c\" # ü\n  version = local.v\n}\n";
    for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
        let prefix = text.get(..end).unwrap_or_default();
        let files = sources(&[("m/main.tf", prefix), ("m/x.tfvars", prefix)]);
        let _ = scan_checked(&files);
    }
}

#[test]
fn other_resources_and_blocks_are_ignored() {
    let files = sources(&[(
        "main.tf",
        "resource \"kubernetes_namespace\" \"x\" {\n  version = \"1\"\n}\ndata \"helm_release\" \"y\" {\n  version = \"2\"\n}\nresource \"helm_release\" {\n  version = \"3\"\n}\n",
    )]);
    assert!(scan_checked(&files).pins.is_empty());
}

/// Deterministic xorshift, so a failure reproduces.
fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn mutated_inputs_never_panic_and_spans_hold() {
    let main = "locals {\n  v = var.versions[0][\"a\"]\n  w = local.v\n}\nvariable \"versions\" {\n  default = [{ a = \"1.0.0\" }, { a = \"${var.x}\" }]\n}\nvariable \"x\" {\n default = \"v2\"\n}\nmodule \"m\" {\n  source = \"../m\"\n  v = \"${local.w}\"\n}\nresource \"helm_release\" \"x\" {\n  chart = \"c\" # c\n  version = local.w\n}\nresource \"helm_release\" \"y\" {\n  version = var.v\n}\nvariable \"v\" {}\n";
    let vars = "versions = [{a = \"3.0\"}]\nv = \"1\"\n";
    let tokens = [
        "{", "}", "\"", "[", "]", "0", ".", "#", "${", "\n", "=", "var.v", "local.w", "../", "é",
        "\\", "(", "?", "<<EOT\n", "%{", "[*]",
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..2_000 {
        let (mut a, mut b) = (main.to_owned(), vars.to_owned());
        for _ in 0..1 + xorshift(&mut seed) % 3 {
            let text = if xorshift(&mut seed).is_multiple_of(2) {
                &mut a
            } else {
                &mut b
            };
            let mut at = (xorshift(&mut seed) as usize) % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            if xorshift(&mut seed).is_multiple_of(2) {
                text.insert_str(at, tokens[(xorshift(&mut seed) as usize) % tokens.len()]);
            } else {
                let mut end = (at + (xorshift(&mut seed) as usize) % 5).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.replace_range(at..end, "");
            }
        }
        let files = sources(&[
            ("n/main.tf", &a),
            ("m/main.tf", &a),
            ("m/a.tfvars", &b),
            ("m/b.tf", main),
        ]);
        let _ = scan_checked(&files);
    }
}

/// Found by fuzzing: hcl-edit takes seconds on small invalid inputs with
/// deeply nested brackets. Such files are skipped with a warning at once.
#[test]
fn deeply_nested_brackets_are_skipped_quickly() {
    let hostile = format!("x = {}", "{ ---2 ---2- ".repeat(40));
    let files = vec![crate::pins::SourceFile {
        path: "bad.tf".into(),
        text: hostile,
    }];
    let scan = super::scan(&files);
    assert!(scan.pins.is_empty());
    assert_eq!(scan.warnings.len(), 1);
    assert!(
        scan.warnings[0].message.contains("nest deeper"),
        "{:?}",
        scan.warnings
    );
}

#[test]
fn brackets_in_comments_and_strings_do_not_count_as_nesting() {
    let noise = "{[(".repeat(20);
    let text = format!(
        "# {noise}\n// {noise}\n/* {noise}\n{noise} */\nresource \"helm_release\" \"x\" {{\n  description = \"{noise}\"\n  chart = \"x\"\n  version = \"1.2.3\"\n}}\n"
    );
    let files = vec![crate::pins::SourceFile {
        path: "ok.tf".into(),
        text,
    }];
    let scan = super::scan(&files);
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    assert_eq!(scan.pins.len(), 1);
    assert_eq!(scan.pins[0].version.as_deref(), Some("1.2.3"));
}
