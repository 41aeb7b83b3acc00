//! `chartpilot demo`: the whole loop on one machine, offline. A sample
//! platform repository (local git host), `file://` chart repositories, the
//! embedded queue and every feature on, all under one folder (`data/demo`
//! unless given), created once and reused by later starts.
//!
//! `serve` runs the same when it is started with nothing configured, see
//! [`serve_runs_demo`].

mod repo;
pub mod script;
pub mod send;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::settings::{Settings, DEFAULT_CONFIG_PATH};

pub use repo::ENVIRONMENTS;

/// Where the demo lives unless a folder is given: under `data/`, beside the
/// embedded queue's default, so one folder holds all a first run writes.
pub const DEFAULT_DIR: &str = "data/demo";

/// The demo's secrets, one file each so the config can name them as
/// `*_file` (as on Kubernetes): (file name, what it signs).
const SECRETS: [(&str, &str); 3] = [
    ("github-webhook-secret", "github.webhook_secret"),
    ("alertmanager-token", "alertmanager.token"),
    ("chat-secret", "chat.secret"),
];

/// A branch, app and chart of the sample the guided loop acts on.
pub const MERGED_CHART: &str = "cert-manager";
pub const FAILING_APP: &str = "jupyterhub-prod";

/// The demo folder as `serve` and the `demo` commands use it.
#[derive(Debug, Clone)]
pub struct Demo {
    /// Absolute, so the config file it writes works from any directory.
    pub dir: PathBuf,
    /// The sample GitOps repository (`git.path`).
    pub repo: PathBuf,
    /// The config file `serve` loads for the demo.
    pub config: PathBuf,
    /// Whether this start created the repository (else it was reused).
    pub created: bool,
}

impl Demo {
    /// Creates what is missing under `dir` (repository, chart indexes,
    /// secrets) and writes the demo's config file; reuses what is there.
    pub fn prepare(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let dir = std::fs::canonicalize(dir)
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        repo::write_chart_repositories(&dir.join("charts"))?;
        let secrets = dir.join("secrets");
        for (file, _) in SECRETS {
            write_secret_once(&secrets.join(file))?;
        }
        let repo = dir.join("platform");
        let created = repo::create_once(&repo)?;
        let config = dir.join("chartpilot.toml");
        let text = config_toml(&dir);
        // Rewritten only when it changed (a moved folder), so a person's
        // `ls -l` shows when it last mattered.
        if std::fs::read_to_string(&config).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&config, text)
                .with_context(|| format!("cannot write {}", config.display()))?;
        }
        Ok(Self {
            dir,
            repo,
            config,
            created,
        })
    }

    /// The demo already prepared at `dir`, for the `send` commands: they
    /// talk to a running demo and create nothing.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let dir = std::fs::canonicalize(dir).map_err(|_| {
            anyhow::anyhow!(
                "no demo at {}: start one with `chartpilot demo`",
                dir.display()
            )
        })?;
        let config = dir.join("chartpilot.toml");
        if !config.exists() {
            anyhow::bail!(
                "no demo at {}: start one with `chartpilot demo`",
                dir.display()
            );
        }
        Ok(Self {
            repo: dir.join("platform"),
            dir,
            config,
            created: false,
        })
    }

    /// `http://host:port` of the service these settings listen on; a
    /// wildcard address is reached on loopback.
    pub fn base_url(settings: &Settings) -> anyhow::Result<String> {
        let mut addr = settings.listen_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        Ok(format!("http://{addr}"))
    }

    /// The demo's settings: its config file, then the environment.
    pub fn settings(&self, env: &HashMap<String, String>) -> anyhow::Result<Settings> {
        Settings::load(Some(&self.config), env).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The pull log the local git host writes.
    pub fn pulls_log(&self) -> PathBuf {
        self.repo
            .join(".git")
            .join("chartpilot")
            .join("pulls.jsonl")
    }

    /// What `serve` prints first in the demo: that it is one, where things
    /// are, how to drive it and which keys point chartpilot elsewhere.
    pub fn banner(&self, settings: &Settings) -> String {
        let dir_arg = self.dir_arg();
        let secret = |name: &str| {
            std::fs::read_to_string(self.dir.join("secrets").join(name))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        format!(
            "\
chartpilot demo — a sample platform repository on this machine, offline
  repository   {repo} ({state})
  pull log     {pulls}
  chart repos  {charts} (file:// mirrors of the public URLs the pins name)
  config       {config}
  listening    http://{listen}
  secrets      github.webhook_secret = {gh}
               alertmanager.token    = {am}
               chat.secret           = {chat}

Try the loop (each command signs with the secrets above and waits for its effect):
  1. chartpilot demo send push{dir_arg}
     merges the dev {chart} upgrade PR and sends the push: a sync, then the promotion PR to staging after a {soak} soak
  2. chartpilot demo send alert{dir_arg}
     Alertmanager says {app} is failing after its prod rollout: a revert PR with its reasoning
  3. chartpilot demo send chat{dir_arg}
     `/chartpilot status {app}` through the generic chat route; the reply is printed
Or run all three at once: chartpilot demo --script{dir_arg}

Point chartpilot at a real repository with a config file (--config) or
CHARTPILOT__* variables: git.provider, git.path or git.repository,
github.token, github.webhook_secret, alertmanager.token, chat.secret,
argocd.mode (docs/configuration.md, docs/demo.md).
",
            repo = self.repo.display(),
            state = if self.created { "created now" } else { "reused" },
            pulls = self.pulls_log().display(),
            charts = self.dir.join("charts").display(),
            config = self.config.display(),
            listen = settings.server.listen,
            gh = secret(SECRETS[0].0),
            am = secret(SECRETS[1].0),
            chat = secret(SECRETS[2].0),
            chart = MERGED_CHART,
            app = FAILING_APP,
            soak = humantime::format_duration(settings.policy.soak),
        )
    }

    /// ` DIR` for printed commands when the demo is not in the default place.
    fn dir_arg(&self) -> String {
        let default = std::env::current_dir()
            .map(|d| d.join(DEFAULT_DIR))
            .ok()
            .and_then(|d| std::fs::canonicalize(d).ok());
        if default.as_deref() == Some(self.dir.as_path()) {
            String::new()
        } else {
            format!(" {}", self.dir.display())
        }
    }
}

/// Whether `serve` runs the demo: it was started with nothing configured
/// — no `--config`, no `config/default.toml` in the working directory, no
/// `CHARTPILOT__*` variable but `CHARTPILOT__SERVER__*` and
/// `CHARTPILOT__LOG__*` — in a directory that is not inside a git
/// repository (the default `git.path = "."` would find none). Anything
/// configured means a real setup, whose broken parts must show as broken.
pub fn serve_runs_demo(config_given: bool, env: &HashMap<String, String>, cwd: &Path) -> bool {
    let only_listen_or_log = env.keys().all(|k| {
        !k.starts_with("CHARTPILOT__")
            || k.starts_with("CHARTPILOT__SERVER__")
            || k.starts_with("CHARTPILOT__LOG__")
    });
    !config_given
        && !cwd.join(DEFAULT_CONFIG_PATH).exists()
        && only_listen_or_log
        && !inside_git_repository(cwd)
}

fn inside_git_repository(dir: &Path) -> bool {
    std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--git-dir"])
        .env_remove("GIT_DIR")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A random secret in `path`, made once (owner-only) and kept.
fn write_secret_once(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let secret = format!("demo-{}", uuid::Uuid::new_v4().simple());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    std::io::Write::write_all(&mut file, format!("{secret}\n").as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Soak before a merged dev version goes to staging: long enough to see the
/// promotion wait, short enough to watch it happen.
const DEMO_SOAK: &str = "5s";

/// First wait between promotion checks in the demo (it grows to 16x).
const DEMO_RECHECK: &str = "1s";

/// The demo's config file: everything on, everything under `dir`.
fn config_toml(dir: &Path) -> String {
    let d = dir.display();
    let mut text = format!(
        "\
# Written by `chartpilot demo` (rewritten at each start). Copy it as a
# starting point for a real setup: change [git], the secrets and [argocd].

[queue]
path = \"{d}/queue\"

[github]
webhook_secret_file = \"{d}/secrets/{gh}\"

[alertmanager]
token_file = \"{d}/secrets/{am}\"

[chat]
secret_file = \"{d}/secrets/{chat}\"

[git]
provider = \"local\"
path = \"{d}/platform\"
repository = \"demo/platform\"   # pushes name this repository
branch = \"main\"

[argocd]
mode = \"none\"                   # syncs are logged, not sent

[policy]
environments = [{envs}]
soak = \"{DEMO_SOAK}\"

[promotion]
recheck = \"{DEMO_RECHECK}\"

[upgrade]
interval = \"0s\"                 # a pass runs at start and after each push
",
        gh = SECRETS[0].0,
        am = SECRETS[1].0,
        chat = SECRETS[2].0,
        envs = ENVIRONMENTS
            .iter()
            .map(|e| format!("\"{e}\""))
            .collect::<Vec<_>>()
            .join(", "),
    );
    for (folder, url, _) in repo::CHART_REPOSITORIES {
        text.push_str(&format!(
            "\n[[helm.mirrors]]\nfrom = \"{url}\"\nto = \"file://{d}/charts/{folder}/index.yaml\"\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_runs_the_demo_only_with_nothing_configured() {
        let empty = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let vars = |pairs: &[&str]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|k| ((*k).to_owned(), "x".to_owned()))
                .collect()
        };
        let cwd = empty.path();
        assert!(serve_runs_demo(false, &vars(&[]), cwd));
        assert!(serve_runs_demo(
            false,
            &vars(&[
                "CHARTPILOT__SERVER__LISTEN",
                "CHARTPILOT__LOG__LEVEL",
                "HOME"
            ]),
            cwd
        ));
        assert!(!serve_runs_demo(true, &vars(&[]), cwd));
        assert!(!serve_runs_demo(
            false,
            &vars(&["CHARTPILOT__CHAT__SECRET"]),
            cwd
        ));
        std::fs::create_dir_all(cwd.join("config")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(cwd.join(DEFAULT_CONFIG_PATH), "").unwrap_or_else(|e| panic!("{e}"));
        assert!(!serve_runs_demo(false, &vars(&[]), cwd));
    }
}
