//! `chartpilot impact DIR --chart NAME --to VERSION`: what moving the pins
//! of a chart to VERSION does to the repository's overrides, for a person
//! about to bump by hand. Exit 0: nothing breaks; 1: overrides break; 2:
//! the analysis could not run.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::Format;
use crate::charts::archive::{self, ChartFiles};
use crate::impact::{self, render, ArchiveSource, Impact};
use crate::pins::{self, DiscoverOptions, Pin, PinKind};
use crate::settings::PolicySettings;

/// What to analyse.
#[derive(Debug, Clone)]
pub struct ImpactRequest {
    pub chart: String,
    pub to: String,
    pub env: Option<String>,
}

/// One pin and what the target version does to its overrides.
#[derive(Debug, Serialize)]
pub struct PinImpact {
    pub file: String,
    pub line: usize,
    pub kind: PinKind,
    pub name: String,
    pub env: Option<String>,
    pub repository: Option<String>,
    pub chart: Option<String>,
    pub version: String,
    pub breaks_overrides: bool,
    pub impact: Impact,
}

/// Whether `pin` is one `request` asks about: the chart by name or as
/// written; with an environment, that environment's Argo CD pins and the
/// Terraform pins, which belong to no environment.
fn wanted(pin: &Pin, request: &ImpactRequest) -> bool {
    let chart = pin.chart.as_deref() == Some(request.chart.as_str())
        || pin.chart_name() == Some(request.chart.as_str());
    let env = match &request.env {
        None => true,
        Some(env) => {
            pin.env.as_deref() == Some(env.as_str())
                || (pin.kind == PinKind::Terraform && pin.env.is_none())
        }
    };
    chart && env && !pin.local_chart
}

/// The impact for every pin of the chart under `root`; warnings (pins
/// without a version) go to `err`.
pub async fn analyse_repository(
    root: &Path,
    request: &ImpactRequest,
    opts: &DiscoverOptions,
    policy: &PolicySettings,
    source: &dyn ArchiveSource,
    err: &mut dyn Write,
) -> Result<Vec<PinImpact>, String> {
    let (files, _) =
        pins::collect(root).map_err(|e| format!("cannot scan {}: {e}", root.display()))?;
    let scan = pins::scan_files(&files, opts);
    let matching: Vec<&Pin> = scan.pins.iter().filter(|p| wanted(p, request)).collect();
    if matching.is_empty() {
        let mut charts: Vec<&str> = scan
            .pins
            .iter()
            .filter(|p| !p.local_chart)
            .filter_map(Pin::chart_name)
            .collect();
        charts.sort_unstable();
        charts.dedup();
        let scope = request
            .env
            .as_deref()
            .map(|e| format!(" in environment `{e}`"))
            .unwrap_or_default();
        return Err(format!(
            "no pin of chart `{}`{scope} under {}; charts found: {}",
            request.chart,
            root.display(),
            if charts.is_empty() {
                "none".to_owned()
            } else {
                charts.join(", ")
            }
        ));
    }
    let mut charts: HashMap<(Option<String>, String, String), ChartFiles> = HashMap::new();
    let mut out = Vec::new();
    for pin in matching {
        let (Some(version), Some(chart)) = (&pin.version, &pin.chart) else {
            let why = pin
                .reason
                .as_deref()
                .or(pin.constraint.as_deref().map(|_| "a range, not a version"))
                .unwrap_or("version unresolved");
            writeln!(
                err,
                "warning: {}:{}: `{}` skipped: {why}",
                pin.file, pin.line, pin.name
            )
            .map_err(|e| e.to_string())?;
            continue;
        };
        for v in [version, &request.to] {
            let key = (pin.repository.clone(), chart.clone(), v.clone());
            if charts.contains_key(&key) {
                continue;
            }
            let bytes = source
                .archive(pin.repository.as_deref(), chart, v)
                .await
                .map_err(|e| format!("{}:{}: chart `{chart}` {v}: {e}", pin.file, pin.line))?;
            let files = archive::read(&bytes)
                .map_err(|e| format!("{}:{}: chart `{chart}` {v}: {e}", pin.file, pin.line))?;
            charts.insert(key, files);
        }
        let get = |v: &str| charts.get(&(pin.repository.clone(), chart.clone(), v.to_owned()));
        let (Some(current), Some(target)) = (get(version), get(&request.to)) else {
            continue;
        };
        let overrides = impact::collect(Some(root), pin, &files);
        let impact = impact::analyse(current, target, &overrides, policy);
        out.push(PinImpact {
            file: pin.file.clone(),
            line: pin.line,
            kind: pin.kind,
            name: pin.name.clone(),
            env: pin.env.clone(),
            repository: pin.repository.clone(),
            chart: pin.chart.clone(),
            version: version.clone(),
            breaks_overrides: impact.breaks_overrides(),
            impact,
        });
    }
    if out.is_empty() {
        return Err(format!(
            "no pin of chart `{}` has a version to compare with {}",
            request.chart, request.to
        ));
    }
    Ok(out)
}

/// Writes the result; true when some pin's overrides break.
pub fn write(found: &[PinImpact], format: Format, out: &mut dyn Write) -> Result<bool, String> {
    let io = |e: std::io::Error| format!("cannot write output: {e}");
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(found).map_err(|e| e.to_string())?;
            writeln!(out, "{text}").map_err(io)?;
        }
        Format::Table => {
            for (i, p) in found.iter().enumerate() {
                if i > 0 {
                    writeln!(out).map_err(io)?;
                }
                let env = p
                    .env
                    .as_deref()
                    .map(|e| format!(" [{e}]"))
                    .unwrap_or_default();
                writeln!(out, "{}:{} {}{env}", p.file, p.line, p.name).map_err(io)?;
                out.write_all(render::table(&p.impact).as_bytes())
                    .map_err(io)?;
            }
        }
    }
    Ok(found.iter().any(|p| p.breaks_overrides))
}

/// `chartpilot impact`: looks the archives up in the chart repositories
/// the pins name.
pub fn run(
    settings: &crate::settings::Settings,
    opts: &DiscoverOptions,
    dir: &Path,
    request: &ImpactRequest,
    format: Format,
) -> Result<bool, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let lookup =
        crate::charts::lookup::Lookup::one_shot(&settings.helm).map_err(|e| e.to_string())?;
    let source = lookup;
    let found = runtime.block_on(analyse_repository(
        dir,
        request,
        opts,
        &settings.policy,
        &source,
        &mut std::io::stderr().lock(),
    ))?;
    write(&found, format, &mut std::io::stdout().lock())
}
