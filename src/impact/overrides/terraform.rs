//! Overrides of a Terraform `helm_release`: each `values` item
//! (`file(…)`, `templatefile(…)` read as the file, `yamlencode({…})` /
//! `jsonencode({…})` literals, heredocs and strings of YAML), then `set`
//! and `set_sensitive` blocks, or their list form of provider v3
//! (`set = [{ name = …, value = … }]`), as the provider applies them.

use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Block, Body};
use hcl_edit::Span;
use serde_json::{Map, Value};

use super::{dir_of, join, parameter, set_value, yaml_overrides, Origin, Override, Repo};
use crate::impact::keypath::{KeyPath, Segment};
use crate::impact::values::LineLeaf;
use crate::pins::{LineIndex, Pin};

pub(super) fn collect(repo: &Repo<'_>, pin: &Pin) -> Vec<Override> {
    let label = label_of(pin);
    let mut found: Vec<(&str, &str, Body)> = Vec::new();
    let needle = format!("\"{label}\"");
    for f in repo
        .files
        .iter()
        .filter(|f| f.path.ends_with(".tf") || f.path.ends_with(".tofu"))
    {
        if !f.text.contains("helm_release") || !f.text.contains(&needle) {
            continue;
        }
        if let Ok(body) = crate::pins::terraform::parse_body(&f.text) {
            found.push((f.path.as_str(), f.text.as_str(), body));
        }
    }
    let mut blocks: Vec<(&str, &str, &Block)> = found
        .iter()
        .flat_map(|(path, text, body)| {
            body.get_blocks("resource")
                .filter(|b| {
                    matches!(b.labels.as_slice(), [kind, l]
                        if kind.as_str() == "helm_release" && l.as_str() == label)
                })
                .map(move |b| (*path, *text, b))
        })
        .collect();
    let several = blocks.len() > 1;
    if several {
        blocks = closest(blocks, pin);
    }
    let [(path, text, block)] = blocks.as_slice() else {
        return vec![Override::unresolved(
            &pin.file,
            pin.line,
            Origin::Values,
            format!(
                "helm_release `{label}`: {} blocks of that name; overrides not read",
                if several { "several" } else { "no" }
            ),
        )];
    };
    Release {
        repo,
        file: path,
        text,
        lines: LineIndex::new(text),
    }
    .overrides(block)
}

/// Among releases of one label, the pin's: the one in the pin's own file,
/// else the one in the folder nearest the pin's file (a var-file beside or
/// below its module), else the one whose literal chart is the pin's.
fn closest<'b>(
    blocks: Vec<(&'b str, &'b str, &'b Block)>,
    pin: &Pin,
) -> Vec<(&'b str, &'b str, &'b Block)> {
    let here: Vec<_> = blocks
        .iter()
        .copied()
        .filter(|(p, ..)| *p == pin.file)
        .collect();
    if here.len() == 1 {
        return here;
    }
    let shared = |path: &str| {
        dir_of(path)
            .split('/')
            .zip(dir_of(&pin.file).split('/'))
            .take_while(|(a, b)| a == b)
            .count()
    };
    let best = blocks.iter().map(|(p, ..)| shared(p)).max().unwrap_or(0);
    let near: Vec<_> = blocks
        .iter()
        .copied()
        .filter(|(p, ..)| shared(p) == best)
        .collect();
    if near.len() == 1 {
        return near;
    }
    let chart = pin.chart_name();
    near.into_iter()
        .filter(
            |(.., b)| match b.body.get_attribute("chart").map(|a| &a.value) {
                Some(Expression::String(s)) => s.rsplit('/').next() == chart,
                _ => false,
            },
        )
        .collect()
}

/// The resource label of the pin's release: `helm_release.NAME` in its
/// address, without a `for_each` key.
fn label_of(pin: &Pin) -> String {
    pin.address
        .as_deref()
        .and_then(|a| a.rsplit_once("helm_release.").map(|(_, l)| l))
        .map(|l| l.split('[').next().unwrap_or(l).to_owned())
        .unwrap_or_else(|| pin.name.clone())
}

struct Release<'r, 'a> {
    repo: &'r Repo<'a>,
    file: &'r str,
    text: &'r str,
    lines: LineIndex,
}

impl Release<'_, '_> {
    fn line(&self, expr: &Expression) -> usize {
        self.lines.line_of(expr.span().map_or(0, |s| s.start))
    }

    fn written(&self, expr: &Expression) -> &str {
        expr.span()
            .and_then(|s| self.text.get(s))
            .unwrap_or("an expression")
    }

    fn unresolved(&self, expr: &Expression, origin: Origin, why: String) -> Override {
        Override::unresolved(self.file, self.line(expr), origin, why)
    }

    fn overrides(&self, block: &Block) -> Vec<Override> {
        let mut out = Vec::new();
        if let Some(values) = block.body.get_attribute("values") {
            match &values.value {
                Expression::Array(items) => {
                    for item in items.iter() {
                        out.extend(self.values_item(item));
                    }
                }
                other => out.push(self.unresolved(
                    other,
                    Origin::Values,
                    format!(
                        "values = {} is known only when Terraform runs",
                        self.written(other)
                    ),
                )),
            }
        }
        for (kind, origin) in [
            ("set", Origin::Parameter),
            ("set_sensitive", Origin::Sensitive),
        ] {
            for set in block.body.get_blocks(kind) {
                let attr = |k: &str| set.body.get_attribute(k).map(|a| &a.value);
                out.extend(self.set(attr("name"), attr("value"), attr("type"), origin));
            }
            if let Some(list) = block.body.get_attribute(kind) {
                match &list.value {
                    Expression::Array(items) => {
                        for item in items.iter() {
                            let Expression::Object(object) = item else {
                                out.push(self.unresolved(
                                    item,
                                    origin,
                                    format!(
                                        "{kind} item {} is not written out",
                                        self.written(item)
                                    ),
                                ));
                                continue;
                            };
                            let attr = |k: &str| {
                                object
                                    .iter()
                                    .find(|(key, _)| object_key(key).as_deref() == Some(k))
                                    .map(|(_, v)| v.expr())
                            };
                            out.extend(self.set(attr("name"), attr("value"), attr("type"), origin));
                        }
                    }
                    other => out.push(self.unresolved(
                        other,
                        origin,
                        format!(
                            "{kind} = {} is known only when Terraform runs",
                            self.written(other)
                        ),
                    )),
                }
            }
        }
        out
    }

    fn set(
        &self,
        name: Option<&Expression>,
        value: Option<&Expression>,
        kind: Option<&Expression>,
        origin: Origin,
    ) -> Option<Override> {
        let name_expr = name?;
        let Expression::String(name) = name_expr else {
            return Some(self.unresolved(
                name_expr,
                origin,
                format!(
                    "set name {} is known only when Terraform runs",
                    self.written(name_expr)
                ),
            ));
        };
        let force = matches!(kind, Some(Expression::String(t)) if t.as_str() == "string");
        let value = match (origin, value) {
            (Origin::Sensitive, _) => None,
            (_, Some(Expression::String(s))) => Some(set_value(s, force)),
            (_, Some(Expression::Number(n))) => Some(set_value(&n.to_string(), force)),
            (_, Some(Expression::Bool(b))) => Some(set_value(&b.to_string(), force)),
            _ => None,
        };
        Some(parameter(
            name,
            value,
            self.file,
            self.line(name_expr),
            origin,
        ))
    }

    fn values_item(&self, item: &Expression) -> Vec<Override> {
        let line = self.line(item);
        match item {
            Expression::String(s) => yaml_overrides(s, self.file, 0, Some(line), Origin::Values),
            Expression::HeredocTemplate(_) => {
                // The heredoc's own lines, between its opening and closing
                // lines; interpolated values are left unknown.
                let raw = self.written(item);
                let body = raw
                    .split_once('\n')
                    .map(|(_, rest)| rest.rsplit_once('\n').map_or(rest, |(b, _)| b))
                    .unwrap_or("");
                yaml_overrides(body, self.file, line, None, Origin::Values)
            }
            Expression::FuncCall(call) => {
                let name = call.name.name.as_str();
                let first = call.args.get(0);
                match (name, first) {
                    ("file" | "templatefile", Some(arg)) => self.file_call(arg),
                    ("yamlencode" | "jsonencode", Some(Expression::Object(_))) => {
                        let mut leaves = Vec::new();
                        if let Some(arg) = first {
                            self.object_leaves(arg, KeyPath::default(), &mut leaves);
                        }
                        leaves
                    }
                    _ => vec![self.unresolved(
                        item,
                        Origin::Values,
                        format!("values item {} is not read", self.written(item)),
                    )],
                }
            }
            other => vec![self.unresolved(
                other,
                Origin::Values,
                format!(
                    "values item {} is known only when Terraform runs",
                    self.written(other)
                ),
            )],
        }
    }

    /// `file("…")`: `${path.module}` is the release's folder; a path
    /// without it is relative to where Terraform runs, taken to be the
    /// release's folder too (the root module's own files).
    fn file_call(&self, arg: &Expression) -> Vec<Override> {
        let written = self.written(arg).trim_matches('"');
        let module = dir_of(self.file);
        let path = written
            .replace("${path.module}", "")
            .replace("${path.root}", "")
            .replace("${path.cwd}", "");
        if path.contains("${") {
            return vec![self.unresolved(
                arg,
                Origin::ValuesFile,
                format!("values file {written} is known only when Terraform runs"),
            )];
        }
        let from_root = written.starts_with("${path.root}") || written.starts_with("${path.cwd}");
        let base = if from_root { "" } else { module };
        let Some(rel) = join(base, path.trim_start_matches('/')) else {
            return vec![self.unresolved(
                arg,
                Origin::ValuesFile,
                format!("values file {written} leaves the repository"),
            )];
        };
        match self.repo.read(&rel) {
            Ok(text) => yaml_overrides(&text, &rel, 0, None, Origin::ValuesFile),
            Err(e) => vec![self.unresolved(arg, Origin::ValuesFile, format!("values file {e}"))],
        }
    }

    /// The leaves of a `yamlencode({…})` literal: written values are
    /// known, expressions (`var.x`, `local.y`) are not.
    fn object_leaves(&self, expr: &Expression, at: KeyPath, out: &mut Vec<Override>) {
        match expr {
            Expression::Object(object) if !object.is_empty() => {
                for (key, value) in object.iter() {
                    match object_key(key) {
                        Some(k) => {
                            self.object_leaves(value.expr(), at.child(Segment::Key(k)), out);
                        }
                        None => out.push(self.unresolved(
                            value.expr(),
                            Origin::ValuesObject,
                            "a key known only when Terraform runs".into(),
                        )),
                    }
                }
            }
            other => {
                if at.is_empty() {
                    return;
                }
                let leaf = LineLeaf {
                    path: at,
                    value: literal(other).unwrap_or(Value::Null),
                    line: self.line(other),
                };
                let mut o = Override::known(leaf, self.file, Origin::ValuesObject);
                if literal(other).is_none() {
                    o.value = None;
                }
                out.push(o);
            }
        }
    }
}

fn object_key(key: &ObjectKey) -> Option<String> {
    match key {
        ObjectKey::Ident(i) => Some(i.as_str().to_owned()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// The value of an expression made of literals only.
fn literal(expr: &Expression) -> Option<Value> {
    Some(match expr {
        Expression::Null(_) => Value::Null,
        Expression::Bool(b) => Value::Bool(**b),
        Expression::Number(n) => n.as_i64().map(Value::from).or_else(|| {
            n.as_f64()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
        })?,
        Expression::String(s) => Value::String(s.as_str().to_owned()),
        Expression::Array(items) => Value::Array(items.iter().map(literal).collect::<Option<_>>()?),
        Expression::Object(object) => {
            let mut map = Map::new();
            for (k, v) in object.iter() {
                map.insert(object_key(k)?, literal(v.expr())?);
            }
            Value::Object(map)
        }
        _ => return None,
    })
}
