//! What an ApplicationSet's generators feed its template: the literal
//! parameters written in the file and the environment each set targets.
//!
//! Generators that read the cluster or a repository (cluster labels, git
//! files, SCM providers) are only known at run time; they contribute no
//! parameters, so templates naming them stay unresolved instead of being
//! guessed.

use std::collections::BTreeMap;

use crate::pins::yaml::{Node, Scalar};

/// Nested `matrix` products multiply; past this many combinations the
/// rest are dropped rather than letting one file eat memory.
const MAX_VARIANTS: usize = 256;

/// `merge` and `matrix` may nest; Argo CD itself allows two levels.
const MAX_GENERATOR_DEPTH: usize = 4;

/// How deep list elements and `values:` maps are read for parameters.
const MAX_PARAM_DEPTH: usize = 8;

/// Generators, list elements, parameters and combined sets read for one
/// ApplicationSet. Aliases let a few bytes name a whole subtree again
/// (`generators: [*g, *g, *g]`, a map of maps of `*prev`), so the limits
/// above still let a file of a few kilobytes cost minutes or hours; real
/// ApplicationSets spend a few hundred.
const MAX_WORK: usize = 100_000;

/// Label and parameter names that name an environment.
const ENV_KEYS: [&str; 2] = ["environment", "env"];

/// One parameter set a generator may produce.
#[derive(Debug, Clone, Default)]
pub(super) struct Variant<'a> {
    /// `values.addonChartVersion`, `chart`, ... → the scalar that sets it.
    pub params: BTreeMap<String, &'a Scalar>,
    pub env: Option<String>,
}

impl<'a> Variant<'a> {
    /// `self` with `later`'s parameters on top, as `merge` and `matrix`
    /// combine them.
    fn overlaid(&self, later: &Variant<'a>) -> Variant<'a> {
        let mut params = self.params.clone();
        params.extend(later.params.iter().map(|(k, v)| (k.clone(), *v)));
        Variant {
            params,
            env: later.env.clone().or_else(|| self.env.clone()),
        }
    }

    fn env_from_params(mut self, prefix: &str) -> Self {
        if self.env.is_none() {
            self.env = ENV_KEYS
                .iter()
                .filter_map(|k| self.params.get(&format!("{prefix}{k}")))
                .map(|s| s.value.clone())
                .find(|v| !v.contains("{{"));
        }
        self
    }
}

/// What is left of [`MAX_WORK`].
struct Budget(usize);

impl Budget {
    fn is_spent(&self) -> bool {
        self.0 == 0
    }

    /// Spends `units`; false once they are not there.
    fn spend(&mut self, units: usize) -> bool {
        match self.0.checked_sub(units) {
            Some(left) => {
                self.0 = left;
                true
            }
            None => {
                self.0 = 0;
                false
            }
        }
    }
}

/// The parameter sets of `spec.generators`; at least one (empty) so a
/// template's literals are still read when nothing is generated here.
/// Past [`MAX_WORK`] the sets not yet read are dropped, like those past
/// [`MAX_VARIANTS`].
pub(super) fn variants(generators: Option<&Node>) -> Vec<Variant<'_>> {
    let mut budget = Budget(MAX_WORK);
    let mut all: Vec<Variant<'_>> = Vec::new();
    for g in generators.map(Node::items).unwrap_or_default() {
        if all.len() >= MAX_VARIANTS {
            break;
        }
        all.extend(generator(g, 0, &mut budget));
    }
    all.truncate(MAX_VARIANTS);
    // A set whose generators all say they generate nothing (`elements:
    // []`) makes no Application, so none of its literals deploys.
    let gens = generators.map(Node::items).unwrap_or_default();
    let declared_empty = !gens.is_empty() && gens.iter().all(generates_nothing);
    if all.is_empty() && !declared_empty {
        all.push(Variant::default());
    }
    all
}

/// Whether a generator is written to produce no parameter set at all: a
/// list with an empty `elements`, a matrix with such a child, or a merge
/// whose base is one. Unreadable generators are not: they may produce
/// Applications this file cannot see.
fn generates_nothing(node: &Node) -> bool {
    generates_nothing_at(node, 0)
}

fn generates_nothing_at(node: &Node, depth: usize) -> bool {
    if depth > MAX_GENERATOR_DEPTH {
        return false;
    }
    let nested = |key: &str| {
        node.get(key)
            .and_then(|n| n.get("generators"))
            .map(Node::items)
            .unwrap_or_default()
    };
    if let Some(list) = node.get("list") {
        list.get("elements").is_some_and(
            |e| matches!(e.resolved(), Node::Sequence { items, .. } if items.is_empty()),
        )
    } else if node.get("matrix").is_some() {
        nested("matrix")
            .iter()
            .any(|g| generates_nothing_at(g, depth + 1))
    } else if node.get("merge").is_some() {
        nested("merge")
            .first()
            .is_some_and(|g| generates_nothing_at(g, depth + 1))
    } else {
        false
    }
}

fn generator<'a>(node: &'a Node, depth: usize, budget: &mut Budget) -> Vec<Variant<'a>> {
    if depth > MAX_GENERATOR_DEPTH {
        return vec![Variant::default()];
    }
    if !budget.spend(1) {
        return Vec::new();
    }
    if generates_nothing(node) {
        return Vec::new();
    }
    let found = if let Some(list) = node.get("list") {
        list_elements(list, budget)
    } else if let Some(clusters) = node.get("clusters") {
        vec![cluster_values(clusters, budget)]
    } else if let Some(merge) = node.get("merge") {
        merged(children(merge, depth, budget), budget)
    } else if let Some(matrix) = node.get("matrix") {
        product(children(matrix, depth, budget), budget)
    } else {
        Vec::new()
    };
    // A generator this file cannot read still makes Applications; one cut
    // short by the budget makes none that are known here.
    if found.is_empty() && !budget.is_spent() {
        vec![Variant::default()]
    } else {
        found
    }
}

fn children<'a>(node: &'a Node, depth: usize, budget: &mut Budget) -> Vec<Vec<Variant<'a>>> {
    node.get("generators")
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .map(|g| generator(g, depth + 1, budget))
        .collect()
}

/// Each `elements[]` entry is a parameter set; its keys are parameters.
fn list_elements<'a>(list: &'a Node, budget: &mut Budget) -> Vec<Variant<'a>> {
    let elements = list.get("elements").map(Node::items).unwrap_or_default();
    let mut variants = Vec::new();
    for element in elements {
        if variants.len() >= MAX_VARIANTS || !budget.spend(1) {
            break;
        }
        let mut variant = Variant::default();
        flatten(element, "", 0, &mut variant.params, budget);
        variants.push(variant.env_from_params("").env_from_params("values."));
    }
    variants
}

/// A cluster generator passes its `values:` as `values.*`; its selector
/// may pin the environment.
fn cluster_values<'a>(clusters: &'a Node, budget: &mut Budget) -> Variant<'a> {
    let mut variant = Variant::default();
    if let Some(values) = clusters.get("values") {
        flatten(values, "values.", 0, &mut variant.params, budget);
    }
    variant.env = clusters.get("selector").and_then(selector_env);
    variant.env_from_params("values.")
}

/// `matchLabels: {environment: prod}`, or a `matchExpressions` entry
/// `{key: environment, operator: In, values: [prod]}` with one value.
fn selector_env(selector: &Node) -> Option<String> {
    let labels = selector.get("matchLabels");
    let from_labels = ENV_KEYS
        .iter()
        .find_map(|k| labels.and_then(|l| l.get(k)).and_then(Node::as_str));
    let from_expressions = || {
        let expressions = selector
            .get("matchExpressions")
            .map(Node::items)
            .unwrap_or_default();
        expressions.iter().find_map(|e| {
            let key = e.get("key").and_then(Node::as_str)?;
            let operator = e.get("operator").and_then(Node::as_str)?;
            match e.get("values").map(Node::items) {
                Some([only]) if ENV_KEYS.contains(&key) && operator == "In" => only.as_str(),
                _ => None,
            }
        })
    };
    from_labels.or_else(from_expressions).map(str::to_owned)
}

/// `merge`: the first generator is the base; each other one overrides
/// matching base sets. Which sets match is decided at run time by the
/// merge keys, so every pairing is kept.
fn merged<'a>(children: Vec<Vec<Variant<'a>>>, budget: &mut Budget) -> Vec<Variant<'a>> {
    let mut children = children.into_iter();
    let Some(base) = children.next() else {
        return Vec::new();
    };
    let mut all = base.clone();
    for child in children {
        for over in &child {
            for under in &base {
                if all.len() >= MAX_VARIANTS || !budget.spend(overlay_cost(under, over)) {
                    return all;
                }
                all.push(under.overlaid(over));
            }
        }
    }
    all
}

/// `matrix`: every combination of the child generators' sets.
fn product<'a>(children: Vec<Vec<Variant<'a>>>, budget: &mut Budget) -> Vec<Variant<'a>> {
    let mut all = vec![Variant::default()];
    for child in children {
        let mut next = Vec::new();
        'pairs: for left in &all {
            for right in &child {
                if next.len() >= MAX_VARIANTS || !budget.spend(overlay_cost(left, right)) {
                    break 'pairs;
                }
                next.push(left.overlaid(right));
            }
        }
        all = next;
    }
    all
}

/// An overlay copies both sets of parameters.
fn overlay_cost(under: &Variant<'_>, over: &Variant<'_>) -> usize {
    1 + under.params.len() + over.params.len()
}

/// Scalars of a mapping as dotted parameter paths.
fn flatten<'a>(
    node: &'a Node,
    prefix: &str,
    depth: usize,
    out: &mut BTreeMap<String, &'a Scalar>,
    budget: &mut Budget,
) {
    if depth > MAX_PARAM_DEPTH {
        return;
    }
    for (key, value) in node.entries() {
        if !budget.spend(1) {
            return;
        }
        let Some(key) = key.as_str() else { continue };
        let path = format!("{prefix}{key}");
        match value.as_scalar() {
            Some(scalar) if !scalar.is_null() => {
                out.insert(path, scalar);
            }
            Some(_) => {}
            None => flatten(value, &format!("{path}."), depth + 1, out, budget),
        }
    }
}

/// What a field of the template stands for in one parameter set.
pub(super) enum Resolved<'a> {
    /// The value is written literally, here.
    Literal(&'a Scalar),
    Unresolved(String),
}

/// A field that must come out as one written literal (the version): the
/// field itself, or a parameter it names whole, like
/// `'{{values.addonChartVersion}}'` or `'{{.values.addonChartVersion}}'`.
pub(super) fn literal<'a>(field: &str, written: &'a Scalar, variant: &Variant<'a>) -> Resolved<'a> {
    let raw = written.value.as_str();
    if !raw.contains("{{") {
        return Resolved::Literal(written);
    }
    let unknown = || {
        Resolved::Unresolved(format!(
            "{field} `{raw}` is a template with no literal value in this file"
        ))
    };
    let Some(path) = whole_expression(raw) else {
        return unknown();
    };
    match variant.params.get(path) {
        Some(param) if !param.value.contains("{{") => Resolved::Literal(param),
        Some(param) => Resolved::Unresolved(format!(
            "{field} `{raw}` is set to `{}`, a template with no literal value in this file",
            param.value
        )),
        None => unknown(),
    }
}

/// A field read as text (chart, repoURL, labels): every `{{ ... }}` in it
/// replaced by its parameter, or None when one has no literal here.
pub(super) fn text(raw: &str, variant: &Variant<'_>) -> Option<String> {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(open) = rest.find("{{") {
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        let after = after.get(2..)?;
        let close = after.find("}}")?;
        let param = variant.params.get(expression_path(after.get(..close)?)?)?;
        if param.value.contains("{{") {
            return None;
        }
        out.push_str(&param.value);
        rest = after.get(close + 2..)?;
    }
    out.push_str(rest);
    Some(out)
}

/// The parameter path of a value that is exactly one `{{ ... }}`.
fn whole_expression(raw: &str) -> Option<&str> {
    let inner = raw.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") {
        return None;
    }
    expression_path(inner)
}

/// `values.x` from ` .values.x `, `values.x` or `- .values.x -`; None for
/// anything with functions, pipes or arguments.
fn expression_path(expr: &str) -> Option<&str> {
    let expr = expr.trim();
    let expr = expr.strip_prefix('-').unwrap_or(expr);
    let expr = expr.strip_suffix('-').unwrap_or(expr).trim();
    let path = expr.strip_prefix('.').unwrap_or(expr);
    let simple = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'));
    simple.then_some(path)
}
