//! `chartpilot report`: the version matrix for people (table, Markdown,
//! HTML) and for CI (JSON). Every view renders the one `matrix::Matrix`;
//! none recomputes it.

use std::io::Write;
use std::path::Path;

use crate::matrix::render::{html_table, markdown, table};
use crate::matrix::{self, Matrix};
use crate::pins::{self, DiscoverOptions};
use crate::promote::freeze::{Freezes, FREEZE_FILE};

use super::LookupFn;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Aligned columns for a terminal.
    Table,
    /// GitHub-flavoured Markdown, for issues and PRs.
    Markdown,
    /// The matrix as JSON (docs/report.md).
    Json,
    /// One self-contained HTML page.
    Html,
}

/// The matrix of the repository at `root`, with lookups when given.
pub fn matrix_of(
    root: &Path,
    opts: &DiscoverOptions,
    lookup: Option<LookupFn<'_>>,
    err: &mut dyn Write,
) -> Result<Matrix, String> {
    let scan =
        pins::discover(root, opts).map_err(|e| format!("cannot scan {}: {e}", root.display()))?;
    for w in &scan.warnings {
        writeln!(err, "warning: {w}").map_err(|e| e.to_string())?;
    }
    let freezes = match std::fs::read_to_string(root.join(FREEZE_FILE)) {
        Ok(text) => Freezes::parse(&text).map_err(|e| format!("{}: {e}", root.display()))?,
        Err(_) => Freezes::default(),
    };
    let latest = lookup.map(|f| {
        let (latest, failures) = f(&scan.pins);
        for e in failures {
            let _ = writeln!(err, "warning: lookup failed: {e}");
        }
        latest
    });
    Ok(matrix::build(
        &scan.pins,
        latest.as_deref(),
        &opts.environments,
        &freezes,
    ))
}

/// `chartpilot report`: the matrix of DIR, or of a snapshot of the
/// configured repository's base branch with chartpilot's open PRs in
/// their cells.
pub fn run(
    s: &crate::settings::Settings,
    opts: &DiscoverOptions,
    dir: Option<std::path::PathBuf>,
    format: ReportFormat,
    offline: bool,
) -> Result<(), String> {
    let snapshot =
        tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let (root, open) = match dir {
        Some(dir) => (dir, Vec::new()),
        None => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            let open = runtime.block_on(async {
                let host =
                    crate::git::from_settings(s, std::sync::Arc::new(crate::clock::SystemClock))
                        .map_err(|e| format!("the configured repository: {e}"))?;
                let base = host.base_branch().to_owned();
                let head = host
                    .branch_head(&base)
                    .await
                    .map_err(|e| format!("branch {base}: {e}"))?
                    .ok_or_else(|| format!("branch {base} does not exist"))?;
                host.snapshot(&head, snapshot.path())
                    .await
                    .map_err(|e| format!("snapshot of {base}: {e}"))?;
                host.open_pulls()
                    .await
                    .map_err(|e| format!("open pull requests: {e}"))
            })?;
            (snapshot.path().to_path_buf(), open)
        }
    };
    let build = |lookup: Option<LookupFn<'_>>| {
        matrix_of(&root, opts, lookup, &mut std::io::stderr().lock())
    };
    let mut m = if offline {
        build(None)?
    } else {
        super::latest::with_lookups(s, |f| build(Some(f)))?
    };
    // Only chartpilot's branches name a cell: other PRs place nowhere.
    matrix::attach_pulls(&mut m, &open);
    render(&m, format, &mut std::io::stdout().lock())?;
    if m.summary.lookups_failed > 0 {
        return Err(format!(
            "{} lookups failed (see the cells marked `lookup failed`)",
            m.summary.lookups_failed
        ));
    }
    Ok(())
}

/// Writes `m` in `format`.
pub fn render(m: &Matrix, format: ReportFormat, out: &mut dyn Write) -> Result<(), String> {
    let text = match format {
        ReportFormat::Json => serde_json::to_string_pretty(m).map_err(|e| e.to_string())? + "\n",
        ReportFormat::Table => table(m),
        ReportFormat::Markdown => markdown(m),
        ReportFormat::Html => html(m),
    };
    out.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write output: {e}"))
}

fn html(m: &Matrix) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>chartpilot: chart versions</title>\n\
         <style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style>\n\
         </head><body>\n<h1>Chart versions</h1>\n{}</body></html>\n",
        html_table(m)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::render::cell_text;
    use crate::pins::{Pin, PinKind};
    use crate::settings::UpdateType;
    use crate::upgrade::source::Latest;

    fn matrix() -> Matrix {
        let pin = |env: &str, v: &str| Pin::sample(PinKind::Argocd, Some(env), "<script>app", v);
        let pins = [pin("dev", "1.1.0"), pin("prod", "1.0.0")];
        let latest = [
            Latest {
                latest: Some("1.1.0".into()),
                ..Latest::default()
            },
            Latest {
                latest: Some("1.1.0".into()),
                update: Some(UpdateType::Minor),
                held_back: Some("2.0.0 is a major update".into()),
                ..Latest::default()
            },
        ];
        let envs = ["dev", "prod"].map(str::to_owned);
        matrix::build(&pins, Some(&latest), &envs, &Freezes::default())
    }

    #[test]
    fn every_view_says_the_same_cells() {
        let m = matrix();
        let prod = "1.0.0 → 1.1.0 (minor); behind dev (1.1.0); held back";
        assert_eq!(cell_text(&m.rows[0].cells["prod"]), prod);
        let mut out = Vec::new();
        render(&m, ReportFormat::Table, &mut out).unwrap_or_default();
        let table = String::from_utf8_lossy(&out).into_owned();
        assert!(table.contains(prod), "{table}");
        assert!(table.ends_with("1 charts, 2 pins; 1 behind, 1 drifting, 0 ranges, 0 unresolved, 0 local charts, 0 lookups failed\n"), "{table}");
        let md = markdown(&m);
        assert!(
            md.contains("| &lt;script&gt;app | application | 1.1.0 |"),
            "{md}"
        );
        assert!(
            md.contains("- &lt;script&gt;app in prod: 2.0.0 is a major update"),
            "{md}"
        );
        let page = html(&m);
        assert!(
            page.contains(
                "<td data-env=\"prod\">1.0.0 → 1.1.0 (minor); behind dev (1.1.0); held back</td>"
            ),
            "{page}"
        );
        assert!(!page.contains("<script>app"), "{page}");
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&m).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(json["rows"][0]["cells"]["prod"]["drift"]["kind"], "behind");
        assert_eq!(json["rows"][0]["cells"]["prod"]["update"], "minor");
    }
}
