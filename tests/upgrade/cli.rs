//! The binary: `scan` without `--offline` adds latest/update, and
//! `chartpilot upgrade` prints what it opened, then nothing new.

use std::path::Path;
use std::process::Command;

use super::fixture::{self, git};
use super::*;

fn chartpilot(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chartpilot"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("chartpilot runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config(dir: &Path, repo: &Path, index_dir: &Path) -> String {
    config_with(dir, repo, index_dir, "")
}

fn config_with(dir: &Path, repo: &Path, index_dir: &Path, extra: &str) -> String {
    let path = dir.join("cli.toml");
    std::fs::write(
        &path,
        format!(
            "[git]\nprovider = \"local\"\npath = \"{}\"\n[log]\nlevel = \"warn\"\n\
             [[helm.mirrors]]\nfrom = \"{}\"\nto = \"file://{}\"\n{extra}",
            repo.display(),
            fixture::CHARTS_URL,
            index_dir.display()
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn a_narrower_policy_proposes_the_allowed_version_and_says_what_it_held_back() {
    let Scratch {
        tmp,
        repo,
        index_dir,
    } = scratch("7.0.0");
    let cfg = config_with(
        tmp.path(),
        &repo,
        &index_dir,
        "[policy]\nupdate_types = [\"patch\", \"minor\"]\n\
         [[policy.charts]]\nchart = \"cert-manager\"\nignore = [\">=1.14.0\"]\n",
    );
    let (ok, out, err) = chartpilot(&["upgrade", "--config", &cfg, "--dry-run"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("would open        chartpilot/upgrade/dev/podinfo-6.6.0"),
        "{out}"
    );
    assert!(!out.contains("cert-manager-v1.14.0"), "{out}");
    assert!(
        out.contains("held back  environments/dev/podinfo.yaml:11 podinfo-dev: 7.0.0 is a major update; policy allows patch, minor"),
        "{out}"
    );
    assert!(
        out.contains("held back  platform/main.tf:3 cert-manager: v1.14.0"),
        "{out}"
    );
    assert!(
        !out.contains("prod/podinfo.yaml:11 podinfo-prod: 7.0.0"),
        "only where PRs are made: {out}"
    );
}

#[test]
fn scan_looks_up_latest_and_update_unless_offline() {
    let Scratch {
        tmp,
        repo,
        index_dir,
    } = scratch("6.6.0");
    let cfg = config(tmp.path(), &repo, &index_dir);
    let repo_arg = repo.display().to_string();

    let (ok, out, err) = chartpilot(&["scan", &repo_arg, "--config", &cfg, "--format", "json"]);
    assert!(ok, "{err}");
    let pins: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let find = |file: &str| pins.iter().find(|p| p["file"] == file).unwrap();
    let dev = find("environments/dev/podinfo.yaml");
    assert_eq!(dev["latest"], "6.6.0");
    assert_eq!(dev["update"], "minor");
    let redis = find("environments/dev/redis.yaml");
    assert_eq!(
        redis["latest"], "18.1.0",
        "already newest: latest is the pin"
    );
    assert!(redis["update"].is_null());
    let tf = find("platform/main.tf");
    assert_eq!(
        tf["latest"], "v1.14.0",
        "spelled as the repository publishes it"
    );

    let (ok, out, _) = chartpilot(&[
        "scan",
        &repo_arg,
        "--config",
        &cfg,
        "--format",
        "json",
        "--offline",
    ]);
    assert!(ok);
    let pins: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert!(pins.iter().all(|p| p.get("latest").is_none()));

    let (ok, out, _) = chartpilot(&["scan", &repo_arg, "--config", &cfg]);
    assert!(ok);
    assert!(
        out.lines()
            .next()
            .is_some_and(|h| h.contains(" VERSION  LATEST ") && h.contains(" UPDATE ")),
        "{out}"
    );
    assert!(out.trim_end().ends_with("; 4 behind"), "{out}");
}

#[test]
fn upgrade_prints_what_it_opened_and_a_second_run_opens_nothing() {
    let Scratch {
        tmp,
        repo,
        index_dir,
    } = scratch("6.6.0");
    let cfg = config(tmp.path(), &repo, &index_dir);

    let (ok, out, err) = chartpilot(&["upgrade", "--config", &cfg, "--dry-run"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("would open        {PODINFO_BRANCH}")),
        "{out}"
    );
    assert!(
        out.ends_with("2 would be opened, 0 would be updated, 0 would be closed, 0 unchanged\n"),
        "{out}"
    );
    assert_eq!(git(&repo, &["branch", "--list", "chartpilot/*"]), "");

    let (ok, out, err) = chartpilot(&["upgrade", "--config", &cfg]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!(
            "opened     #1     {CERT_MANAGER_BRANCH}  chore(deps): upgrade cert-manager to v1.14.0"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("opened     #2     {PODINFO_BRANCH}")),
        "{out}"
    );
    assert!(out.contains("skipped    environments/prod/podinfo.yaml:11 podinfo-prod: prod is reached by promotion from dev"), "{out}");
    assert!(
        out.ends_with("2 opened, 0 updated, 0 closed, 0 unchanged\n"),
        "{out}"
    );

    let (ok, out, _) = chartpilot(&["upgrade", "--config", &cfg, "--format", "json"]);
    assert!(ok);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let actions = report["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2);
    assert!(actions.iter().all(|a| a["action"] == "unchanged"), "{out}");

    // A repository that cannot be read fails with its reason, exit status 1.
    std::fs::remove_dir_all(&index_dir).unwrap();
    let (ok, out, err) = chartpilot(&["upgrade", "--config", &cfg]);
    assert!(!ok);
    assert!(out.contains("lookup failed"), "{out}");
    assert!(err.contains("chart lookup(s) failed"), "{err}");
    // Each failure is said once: its line on stdout, no log line repeating
    // it on stderr.
    for chart in ["cert-manager", "podinfo", "redis"] {
        let said = out
            .lines()
            .chain(err.lines())
            .filter(|l| l.contains(&format!("{chart} from ")))
            .count();
        assert_eq!(said, 1, "{chart}: {out}{err}");
    }
    assert!(!err.contains(super::fixture::CHARTS_URL), "{err}");
}

/// The 826-byte index that took `upgrade` to 3.85 GB and aborted it:
/// `artifacthub.io/changes` holding nine levels of nested YAML aliases.
/// Now the pass completes within a 1 GiB address-space limit, opens its PR,
/// and shows the notes as inert text.
#[test]
fn a_billion_laughs_in_release_notes_cannot_take_the_memory() {
    let Scratch {
        tmp,
        repo,
        index_dir,
    } = scratch("6.6.0");
    let mut laughs = "- &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n".to_owned();
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        laughs.push_str(&format!("- &a{i} [{}]\n", [prev.as_str(); 9].join(", ")));
    }
    assert!(laughs.len() < 900, "{}", laughs.len());
    let index = index_dir.join("index.yaml");
    let text = std::fs::read_to_string(&index).unwrap();
    let notes = "        - kind: added\n          description: Readiness gate\n";
    assert!(text.contains(notes), "{text}");
    let hostile: String = laughs.lines().map(|l| format!("        {l}\n")).collect();
    std::fs::write(&index, text.replace(notes, &hostile)).unwrap();
    let cfg = config(tmp.path(), &repo, &index_dir);
    // 1 GiB of address space: the expansion needed gigabytes.
    let out = Command::new("sh")
        .args([
            "-c",
            "ulimit -v 1048576 && exec \"$0\" upgrade --config \"$1\"",
            env!("CARGO_BIN_EXE_chartpilot"),
            &cfg,
        ])
        .env_remove("RUST_LOG")
        .output()
        .expect("sh runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("chartpilot/upgrade/dev/podinfo-6.6.0"),
        "{stdout}"
    );
    let pulls = std::fs::read_to_string(repo.join(".git/chartpilot/pulls.jsonl")).unwrap();
    assert!(pulls.contains("&amp;a9 \\\\[\\\\*a8"), "{pulls}");
}
