//! The status page at `/` of the demo's service, read by a real browser
//! (Debian's headless chromium; the page's CSP allows no script): after an upgrade pass, a
//! merge with its promotion and a rollback, it shows the same cells as
//! `chartpilot report` and the actions the loop took.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{bin, free_port, get, run_printed, wait_for_pull, Service, LOOP_BUDGET};

/// How long chromium may take to load and print one page.
const BROWSER_PATIENCE: &str = "30";

/// Runs headless chromium on `url` with `args` (`--dump-dom`,
/// `--screenshot=…`), its profile in `profile`.
fn chromium(profile: &Path, url: &str, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .arg(BROWSER_PATIENCE)
        .arg("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--window-size=1400,1100",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium must be installed: run scripts/test-services.sh");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Text as a browser shows it: entities decoded, whitespace folded.
fn decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The matrix table's cells by (chart, tier, environment), from any HTML
/// rendering of it (ours, or the browser's serialization of the DOM).
fn cells(html: &str) -> BTreeMap<(String, String, String), String> {
    let table = html
        .split("<table id=\"matrix\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no matrix table in {html}"));
    let row = regex::Regex::new(r"(?s)<tr>(.*?)</tr>").unwrap();
    let td = regex::Regex::new(r#"(?s)<td(?: data-env="([^"]*)")?>(.*?)</td>"#).unwrap();
    let mut out = BTreeMap::new();
    for r in row.captures_iter(table) {
        let tds: Vec<(Option<String>, String)> = td
            .captures_iter(&r[1])
            .map(|c| (c.get(1).map(|m| decode(m.as_str())), decode(&c[2])))
            .collect();
        let [(None, chart), (None, tier), rest @ ..] = tds.as_slice() else {
            continue; // the header row
        };
        for (env, text) in rest {
            let env = env.clone().expect("a cell names its environment");
            out.insert((chart.clone(), tier.clone(), env), text.clone());
        }
    }
    out
}

/// The matrix table of the dashboard's Markdown, by (chart, tier, env),
/// unescaped as GitHub shows it.
fn markdown_cells(md: &str) -> BTreeMap<(String, String, String), String> {
    let unescape = |s: &str| {
        let s = s.trim().replace('\u{2060}', "");
        let unslashed = regex::Regex::new(r"\\(.)")
            .unwrap()
            .replace_all(&s, "$1")
            .into_owned();
        decode(&unslashed)
    };
    let mut lines = md
        .split("## Chart versions\n\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no matrix in {md}"))
        .lines()
        .take_while(|l| l.starts_with('|'));
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .trim_matches('|')
        .split(" | ")
        .map(|h| match unescape(h).as_str() {
            "no env" => "-".to_owned(),
            other => other.trim_end_matches(" (frozen)").to_owned(),
        })
        .collect();
    let mut out = BTreeMap::new();
    for line in lines.skip(1) {
        let cells: Vec<String> = line
            .strip_prefix("| ")
            .and_then(|l| l.strip_suffix(" |"))
            .unwrap()
            .split(" | ")
            .map(unescape)
            .collect();
        for (env, text) in header.iter().zip(&cells).skip(2) {
            out.insert(
                (cells[0].clone(), cells[1].clone(), env.clone()),
                text.clone(),
            );
        }
    }
    out
}

/// `chartpilot_pins_behind` by (kind, environment), from a scrape.
fn behind_in_scrape(scrape: &str) -> BTreeMap<(String, String), u64> {
    let line = regex::Regex::new(
        r#"(?m)^chartpilot_pins_behind\{gitops_repository="[^"]+",kind="([^"]+)",environment="([^"]+)"\} (\d+)$"#,
    )
    .unwrap();
    line.captures_iter(scrape)
        .map(|c| ((c[1].to_owned(), c[2].to_owned()), c[3].parse().unwrap()))
        .collect()
}

/// The same counts from `report --format json`: the pins of each cell
/// with a newer allowed version.
fn behind_in_report(report: &serde_json::Value) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for row in report["rows"].as_array().unwrap() {
        let kind = match row["tier"].as_str().unwrap() {
            "platform" => "terraform",
            "application" => "argocd",
            _ => "chart-dependency",
        };
        for (env, cell) in row["cells"].as_object().unwrap() {
            let n = cell["pins"].as_array().unwrap().len() as u64;
            let behind = if cell["update"].is_null() { 0 } else { n };
            *out.entry((kind.to_owned(), env.clone())).or_insert(0) += behind;
        }
    }
    out
}

fn service_lines(service: &Service, needle: &str) -> usize {
    service.output().matches(needle).count()
}

#[test]
fn the_status_page_shows_in_a_browser_what_report_and_the_loop_say() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut service = Service::start(dir.path(), port);
    wait_for_pull(dir.path(), "chartpilot/upgrade/dev/cert-manager-");
    wait_for_pull(dir.path(), "chartpilot/upgrade/dev/jupyterhub-");
    let passes = service_lines(&service, "upgrade pass done");
    // A merge of the dev upgrade (a pass and a promotion follow), then a
    // failed prod rollout (a revert PR).
    let push = run_printed(dir.path(), port, "chartpilot demo send push");
    assert!(push.contains("promotion PR #"), "{push}");
    let alert = run_printed(dir.path(), port, "chartpilot demo send alert");
    assert!(alert.contains("revert PR #"), "{alert}");
    let deadline = Instant::now() + LOOP_BUDGET;
    // Two passes follow: the push's, and the one the promotion PR asks for.
    while service_lines(&service, "upgrade pass done") < passes + 2 {
        assert!(
            Instant::now() < deadline,
            "no pass after the push: {}",
            service.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let url = format!("http://127.0.0.1:{port}/");
    let profile = tempfile::tempdir().unwrap();
    // Headless chromium reads the DOM through script of its own, so it
    // cannot turn page scripts off; the page's CSP does (`default-src
    // 'none'`), and the page carries none. What the browser shows is the
    // server's HTML.
    let dom = chromium(profile.path(), &url, &["--dump-dom"]);
    let shot: PathBuf = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().unwrap();
    chromium(
        profile.path(),
        &url,
        &[&format!("--screenshot={}", shot.display())],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "{shot:?}");
    eprintln!("status page screenshot: {}", shot.display());

    // The same cells as `report` of the base branch, with lookups.
    let report = bin(dir.path(), port)
        .args([
            "report",
            "--config",
            "data/demo/chartpilot.toml",
            "--format",
            "html",
        ])
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let expected = cells(&String::from_utf8_lossy(&report.stdout));
    let shown = cells(&dom);
    assert!(expected.len() >= 6, "{expected:?}");
    assert_eq!(shown, expected);
    // The dashboard (the local host's file) says the same, cell by cell:
    // every cell of the report with text is in it.
    let dashboard = std::fs::read_to_string(
        dir.path()
            .join("data/demo/platform/.git/chartpilot/dashboard.md"),
    )
    .unwrap();
    let in_dashboard = markdown_cells(&dashboard);
    let with_text: BTreeMap<_, _> = expected
        .iter()
        .filter(|(_, t)| !t.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let dashboard_with_text: BTreeMap<_, _> = in_dashboard
        .into_iter()
        .filter(|(_, t)| !t.is_empty())
        .collect();
    assert_eq!(dashboard_with_text, with_text);
    // And /metrics counts what the report shows behind, per kind and
    // environment.
    let json = bin(dir.path(), port)
        .args([
            "report",
            "--config",
            "data/demo/chartpilot.toml",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(json.status.success());
    let report_json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let scrape = get(port, "/metrics").unwrap().1;
    assert_eq!(
        behind_in_scrape(&scrape),
        behind_in_report(&report_json),
        "{scrape}"
    );
    // The merged dev upgrade is the pin now; staging waits for it.
    let cert_dev = &shown[&(
        "cert-manager".to_owned(),
        "platform".to_owned(),
        "dev".to_owned(),
    )];
    assert!(cert_dev.starts_with("v1.14.4"), "{cert_dev}");
    let cert_staging = &shown[&(
        "cert-manager".to_owned(),
        "platform".to_owned(),
        "staging".to_owned(),
    )];
    assert!(
        cert_staging.contains("behind dev (v1.14.4)"),
        "{cert_staging}"
    );

    // The actions of the loop, newest first, PRs linked where known.
    let actions = dom
        .split("<table id=\"actions\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no actions table: {dom}"));
    let kinds: Vec<&str> = regex::Regex::new(r"<td>(upgrade|promotion|rollback|sync)</td>")
        .unwrap()
        .captures_iter(actions)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert_eq!(kinds.first(), Some(&"rollback"), "{actions}");
    assert!(kinds.contains(&"promotion"), "{actions}");
    assert!(kinds.contains(&"upgrade"), "{actions}");
    assert!(decode(actions).contains("opened revert #"), "{actions}");
    assert!(decode(actions).contains("in staging"), "{actions}");

    // The local host's dashboard "issue": the file beside the PR log, with
    // a box for a pending upgrade (cert-manager in prod, no PR yet).
    assert!(
        dashboard.starts_with("<!-- chartpilot:dashboard -->"),
        "{dashboard}"
    );
    assert!(
        dashboard.contains("- [ ] <!-- chartpilot:upgrade cert-manager prod v1.14.4 -->"),
        "{dashboard}"
    );

    // Features, and a queue with nothing parked.
    assert!(
        dom.contains("<tr data-feature=\"upgrades\"><td>upgrades</td><td class=\"on\">on</td>"),
        "{dom}"
    );
    assert!(dom.contains("<td data-count=\"parked\">0</td>"), "{dom}");
    assert!(!dom.contains("<script"), "{dom}");
    let head = get(port, "/").unwrap().0.to_lowercase();
    assert!(
        head.contains("content-security-policy: default-src 'none';"),
        "{head}"
    );
    service.stop();
}
