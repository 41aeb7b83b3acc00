//! Running the `git` binary: never through a shell, with an environment that
//! cannot point it at another repository, index or identity than the one
//! chartpilot chose, and with failures that carry git's own words.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::git::GitError;

/// Plumbing on a GitOps repository takes milliseconds; one still running
/// after this long is stuck (a hung network filesystem, a stale lock), and a
/// job blocked forever would stall every later job for the repository.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Enough of git's stderr to explain a failure without flooding logs or PR
/// comments when git prints a whole usage page.
const MAX_STDERR_CHARS: usize = 1000;

/// Inherited variables that would make git act on another repository or
/// index (chartpilot run from a git hook sets some of them), read config
/// given to a parent git process, or sign commits as whoever started the
/// service.
const CLEARED_ENV: [&str; 17] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_QUARANTINE_PATH",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
];

/// A `git` command with a scrubbed environment, before it knows which
/// repository it acts on. `open` uses it synchronously to find the git dir.
pub(super) fn scrubbed_command() -> std::process::Command {
    let mut cmd = std::process::Command::new("git");
    for name in CLEARED_ENV {
        cmd.env_remove(name);
    }
    // Never wait for a password on a terminal nobody watches; messages in
    // English so errors read the same in every log.
    cmd.env("GIT_TERMINAL_PROMPT", "0").env("LC_ALL", "C");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// The error for a `git` that could not be started.
pub(super) fn spawn_error(name: &str, e: &io::Error) -> GitError {
    if e.kind() == io::ErrorKind::NotFound {
        GitError::Refused(format!(
            "the `git` binary was not found on PATH (needed for git {name})"
        ))
    } else {
        GitError::Unavailable(format!("could not start git {name}: {e}"))
    }
}

/// git's stderr, trimmed and cut to [`MAX_STDERR_CHARS`].
pub(super) fn stderr_text(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    match text.char_indices().nth(MAX_STDERR_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The error for a git command that ran and failed.
pub(super) fn failed(name: &str, output: &Output) -> GitError {
    GitError::Refused(format!(
        "git {name} failed ({}): {}",
        output.status,
        stderr_text(&output.stderr)
    ))
}

/// Runs commands against one repository, named by its absolute git dir.
#[derive(Debug, Clone)]
pub(super) struct Git {
    git_dir: PathBuf,
}

impl Git {
    pub(super) fn new(git_dir: PathBuf) -> Self {
        Self { git_dir }
    }

    pub(super) fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// `git --git-dir=<dir> <sub>`: the explicit git dir means no discovery
    /// from the current directory, and no command here needs a work tree.
    pub(super) fn cmd(&self, sub: &'static str) -> GitCmd {
        let mut cmd = scrubbed_command();
        let mut git_dir = OsString::from("--git-dir=");
        git_dir.push(&self.git_dir);
        cmd.arg(git_dir)
            .args(["-c", "core.quotePath=false", sub])
            .current_dir(&self.git_dir);
        GitCmd {
            name: sub,
            cmd,
            stdin: None,
        }
    }
}

/// One git invocation being built.
pub(super) struct GitCmd {
    name: &'static str,
    cmd: std::process::Command,
    stdin: Option<Vec<u8>>,
}

impl GitCmd {
    pub(super) fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub(super) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub(super) fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Data for git's stdin: content and object lists go here rather than on
    /// the command line, which has a length limit.
    pub(super) fn stdin(mut self, data: Vec<u8>) -> Self {
        self.stdin = Some(data);
        self
    }

    /// Runs to completion and returns the output whatever the exit status,
    /// for commands whose status is an answer (`--is-ancestor`, `--quiet`).
    pub(super) async fn output(self) -> Result<Output, GitError> {
        let name = self.name;
        let mut cmd = tokio::process::Command::from(self.cmd);
        // A timed-out or abandoned call must not leave git running.
        cmd.kill_on_drop(true);
        if self.stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        tracing::trace!(command = name, "running git");
        let mut child = cmd.spawn().map_err(|e| spawn_error(name, &e))?;
        let pipe = child.stdin.take();
        let data = self.stdin.unwrap_or_default();
        // Feed stdin while collecting stdout so neither pipe can fill up and
        // deadlock against the other.
        let feed = async move {
            if let Some(mut pipe) = pipe {
                pipe.write_all(&data).await?;
                pipe.shutdown().await?;
            }
            Ok::<(), io::Error>(())
        };
        let run = async { tokio::join!(feed, child.wait_with_output()) };
        let (fed, output) = tokio::time::timeout(COMMAND_TIMEOUT, run)
            .await
            .map_err(|_| {
                GitError::Unavailable(format!(
                    "git {name} did not finish within {COMMAND_TIMEOUT:?}"
                ))
            })?;
        let output = output.map_err(|e| GitError::Unavailable(format!("git {name}: {e}")))?;
        match fed {
            // git may exit before reading all of stdin; its status says why.
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe && output.status.success() => {
                return Err(GitError::Unavailable(format!(
                    "git {name}: writing stdin: {e}"
                )));
            }
            _ => {}
        }
        Ok(output)
    }

    /// Runs and requires success; returns stdout.
    pub(super) async fn run(self) -> Result<Vec<u8>, GitError> {
        let name = self.name;
        let output = self.output().await?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(failed(name, &output))
        }
    }

    /// Runs, requires success, and returns stdout's first line.
    pub(super) async fn run_line(self) -> Result<String, GitError> {
        let out = self.run().await?;
        let text = String::from_utf8_lossy(&out);
        Ok(text.lines().next().unwrap_or_default().trim().to_owned())
    }
}
