//! Helm `index.yaml`.

use super::{ChartIndex, Release};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index.yaml line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    #[error("index.yaml: {0}")]
    Shape(String),
}

/// Parses an index, keeping only charts for which `wanted(name)` is true.
///
/// PLACEHOLDER: loads a whole YAML tree; replaced by a lean streaming parser.
pub fn parse_index(bytes: &[u8], wanted: &dyn Fn(&str) -> bool) -> Result<ChartIndex, IndexError> {
    use yaml_rust2::{Yaml, YamlLoader};
    let text = std::str::from_utf8(bytes).map_err(|e| IndexError::Shape(e.to_string()))?;
    let docs = YamlLoader::load_from_str(text).map_err(|e| IndexError::Syntax {
        line: e.marker().line(),
        reason: e.to_string(),
    })?;
    let mut out = ChartIndex::new();
    let Some(entries) = docs.first().and_then(|d| d["entries"].as_hash()) else {
        return Err(IndexError::Shape("no `entries` map".into()));
    };
    for (name, list) in entries {
        let Some(name) = name.as_str() else { continue };
        if !wanted(name) {
            continue;
        }
        let releases = list
            .as_vec()
            .map(|v| {
                v.iter()
                    .filter_map(|r| {
                        let version = match &r["version"] {
                            Yaml::String(s) => s.clone(),
                            Yaml::Real(s) => s.clone(),
                            Yaml::Integer(i) => i.to_string(),
                            _ => return None,
                        };
                        Some(Release {
                            version,
                            app_version: r["appVersion"].as_str().map(str::to_owned),
                            created: r["created"].as_str().and_then(|c| c.parse().ok()),
                            deprecated: r["deprecated"].as_bool().unwrap_or(false),
                            ..Release::default()
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.insert(name.to_owned(), releases);
    }
    Ok(out)
}
