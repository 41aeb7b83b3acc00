//! The JSON Schema of the config file (`chartpilot config-schema`): the
//! copy in `config/chartpilot.schema.json` is what the binary prints, the
//! shipped and documented configs validate against it, and it refuses
//! what the settings types refuse.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chartpilot::settings::Settings;
use serde_json::Value;

const REGENERATE: &str =
    "regenerate it with: cargo run -q -- config-schema > config/chartpilot.schema.json";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn schema_file() -> Value {
    let text = std::fs::read_to_string(repo().join("config/chartpilot.schema.json"))
        .unwrap_or_else(|e| panic!("config/chartpilot.schema.json: {e}; {REGENERATE}"));
    serde_json::from_str(&text).unwrap()
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema_file()).expect("the schema is a valid JSON Schema")
}

fn toml_to_json(text: &str, name: &str) -> Value {
    let table: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::to_value(table).unwrap()
}

/// Every way the schema refuses `text`, as `path: message` lines.
fn violations(validator: &jsonschema::Validator, text: &str, name: &str) -> Vec<String> {
    let instance = toml_to_json(text, name);
    validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_checked_in_schema_is_what_config_schema_prints() {
    let out = Command::new(env!("CARGO_BIN_EXE_chartpilot"))
        .arg("config-schema")
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let file =
        std::fs::read_to_string(repo().join("config/chartpilot.schema.json")).unwrap_or_default();
    assert!(
        printed == file,
        "config/chartpilot.schema.json differs from `chartpilot config-schema`; {REGENERATE}"
    );
    let schema: Value = serde_json::from_str(&printed).unwrap();
    // Descriptions from doc comments, defaults from config/default.toml,
    // enums from the serde spellings.
    let props = &schema["properties"];
    assert_eq!(
        props["promotion"]["properties"]["deadline"]["default"],
        "24h"
    );
    assert_eq!(
        props["git"]["properties"]["provider"]["enum"],
        serde_json::json!(["local", "github"])
    );
    assert!(props["queue"]["properties"]["job_timeout"]["description"]
        .as_str()
        .is_some_and(|d| d.contains("cancelled")));
    assert_eq!(
        props["helm"]["properties"]["mirrors"]["items"]["required"],
        serde_json::json!(["from", "to"])
    );
    assert_eq!(
        schema.get("required"),
        None,
        "every section may be left out"
    );
    let mut undescribed = Vec::new();
    undescribed_keys("", &schema, &mut undescribed);
    assert!(
        undescribed.is_empty(),
        "keys without a doc comment (they describe the key in editors): {undescribed:?}"
    );
}

/// Keys, sections and entry fields whose schema has no description.
fn undescribed_keys(prefix: &str, node: &Value, out: &mut Vec<String>) {
    let Some(props) = node["properties"].as_object() else {
        return;
    };
    for (name, prop) in props {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        if prop["description"].as_str().is_none_or(str::is_empty) {
            out.push(key.clone());
        }
        undescribed_keys(&key, prop, out);
        undescribed_keys(&format!("{key}[]"), &prop["items"], out);
    }
}

/// The fenced ```toml blocks of a Markdown file.
fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```toml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), l) => {
                block.push_str(l);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// Configs the Helm chart renders (scripts/validate-deploy.sh), when present.
fn rendered_chart_configs() -> Vec<PathBuf> {
    let dir = repo().join("target/deploy-validate");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        assert!(
            std::env::var_os("CHARTPILOT_REQUIRE_DEPLOY_RENDER").is_none(),
            "{} is missing: scripts/validate-deploy.sh renders the chart there",
            dir.display()
        );
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path().join("config.toml"))
        .filter(|p| p.is_file())
        .collect()
}

#[test]
fn shipped_and_documented_configs_validate_against_the_schema() {
    let validator = validator();
    let mut configs: Vec<(String, String)> = Vec::new();
    for file in ["config/default.toml", "deploy/config.toml"] {
        configs.push((
            file.to_owned(),
            std::fs::read_to_string(repo().join(file)).unwrap(),
        ));
    }
    let mut docs = Vec::new();
    markdown_files(&repo().join("docs"), &mut docs);
    markdown_files(&repo().join("deploy"), &mut docs);
    docs.push(repo().join("README.md"));
    docs.sort();
    let mut blocks = 0;
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (i, block) in toml_blocks(&text).into_iter().enumerate() {
            blocks += 1;
            let name = format!("{} (```toml block {})", doc.display(), i + 1);
            configs.push((name, block));
        }
    }
    for path in rendered_chart_configs() {
        configs.push((
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap(),
        ));
    }
    assert!(blocks >= 6, "the docs' examples were found ({blocks})");
    for (name, text) in &configs {
        let errors = violations(&validator, text, name);
        assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
    }
}

#[test]
fn the_schema_refuses_what_the_settings_refuse() {
    let validator = validator();
    let load = |text: &str| {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        Settings::load(Some(f.path()), &HashMap::new()).map(|_| ())
    };
    // (config, the instance path the schema names)
    let refused = [
        ("[git]\nprovider = \"gitlab\"\n", "/git/provider"),
        ("[queue]\nbogus = 1\n", "/queue"),
        ("bogus = 1\n", ""),
        ("[policy]\nsoak = \"forever\"\n", "/policy/soak"),
        (
            "[policy]\nupdate_types = [\"huge\"]\n",
            "/policy/update_types/0",
        ),
        (
            "[[helm.mirrors]]\nfrom = \"https://a.example\"\n",
            "/helm/mirrors/0",
        ),
        (
            "[[rollback.rules]]\naction = \"revert-pr\"\n",
            "/rollback/rules/0",
        ),
        (
            "[[rollback.rules]]\nmatchers = ['a=\"b\"']\naction = \"revert\"\n",
            "/rollback/rules/0/action",
        ),
        (
            "[server]\nmax_connections = -1\n",
            "/server/max_connections",
        ),
        ("[policy]\nranges = \"sometimes\"\n", "/policy/ranges"),
    ];
    for (text, path) in refused {
        let errors = violations(&validator, text, text);
        assert!(
            errors.iter().any(|e| e.starts_with(&format!("{path}: "))),
            "{text}: {errors:?}"
        );
        assert!(load(text).is_err(), "the settings accept {text}");
    }
    let accepted = [
        "[[helm.mirrors]]\nfrom = \"ghcr.io/acme\"\nto = \"oci://mirror.internal/acme\"\n",
        "[[rollback.rules]]\nmatchers = ['alertname=\"KubePodCrashLooping\"']\n",
        "[policy]\nsoak = \"1h 30m\"\nranges = \"pin\"\n",
        "[pins.env_aliases]\nprd = \"prod\"\n",
    ];
    for text in accepted {
        let errors = violations(&validator, text, text);
        assert!(errors.is_empty(), "{text}: {errors:?}");
        load(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}
