//! The Grafana dashboard as tests read it: its PromQL expressions and the
//! metric names they query.

use std::path::Path;

pub fn dashboard() -> serde_json::Value {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/chartpilot.json");
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// (panel id, refId, expr) of every query, rows' nested panels included.
pub fn expressions(v: &serde_json::Value) -> Vec<(u64, String, String)> {
    fn walk(v: &serde_json::Value, panel: u64, out: &mut Vec<(u64, String, String)>) {
        match v {
            serde_json::Value::Object(m) => {
                let panel = m.get("id").and_then(|i| i.as_u64()).unwrap_or(panel);
                if let Some(expr) = m.get("expr").and_then(|e| e.as_str()) {
                    let r = m.get("refId").and_then(|r| r.as_str()).unwrap_or("?");
                    out.push((panel, r.to_owned(), expr.to_owned()));
                }
                m.values().for_each(|c| walk(c, panel, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|c| walk(c, panel, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, 0, &mut out);
    out
}

/// The `chartpilot_…` metric names in an expression (not recording rule
/// names, which have a colon, nor longer identifiers ending in one).
pub fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("chartpilot_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        let bounded = rest[..i]
            .chars()
            .last()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'));
        if bounded && !tail[..end].contains(':') {
            out.push(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    out
}
