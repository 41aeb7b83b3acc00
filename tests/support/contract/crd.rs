//! A CustomResourceDefinition's `openAPIV3Schema`, as the API server checks
//! every object it stores against it (after applying a patch).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

use super::schema::{self, Dialect};

pub struct CrdSchema {
    validator: jsonschema::Validator,
}

impl CrdSchema {
    /// `applications.argoproj.io` v1alpha1, from the corpus.
    pub fn application() -> &'static CrdSchema {
        static APPLICATION: OnceLock<CrdSchema> = OnceLock::new();
        APPLICATION.get_or_init(|| {
            let path = crate::support::corpus().join("argocd/application-crd.yaml");
            let text = std::fs::read_to_string(&path).unwrap();
            let crd = to_json(&YamlLoader::load_from_str(&text).unwrap()[0]);
            let version = crd["spec"]["versions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == "v1alpha1")
                .unwrap();
            let raw = &version["schema"]["openAPIV3Schema"];
            let converted = schema::convert(raw, Dialect::Crd, &mut BTreeSet::new());
            CrdSchema {
                validator: schema::compile(converted, Map::new()),
            }
        })
    }

    /// What in `object` the schema refuses, one line each.
    pub fn violations(&self, object: &Value) -> Vec<String> {
        schema::violations(&self.validator, object)
    }
}

fn to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), to_json(v))))
                .collect(),
        ),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Integer(n) => Value::from(*n),
        Yaml::Real(r) => r.parse::<f64>().map_or(Value::Null, Value::from),
        Yaml::Boolean(b) => Value::Bool(*b),
        _ => Value::Null,
    }
}
