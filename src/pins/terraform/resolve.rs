//! Follows a `version` expression to every string literal it can statically
//! come from: variable defaults, tfvars values, locals, and the arguments of
//! module calls into the module. Anything computed is reported, not guessed.
//! The same walk finds a release's chart, repository and name, and the
//! maps a `for_each` runs over.

mod functions;

use std::fmt;
use std::ops::Range;

use hcl_edit::expr::{Expression, ObjectKey, Traversal, TraversalOperator};
use hcl_edit::template::Element;
use hcl_edit::{Decorated, Span};

use super::index::{At, Index};

/// References followed for one `version` before giving up; generous for
/// real repositories, and it bounds the work on pathological ones (a module
/// called from many places whose inputs are themselves module inputs).
const MAX_STEPS: usize = 1_000;

/// Where one value comes from.
#[derive(Clone)]
pub(super) enum Found<'p> {
    /// A string literal; `span` is its text without the quotes.
    Literal {
        file: usize,
        span: Range<usize>,
        value: String,
        /// Module calls followed to reach it, innermost first: the module
        /// instance the value belongs to.
        calls: Vec<usize>,
    },
    /// An object or list, when [`Want::Collection`] asks for one.
    Collection { at: At<'p>, calls: Vec<usize> },
    /// A source that cannot be read statically, and why.
    Unresolved(String),
}

/// What a walk is looking for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    /// A version: a string literal that can be edited in place.
    Version,
    /// A chart, repository or name: a literal, or a string template
    /// reported as written (`"${path.module}/chart"`).
    Text,
    /// What a `for_each` runs over: an object or a list.
    Collection,
}

/// `each` inside one instance of a `for_each` release.
#[derive(Clone)]
pub(super) struct Each<'p> {
    pub key: String,
    pub value: At<'p>,
    /// The calls through which the collection was reached.
    pub calls: Vec<usize>,
}

/// One step of a path into a value: `[0]`, `.name` or `["name"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Index(u64),
    Key(String),
}

struct Path<'a>(&'a [Step]);

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in self.0 {
            match step {
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::Key(k) => write!(f, ".{k}")?,
            }
        }
        Ok(())
    }
}

/// What a reference names; a (kind, dir, name) seen twice on the way in is
/// a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ref {
    Var(String, String),
    Local(String, String),
}

pub(super) struct Resolver<'i, 'p> {
    index: &'i Index<'p>,
    /// References being followed, outermost first.
    stack: Vec<Ref>,
    /// Hops taken, for the reason of an unresolved source.
    via: Vec<String>,
    /// Module calls followed, innermost first.
    calls: Vec<usize>,
    /// Variables followed so far: a value reached without any may not be
    /// overridden, so a fallback after it never deploys.
    vars_followed: usize,
    steps: usize,
    want: Want,
    each: Option<Each<'p>>,
}

impl<'i, 'p> Resolver<'i, 'p> {
    pub fn new(index: &'i Index<'p>) -> Self {
        Resolver {
            index,
            stack: Vec::new(),
            via: Vec::new(),
            calls: Vec::new(),
            vars_followed: 0,
            steps: 0,
            want: Want::Version,
            each: None,
        }
    }

    /// The instance of a `for_each` release that `each` refers to, if any.
    pub fn set_each(&mut self, each: Option<Each<'p>>) {
        self.each = each;
    }

    /// Every source of the expression `at`.
    pub fn resolve(&mut self, at: At<'p>, want: Want) -> Vec<Found<'p>> {
        self.stack.clear();
        self.via.clear();
        self.calls.clear();
        self.steps = 0;
        self.want = want;
        self.expr(at, &[])
    }

    /// Counts one step of work; false once [`MAX_STEPS`] are spent.
    fn step(&mut self) -> bool {
        self.steps += 1;
        self.steps <= MAX_STEPS
    }

    fn fail(&self, what: impl Into<String>) -> Vec<Found<'p>> {
        let what = what.into();
        let reason = if self.via.is_empty() {
            what
        } else {
            format!("{what} (via {})", self.via.join(" → "))
        };
        vec![Found::Unresolved(reason)]
    }

    fn dir(&self, file: usize) -> String {
        self.index
            .files
            .get(file)
            .map_or_else(String::new, |f| f.dir.to_owned())
    }

    fn expr(&mut self, at: At<'p>, path: &[Step]) -> Vec<Found<'p>> {
        if !self.step() {
            return self.fail(format!("more than {MAX_STEPS} steps to follow"));
        }
        let collection = || Found::Collection {
            at,
            calls: Vec::new(),
        };
        let (kind, noun) = match at.expr {
            Expression::Parenthesis(p) => {
                return self.expr(
                    At {
                        expr: p.inner(),
                        ..at
                    },
                    path,
                )
            }
            Expression::String(s) if path.is_empty() => return self.literal(at.file, s),
            Expression::StringTemplate(t) => match t.as_single_element() {
                // `"${var.x}"` is var.x, as Terraform 0.11 wrote it.
                Some(Element::Interpolation(i)) => {
                    return self.expr(
                        At {
                            expr: &i.expr,
                            ..at
                        },
                        path,
                    )
                }
                _ if self.want == Want::Text && path.is_empty() => {
                    return self.written(at.file, at.expr)
                }
                _ => ("a string template", "a string"),
            },
            Expression::Traversal(t) => return self.traversal(at.file, t, path),
            Expression::Array(items) => match path.split_first() {
                Some((Step::Index(n), rest)) => {
                    let item = usize::try_from(*n).ok().and_then(|n| items.get(n));
                    return match item {
                        Some(expr) => self.expr(At { expr, ..at }, rest),
                        None => self.fail(format!("index [{n}] is past the end of the list")),
                    };
                }
                None if self.want == Want::Collection => return self.found(collection()),
                _ => ("a list", "a list"),
            },
            Expression::Object(object) => match path.split_first() {
                Some((Step::Key(key), rest)) => {
                    let value = object
                        .iter()
                        .find(|(k, _)| key_name(k) == Some(key.as_str()))
                        .map(|(_, v)| v.expr());
                    return match value {
                        Some(expr) => self.expr(At { expr, ..at }, rest),
                        None => self.fail(format!("the object has no key {key}")),
                    };
                }
                None if self.want == Want::Collection => return self.found(collection()),
                _ => ("an object", "an object"),
            },
            Expression::String(_) => ("a string", "a string"),
            Expression::Null(_) => ("null", "null"),
            Expression::Bool(_) => ("a bool, not a string", "a bool"),
            Expression::Number(_) => ("a number, not a string", "a number"),
            Expression::HeredocTemplate(_) => ("a heredoc", "a heredoc"),
            Expression::Variable(v) => {
                return self.fail(format!("version is the bare name {}", v.as_str()))
            }
            Expression::Conditional(_) => ("a conditional expression", "a conditional"),
            Expression::FuncCall(call) => return self.call(at.file, call, path),
            Expression::UnaryOp(_) | Expression::BinaryOp(_) => ("an operation", "an operation"),
            Expression::ForExpr(_) => ("a for expression", "a for expression"),
        };
        if path.is_empty() {
            self.fail(format!("version is {kind}"))
        } else {
            self.fail(format!("cannot look up {} in {noun}", Path(path)))
        }
    }

    fn literal(&self, file: usize, s: &Decorated<String>) -> Vec<Found<'p>> {
        let text = self.index.files.get(file).map_or("", |f| f.text);
        // The span covers the quotes; the version is what lies between them,
        // and only when those bytes are the value itself (no escapes) can
        // they be replaced to change it.
        let inner = s
            .span()
            .filter(|span| span.end >= span.start + 2)
            .map(|span| span.start + 1..span.end - 1)
            .filter(|inner| text.get(inner.clone()) == Some(s.as_str()));
        match inner {
            Some(_) if s.is_empty() => self.fail("version is an empty string"),
            Some(span) => self.found(Found::Literal {
                file,
                span,
                value: s.as_str().to_owned(),
                calls: Vec::new(),
            }),
            None => self.fail("version is written with escape sequences"),
        }
    }

    /// A result found here, marked with the calls followed to get here.
    fn found(&self, mut found: Found<'p>) -> Vec<Found<'p>> {
        match &mut found {
            Found::Literal { calls, .. } | Found::Collection { calls, .. } => {
                calls.clone_from(&self.calls);
            }
            Found::Unresolved(_) => {}
        }
        vec![found]
    }

    /// A string template as written between its quotes.
    fn written(&self, file: usize, expr: &Expression) -> Vec<Found<'p>> {
        let text = self.index.files.get(file).map_or("", |f| f.text);
        let inner = expr
            .span()
            .filter(|span| span.end >= span.start + 2)
            .map(|span| span.start + 1..span.end - 1);
        match inner.and_then(|span| Some((text.get(span.clone())?, span))) {
            Some((value, span)) => self.found(Found::Literal {
                file,
                span,
                value: value.to_owned(),
                calls: Vec::new(),
            }),
            None => self.fail("a string template"),
        }
    }

    fn traversal(&mut self, file: usize, t: &'p Traversal, path: &[Step]) -> Vec<Found<'p>> {
        let Expression::Variable(root) = &t.expr else {
            return self.fail("version is computed from an expression");
        };
        let mut operators = t.operators.iter().map(|op| op.value());
        let Some(TraversalOperator::GetAttr(name)) = operators.next() else {
            return self.fail(format!("version is {}", root.as_str()));
        };
        let mut steps = Vec::new();
        for op in operators {
            steps.push(match op {
                TraversalOperator::GetAttr(key) => Step::Key(key.as_str().to_owned()),
                TraversalOperator::LegacyIndex(n) => Step::Index(*n.value()),
                TraversalOperator::Index(Expression::Number(n)) => match n.as_u64() {
                    Some(n) => Step::Index(n),
                    None => return self.fail("version uses an index that is not a whole number"),
                },
                TraversalOperator::Index(Expression::String(key)) => {
                    Step::Key(key.as_str().to_owned())
                }
                TraversalOperator::Index(_) => {
                    return self.fail("version uses a computed index");
                }
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    return self.fail("version uses a splat expression");
                }
            });
        }
        steps.extend_from_slice(path);
        let dir = self.dir(file);
        match root.as_str() {
            "var" => self.reference(Ref::Var(dir, name.as_str().to_owned()), &steps),
            "local" => self.reference(Ref::Local(dir, name.as_str().to_owned()), &steps),
            "each" if name.as_str() == "value" => match self.each.clone() {
                Some(each) => {
                    // The element lives where the collection was found:
                    // its references resolve in that module instance.
                    let outer = std::mem::replace(&mut self.calls, each.calls);
                    self.via.push(format!("each.value of [\"{}\"]", each.key));
                    let found = self.expr(each.value, &steps);
                    self.via.pop();
                    self.calls = outer;
                    found
                }
                None => self.fail("each.value outside a for_each release"),
            },
            other => self.fail(format!(
                "version is {other}.{}{}, known only when Terraform runs",
                name.as_str(),
                Path(&steps)
            )),
        }
    }

    fn reference(&mut self, r: Ref, path: &[Step]) -> Vec<Found<'p>> {
        let (prefix, dir, name) = match &r {
            Ref::Var(dir, name) => ("var", dir.clone(), name.clone()),
            Ref::Local(dir, name) => ("local", dir.clone(), name.clone()),
        };
        if self.stack.contains(&r) {
            return self.fail(format!("{prefix}.{name} refers back to itself"));
        }
        if !self.step() {
            return self.fail(format!("more than {MAX_STEPS} steps to follow"));
        }
        let shown = if dir.is_empty() { "." } else { dir.as_str() };
        self.stack.push(r);
        self.via
            .push(format!("{prefix}.{name}{} in {shown}", Path(path)));
        let found = if prefix == "var" {
            self.vars_followed += 1;
            self.variable(&dir, &name, path)
        } else {
            self.local(&dir, &name, path)
        };
        self.via.pop();
        self.stack.pop();
        found
    }

    fn local(&mut self, dir: &str, name: &str, path: &[Step]) -> Vec<Found<'p>> {
        let index = self.index;
        let definitions = index.locals(dir, name);
        if definitions.is_empty() {
            return self.fail(format!("local {name} is not defined in its module"));
        }
        definitions
            .iter()
            .flat_map(|&at| self.expr(at, path))
            .collect()
    }

    /// A variable takes its value from its default, from var-files, and from
    /// every module call that passes it; each is a place the version may be
    /// written, so each is followed.
    fn variable(&mut self, dir: &str, name: &str, path: &[Step]) -> Vec<Found<'p>> {
        let index = self.index;
        let declarations = index.variables(dir, name);
        if declarations.is_empty() {
            // Terraform rejects the reference; values for that name in
            // var-files or module calls are not this variable's.
            return self.fail(format!("variable {name} is not declared in its module"));
        }
        let mut found = Vec::new();
        for &(file, block) in declarations {
            match block.body.get_attribute("default") {
                // `default = null` only makes the variable optional.
                Some(attr) if !attr.value.is_null() => {
                    found.extend(self.expr(
                        At {
                            file,
                            expr: &attr.value,
                        },
                        path,
                    ));
                }
                _ => {}
            }
        }
        for at in index.var_values(dir, name) {
            found.extend(self.expr(at, path));
        }
        for &id in index.caller_ids(dir) {
            let Some(call) = index.call(id) else {
                continue;
            };
            if let Some(attr) = call.body.get_attribute(name) {
                let caller = index.files.get(call.file).map_or("", |f| f.path);
                self.via.push(format!(
                    "module \"{}\" at {caller}:{}",
                    call.label, call.line
                ));
                self.calls.push(id);
                found.extend(self.expr(
                    At {
                        file: call.file,
                        expr: &attr.value,
                    },
                    path,
                ));
                self.calls.pop();
                self.via.pop();
            }
        }
        if found.is_empty() {
            self.fail(format!(
                "variable {name} has no default, no tfvars value, and no module call passes it"
            ))
        } else {
            found
        }
    }
}

fn key_name(key: &ObjectKey) -> Option<&str> {
    match key {
        ObjectKey::Ident(ident) => Some(ident.as_str()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.as_str()),
        ObjectKey::Expression(_) => None,
    }
}
