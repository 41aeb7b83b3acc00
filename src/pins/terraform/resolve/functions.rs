//! The few Terraform functions that choose between written values rather
//! than compute new ones, so their arguments are still the places a
//! version is written: `coalesce`, `try`, `lookup`, the `to*` conversions,
//! and `jsondecode(file("${path.module}/….json"))`.

use hcl_edit::expr::{Expression, FuncCall};
use hcl_edit::template::Element;

use super::super::index::At;
use super::super::json;
use super::{Found, Resolver, Step, Want};

impl<'p> Resolver<'_, 'p> {
    pub(super) fn call(
        &mut self,
        file: usize,
        call: &'p FuncCall,
        path: &[Step],
    ) -> Vec<Found<'p>> {
        let name = call.name.name.as_str();
        let args: Vec<&'p Expression> = call.args.iter().collect();
        let at = |expr| At { file, expr };
        match (name, args.as_slice()) {
            // Each argument that resolves may be the value: an earlier one
            // when a caller sets it, a later one (the written fallback)
            // when it stays null. Null and unknown arguments drop out, as
            // long as one argument is known; see `any_of` for where the
            // fallbacks stop.
            ("coalesce" | "try", _) if !args.is_empty() => {
                let each: Vec<_> = args.iter().map(|&a| (at(a), path.to_vec())).collect();
                self.any_of(name, each)
            }
            ("lookup", [map, key, rest @ ..]) if rest.len() <= 1 => {
                let Expression::String(key) = key else {
                    return self.fail("lookup() with a computed key");
                };
                let mut in_map = vec![Step::Key(key.as_str().to_owned())];
                in_map.extend_from_slice(path);
                let mut each = vec![(at(map), in_map)];
                each.extend(rest.iter().map(|&d| (at(d), path.to_vec())));
                self.any_of(name, each)
            }
            // Conversions keep the written values.
            ("toset" | "tolist" | "tomap" | "tostring", [inner]) => self.expr(at(inner), path),
            ("jsondecode", [Expression::FuncCall(inner)]) if inner.name.name.as_str() == "file" => {
                self.json_file(file, inner, path)
            }
            _ => self.fail(format!("version is a call to {name}()")),
        }
    }

    /// The sources of every argument that has one; unresolved only when
    /// none does, with every argument's reason. An argument that is
    /// only written values, reached through no variable, is what Terraform
    /// takes every time: the arguments after it are dead fallbacks
    /// (`lookup(each.value, "version", "1.0.0")` on an element that has
    /// its own version).
    fn any_of(&mut self, name: &str, args: Vec<(At<'p>, Vec<Step>)>) -> Vec<Found<'p>> {
        let mut found = Vec::new();
        let mut reasons = Vec::new();
        for (at, path) in args {
            let vars_before = self.vars_followed;
            let mut known = false;
            let mut certain = true;
            for f in self.expr(at, &path) {
                match f {
                    Found::Unresolved(reason) => {
                        certain = false;
                        reasons.push(reason);
                    }
                    f => {
                        known = true;
                        found.push(f);
                    }
                }
            }
            if known && certain && self.vars_followed == vars_before {
                break;
            }
        }
        if found.is_empty() {
            vec![Found::Unresolved(format!(
                "no argument of {name}() is known: {}",
                reasons.join("; ")
            ))]
        } else {
            found
        }
    }

    /// `jsondecode(file("${path.module}/x.json"))` looked up at `path`.
    fn json_file(&mut self, file: usize, call: &'p FuncCall, path: &[Step]) -> Vec<Found<'p>> {
        let Some(rel) = call.args.iter().next().and_then(module_relative) else {
            return self.fail("jsondecode() of a file not named as ${path.module}/…");
        };
        let dir = self.dir(file);
        let Some(target) = json::module_file(&dir, &rel) else {
            return self.fail(format!("{rel} is outside the scanned repository"));
        };
        let Some(json_file) = self.index.json(&target) else {
            return self.fail(format!("{target} is not in the repository"));
        };
        let mut keys = Vec::with_capacity(path.len());
        for step in path {
            match step {
                Step::Key(k) => keys.push(k.as_str()),
                Step::Index(_) => return self.fail(format!("an index into {target}")),
            }
        }
        if self.want == Want::Collection || keys.is_empty() {
            return self.fail(format!("the whole of {target}"));
        }
        let text = self.index.files.get(json_file).map_or("", |f| f.text);
        match json::string_at(text, &keys) {
            Ok(span) => {
                let value = text.get(span.clone()).unwrap_or_default().to_owned();
                self.found(Found::Literal {
                    file: json_file,
                    span,
                    value,
                    calls: Vec::new(),
                })
            }
            Err(why) => self.fail(format!("{target}: {why}")),
        }
    }
}

/// `rel` of `"${path.module}/rel"`.
fn module_relative(expr: &Expression) -> Option<String> {
    let Expression::StringTemplate(t) = expr else {
        return None;
    };
    let mut elements = t.iter();
    let Some(Element::Interpolation(i)) = elements.next() else {
        return None;
    };
    let Expression::Traversal(tr) = &i.expr else {
        return None;
    };
    let is_path_module = matches!(&tr.expr, Expression::Variable(v) if v.as_str() == "path")
        && tr.operators.len() == 1
        && tr.operators.iter().any(|op| {
            matches!(op.value(), hcl_edit::expr::TraversalOperator::GetAttr(a) if a.as_str() == "module")
        });
    let Some(Element::Literal(rest)) = elements.next() else {
        return None;
    };
    if !is_path_module || elements.next().is_some() {
        return None;
    }
    rest.as_str().strip_prefix('/').map(str::to_owned)
}
