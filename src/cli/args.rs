//! The command line as clap sees it: every subcommand, flag and argument
//! with its help, examples and environment. `main` dispatches on [`Cli`];
//! completions, the man page and the help tests read [`command`], so what
//! they show is what parses.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use super::report::ReportFormat;
use super::Format;
use crate::demo::send::Event;
use crate::startup::Role;

/// Appends the environment every config-reading command honours. A macro
/// because `after_help` wants one literal per command, built at compile time.
macro_rules! with_config_env {
    ($examples:literal) => {
        concat!(
            $examples,
            "\n\nEnvironment:\n",
            "  CHARTPILOT__SECTION__KEY  overrides one config key over the file, e.g.\n",
            "                            CHARTPILOT__QUEUE__URL, CHARTPILOT__GIT__TOKEN\n",
            "                            (every key: docs/configuration.md); a secret may\n",
            "                            also be read from a file: git.token_file = \"/path\""
        )
    };
}

/// Where `RUST_LOG` applies: commands that log while they work.
macro_rules! with_log_env {
    ($examples:literal) => {
        concat!(
            with_config_env!($examples),
            "\n  RUST_LOG                  overrides log.level, e.g. \
             RUST_LOG=chartpilot::worker=debug"
        )
    };
}

const CONFIG_HELP: &str =
    "Config file (TOML), read over the built-in defaults [default: config/default.toml when present]";

const LOG_FORMAT_HELP: &str = "Log line format; overrides log.format";

#[derive(Parser)]
#[command(
    name = "chartpilot",
    version,
    about = "Keeps Helm chart pins moving safely",
    long_about = "Keeps the Helm chart pins of a GitOps repository moving safely: upgrade PRs \
                  dev first, promotion, Argo CD syncs on push, reverts on failed rollouts.",
    after_help = "Examples:\n  chartpilot demo\n  chartpilot scan . --offline\n  \
                  chartpilot check-config --config chartpilot.toml\n  \
                  chartpilot serve --config chartpilot.toml --role worker\n  \
                  chartpilot help scan\n\n\
                  Configuration: built-in defaults, then --config, then CHARTPILOT__SECTION__KEY \
                  variables (docs/configuration.md)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the service: webhook receivers and/or the worker.
    #[command(after_help = with_log_env!(
        "Examples:\n  chartpilot serve --config chartpilot.toml\n  \
         chartpilot serve --config chartpilot.toml --role receiver --log-format json\n  \
         CHARTPILOT__QUEUE__KIND=amqp chartpilot serve --role worker"
    ))]
    Serve {
        #[arg(long, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
        /// Which part runs in this process.
        #[arg(long, value_enum, default_value = "all")]
        role: Role,
        #[arg(long, value_enum, help = LOG_FORMAT_HELP)]
        log_format: Option<LogFormatArg>,
    },
    /// Validate and print the effective configuration, secrets redacted;
    /// ends with `configuration OK` on stderr.
    #[command(after_help = with_config_env!(
        "Examples:\n  chartpilot check-config --config chartpilot.toml\n  \
         chartpilot check-config --config chartpilot.toml --probe\n  \
         CHARTPILOT__GIT__BRANCH=release chartpilot check-config --explain"
    ))]
    CheckConfig(CheckConfigArgs),
    /// Print the JSON Schema of the config file, for editors (Taplo, Even
    /// Better TOML) and CI.
    #[command(
        after_help = "Examples:\n  chartpilot config-schema > chartpilot.schema.json\n  \
                            chartpilot config-schema | jq '.properties.policy'"
    )]
    ConfigSchema,
    /// List every chart pin in the repository at DIR.
    #[command(after_help = with_config_env!(
        "Examples:\n  chartpilot scan . --offline\n  \
         chartpilot scan gitops/ --format json > pins.json\n  \
         chartpilot scan gitops/ --config chartpilot.toml --include-local"
    ))]
    Scan {
        /// The repository to read (a checkout; its working tree is scanned).
        dir: PathBuf,
        #[arg(long, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
        /// Output: a table for people, JSON for scripts (one array, a pin per element).
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Only read the repository; look up no chart versions.
        #[arg(long)]
        offline: bool,
        /// Also list charts read from a path (`./charts/x`, `file://`),
        /// which are never looked up nor upgraded.
        #[arg(long)]
        include_local: bool,
    },
    /// One upgrade pass now against the configured git host; prints the
    /// PRs it opened, updated or closed.
    #[command(after_help = with_log_env!(
        "Examples:\n  chartpilot upgrade --config chartpilot.toml --dry-run\n  \
         chartpilot upgrade --config chartpilot.toml --format json"
    ))]
    Upgrade {
        #[arg(long, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
        /// Say what would change; change nothing (also policy.dry_run).
        #[arg(long)]
        dry_run: bool,
        /// Output: a table for people (cron mail), JSON for CI.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// The version matrix: every chart by tier and environment, what the
    /// policy would take, drift between environments, freezes.
    #[command(after_help = with_config_env!(
        "Examples:\n  chartpilot report . --offline\n  \
         chartpilot report --config chartpilot.toml --format markdown\n  \
         chartpilot report gitops/ --format json > matrix.json"
    ))]
    Report {
        /// Repository to read; without it, the configured repository's base
        /// branch as chartpilot sees it (the git host's snapshot).
        dir: Option<PathBuf>,
        #[arg(long, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
        /// table (people), markdown (issues, PRs), json (CI, documented in
        /// docs/report.md) or html.
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
        /// Only read the repository; look up no chart versions.
        #[arg(long)]
        offline: bool,
    },
    /// Try chartpilot offline: a sample platform repository under DIR
    /// (default data/demo), created once, and the service on it with every
    /// feature on; prints how to drive it.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  chartpilot demo\n  chartpilot demo --script\n  \
                      chartpilot demo send push\n  chartpilot demo /tmp/demo --log-format json\n\n\
                      Environment:\n  \
                      CHARTPILOT__SERVER__LISTEN  where the demo listens (default 127.0.0.1:8080)\n  \
                      CHARTPILOT__LOG__LEVEL      the demo's log level"
    )]
    Demo {
        /// Where the demo lives; created once, reused by later starts
        /// [default: data/demo].
        dir: Option<PathBuf>,
        /// Run the guided loop itself, print each step, and exit.
        #[arg(long)]
        script: bool,
        #[arg(long, value_enum, help = LOG_FORMAT_HELP)]
        log_format: Option<LogFormatArg>,
        #[command(subcommand)]
        action: Option<DemoAction>,
    },
    /// Parked jobs of the configured queue: why each was parked; run one
    /// again or drop it.
    #[command(after_help = with_config_env!(
        "Examples:\n  chartpilot jobs list\n  chartpilot jobs list --format json\n  \
         chartpilot jobs show 1\n  chartpilot jobs retry 0b6f3c1e-5d2a-4c47-9a0e-2f1d7c9b8a61\n  \
         chartpilot jobs drop 0b6f3c1e-5d2a-4c47-9a0e-2f1d7c9b8a61 --yes\n\n\
         With the embedded queue, stop `serve` first: its store belongs to one process."
    ))]
    Jobs {
        #[command(subcommand)]
        action: JobsAction,
    },
    /// Set the pins of a chart to a version, changing no other byte.
    #[command(after_help = with_config_env!(
        "Examples:\n  chartpilot bump . --chart argo-cd --to 7.7.0\n  \
         chartpilot bump gitops/ --chart cert-manager --to v1.15.3 --env staging\n  \
         chartpilot bump . --chart ingress-nginx --to 4.10.0 --name edge --allow-downgrade"
    ))]
    Bump {
        /// The repository whose pins are edited in place.
        dir: PathBuf,
        /// The chart, by name (`argo-cd`) or as written (`argo/argo-cd`,
        /// `oci://ghcr.io/x/argo-cd`).
        #[arg(long, value_name = "NAME")]
        chart: String,
        /// The version to set, spelled as the chart repository publishes it.
        #[arg(long, value_name = "VERSION")]
        to: String,
        /// Only the pins of this environment (e.g. dev, staging, prod).
        #[arg(long)]
        env: Option<String>,
        /// Only the pin with this name (helm_release, Application or dependency).
        #[arg(long)]
        name: Option<String>,
        /// Allow a version lower than a pin's; without it such a bump fails.
        #[arg(long)]
        allow_downgrade: bool,
        #[arg(long, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
    },
    /// What moving the pins of a chart to another version does to the
    /// repository's overrides: removed or renamed keys, schema violations,
    /// CRDs, kubeVersion. Exit 0: nothing breaks; 1: overrides break; 2:
    /// the analysis could not run.
    #[command(after_help = with_config_env!(
        "Examples:\n  chartpilot impact . --chart argo-cd --to 7.7.0\n  \
         chartpilot impact gitops/ --chart cert-manager --to v1.15.3 --env dev\n  \
         chartpilot impact . --chart ingress-nginx --to 4.11.0 --format json > impact.json"
    ))]
    Impact {
        /// The repository whose pins and overrides are read.
        dir: PathBuf,
        /// The chart, by name (`argo-cd`) or as written (`argo/argo-cd`).
        #[arg(long, value_name = "NAME")]
        chart: String,
        /// The version to compare with, as the chart repository publishes it.
        #[arg(long, value_name = "VERSION")]
        to: String,
        /// Only this environment's Argo CD pins (and Terraform pins, which have none).
        #[arg(long)]
        env: Option<String>,
        /// Output: a table for people, JSON for scripts (docs/impact.md).
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        #[arg(long, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
    },
    /// Print a shell completion script to stdout.
    #[command(after_help = "Examples:\n  \
        chartpilot completions bash > /etc/bash_completion.d/chartpilot\n  \
        chartpilot completions zsh > \"${fpath[1]}/_chartpilot\"\n  \
        chartpilot completions fish > ~/.config/fish/completions/chartpilot.fish\n  \
        chartpilot completions powershell >> $PROFILE")]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, or write one page per command.
    #[command(after_help = "Examples:\n  \
        chartpilot man | man -l -\n  \
        chartpilot man --out /usr/local/share/man/man1")]
    Man {
        /// Write chartpilot.1 and a page per subcommand (chartpilot-scan.1, …)
        /// into this folder instead.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// `check-config`: one struct, so its handler takes it whole.
#[derive(clap::Args)]
pub struct CheckConfigArgs {
    #[arg(long, value_name = "FILE", help = CONFIG_HELP)]
    pub config: Option<PathBuf>,
    /// Instead: try each configured connection once (git host, Argo CD,
    /// Alertmanager) and print what each feature is doing; exit 1 when
    /// a configured feature is broken.
    #[arg(long)]
    pub probe: bool,
    /// Print each effective key with its source (default, file PATH,
    /// environment VAR), secrets redacted.
    #[arg(long, conflicts_with = "probe")]
    pub explain: bool,
}

#[derive(Subcommand)]
pub enum JobsAction {
    /// Each parked job: id, kind, attempts, age and the reason it was parked.
    #[command(after_help = with_config_env!(
        "Examples:\n  chartpilot jobs list\n  chartpilot jobs list --config chartpilot.toml --format json"
    ))]
    List {
        #[arg(long, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
        /// Output: a table for people, JSON for scripts.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// One parked job: its reason and its envelope as stored.
    #[command(after_help = with_config_env!(
        "Examples:\n  chartpilot jobs show 1\n  chartpilot jobs show 3 --config chartpilot.toml"
    ))]
    Show {
        /// The job's number in `jobs list`.
        n: usize,
        #[arg(long, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
    },
    /// Put a parked job back on the work queue at attempt 1; a worker runs
    /// it again as if it had just arrived.
    #[command(after_help = with_config_env!(
        "Examples:\n  chartpilot jobs retry 0b6f3c1e-5d2a-4c47-9a0e-2f1d7c9b8a61\n  chartpilot jobs retry 0b6f3c1e-5d2a-4c47-9a0e-2f1d7c9b8a61 --config chartpilot.toml"
    ))]
    Retry {
        /// The job's id (the ID column of `jobs list`).
        #[arg(value_name = "ID")]
        id: String,
        #[arg(long, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
    },
    /// Remove a parked job for good; needs --yes.
    #[command(after_help = with_config_env!(
        "Examples:\n  chartpilot jobs drop 0b6f3c1e-5d2a-4c47-9a0e-2f1d7c9b8a61 --yes\n  chartpilot jobs drop 0b6f3c1e-5d2a-4c47-9a0e-2f1d7c9b8a61 --yes --config chartpilot.toml"
    ))]
    Drop {
        /// The job's id (the ID column of `jobs list`).
        #[arg(value_name = "ID")]
        id: String,
        #[arg(long, value_name = "FILE", help = CONFIG_HELP)]
        config: Option<PathBuf>,
        /// Really remove it; without this nothing is removed.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
pub enum DemoAction {
    /// Send one event of the guided loop to the running demo, signed with
    /// its secrets, and wait for its effect.
    #[command(after_help = "Examples:\n  chartpilot demo send push\n  \
                            chartpilot demo send alert\n  chartpilot demo send chat /tmp/demo")]
    Send {
        /// The event to send.
        #[arg(value_enum)]
        event: Event,
        /// The demo's folder [default: data/demo].
        dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    /// Lines for people.
    Text,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// The whole command line, for completions, the man page and tests.
pub fn command() -> clap::Command {
    Cli::command()
}

#[cfg(test)]
mod tests {
    #[test]
    fn definitions_are_consistent() {
        // clap's own checks: duplicate flags, bad defaults, conflicts.
        super::command().debug_assert();
    }
}
