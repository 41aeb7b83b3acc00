//! The pins of one `helm_release` block: one per place its version is
//! written, per instance when it has a `for_each`, each with the chart,
//! repository, Helm release name and Terraform address of that instance.

use std::collections::HashSet;

use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::structure::Block;
use hcl_edit::template::Element;
use hcl_edit::Span;

use super::index::{At, Index, Parsed};
use super::resolve::{Each, Found, Resolver, Want};
use super::{Pin, PinKind, Pins};

/// Instances of one `for_each` release read before giving up: far above
/// any hand-written map, and each instance costs a full resolution.
const MAX_INSTANCES: usize = 256;

/// Module calls followed outwards when naming a release's module: deeper
/// nesting is a mistake (or a cycle the walk has not seen yet).
const MAX_MODULE_DEPTH: usize = 32;

/// A value and the module calls through which it was found.
type Text = (String, Vec<usize>);

pub(super) struct Release<'r, 'p> {
    pub index: &'r Index<'p>,
    pub file: usize,
    pub label: &'p str,
    pub block: &'p Block,
}

impl<'p> Release<'_, 'p> {
    fn here(&self) -> Option<&'p Parsed<'p>> {
        self.index.files.get(self.file)
    }

    fn at(&self, key: &str) -> Option<At<'p>> {
        let attr = self.block.body.get_attribute(key)?;
        Some(At {
            file: self.file,
            expr: &attr.value,
        })
    }

    fn line(&self, offset: Option<usize>) -> usize {
        self.here()
            .map_or(1, |here| here.line_of(offset.unwrap_or(0)))
    }

    pub fn pins(&self, resolver: &mut Resolver<'_, 'p>, pins: &mut Pins) {
        let Some(for_each) = self.at("for_each") else {
            resolver.set_each(None);
            self.instance(resolver, None, pins);
            return;
        };
        let mut instances = Vec::new();
        for found in resolver.resolve(for_each, Want::Collection) {
            let reason = match found {
                Found::Collection { at, calls } => match elements(at, calls, &mut instances) {
                    Ok(()) => continue,
                    Err(reason) => reason,
                },
                Found::Unresolved(reason) => reason,
                Found::Literal { .. } => "a string".to_owned(),
            };
            let mut pin = self.pin(None, &[], None);
            pin.reason = Some(format!("for_each is not a written map or set: {reason}"));
            pins.push_new(pin);
        }
        for each in instances {
            resolver.set_each(Some(each.clone()));
            self.instance(resolver, Some(&each), pins);
        }
        resolver.set_each(None);
    }

    /// A pin of this release without a version, at the block's line.
    fn pin(&self, each: Option<&Each<'p>>, calls: &[usize], version: Option<&Text>) -> Pin {
        let key = each.map(|e| e.key.as_str());
        Pin {
            file: self.here().map_or_else(String::new, |f| f.path.to_owned()),
            line: self.line(self.block.span().map(|s| s.start)),
            kind: PinKind::Terraform,
            name: self.label.to_owned(),
            env: None,
            repository: None,
            chart: None,
            version: version.map(|(v, _)| v.clone()),
            span: None,
            reason: None,
            constraint: None,
            local_chart: false,
            address: Some(address(self.index, self.file, self.label, key, calls)),
        }
    }

    fn instance(&self, resolver: &mut Resolver<'_, 'p>, each: Option<&Each<'p>>, pins: &mut Pins) {
        let base: &[usize] = each.map_or(&[], |e| e.calls.as_slice());
        let chart = self.texts(resolver, "chart");
        let repository = self.texts(resolver, "repository");
        let name = self.name(resolver, each);
        let complete = |mut pin: Pin, calls: &[usize]| {
            pin.chart = pick(&chart, calls);
            pin.repository = pick(&repository, calls);
            pin.name = pick(&name, calls).unwrap_or_else(|| self.label.to_owned());
            pin.address = Some(address(
                self.index,
                self.file,
                self.label,
                pin_key(each),
                calls,
            ));
            pin
        };
        let (found, line) = match self.at("version") {
            Some(at) => {
                let line = self.line(at.expr.span().map(|s| s.start));
                (resolver.resolve(at, Want::Version), line)
            }
            None => match self.versions_in_chart(resolver) {
                found if !found.is_empty() => (found, 0),
                _ => {
                    let mut pin = complete(self.pin(each, base, None), base);
                    let text = self.here().map_or("", |f| f.text);
                    pin.reason = Some(super::missing_version(text, self.block));
                    // A chart from a path is audited where the path is
                    // written; a release with no version at all, at its
                    // block.
                    if crate::pins::range::is_local_chart(pin.chart.as_deref(), None) {
                        if let Some(chart) = self.at("chart") {
                            pin.line = self.line(chart.expr.span().map(|s| s.start));
                        }
                    }
                    pins.push_new(pin);
                    return;
                }
            },
        };
        for found in found {
            let pin = match found {
                Found::Literal {
                    file,
                    span,
                    value,
                    calls,
                } => {
                    let Some(source) = self.index.files.get(file) else {
                        continue;
                    };
                    let mut pin = complete(self.pin(each, &calls, None), &calls);
                    pin.file = source.path.to_owned();
                    pin.line = source.line_of(span.start);
                    pin.version = Some(value);
                    pin.span = Some(span);
                    pin
                }
                Found::Collection { .. } | Found::Unresolved(_) => {
                    let reason = match found {
                        Found::Unresolved(reason) => reason,
                        _ => "version is an object or a list".to_owned(),
                    };
                    let mut pin = complete(self.pin(each, base, None), base);
                    pin.line = line;
                    pin.reason = Some(reason);
                    pin
                }
            };
            pins.push_new(pin);
        }
    }

    /// Every literal a chart, repository or name attribute can be.
    fn texts(&self, resolver: &mut Resolver<'_, 'p>, key: &str) -> Vec<Text> {
        let Some(at) = self.at(key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for found in resolver.resolve(at, Want::Text) {
            if let Found::Literal { value, calls, .. } = found {
                out.push((value, calls));
            }
        }
        out
    }

    /// The Helm release name: `each.key`, or what the `name` attribute
    /// reads as long as it is a value or a reference. A function of
    /// several candidates (`coalesce(var.name, module.label.id)`) is left
    /// alone: the known candidate may well not be the one used.
    fn name(&self, resolver: &mut Resolver<'_, 'p>, each: Option<&Each<'p>>) -> Vec<Text> {
        match self.at("name").map(|at| at.expr) {
            None | Some(Expression::FuncCall(_)) => Vec::new(),
            Some(Expression::Traversal(t)) if is_each_key(t) => each
                .map(|e| vec![(e.key.clone(), e.calls.clone())])
                .unwrap_or_default(),
            Some(_) => self.texts(resolver, "name"),
        }
    }

    /// A release without `version` whose chart is a URL with the version
    /// inside (`https://host/${var.version}/chart.tgz`): the version-shaped
    /// values its interpolations resolve to.
    fn versions_in_chart(&self, resolver: &mut Resolver<'_, 'p>) -> Vec<Found<'p>> {
        let Some(At {
            expr: Expression::StringTemplate(template),
            ..
        }) = self.at("chart")
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for element in template.iter() {
            if let Element::Interpolation(i) = element {
                let at = At {
                    file: self.file,
                    expr: &i.expr,
                };
                out.extend(resolver.resolve(at, Want::Version).into_iter().filter(
                    |f| matches!(f, Found::Literal { value, .. } if looks_like_version(value)),
                ));
            }
        }
        out
    }
}

fn pin_key<'e>(each: Option<&'e Each<'_>>) -> Option<&'e str> {
    each.map(|e| e.key.as_str())
}

fn is_each_key(t: &hcl_edit::expr::Traversal) -> bool {
    let root = matches!(&t.expr, Expression::Variable(v) if v.as_str() == "each");
    let mut ops = t.operators.iter().map(|op| op.value());
    root && matches!(ops.next(), Some(TraversalOperator::GetAttr(k)) if k.as_str() == "key")
        && ops.next().is_none()
}

/// `1.2.3`, `v2.9.7`, `0.1`: a release channel or a file name is not.
fn looks_like_version(s: &str) -> bool {
    let s = s.strip_prefix('v').unwrap_or(s);
    s.starts_with(|c: char| c.is_ascii_digit())
        && s.contains('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
}

/// The value found through the same module calls as the version, or one
/// found closer to the release (a shorter chain that the version's
/// extends); else the first. Chains are innermost first, so one instance's
/// chains share a prefix.
fn pick(texts: &[Text], calls: &[usize]) -> Option<String> {
    let same = |c: &Vec<usize>| calls.starts_with(c) || c.starts_with(calls);
    texts
        .iter()
        .find(|(_, c)| same(c))
        .or_else(|| texts.first())
        .map(|(v, _)| v.clone())
}

/// The instances of a `for_each` collection: an object's keys, or a set of
/// strings, each string its own key. All or nothing: a partial list of
/// instances would read as the complete one.
fn elements<'p>(at: At<'p>, calls: Vec<usize>, out: &mut Vec<Each<'p>>) -> Result<(), String> {
    let each = |key: String, expr| Each {
        key,
        value: At {
            file: at.file,
            expr,
        },
        calls: calls.clone(),
    };
    let mut found = Vec::new();
    match at.expr {
        Expression::Object(object) => {
            for (key, value) in object.iter() {
                let key = match key {
                    ObjectKey::Ident(ident) => ident.as_str().to_owned(),
                    ObjectKey::Expression(Expression::String(s)) => s.as_str().to_owned(),
                    ObjectKey::Expression(_) => return Err("a computed key".to_owned()),
                };
                found.push(each(key, value.expr()));
            }
        }
        Expression::Array(items) => {
            for item in items.iter() {
                let Expression::String(s) = item else {
                    return Err("a list of computed values".to_owned());
                };
                found.push(each(s.as_str().to_owned(), item));
            }
        }
        _ => return Err("not a map or a set".to_owned()),
    }
    if out.len() + found.len() > MAX_INSTANCES {
        return Err(format!("more than {MAX_INSTANCES} elements"));
    }
    out.extend(found);
    Ok(())
}

/// Terraform's address of the release instance reached through `calls`
/// (innermost first): `module.a.module.b.helm_release.x["key"]`. Past the
/// calls the resolution followed, the module's first caller, and its first
/// caller, up to a root: a value written in the module itself deploys in
/// every instance of it, and one pin per literal names the first.
fn address(
    index: &Index<'_>,
    file: usize,
    label: &str,
    key: Option<&str>,
    calls: &[usize],
) -> String {
    let dir_of = |file: usize| index.files.get(file).map_or("", |f| f.dir);
    let mut modules: Vec<&str> = Vec::new();
    let mut dir = dir_of(file);
    let mut seen: HashSet<&str> = HashSet::from([dir]);
    for call in calls.iter().filter_map(|&id| index.call(id)) {
        modules.push(call.label);
        dir = dir_of(call.file);
        seen.insert(dir);
    }
    while modules.len() < MAX_MODULE_DEPTH {
        let Some(call) = index.caller_ids(dir).first().and_then(|&id| index.call(id)) else {
            break;
        };
        let next = dir_of(call.file);
        if !seen.insert(next) {
            break;
        }
        modules.push(call.label);
        dir = next;
    }
    let mut out: String = modules
        .iter()
        .rev()
        .map(|m| format!("module.{m}."))
        .collect();
    out.push_str("helm_release.");
    out.push_str(label);
    if let Some(key) = key {
        out.push_str(&format!("[\"{key}\"]"));
    }
    out
}
