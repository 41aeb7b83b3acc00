//! GitHub's GraphQL schema (npm `@octokit/graphql-schema`, fetched by
//! scripts/fetch-specs.sh) as the fake's law for `POST /graphql`: every
//! field chartpilot selects exists on its type, takes the arguments given
//! and gets the ones it requires, variables are declared with the argument's
//! type and given, fragments name types that can occur there, leaves have no
//! selection and objects one, and connections are paginated, as GitHub
//! refuses otherwise. What does not fit is reported in GitHub's words.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use graphql_parser::query::{self, Definition, OperationDefinition, Selection, SelectionSet};
use graphql_parser::schema::{self, TypeDefinition};
use serde_json::Value;

/// The `@octokit/graphql-schema` release scripts/fetch-specs.sh stores.
pub const OCTOKIT_GRAPHQL_SCHEMA_VERSION: &str = "15.26.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Interface,
    Union,
    Scalar,
    Enum,
    Input,
}

#[derive(Debug)]
pub struct FieldInfo {
    /// The named type of the field (list and non-null stripped).
    pub ty: String,
    /// Argument name → (type as written, e.g. `String!`).
    pub args: HashMap<String, String>,
}

#[derive(Debug)]
pub struct TypeInfo {
    pub kind: Kind,
    pub fields: HashMap<String, FieldInfo>,
    /// Object types an interface or union may be.
    pub possible: HashSet<String>,
    /// An input object's fields: name → type as written (`String!`).
    pub inputs: HashMap<String, String>,
}

pub struct GraphqlSchema {
    types: HashMap<String, TypeInfo>,
}

fn type_string(t: &schema::Type<'_, String>) -> String {
    match t {
        schema::Type::NamedType(n) => n.clone(),
        schema::Type::ListType(inner) => format!("[{}]", type_string(inner)),
        schema::Type::NonNullType(inner) => format!("{}!", type_string(inner)),
    }
}

fn named(t: &schema::Type<'_, String>) -> String {
    match t {
        schema::Type::NamedType(n) => n.clone(),
        schema::Type::ListType(inner) | schema::Type::NonNullType(inner) => named(inner),
    }
}

fn fields(list: &[schema::Field<'_, String>]) -> HashMap<String, FieldInfo> {
    list.iter()
        .map(|f| {
            let args = f
                .arguments
                .iter()
                .map(|a| (a.name.clone(), type_string(&a.value_type)))
                .collect();
            (
                f.name.clone(),
                FieldInfo {
                    ty: named(&f.field_type),
                    args,
                },
            )
        })
        .collect()
}

impl GraphqlSchema {
    /// GitHub's schema, read once per test binary.
    pub fn github() -> &'static GraphqlSchema {
        static SCHEMA: LazyLock<GraphqlSchema> = LazyLock::new(|| {
            let path = super::github_description()
                .parent()
                .and_then(|p| p.parent())
                .expect("the spec cache")
                .join(format!(
                    "octokit-graphql-schema-{OCTOKIT_GRAPHQL_SCHEMA_VERSION}"
                ))
                .join("schema.graphql");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; run scripts/fetch-specs.sh (scripts/test-services.sh runs it)",
                    path.display()
                )
            });
            GraphqlSchema::parse(&text)
        });
        &SCHEMA
    }

    pub fn parse(text: &str) -> GraphqlSchema {
        let doc = schema::parse_schema::<String>(text).expect("GitHub's schema parses");
        let mut types = HashMap::new();
        let mut implementers: Vec<(String, String)> = Vec::new();
        for def in doc.definitions {
            let schema::Definition::TypeDefinition(t) = def else {
                continue;
            };
            let (name, info) = match t {
                TypeDefinition::Object(o) => {
                    for i in &o.implements_interfaces {
                        implementers.push((i.clone(), o.name.clone()));
                    }
                    (
                        o.name.clone(),
                        TypeInfo {
                            kind: Kind::Object,
                            fields: fields(&o.fields),
                            possible: HashSet::new(),
                            inputs: HashMap::new(),
                        },
                    )
                }
                TypeDefinition::Interface(i) => (
                    i.name.clone(),
                    TypeInfo {
                        kind: Kind::Interface,
                        fields: fields(&i.fields),
                        possible: HashSet::new(),
                        inputs: HashMap::new(),
                    },
                ),
                TypeDefinition::Union(u) => (
                    u.name.clone(),
                    TypeInfo {
                        kind: Kind::Union,
                        fields: HashMap::new(),
                        possible: u.types.iter().cloned().collect(),
                        inputs: HashMap::new(),
                    },
                ),
                TypeDefinition::Scalar(s) => (s.name.clone(), leaf(Kind::Scalar)),
                TypeDefinition::Enum(e) => (e.name.clone(), leaf(Kind::Enum)),
                TypeDefinition::InputObject(i) => (
                    i.name.clone(),
                    TypeInfo {
                        inputs: i
                            .fields
                            .iter()
                            .map(|f| (f.name.clone(), type_string(&f.value_type)))
                            .collect(),
                        ..leaf(Kind::Input)
                    },
                ),
            };
            types.insert(name, info);
        }
        for (interface, object) in implementers {
            if let Some(t) = types.get_mut(&interface) {
                t.possible.insert(object);
            }
        }
        for builtin in ["String", "Int", "Float", "Boolean", "ID"] {
            types.insert(builtin.to_owned(), leaf(Kind::Scalar));
        }
        GraphqlSchema { types }
    }

    pub fn kind(&self, ty: &str) -> Option<Kind> {
        self.types.get(ty).map(|t| t.kind)
    }

    /// The named type of `parent.field`.
    pub fn field_type(&self, parent: &str, field: &str) -> Option<&str> {
        self.types
            .get(parent)?
            .fields
            .get(field)
            .map(|f| f.ty.as_str())
    }

    /// Whether an object of type `object` may appear where `ty` is
    /// expected (itself, an interface it implements, a union it is in).
    pub fn is_a(&self, object: &str, ty: &str) -> bool {
        object == ty
            || self
                .types
                .get(ty)
                .is_some_and(|t| t.possible.contains(object))
    }

    /// What GitHub would refuse in the request `document` with
    /// `variables`; empty when it is a valid request.
    pub fn violations(
        &self,
        document: &query::Document<'_, String>,
        variables: &Value,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let ops: Vec<&OperationDefinition<'_, String>> = document
            .definitions
            .iter()
            .filter_map(|d| match d {
                Definition::Operation(o) => Some(o),
                Definition::Fragment(f) => {
                    out.push(format!(
                        "fragment {}: the fake takes inline fragments only",
                        f.name
                    ));
                    None
                }
            })
            .collect();
        if ops.len() != 1 {
            out.push(format!("{} operations in one request; send one", ops.len()));
            return out;
        }
        let (root, defs, set) = match ops[0] {
            OperationDefinition::Query(q) => ("Query", &q.variable_definitions, &q.selection_set),
            OperationDefinition::Mutation(m) => {
                ("Mutation", &m.variable_definitions, &m.selection_set)
            }
            OperationDefinition::SelectionSet(s) => ("Query", &Vec::new(), s),
            OperationDefinition::Subscription(_) => {
                out.push("subscriptions are not served over HTTP".to_owned());
                return out;
            }
        };
        let declared: HashMap<String, String> = defs
            .iter()
            .map(|d| (d.name.clone(), query_type_string(&d.var_type)))
            .collect();
        for (name, ty) in &declared {
            let given = variables.get(name).filter(|v| !v.is_null());
            if ty.ends_with('!') && given.is_none() {
                out.push(format!(
                    "Variable ${name} of type {ty} was provided invalid value"
                ));
            }
            let base = ty.trim_matches(['[', ']', '!']);
            if self.kind(base).is_none() {
                out.push(format!("{base} isn't a defined input type (on ${name})"));
            } else if let Some(value) = given {
                if let Some(why) = self.input_problem(ty, value) {
                    out.push(format!(
                        "Variable ${name} of type {ty} was provided invalid value{why}"
                    ));
                }
            }
        }
        let mut used = HashSet::new();
        self.check_set(root, set, &declared, &mut used, root, &mut out);
        for name in declared.keys() {
            if !used.contains(name) {
                out.push(format!(
                    "Variable ${name} is declared by anonymous query but not used"
                ));
            }
        }
        out
    }

    /// Why `value` is not a valid `ty` (as written, `[X!]!`), in GitHub's
    /// words (` for a.b (Field is not defined on T)`); None when it is.
    fn input_problem(&self, ty: &str, value: &Value) -> Option<String> {
        let (path, why) = self.input_fault(ty, value)?;
        Some(if path.is_empty() {
            format!(" ({why})")
        } else {
            format!(" for {} ({why})", path.join("."))
        })
    }

    /// The path inside `value` and the reason it is not a valid `ty`.
    fn input_fault(&self, ty: &str, value: &Value) -> Option<(Vec<String>, String)> {
        let inner = ty.strip_suffix('!').unwrap_or(ty);
        if value.is_null() {
            return ty
                .ends_with('!')
                .then(|| (Vec::new(), "Expected value to not be null".to_owned()));
        }
        let within = |key: String, (mut path, why): (Vec<String>, String)| {
            path.insert(0, key);
            (path, why)
        };
        if let Some(item) = inner.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            // A single value is taken as a list of one.
            let items = value
                .as_array()
                .cloned()
                .unwrap_or_else(|| vec![value.clone()]);
            return items.iter().enumerate().find_map(|(i, v)| {
                self.input_fault(item, v)
                    .map(|fault| within(i.to_string(), fault))
            });
        }
        let fits = match (self.types.get(inner).map(|t| t.kind), value) {
            (Some(Kind::Input), Value::Object(map)) => {
                let fields = &self.types[inner].inputs;
                if let Some(k) = map.keys().find(|k| !fields.contains_key(*k)) {
                    return Some((vec![k.clone()], format!("Field is not defined on {inner}")));
                }
                let mut names: Vec<&String> = fields.keys().collect();
                names.sort();
                return names.into_iter().find_map(|f| {
                    let field_ty = &fields[f];
                    let fault = match map.get(f) {
                        None if field_ty.ends_with('!') => {
                            Some((Vec::new(), "Expected value to not be null".to_owned()))
                        }
                        None => None,
                        Some(v) => self.input_fault(field_ty, v),
                    };
                    fault.map(|fault| within(f.clone(), fault))
                });
            }
            (Some(Kind::Input), _) => false,
            (_, Value::String(_)) => !matches!(inner, "Int" | "Float" | "Boolean"),
            (_, Value::Number(n)) => inner == "Float" || (inner == "Int" && n.is_i64()),
            (_, Value::Bool(_)) => inner == "Boolean",
            _ => false,
        };
        (!fits).then(|| {
            (
                Vec::new(),
                format!("Could not coerce value {value} to {inner}"),
            )
        })
    }

    fn check_set(
        &self,
        parent: &str,
        set: &SelectionSet<'_, String>,
        declared: &HashMap<String, String>,
        used: &mut HashSet<String>,
        path: &str,
        out: &mut Vec<String>,
    ) {
        for item in &set.items {
            match item {
                Selection::Field(f) => {
                    if f.name == "__typename" {
                        continue;
                    }
                    let here = format!("{path}.{}", f.alias.as_ref().unwrap_or(&f.name));
                    let Some(info) = self.types.get(parent).and_then(|t| t.fields.get(&f.name))
                    else {
                        out.push(format!(
                            "Field '{}' doesn't exist on type '{parent}' ({here})",
                            f.name
                        ));
                        continue;
                    };
                    for (arg, value) in &f.arguments {
                        let Some(want) = info.args.get(arg) else {
                            out.push(format!(
                                "Field '{}' doesn't accept argument '{arg}' ({here})",
                                f.name
                            ));
                            continue;
                        };
                        self.check_value(value, want, declared, used, &here, out);
                    }
                    let missing: Vec<&str> = info
                        .args
                        .iter()
                        .filter(|(a, t)| {
                            t.ends_with('!') && !f.arguments.iter().any(|(g, _)| g == *a)
                        })
                        .map(|(a, _)| a.as_str())
                        .collect();
                    if !missing.is_empty() {
                        out.push(format!(
                            "Field '{}' is missing required arguments: {} ({here})",
                            f.name,
                            missing.join(", ")
                        ));
                    }
                    let paginated =
                        info.args.contains_key("first") && info.args.contains_key("last");
                    let given = |a: &str| f.arguments.iter().any(|(g, _)| g == a);
                    if paginated
                        && info.ty.ends_with("Connection")
                        && !given("first")
                        && !given("last")
                    {
                        out.push(format!(
                            "You must provide a `first` or `last` value to properly paginate the `{}` connection ({here})",
                            f.name
                        ));
                    }
                    match self.kind(&info.ty) {
                        Some(Kind::Object | Kind::Interface | Kind::Union) => {
                            if f.selection_set.items.is_empty() {
                                out.push(format!(
                                    "Field must have selections (field '{}' returns {} but has no selections) ({here})",
                                    f.name, info.ty
                                ));
                            }
                            self.check_set(&info.ty, &f.selection_set, declared, used, &here, out);
                        }
                        _ if !f.selection_set.items.is_empty() => out.push(format!(
                            "Selections can't be made on scalars (field '{}' returns {}) ({here})",
                            f.name, info.ty
                        )),
                        _ => {}
                    }
                }
                Selection::InlineFragment(i) => {
                    let ty = match &i.type_condition {
                        Some(query::TypeCondition::On(t)) => t.as_str(),
                        None => parent,
                    };
                    let fits = match self.kind(ty) {
                        None => {
                            out.push(format!(
                                "No such type {ty}, so it can't be a fragment condition ({path})"
                            ));
                            continue;
                        }
                        Some(Kind::Object) => self.is_a(ty, parent),
                        Some(Kind::Interface | Kind::Union) => {
                            ty == parent
                                || self.types[ty].possible.iter().any(|o| self.is_a(o, parent))
                        }
                        Some(_) => false,
                    };
                    if !fits {
                        out.push(format!(
                            "Fragment on {ty} can't be spread inside {parent} ({path})"
                        ));
                    }
                    self.check_set(ty, &i.selection_set, declared, used, path, out);
                }
                Selection::FragmentSpread(s) => out.push(format!(
                    "...{}: the fake takes inline fragments only ({path})",
                    s.fragment_name
                )),
            }
        }
    }

    fn check_value(
        &self,
        value: &query::Value<'_, String>,
        want: &str,
        declared: &HashMap<String, String>,
        used: &mut HashSet<String>,
        here: &str,
        out: &mut Vec<String>,
    ) {
        match value {
            query::Value::Variable(v) => {
                used.insert(v.clone());
                match declared.get(v) {
                    None => out.push(format!(
                        "Variable ${v} is used by anonymous query but not declared ({here})"
                    )),
                    Some(ty) => {
                        // A non-null variable fits a nullable argument, not
                        // the other way round.
                        let fits = ty == want || ty.strip_suffix('!') == Some(want);
                        if !fits {
                            out.push(format!(
                                "Type mismatch on variable ${v} and argument ({ty} / {want}) ({here})"
                            ));
                        }
                    }
                }
            }
            query::Value::List(items) => {
                for item in items {
                    self.check_value(
                        item,
                        want.trim_end_matches('!')
                            .trim_start_matches('[')
                            .trim_end_matches(']'),
                        declared,
                        used,
                        here,
                        out,
                    );
                }
            }
            query::Value::Object(map) => {
                for v in map.values() {
                    // Input object fields are checked when they are
                    // variables; literals inside are taken as written.
                    if let query::Value::Variable(name) = v {
                        used.insert(name.clone());
                    }
                }
            }
            _ => {}
        }
    }
}

fn leaf(kind: Kind) -> TypeInfo {
    TypeInfo {
        kind,
        fields: HashMap::new(),
        possible: HashSet::new(),
        inputs: HashMap::new(),
    }
}

fn query_type_string(t: &query::Type<'_, String>) -> String {
    match t {
        query::Type::NamedType(n) => n.clone(),
        query::Type::ListType(inner) => format!("[{}]", query_type_string(inner)),
        query::Type::NonNullType(inner) => format!("{}!", query_type_string(inner)),
    }
}
