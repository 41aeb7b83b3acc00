use proptest::prelude::*;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::*;

#[test]
fn inline_text_is_inert() {
    let cases = [
        ("plain words", "plain words"),
        ("a\n\n# heading\nb", "a #\u{2060} heading b"),
        ("<!-- hide", "&lt;!-- hide"),
        ("</details><img src=x>", "&lt;/details&gt;&lt;img src=x&gt;"),
        ("@acme/security", "@\u{2060}acme/security"),
        ("Fixes #12", "Fixes #\u{2060}12"),
        ("[x](javascript:alert(1))", "\\[x\\](javascript:alert(1))"),
        ("a | b", "a \\| b"),
        ("*bold* _it_ `code`", "\\*bold\\* \\_it\\_ \\`code\\`"),
        ("- item", "\\- item"),
        ("12. item", "12\\. item"),
        ("5.51.6", "5.51.6"),
        ("-1 degrees", "\\-1 degrees"),
        ("---", "\\---"),
        ("=", "\\="),
        ("AT&T", "AT&amp;T"),
    ];
    for (input, want) in cases {
        assert_eq!(inline(input, 100), want, "{input:?}");
    }
    assert_eq!(inline("abcdef", 3), "abc…");
}

#[test]
fn code_spans_hold_any_backticks_and_pipes() {
    assert_eq!(code("v1.2.3", 50), "`v1.2.3`");
    assert_eq!(code("a `b` c", 50), "`` a `b` c ``");
    assert_eq!(code("x|y", 50), "`x\\|y`");
    assert_eq!(code("line\nbreak", 50), "`line break`");
    assert_eq!(code("abcdef", 3), "`abc…`");
    // Still a code span, not two backticks.
    assert_eq!(code(" \n", 3), "` `");
}

#[test]
fn links_are_plain_http_only() {
    assert_eq!(
        link(" https://runbooks.example.org/a?b=c "),
        Some("https://runbooks.example.org/a?b=c")
    );
    for bad in [
        "javascript:alert(1)",
        "https://x/|@acme/security|https://evil.example",
        "https://x/[y](z)",
        "https://x/ y",
        "https://x/\u{0}",
        "ftp://x/",
        "https://x/\"onmouseover",
        "data:text/html,<script>",
    ] {
        assert_eq!(link(bad), None, "{bad:?}");
    }
    assert_eq!(
        link(&format!("https://x/{}", "a".repeat(MAX_URL_CHARS))),
        None
    );
}

#[test]
fn slack_and_mentions() {
    assert_eq!(
        slack("PodinfoDown <!channel> & <https://evil|click>"),
        "PodinfoDown &lt;!channel&gt; &amp; &lt;https://evil|click&gt;"
    );
    assert_eq!(no_mentions("@a #1"), "@\u{2060}a #\u{2060}1");
}

#[test]
fn html_text_and_attributes() {
    assert_eq!(
        html("<a href=\"x\" title='y'>&</a>"),
        "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
    );
}

#[test]
fn bytes_are_cut_at_a_character() {
    let mut s = "aé".repeat(10);
    truncate_bytes(&mut s, 4);
    assert_eq!(s, "aéa");
}

/// A body shaped like chartpilot's: a heading, a table, a list with a
/// link, a `<details>` block and a trailing marker comment read back later.
fn body(x: &str) -> String {
    format!(
        "## Upgrade {title}\n\n| chart | version |\n| --- | --- |\n| {cell} | {code} |\n\n- note: {note} ([source](https://example.org/x))\n\n<details><summary>Release notes</summary>\n\n{note}\n\n</details>\n\n<!-- chartpilot:marker -->\n",
        title = inline(x, 200),
        cell = inline(x, 200),
        code = code(x, 200),
        note = inline(x, 2_000),
    )
}

/// What a reader's Markdown makes of a body: its blocks and inline
/// containers, raw HTML verbatim, and the number of code spans; the words
/// themselves are left out.
fn structure(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    for event in Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    ) {
        match event {
            Event::Start(tag) => out.push(format!("start {}", tag_name(&tag))),
            Event::End(end) => out.push(format!("end {}", end_name(end))),
            Event::Html(h) | Event::InlineHtml(h) => out.push(format!("html {h}")),
            Event::Code(_) => out.push("code".into()),
            Event::Rule => out.push("rule".into()),
            Event::FootnoteReference(_) | Event::TaskListMarker(_) => {
                out.push(format!("{event:?}"))
            }
            _ => {}
        }
    }
    out
}

fn tag_name(tag: &Tag<'_>) -> String {
    match tag {
        // The link's target is the skeleton's; the words are not compared.
        Tag::Link { dest_url, .. } => format!("link {dest_url}"),
        Tag::Image { .. } => "image".into(),
        Tag::Heading { level, .. } => format!("heading {level}"),
        other => format!("{:?}", std::mem::discriminant(other)),
    }
}

fn end_name(end: TagEnd) -> String {
    format!("{end:?}")
}

/// Text with every kind of trouble in it, mixed with anything at all.
fn hostile() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("<!--"),
        Just("-->"),
        Just("<details>"),
        Just("</details>"),
        Just("<summary>"),
        Just("<img src=x onerror=alert(1)>"),
        Just("<script>"),
        Just("@acme/team"),
        Just("#12"),
        Just("[a](javascript:x)"),
        Just("![i](https://x/i.png)"),
        Just("|"),
        Just("`"),
        Just("``"),
        Just("*"),
        Just("**"),
        Just("_"),
        Just("\n"),
        Just("\n\n"),
        Just("# "),
        Just("- "),
        Just("1. "),
        Just("> "),
        Just("---"),
        Just("==="),
        Just("\\"),
        Just("&amp;"),
        Just("&#60;"),
        Just("<https://x>"),
        Just("~~"),
        Just("[^1]"),
        Just("    code"),
        Just("```"),
        Just("~~~"),
        Just("\t"),
        Just("\u{2028}"),
        Just("<div>"),
    ]
    .prop_map(str::to_owned);
    let piece = prop_oneof![token, any::<String>(), "[a-z ]{0,8}"];
    prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Whatever the text, the body around it has the same structure as
    /// with harmless text: no block, link, emphasis, HTML or code span
    /// more or less, and the marker comment still there.
    #[test]
    fn untrusted_text_never_changes_the_markdown_around_it(x in hostile()) {
        // Empty text leaves an empty paragraph out; that is not the text's doing.
        let harmless = if fold(&x).is_empty() { "" } else { "chart notes" };
        let want = structure(&body(harmless));
        let got = structure(&body(&x));
        prop_assert_eq!(&got, &want, "{:?}", body(&x));
    }

    /// Nothing longer than asked for comes out, and no raw `<`.
    #[test]
    fn bounded_and_without_raw_html(x in hostile(), max in 0usize..50) {
        let out = inline(&x, max);
        prop_assert!(!out.contains('<'));
        // Escapes add characters, the cut does not: count the input side.
        prop_assert!(fold(&x).chars().count() <= max || out.contains('…'));
        prop_assert!(code(&x, max).chars().filter(|c| *c == '\n').count() == 0);
    }
}
