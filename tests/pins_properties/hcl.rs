//! Writes HCL in a random but valid layout: blanks and tabs anywhere
//! between tokens, `#`, `//` and `/* */` comments on their own lines and
//! after values, blank lines, any order of a body's items.

use super::input::{Dice, Out, Owner};

pub enum Item {
    Attr(String, Value),
    Block(String, Vec<String>, Vec<Item>),
}

pub enum Value {
    /// A quoted string; a version pin of each of its owners.
    Str(String, Vec<Owner>),
    /// Written as it is: references, numbers, booleans.
    Raw(String),
    Paren(Box<Value>),
    Object(Vec<(String, Value)>),
    List(Vec<Value>),
    /// `[<<-EOT … EOT]`, as `values` of a release is usually written.
    HeredocList(Vec<&'static str>),
    /// A value written between two raw pieces: `coalesce(var.v, ` and `)`.
    Call(String, Box<Value>, String),
}

pub fn attr(key: &str, value: Value) -> Item {
    Item::Attr(key.to_owned(), value)
}

pub fn text(s: &str) -> Value {
    Value::Str(s.to_owned(), Vec::new())
}

pub fn raw(s: &str) -> Value {
    Value::Raw(s.to_owned())
}

pub fn block(ident: &str, labels: &[&str], body: Vec<Item>) -> Item {
    let labels = labels.iter().map(|l| (*l).to_owned()).collect();
    Item::Block(ident.to_owned(), labels, body)
}

/// A body at nesting `depth`, its items in an order read off the tape.
pub fn body(out: &mut Out, d: &mut Dice, depth: usize, items: &[&Item]) {
    let order: Vec<usize> = d.shuffled(&(0..items.len()).collect::<Vec<_>>());
    for i in order {
        above(out, d, depth);
        match items[i] {
            Item::Attr(key, value) => {
                indent(out, d, depth);
                out.push(key);
                equals(out, d);
                write_value(out, d, depth, value);
                trailing(out, d);
                out.nl(d);
            }
            Item::Block(ident, labels, inner) => {
                indent(out, d, depth);
                out.push(ident);
                for label in labels {
                    out.push(&format!(" \"{label}\""));
                }
                out.push(if d.one_in(3) { "{" } else { " {" });
                trailing(out, d);
                out.nl(d);
                let inner: Vec<&Item> = inner.iter().collect();
                body(out, d, depth + 1, &inner);
                indent(out, d, depth);
                out.push("}");
                trailing(out, d);
                out.nl(d);
            }
        }
    }
}

/// Blank lines and a comment line.
fn above(out: &mut Out, d: &mut Dice, depth: usize) {
    for _ in 0..d.below(3).saturating_sub(1) {
        let blank = d.blanks(&[' ', '\t'], 3);
        out.push(&blank);
        out.nl(d);
    }
    if d.one_in(3) {
        indent(out, d, depth);
        let comment = match d.below(3) {
            0 => format!("# {}", d.comment()),
            1 => format!("// {}", d.comment()),
            _ => format!("/* {} */", d.comment().replace("*/", "* /")),
        };
        out.push(&comment);
        out.nl(d);
    }
}

fn equals(out: &mut Out, d: &mut Dice) {
    let (before, after) = (blank(d), blank(d));
    out.push(&format!("{before}={after}"));
}

fn blank(d: &mut Dice) -> &'static str {
    match d.below(6) {
        0 | 1 => " ",
        2 => "",
        3 => "\t",
        4 => "    ",
        _ => " \t ",
    }
}

fn write_value(out: &mut Out, d: &mut Dice, depth: usize, value: &Value) {
    match value {
        Value::Str(s, owners) => {
            if d.one_in(16) {
                out.push("/* inline */ ");
            }
            out.push("\"");
            if owners.is_empty() {
                out.push(s);
            } else {
                out.version(s, owners);
            }
            out.push("\"");
        }
        Value::Raw(s) => out.push(s),
        Value::Call(before, inner, after) => {
            out.push(before);
            write_value(out, d, depth, inner);
            out.push(after);
        }
        Value::Paren(inner) => {
            out.push("(");
            write_value(out, d, depth, inner);
            out.push(")");
        }
        Value::Object(entries) if d.one_in(2) => {
            out.push("{");
            trailing(out, d);
            out.nl(d);
            for (key, value) in entries {
                above(out, d, depth + 1);
                indent(out, d, depth + 1);
                out.push(&if d.one_in(3) {
                    format!("\"{key}\"")
                } else {
                    key.clone()
                });
                equals(out, d);
                write_value(out, d, depth + 1, value);
                if d.one_in(3) {
                    out.push(",");
                }
                trailing(out, d);
                out.nl(d);
            }
            indent(out, d, depth);
            out.push("}");
        }
        Value::Object(entries) => {
            out.push("{ ");
            for (n, (key, value)) in entries.iter().enumerate() {
                if n > 0 {
                    out.push(", ");
                }
                out.push(key);
                out.push(" = ");
                write_value(out, d, depth, value);
            }
            out.push(" }");
        }
        Value::List(items) => {
            let multiline = d.one_in(2);
            out.push("[");
            for item in items {
                if multiline {
                    out.nl(d);
                    indent(out, d, depth + 1);
                }
                write_value(out, d, depth + 1, item);
                out.push(",");
                if !multiline {
                    out.push(" ");
                }
            }
            if multiline {
                out.nl(d);
                indent(out, d, depth);
            }
            out.push("]");
        }
        Value::HeredocList(lines) => {
            let indented = d.one_in(2);
            out.push(if indented { "[<<-EOT" } else { "[<<EOT" });
            out.nl(d);
            for line in lines {
                indent(out, d, depth + 1);
                out.push(line);
                out.nl(d);
            }
            if indented {
                indent(out, d, depth + 1);
            }
            out.push("EOT");
            out.nl(d);
            indent(out, d, depth);
            out.push("]");
        }
    }
}

/// Usually two spaces a level; sometimes any run of blanks.
fn indent(out: &mut Out, d: &mut Dice, depth: usize) {
    let blank = if d.one_in(3) {
        d.blanks(&[' ', '\t'], 7)
    } else {
        "  ".repeat(depth)
    };
    out.push(&blank);
}

/// Nothing, blanks, or a comment after the last token of a line.
fn trailing(out: &mut Out, d: &mut Dice) {
    let blank = d.blanks(&[' ', '\t'], 3);
    out.push(&blank);
    let comment = match d.below(6) {
        0..=2 => return,
        3 => format!(" # {}", d.comment()),
        4 => format!(" //{}", d.comment()),
        _ => format!(" /* {} */", d.comment().replace("*/", "* /")),
    };
    out.push(&comment);
}
