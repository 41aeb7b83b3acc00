//! Everything chartpilot writes for people from untrusted input passes
//! through here: chart index annotations, alert labels and annotations,
//! commit subjects, chat text. Whatever such text holds, the Markdown of a
//! PR body or comment around it keeps its structure (no HTML, no comment or
//! `<details>` opened or closed, no table cell split), nobody is mentioned,
//! no issue is referenced or closed, only http(s) links are linked, and the
//! length is bounded. Slack text gets Slack's own escaping.

/// The zero-width word joiner: after `@` or `#` it keeps GitHub from
/// reading a mention or an issue reference, and people still read the
/// same text.
const JOINER: char = '\u{2060}';

/// URLs longer than this are not links anybody clicks; they are left out.
const MAX_URL_CHARS: usize = 2_000;

/// Untrusted text as one line of Markdown prose, at most `max_chars`
/// characters (then `…`): whitespace folded, HTML escaped (so `<!--`,
/// `</details>`, `<img>` and `<script>` are text), Markdown's inline
/// markers escaped (no emphasis, link, image or code span can open, no
/// table cell can end), mentions and issue references defused.
pub fn inline(s: &str, max_chars: usize) -> String {
    let folded = fold(s);
    let mut out = String::with_capacity(folded.len());
    for c in cut(&folded, max_chars).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' | '#' => {
                out.push(c);
                out.push(JOINER);
            }
            // CommonMark's backslash escapes: each stays a literal (`![`
            // needs its `[` to be an image).
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    // At the start of a line these would open a list, a setext heading or
    // an ordered list; escaped they are text wherever the caller puts it.
    // `-`, `+` and `=` are escaped whatever follows (`---` alone is a
    // thematic break); a number's `.` or `)` only before a space or the
    // end (`5.51.6` is text already).
    let digits = out.chars().take_while(char::is_ascii_digit).count();
    let bytes = out.as_bytes();
    let marker_end = matches!(bytes.get(digits + 1), None | Some(b' '));
    match bytes.get(digits) {
        Some(b'.' | b')') if digits > 0 && marker_end => out.insert(digits, '\\'),
        Some(b'-' | b'+' | b'=') if digits == 0 => out.insert(0, '\\'),
        _ => {}
    }
    out
}

/// A code span nothing in the text can leave: on one line, at most
/// `max_chars` characters, fenced with more backticks than the longest run
/// inside (CommonMark's rule), `|` escaped so a table cell holds it whole
/// (GitHub splits cells before it reads code spans). Mentions, links,
/// headings and HTML inside stay inert.
pub fn code(s: &str, max_chars: usize) -> String {
    let text = cut(&fold(s), max_chars).replace('|', "\\|");
    if text.is_empty() {
        // Two backticks alone are no code span; one space inside is.
        return "` `".to_owned();
    }
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    if longest == 0 {
        return format!("`{text}`");
    }
    let fence = "`".repeat(longest + 1);
    format!("{fence} {text} {fence}")
}

/// What one code span of a body may hold: names, versions, label pairs,
/// commit subjects and reasons all fit; a hostile value is cut.
pub const MAX_SPAN_CHARS: usize = 1_000;

/// [`code`] at [`MAX_SPAN_CHARS`], for everything written in code spans.
pub fn code_span(s: &str) -> String {
    code(s, MAX_SPAN_CHARS)
}

/// A URL that may become a Markdown link: plain http(s), no whitespace or
/// control characters, nothing that could end the link, the table cell or
/// the code around it, and not absurdly long.
pub fn link(url: &str) -> Option<&str> {
    let url = url.trim();
    ((url.starts_with("https://") || url.starts_with("http://"))
        && url.chars().count() <= MAX_URL_CHARS
        && !url.contains(|c: char| c.is_whitespace() || c.is_control())
        && !url.contains(['(', ')', '<', '>', '|', '[', ']', '`', '\\', '"', '\'']))
    .then_some(url)
}

/// Text for a GitHub comment that echoes what people typed or the
/// repository holds, inside a structure chartpilot wrote (a quote, a code
/// span): `@` and `#` are defused so the bot never mentions anyone or
/// references an issue on somebody's behalf.
pub fn no_mentions(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        out.push(c);
        if c == '@' || c == '#' {
            out.push(JOINER);
        }
    }
    out
}

/// Text for Slack: `&`, `<` and `>` escaped as Slack asks, so alert,
/// commit or chart text cannot become `<!channel>`, a user mention or a
/// disguised link.
pub fn slack(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text for an HTML page or attribute: `&`, `<`, `>`, `"` and `'`
/// escaped.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The first `max` of `items`, then `and N more` for the rest: a list
/// for people that a large input cannot make long. The caller joins it.
pub fn first_of(items: impl ExactSizeIterator<Item = String>, max: usize) -> Vec<String> {
    let n = items.len();
    let mut out: Vec<String> = items.take(max).collect();
    if n > max {
        out.push(format!("and {} more", n - max));
    }
    out
}

/// `s` cut to at most `max_chars` characters, with `…` when cut.
pub fn cut(s: &str, max_chars: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]).into(),
        None => s.into(),
    }
}

/// `s` cut to at most `max_bytes` bytes, at a character boundary: for
/// whole bodies measured against a service's byte limit.
pub fn truncate_bytes(s: &mut String, max_bytes: usize) {
    if s.len() <= max_bytes {
        return;
    }
    let mut i = max_bytes;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    s.truncate(i);
}

/// Whitespace (line breaks included) folded to single spaces, so text
/// cannot start a block of its own (a heading, a list, an HTML block, a
/// table row) on a line of its own.
fn fold(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
