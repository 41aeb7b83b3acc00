//! Impact analysis on a chart the size of kube-prometheus-stack.
//!
//! `cargo bench --bench impact`: generates two versions of a chart with
//! about 1,500 default-value leaves (a values.yaml of ~150 KB with its
//! comments), a values.schema.json covering every key, and ten CRDs of
//! ~190 KB each; the target renames a folder, changes and removes
//! defaults, and changes two CRDs. Against 200 overrides (some renamed,
//! some refused by the schema), it times reading both archives, the
//! analysis and the Markdown section, and prints the best of several runs
//! by wall clock and by the thread's CPU time.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chartpilot::charts::archive;
use chartpilot::impact::keypath::KeyPath;
use chartpilot::impact::overrides::{Origin, Override};
use chartpilot::impact::{analyse, render};
use serde_json::{json, Map, Value};

/// Runs per measurement; the best counts, the others mostly measure the
/// other builds on a shared machine.
const RUNS: usize = 7;

/// Top-level components (`alertmanager`, `grafana`…), sections per
/// component and leaves per section: 12 × 16 × 8 = 1,536 leaves.
const COMPONENTS: usize = 12;
const SECTIONS: usize = 16;
const LEAVES: usize = 8;

/// Overrides the repository sets.
const OVERRIDES: usize = 200;

const CRDS: usize = 10;

fn leaf_value(c: usize, s: usize, l: usize, version: u32) -> Value {
    match l % 4 {
        0 => json!(format!("registry.example.com/c{c}/s{s}/image-{l}")),
        1 => json!((c * 100 + s * 10 + l) as u64 + u64::from(version == 2 && s.is_multiple_of(7))),
        2 => json!(l.is_multiple_of(3)),
        _ => json!({}),
    }
}

/// The values of a version: version 2 renames component 0 to `renamed0`,
/// drops leaf 7 of every fifth section and changes some numbers.
fn values(version: u32) -> (String, Value) {
    let mut yaml = String::new();
    let mut tree = Map::new();
    for c in 0..COMPONENTS {
        let name = if version == 2 && c == 0 {
            "renamed0".to_owned()
        } else {
            format!("component{c}")
        };
        let _ = writeln!(
            yaml,
            "## Settings of {name}: what it runs, where and how.\n{name}:"
        );
        let mut comp = Map::new();
        for s in 0..SECTIONS {
            let _ = writeln!(
                yaml,
                "  ## Section {s} of {name}; see the upstream documentation.\n  section{s}:"
            );
            let mut section = Map::new();
            for l in 0..LEAVES {
                if version == 2 && s.is_multiple_of(5) && l == 7 {
                    continue;
                }
                let v = leaf_value(c, s, l, version);
                let text = match &v {
                    Value::Object(_) => "{}".to_owned(),
                    other => other.to_string(),
                };
                let _ = writeln!(
                    yaml,
                    "    # The {l}th setting of section {s}: a comment as long as real ones are.\n    key{l}: {text}"
                );
                section.insert(format!("key{l}"), v);
            }
            comp.insert(format!("section{s}"), Value::Object(section));
        }
        tree.insert(name, Value::Object(comp));
    }
    (yaml, Value::Object(tree))
}

/// A schema naming every key with its type; numbers have a minimum of 0.
fn schema(tree: &Value) -> Value {
    match tree {
        Value::Object(m) if !m.is_empty() => json!({
            "type": "object",
            "properties": m.iter().map(|(k, v)| (k.clone(), schema(v))).collect::<Map<_, _>>(),
        }),
        Value::Object(_) => json!({"type": "object", "additionalProperties": true}),
        Value::String(_) => json!({"type": "string"}),
        Value::Number(_) => json!({"type": "integer", "minimum": 0}),
        Value::Bool(_) => json!({"type": "boolean"}),
        _ => json!({}),
    }
}

fn crd(i: usize, version: u32) -> String {
    let mut text = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: kind{i}.monitoring.example.com\nspec:\n  group: monitoring.example.com\n  versions:\n    - name: v1\n      schema:\n        openAPIV3Schema:\n          type: object\n          properties:\n"
    );
    for p in 0..1_500 {
        let extra = if version == 2 && i < 2 && p == 0 {
            "x"
        } else {
            ""
        };
        let _ = writeln!(
            text,
            "            field{p}{extra}:\n              description: Field {p} of kind {i}, as long as the real descriptions.\n              type: string"
        );
    }
    text
}

fn tgz(version: u32) -> Vec<u8> {
    let (values_yaml, tree) = values(version);
    let mut files = vec![
        (
            "Chart.yaml".to_owned(),
            format!(
                "apiVersion: v2\nname: big\nversion: {version}.0.0\nkubeVersion: \">=1.25.0-0\"\n"
            ),
        ),
        ("values.yaml".to_owned(), values_yaml),
        ("values.schema.json".to_owned(), schema(&tree).to_string()),
    ];
    for i in 0..CRDS {
        files.push((format!("crds/crd-{i}.yaml"), crd(i, version)));
    }
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    for (path, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        if h.set_path(format!("big/{path}")).is_err() {
            continue;
        }
        h.set_cksum();
        let _ = b.append(&h, text.as_bytes());
    }
    b.into_inner()
        .and_then(|gz| gz.finish())
        .unwrap_or_default()
}

/// Overrides spread over every component; one in ten sets a number to a
/// negative value (a schema violation), component 0's are renamed ones.
fn overrides() -> Vec<Override> {
    (0..OVERRIDES)
        .map(|i| {
            let (c, s, l) = (i % COMPONENTS, (i / COMPONENTS) % SECTIONS, 1 + 4 * (i % 2));
            let value = if i.is_multiple_of(10) {
                json!(-1)
            } else {
                json!(7)
            };
            Override {
                path: KeyPath::keys([
                    format!("component{c}"),
                    format!("section{s}"),
                    format!("key{l}"),
                ]),
                value: Some(value),
                file: "values/prod.yaml".into(),
                line: i + 1,
                origin: Origin::ValuesFile,
                unresolved: None,
            }
        })
        .collect()
}

fn cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|s| {
            let fields: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            let ticks: u64 =
                fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            Some(Duration::from_millis(ticks * 10))
        })
        .unwrap_or_default()
}

/// Best wall and CPU time of `f` over [`RUNS`] runs.
fn best<T>(mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let mut wall = Duration::MAX;
    let mut cpu = Duration::MAX;
    let mut last = None;
    for _ in 0..RUNS {
        let (t0, c0) = (Instant::now(), cpu_time());
        last = Some(f());
        wall = wall.min(t0.elapsed());
        cpu = cpu.min(cpu_time().saturating_sub(c0));
    }
    match last {
        Some(out) => (wall, cpu, out),
        None => (wall, cpu, f()),
    }
}

fn main() -> Result<(), String> {
    let (current_tgz, target_tgz) = (tgz(1), tgz(2));
    let (read_wall, read_cpu, charts) =
        best(|| (archive::read(&current_tgz), archive::read(&target_tgz)));
    let (current, target) = match charts {
        (Ok(c), Ok(t)) => (c, t),
        (c, t) => return Err(format!("archives: {:?} {:?}", c.err(), t.err())),
    };
    let size = |f: &archive::ChartFiles| {
        f.values_yaml.as_ref().map_or(0, String::len)
            + f.values_schema.as_ref().map_or(0, String::len)
            + f.crds.iter().map(|(_, t)| t.len()).sum::<usize>()
    };
    let overrides = overrides();
    let mut policy = chartpilot::settings::Settings::load(None, &Default::default())
        .map_err(|e| e.to_string())?
        .policy;
    policy.kube_version = "1.29.4".into();
    let (wall, cpu, impact) = best(|| analyse(&current, &target, &overrides, &policy));
    let (md_wall, md_cpu, md) = best(|| render::markdown(&impact, 60_000));
    let leaves = target.values_yaml.as_deref().map_or(0, |t| {
        t.lines()
            .filter(|l| l.trim_start().starts_with("key"))
            .count()
    });
    println!(
        "chart: {leaves} default-value leaves, values.yaml {} KB, schema {} KB, {} CRDs {} KB; archives {} + {} KB",
        target.values_yaml.as_ref().map_or(0, String::len) / 1024,
        target.values_schema.as_ref().map_or(0, String::len) / 1024,
        target.crds.len(),
        target.crds.iter().map(|(_, t)| t.len()).sum::<usize>() / 1024,
        current_tgz.len() / 1024,
        target_tgz.len() / 1024,
    );
    println!(
        "found: {} removed overrides ({} renamed), {} schema violations, defaults {} removed / {} renamed / {} changed, CRDs {} changed",
        impact.removed.len(),
        impact.removed.iter().filter(|r| r.renamed_to.is_some()).count(),
        impact.violations.len(),
        impact.defaults.removed.len(),
        impact.defaults.renamed.len(),
        impact.defaults.changed.len(),
        impact.crds.changed.len(),
    );
    println!(
        "{:<34} {:>10} {:>10}",
        "step (best of 7)", "wall ms", "cpu ms"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:<34} {:>10.1} {:>10.1}",
        format!(
            "read both archives ({} KB text)",
            (size(&current) + size(&target)) / 1024
        ),
        ms(read_wall),
        ms(read_cpu)
    );
    println!(
        "{:<34} {:>10.1} {:>10.1}",
        format!("analyse ({OVERRIDES} overrides)"),
        ms(wall),
        ms(cpu)
    );
    println!(
        "{:<34} {:>10.1} {:>10.1}",
        format!("markdown ({} chars)", md.chars().count()),
        ms(md_wall),
        ms(md_cpu)
    );
    Ok(())
}
