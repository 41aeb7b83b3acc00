//! Generated Terraform: `helm_release` blocks whose version is a literal,
//! a variable default (plain, or inside an object or list), a local, a
//! tfvars value or an argument of module calls, among decoys that also say
//! `version`; `for_each` releases over written maps, one pin per element;
//! and `coalesce`/`try`/`lookup` fallbacks with the callers overriding them.

use chartpilot::pins::PinKind;

use super::hcl::{attr, block, body, raw, text, Item, Value};
use super::input::{Case, Dice, Input, Out, Owner};

const CHARTS: [&str; 4] = ["argo-cd", "cert-manager", "ingress-nginx", "app"];

/// One or two root modules of one to three releases each, and sometimes a
/// shared module whose versions its callers pass.
pub fn repo(input: &Input) -> Case {
    let mut d = Dice::new(input);
    let mut case = Case::default();
    let mut next = 0;
    for i in 0..1 + d.below(2) {
        let dir = match (i, d.below(3)) {
            (0, 0) => String::new(),
            // Environment folders hold configured environments only: any
            // other name is warned about.
            (_, 1) => format!("envs/{}", ["dev", "prod"][i % 2]),
            _ => format!("stack{i}"),
        };
        let mut module = Module::new(&mut d, dir);
        for _ in 0..1 + d.below(3) {
            if d.one_in(6) {
                module.twins(&mut d, next);
            } else {
                module.release(&mut d, next);
            }
            next += 1;
        }
        module.write(&mut d, &mut case);
    }
    if d.one_in(3) {
        shared_module(&mut d, next, &mut case);
    }
    next += 3;
    if d.one_in(2) {
        for_each_module(&mut d, next, &mut case);
    }
    next += 1;
    if d.one_in(2) {
        fallback_module(&mut d, next, &mut case);
    }
    case
}

/// A `for_each` release over a map written in a local or a variable
/// default: each element's version is a pin named by its key. A `lookup`
/// or `try` fallback after an element's own version never deploys, so it
/// is no pin.
fn for_each_module(d: &mut Dice, n: usize, case: &mut Case) {
    let mut module = Module::new(d, format!("foreach/m{n}"));
    let chart = CHARTS[d.below(CHARTS.len())];
    let mut elements = Vec::new();
    for i in 0..1 + d.below(4) {
        let key = format!("{}-{i}", CHARTS[d.below(CHARTS.len())]);
        let owner = Owner {
            kind: PinKind::Terraform,
            name: key.clone(),
            chart: Some(chart.to_owned()),
            repository: None,
        };
        let element = vec![
            ("chart".to_owned(), text(chart)),
            ("version".to_owned(), Value::Str(d.version(), vec![owner])),
        ];
        elements.push((key, Value::Object(element)));
    }
    let collection = format!("addons{n}");
    let for_each = if d.one_in(2) {
        module.top.push(block(
            "locals",
            &[],
            vec![attr(&collection, Value::Object(elements))],
        ));
        format!("local.{collection}")
    } else {
        module
            .top
            .push(declare(&collection, Some(Value::Object(elements))));
        format!("var.{collection}")
    };
    let version = match d.below(4) {
        0 => "each.value.version",
        1 => "each.value[\"version\"]",
        2 => "lookup(each.value, \"version\", \"0.0.1-dead\")",
        _ => "try(each.value.version, \"0.0.1-dead\")",
    };
    let body = vec![
        attr("for_each", raw(&for_each)),
        attr("name", raw("each.key")),
        attr("chart", raw("each.value.chart")),
        attr("version", raw(version)),
    ];
    let label = format!("addons{n}");
    module
        .top
        .push(block("resource", &["helm_release", &label], body));
    module.write(d, case);
}

/// A module whose release falls back to a written version when its input
/// is null, and a caller that sometimes passes one: the fallback deploys
/// unless overridden, so both are pins of the release.
fn fallback_module(d: &mut Dice, n: usize, case: &mut Case) {
    let (label, owner) = owner(d, n);
    let mut module = Module::new(d, format!("modules/fallback{n}"));
    let fallback = Value::Str(d.version(), vec![owner.clone()]);
    let given = Value::Str(d.version(), vec![owner.clone()]);
    let (input, version, passed) = match d.below(3) {
        0 => ("v", "coalesce(var.v, FALLBACK)", given),
        1 => (
            "v",
            "try(var.v.chart_version, FALLBACK)",
            Value::Object(vec![("chart_version".to_owned(), given)]),
        ),
        _ => (
            "vs",
            "lookup(var.vs, \"key\", FALLBACK)",
            Value::Object(vec![("key".to_owned(), given)]),
        ),
    };
    let default = d.one_in(2).then(|| raw("null"));
    module.top.push(declare(input, default));
    let (before, after) = version.split_once("FALLBACK").unwrap_or((version, ""));
    let reference = Value::Call(before.to_owned(), Box::new(fallback), after.to_owned());
    module.top.push(release_block(d, &label, &owner, reference));
    module.write(d, case);
    if d.one_in(2) {
        let mut caller = Module::new(d, format!("live/fallback{n}"));
        let args = vec![
            attr("source", text(&format!("../../modules/fallback{n}"))),
            attr(input, passed),
        ];
        caller.top.push(block("module", &["fallback"], args));
        caller.write(d, case);
    }
    // Else nothing passes the input: only the written fallback deploys,
    // and the caller's value, never written, expects no pin.
}

/// The files of one module folder.
struct Module {
    dir: String,
    top: Vec<Item>,
    tfvars: Vec<Item>,
}

impl Module {
    fn new(d: &mut Dice, dir: String) -> Self {
        let providers = vec![attr(
            "helm",
            raw(r#"{ source = "hashicorp/helm", version = "2.12.1" }"#),
        )];
        let mut top = vec![
            block(
                "terraform",
                &[],
                vec![block("required_providers", &[], providers)],
            ),
            block(
                "variable",
                &["unused_version"],
                vec![attr("default", text("1.0.0"))],
            ),
        ];
        if d.one_in(2) {
            let kubernetes = vec![attr("config_path", text("~/.kube/config"))];
            top.push(block(
                "provider",
                &["helm"],
                vec![block("kubernetes", &[], kubernetes)],
            ));
            let metadata = vec![attr("name", text("ns"))];
            top.push(block(
                "resource",
                &["kubernetes_namespace", "ns"],
                vec![block("metadata", &[], metadata)],
            ));
        }
        let tfvars = vec![
            attr("replicas", raw("3")),
            attr("unused_version", text("0.0.1")),
        ];
        Self { dir, top, tfvars }
    }

    fn path(&self, name: &str) -> String {
        if self.dir.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.dir)
        }
    }

    /// Release `n`, its version written wherever the tape says.
    fn release(&mut self, d: &mut Dice, n: usize) {
        let (label, owner) = owner(d, n);
        let variable = format!("release{n}_version");
        let version = |d: &mut Dice| Value::Str(d.version(), vec![owner.clone()]);
        let reference = match d.below(8) {
            0 => version(d),
            1 => Value::Paren(Box::new(version(d))),
            2 => {
                let locals = vec![attr(&variable, version(d))];
                self.top.push(block("locals", &[], locals));
                raw(&format!("local.{variable}"))
            }
            3 => {
                let by_env = vec![
                    ("staging".to_owned(), text("0.0.1-decoy")),
                    ("prod".to_owned(), version(d)),
                ];
                self.top
                    .push(declare(&variable, Some(Value::Object(by_env))));
                raw(&if d.one_in(2) {
                    format!("var.{variable}.prod")
                } else {
                    format!("var.{variable}[\"prod\"]")
                })
            }
            4 => {
                let list = vec![text("0.0.1-decoy"), version(d)];
                self.top.push(declare(&variable, Some(Value::List(list))));
                raw(&format!("var.{variable}[1]"))
            }
            // 5: default only, 6: default and tfvars, else tfvars only.
            mode => {
                let default = (mode != 7).then(|| version(d));
                self.top.push(declare(&variable, default));
                if mode != 5 {
                    self.tfvars.push(attr(&variable, version(d)));
                }
                var_reference(d, &variable)
            }
        };
        self.top.push(release_block(d, &label, &owner, reference));
    }

    /// Two releases of one chart reading one variable: its default is a
    /// pin of each, to be edited for both or neither.
    fn twins(&mut self, d: &mut Dice, n: usize) {
        let (label, owner) = owner(d, n);
        let twin = Owner {
            name: format!("{label}_twin"),
            ..owner.clone()
        };
        let variable = format!("release{n}_version");
        let default = Value::Str(d.version(), vec![owner.clone(), twin.clone()]);
        self.top.push(declare(&variable, Some(default)));
        for owner in [owner, twin] {
            let reference = var_reference(d, &variable);
            self.top
                .push(release_block(d, &owner.name, &owner, reference));
        }
    }

    /// Spreads the top-level items over up to three files, and writes the
    /// tfvars.
    fn write(self, d: &mut Dice, case: &mut Case) {
        let names = ["main.tf", "releases.tf", "variables.tofu"];
        let files = 1 + d.below(names.len());
        let mut placed: Vec<Vec<&Item>> = (0..files).map(|_| Vec::new()).collect();
        for item in &self.top {
            placed[d.below(files)].push(item);
        }
        for (name, items) in names.iter().zip(&placed) {
            let mut out = Out::new(&self.path(name), d);
            body(&mut out, d, 0, items);
            case.add(out.finish(d));
        }
        let name = if d.one_in(2) {
            "prod.auto.tfvars"
        } else {
            "terraform.tfvars"
        };
        let mut out = Out::new(&self.path(name), d);
        let tfvars: Vec<&Item> = self.tfvars.iter().collect();
        body(&mut out, d, 0, &tfvars);
        case.add(out.finish(d));
    }
}

/// `modules/platform`, whose releases read `var.…`, and one or two
/// environments calling it with literal versions: each literal is a pin
/// of the release, in the caller's file.
fn shared_module(d: &mut Dice, first: usize, case: &mut Case) {
    let mut module = Module::new(d, "modules/platform".to_owned());
    let callers: Vec<Module> = ["live/dev", "live/prod"][..1 + d.below(2)]
        .iter()
        .map(|dir| Module::new(d, (*dir).to_owned()))
        .collect();
    let mut arguments: Vec<Vec<Item>> = callers.iter().map(|_| Vec::new()).collect();
    for n in first..first + 1 + d.below(2) {
        let (label, owner) = owner(d, n);
        let variable = format!("release{n}_version");
        let default = d
            .one_in(3)
            .then(|| Value::Str(d.version(), vec![owner.clone()]));
        module.top.push(declare(&variable, default));
        let reference = var_reference(d, &variable);
        module.top.push(release_block(d, &label, &owner, reference));
        for args in &mut arguments {
            args.push(attr(
                &variable,
                Value::Str(d.version(), vec![owner.clone()]),
            ));
        }
    }
    module.write(d, case);
    for (mut caller, mut args) in callers.into_iter().zip(arguments) {
        args.push(attr("source", text("../../modules/platform")));
        args.push(attr("replicas", raw("2")));
        caller.top.push(block("module", &["platform"], args));
        caller.write(d, case);
    }
}

fn owner(d: &mut Dice, n: usize) -> (String, Owner) {
    let chart = CHARTS[d.below(CHARTS.len())];
    let label = format!(
        "{}{n}",
        chart.replace('-', if d.one_in(2) { "_" } else { "-" })
    );
    let repository = match d.below(3) {
        0 => Some(format!("https://charts.example.com/{chart}")),
        1 => Some("oci://registry.example.com/charts".to_owned()),
        _ => None,
    };
    let owner = Owner {
        kind: PinKind::Terraform,
        name: label.clone(),
        chart: Some(chart.to_owned()),
        repository,
    };
    (label, owner)
}

fn declare(variable: &str, default: Option<Value>) -> Item {
    let mut body = vec![
        attr("type", raw("any")),
        attr("description", text("chart version, e.g. 1.2.3")),
    ];
    body.extend(default.map(|v| attr("default", v)));
    block("variable", &[variable], body)
}

/// `var.x`, or `"${var.x}"` as Terraform 0.11 wrote it.
fn var_reference(d: &mut Dice, variable: &str) -> Value {
    if d.one_in(2) {
        Value::Str(format!("${{var.{variable}}}"), Vec::new())
    } else {
        raw(&format!("var.{variable}"))
    }
}

fn release_block(d: &mut Dice, label: &str, owner: &Owner, version: Value) -> Item {
    let chart = owner.chart.as_deref().unwrap_or_default();
    // The Helm release name is the pin's name; two releases of one chart
    // have different ones, as in a real cluster.
    let mut body = vec![
        attr("name", text(label)),
        attr("chart", text(chart)),
        attr("version", version),
    ];
    if let Some(repository) = &owner.repository {
        body.push(attr("repository", text(repository)));
    }
    if d.one_in(2) {
        body.push(attr("namespace", text("platform")));
        body.push(attr("create_namespace", raw("true")));
        body.push(attr("timeout", raw("600")));
    }
    if d.one_in(2) {
        let set = vec![attr("name", text("version")), attr("value", text("9.9.9"))];
        body.push(block("set", &[], set));
    }
    if d.one_in(2) {
        let values = vec!["version: 9.9.9", "image:", "  tag: \"v1.0.0\""];
        body.push(attr("values", Value::HeredocList(values)));
    }
    block("resource", &["helm_release", label], body)
}
