//! Writes a YAML tree in a random but valid layout: indentation per
//! mapping, compact or indented sequences, flow collections, quoting,
//! comments and blank lines wherever YAML allows them.

use super::input::{Dice, Out, Owner};

pub enum Y {
    S(Scalar),
    Map(Vec<(&'static str, Y)>),
    Seq(Vec<Y>),
    /// A `|` block scalar of these lines.
    Block(Vec<&'static str>),
}

pub struct Scalar {
    text: String,
    owner: Option<Owner>,
    /// Whether the text may be written without quotes.
    plain: bool,
}

pub fn s(text: &str) -> Y {
    Y::S(Scalar {
        text: text.to_owned(),
        owner: None,
        plain: true,
    })
}

/// A scalar that YAML only reads as text when quoted (`@stable`, `*`).
pub fn quoted(text: &str) -> Y {
    Y::S(Scalar {
        text: text.to_owned(),
        owner: None,
        plain: false,
    })
}

/// A version token of `owner`.
pub fn pin(version: String, owner: &Owner) -> Y {
    Y::S(Scalar {
        text: version,
        owner: Some(owner.clone()),
        plain: true,
    })
}

/// Documents of one file, each a top-level mapping.
pub fn file(out: &mut Out, d: &mut Dice, documents: &[Vec<(&'static str, Y)>]) {
    if d.one_in(16) {
        out.push("\u{feff}");
    }
    let directive = d.one_in(16);
    if directive {
        out.push("%YAML 1.2");
        out.nl(d);
    }
    for (i, doc) in documents.iter().enumerate() {
        if i > 0 || directive || d.one_in(2) {
            out.push("---");
            trailing(out, d);
            out.nl(d);
        }
        map(out, d, 0, doc, false);
        if d.one_in(8) {
            out.push("...");
            out.nl(d);
        }
    }
}

/// A block mapping at column `col`; with `inline_first` its first key
/// continues the current line (after `- `).
fn map(out: &mut Out, d: &mut Dice, col: usize, entries: &[(&'static str, Y)], inline_first: bool) {
    let order = d.shuffled(&(0..entries.len()).collect::<Vec<_>>());
    for (n, i) in order.into_iter().enumerate() {
        if !(inline_first && n == 0) {
            above(out, d, col);
            out.push(&" ".repeat(col));
        }
        let (key, value) = &entries[i];
        match d.below(16) {
            0 => out.push(&format!("\"{key}\"")),
            1 => out.push(&format!("'{key}'")),
            _ => out.push(key),
        }
        out.push(if d.one_in(12) { " :" } else { ":" });
        after_key(out, d, col, value);
    }
}

/// Blank lines and a comment line before a line at `col`.
fn above(out: &mut Out, d: &mut Dice, col: usize) {
    for _ in 0..d.below(4).saturating_sub(2) {
        out.push(&" ".repeat(d.below(col + 3)));
        out.nl(d);
    }
    if d.one_in(3) {
        let comment = format!("{}#{}", " ".repeat(d.below(col + 1)), d.comment());
        out.push(&comment);
        out.nl(d);
    }
}

fn after_key(out: &mut Out, d: &mut Dice, col: usize, value: &Y) {
    match value {
        Y::S(scalar) => {
            if d.one_in(12) {
                // The value on the next line, deeper than its key.
                trailing(out, d);
                out.nl(d);
                out.push(&" ".repeat(col + step(d)));
            } else {
                out.push(&" ".repeat(1 + d.below(3)));
            }
            write_scalar(out, d, scalar);
            trailing(out, d);
            out.nl(d);
        }
        Y::Map(entries) if all_scalars_map(entries) && d.one_in(4) => {
            out.push(" ");
            flow_map(out, d, entries);
            trailing(out, d);
            out.nl(d);
        }
        Y::Map(entries) => {
            trailing(out, d);
            out.nl(d);
            let col = col + step(d);
            map(out, d, col, entries, false);
        }
        Y::Seq(items) if items.iter().all(|i| matches!(i, Y::S(_))) && d.one_in(3) => {
            out.push(" [");
            let gap = gap(d);
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(&format!(",{gap}"));
                }
                if let Y::S(scalar) = item {
                    write_scalar(out, d, scalar);
                }
            }
            out.push("]");
            trailing(out, d);
            out.nl(d);
        }
        Y::Seq(items) => {
            trailing(out, d);
            out.nl(d);
            // Under a mapping key the dashes may sit at the key's column.
            let dash = col + [2, 0, 1, 4][d.below(4)];
            for item in items {
                sequence_item(out, d, dash, item);
            }
        }
        Y::Block(lines) => {
            out.push(if d.one_in(2) { " |-" } else { " |" });
            trailing(out, d);
            out.nl(d);
            let content = col + step(d);
            for line in lines {
                out.push(&format!("{}{line}", " ".repeat(content)));
                out.nl(d);
            }
        }
    }
}

fn sequence_item(out: &mut Out, d: &mut Dice, dash: usize, item: &Y) {
    above(out, d, dash);
    out.push(&format!("{}-", " ".repeat(dash)));
    match item {
        Y::Map(entries) if d.one_in(8) => {
            // `-` alone, the mapping on the lines below.
            trailing(out, d);
            out.nl(d);
            let col = dash + step(d);
            map(out, d, col, entries, false);
        }
        Y::Map(entries) => {
            let spaces = 1 + d.below(3);
            out.push(&" ".repeat(spaces));
            map(out, d, dash + 1 + spaces, entries, true);
        }
        Y::S(scalar) => {
            out.push(" ");
            write_scalar(out, d, scalar);
            trailing(out, d);
            out.nl(d);
        }
        Y::Seq(_) | Y::Block(_) => unreachable!("not generated"),
    }
}

fn all_scalars_map(entries: &[(&'static str, Y)]) -> bool {
    entries.iter().all(|(_, v)| matches!(v, Y::S(_)))
}

/// `{key: value, …}` on one line.
fn flow_map(out: &mut Out, d: &mut Dice, entries: &[(&'static str, Y)]) {
    let gap = gap(d);
    out.push(&format!("{{{gap}"));
    let order = d.shuffled(&(0..entries.len()).collect::<Vec<_>>());
    for (n, i) in order.into_iter().enumerate() {
        if n > 0 {
            out.push(&format!(",{gap}"));
        }
        let (key, value) = &entries[i];
        out.push(&format!("{key}: "));
        if let Y::S(scalar) = value {
            write_scalar(out, d, scalar);
        }
    }
    out.push(&format!("{gap}}}"));
}

fn write_scalar(out: &mut Out, d: &mut Dice, scalar: &Scalar) {
    // An anchor or a tag stands before the value and is no part of it.
    match d.below(24) {
        1 => out.push("!!str "),
        2 => out.push(&format!("&a{} ", out.len())),
        3 => out.push(&format!("&b{} !!str ", out.len())),
        _ => {}
    }
    let quote = match (d.below(3), scalar.plain) {
        (0, true) => "",
        (1, _) => "'",
        _ => "\"",
    };
    out.push(quote);
    match &scalar.owner {
        Some(owner) => out.version(&scalar.text, std::slice::from_ref(owner)),
        None => out.push(&scalar.text),
    }
    out.push(quote);
}

/// How much deeper a nested block goes: usually 2.
fn step(d: &mut Dice) -> usize {
    [2, 1, 3, 4][d.below(4)]
}

fn gap(d: &mut Dice) -> &'static str {
    ["", " ", "  "][d.below(3)]
}

/// Nothing, blanks, or a `# comment` after the last token of a line.
fn trailing(out: &mut Out, d: &mut Dice) {
    let blanks = d.blanks(&[' ', '\t'], 3);
    out.push(&blanks);
    if d.one_in(3) {
        let comment = format!(" #{}", d.comment());
        out.push(&comment);
    }
}
