//! The pull log: a pull request is one JSON line, and every change to it
//! (title, body, state) appends a new line with the same number; the last
//! line for a number wins. Nothing is ever rewritten, so a crash can at worst
//! leave a truncated last line, which readers skip.
//!
//! Writers are serialised by a mutex inside the process and by an advisory
//! lock (`flock`) on the log across processes; each line is one `write_all`
//! on a file opened for append.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::checks::CheckLine;
use crate::git::{GitError, NewPull, PullRequest, PullState};

/// How long a writer waits for another process holding the log. Appends take
/// microseconds, so a lock held this long belongs to a stuck process and the
/// job is better retried later.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause between attempts to take the lock: short against a lock held for
/// microseconds, long enough not to spin a core.
const LOCK_RETRY: Duration = Duration::from_millis(5);

/// One line of the pull log: exactly the fields of the contract plus labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PullLine {
    pub number: u64,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub state: PullState,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Written by whoever merged it (a person, a tool, `chartpilot demo`):
    /// promotion checks find merged pull requests by their merge commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_at: Option<DateTime<Utc>>,
}

impl From<PullLine> for PullRequest {
    fn from(line: PullLine) -> Self {
        PullRequest {
            number: line.number,
            head: line.head,
            base: line.base,
            title: line.title,
            body: line.body,
            state: line.state,
            labels: line.labels,
            url: None,
            // A line naming no valid commit is a pull that merged nothing known.
            merge_commit: line
                .merge_commit
                .as_deref()
                .and_then(|s| crate::domain::CommitSha::parse(s).ok()),
            merged_at: line.merged_at,
        }
    }
}

#[derive(Serialize)]
struct CommentLine<'a> {
    number: u64,
    body: &'a str,
    created_at: DateTime<Utc>,
}

/// The log as read: the winning line per number.
#[derive(Debug, Default)]
struct Ledger {
    pulls: BTreeMap<u64, PullLine>,
    /// `(pull, head sha)` of each check summary line.
    checked: std::collections::HashSet<(u64, String)>,
    /// Whether the file is empty or ends with a newline; if not, the next
    /// append starts with one so it does not glue onto a truncated line.
    clean_end: bool,
}

impl Ledger {
    fn parse(bytes: &[u8], path: &Path) -> Self {
        let mut pulls = BTreeMap::new();
        let mut checked = std::collections::HashSet::new();
        let clean_end = bytes.is_empty() || bytes.ends_with(b"\n");
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let last = lines.len().saturating_sub(1);
        for (i, line) in lines.iter().enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let parsed = serde_json::from_slice::<PullLine>(line);
            // The check's own lines (see `checks`) are not pull requests.
            let check = parsed
                .as_ref()
                .err()
                .and_then(|_| serde_json::from_slice::<CheckLine>(line).ok());
            match (parsed, check) {
                (Ok(pull), _) => {
                    pulls.insert(pull.number, pull);
                }
                (Err(_), Some(check)) => {
                    if check.is_summary() {
                        checked.insert((check.number, check.sha));
                    }
                }
                (Err(e), None) => tracing::warn!(
                    path = %path.display(),
                    line = i + 1,
                    truncated = i == last && !clean_end,
                    error = %e,
                    "skipping unreadable pull log line"
                ),
            }
        }
        Self {
            pulls,
            checked,
            clean_end,
        }
    }

    fn next_number(&self) -> u64 {
        self.pulls.keys().next_back().map_or(1, |n| n + 1)
    }

    fn get(&self, number: u64) -> Result<&PullLine, GitError> {
        self.pulls
            .get(&number)
            .ok_or_else(|| GitError::NotFound(format!("pull request #{number}")))
    }
}

fn io_error(path: &Path, e: std::io::Error) -> GitError {
    GitError::Refused(format!("pull log {}: {e}", path.display()))
}

/// Takes the advisory lock, retrying until [`LOCK_TIMEOUT`].
fn lock(file: &File, path: &Path, exclusive: bool) -> Result<(), GitError> {
    let started = Instant::now();
    loop {
        let attempt = if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match attempt {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) if started.elapsed() < LOCK_TIMEOUT => {
                std::thread::sleep(LOCK_RETRY);
            }
            Err(TryLockError::WouldBlock) => {
                return Err(GitError::Unavailable(format!(
                    "pull log {} stayed locked for {LOCK_TIMEOUT:?}",
                    path.display()
                )))
            }
            Err(TryLockError::Error(e)) => return Err(io_error(path, e)),
        }
    }
}

/// One line, written with a single `write_all` so concurrent appenders in
/// other processes never interleave inside it, and synced so a PR reported
/// as opened survives a crash.
fn append_line(
    file: &mut File,
    path: &Path,
    clean_end: &mut bool,
    value: &impl Serialize,
) -> Result<(), GitError> {
    let mut buf = Vec::new();
    if !*clean_end {
        buf.push(b'\n');
    }
    serde_json::to_writer(&mut buf, value)
        .map_err(|e| GitError::Refused(format!("pull log line: {e}")))?;
    buf.push(b'\n');
    file.write_all(&buf).map_err(|e| io_error(path, e))?;
    file.sync_data().map_err(|e| io_error(path, e))?;
    *clean_end = true;
    Ok(())
}

/// What a change sees while it holds the lock.
pub(super) struct Locked<'a> {
    ledger: Ledger,
    file: File,
    path: &'a Path,
    comments: &'a Path,
}

impl Locked<'_> {
    /// Whether the check of `pull` at `sha` is in the log already.
    pub(super) fn checked(&self, pull: u64, sha: &str) -> bool {
        self.ledger.checked.contains(&(pull, sha.to_owned()))
    }

    pub(super) fn append_check(&mut self, line: &CheckLine) -> Result<(), GitError> {
        append_line(&mut self.file, self.path, &mut self.ledger.clean_end, line)?;
        if line.is_summary() {
            self.ledger.checked.insert((line.number, line.sha.clone()));
        }
        Ok(())
    }

    fn append(&mut self, line: &PullLine) -> Result<(), GitError> {
        append_line(&mut self.file, self.path, &mut self.ledger.clean_end, line)?;
        self.ledger.pulls.insert(line.number, line.clone());
        Ok(())
    }

    /// Comments are only written under the pull log's lock, which therefore
    /// guards their file as well.
    fn comment(&mut self, number: u64, body: &str, now: DateTime<Utc>) -> Result<(), GitError> {
        self.ledger.get(number)?;
        let mut file = open_append(self.comments)?;
        let mut clean_end = ends_clean(&mut file, self.comments)?;
        let line = CommentLine {
            number,
            body,
            created_at: now,
        };
        append_line(&mut file, self.comments, &mut clean_end, &line)
    }
}

fn open_append(path: &Path) -> Result<File, GitError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    }
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| io_error(path, e))
}

/// Whether the file is empty or its last byte is a newline.
fn ends_clean(file: &mut File, path: &Path) -> Result<bool, GitError> {
    let len = file.metadata().map_err(|e| io_error(path, e))?.len();
    if len == 0 {
        return Ok(true);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1))
        .and_then(|_| file.read_exact(&mut last))
        .map_err(|e| io_error(path, e))?;
    Ok(last[0] == b'\n')
}

#[derive(Debug)]
pub(super) struct PullLog {
    path: PathBuf,
    comments: PathBuf,
    writers: tokio::sync::Mutex<()>,
}

impl PullLog {
    pub(super) fn new(path: PathBuf, comments: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            path,
            comments,
            writers: tokio::sync::Mutex::new(()),
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Every pull request as its last line says, by number. A log that does
    /// not exist yet holds none.
    pub(super) async fn read(self: &Arc<Self>) -> Result<Vec<PullRequest>, GitError> {
        let log = Arc::clone(self);
        blocking(move || {
            let mut file = match File::open(&log.path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(io_error(&log.path, e)),
            };
            // Shared: readers do not wait for each other, only for a writer
            // in the middle of a line.
            lock(&file, &log.path, false)?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)
                .map_err(|e| io_error(&log.path, e))?;
            let ledger = Ledger::parse(&bytes, &log.path);
            Ok(ledger.pulls.into_values().map(PullRequest::from).collect())
        })
        .await
    }

    /// Runs `change` with the log read and exclusively locked.
    pub(super) async fn change<T: Send + 'static>(
        self: &Arc<Self>,
        change: impl FnOnce(&mut Locked<'_>) -> Result<T, GitError> + Send + 'static,
    ) -> Result<T, GitError> {
        let _writer = self.writers.lock().await;
        let log = Arc::clone(self);
        blocking(move || {
            let mut file = open_append(&log.path)?;
            lock(&file, &log.path, true)?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)
                .map_err(|e| io_error(&log.path, e))?;
            let mut locked = Locked {
                ledger: Ledger::parse(&bytes, &log.path),
                file,
                path: &log.path,
                comments: &log.comments,
            };
            change(&mut locked)
        })
        .await
    }

    pub(super) async fn create(self: &Arc<Self>, new: NewPull) -> Result<PullRequest, GitError> {
        self.change(move |log| {
            let open = log
                .ledger
                .pulls
                .values()
                .find(|p| p.state == PullState::Open && p.head == new.head);
            if let Some(open) = open {
                return Err(GitError::Refused(format!(
                    "pull request #{} is already open for branch `{}`",
                    open.number, new.head
                )));
            }
            let line = PullLine {
                number: log.ledger.next_number(),
                head: new.head,
                base: new.base,
                title: new.title,
                body: new.body,
                state: PullState::Open,
                labels: new.labels,
                merge_commit: None,
                merged_at: None,
            };
            log.append(&line)?;
            Ok(PullRequest::from(line))
        })
        .await
    }

    pub(super) async fn update(
        self: &Arc<Self>,
        number: u64,
        title: String,
        body: String,
    ) -> Result<(), GitError> {
        self.change(move |log| {
            let current = log.ledger.get(number)?;
            // A redelivered job repeats its update; the log need not grow.
            if current.title == title && current.body == body {
                return Ok(());
            }
            let line = PullLine {
                title,
                body,
                ..current.clone()
            };
            log.append(&line)
        })
        .await
    }

    pub(super) async fn add_labels(
        self: &Arc<Self>,
        number: u64,
        labels: Vec<String>,
    ) -> Result<(), GitError> {
        self.change(move |log| {
            let current = log.ledger.get(number)?.clone();
            let mut all = current.labels.clone();
            for l in labels {
                if !all.contains(&l) {
                    all.push(l);
                }
            }
            if all == current.labels {
                return Ok(());
            }
            log.append(&PullLine {
                labels: all,
                ..current
            })
        })
        .await
    }

    /// The comments on `number`, oldest first. Lines are appended whole
    /// under the lock, so reading without it sees only whole lines (a torn
    /// last line is skipped).
    pub(super) async fn comments(self: &Arc<Self>, number: u64) -> Result<Vec<String>, GitError> {
        #[derive(Deserialize)]
        struct Line {
            number: u64,
            body: String,
        }
        let path = self.comments.clone();
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&path, e)),
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str::<Line>(l).ok())
            .filter(|l| l.number == number)
            .map(|l| l.body)
            .collect())
    }

    pub(super) async fn comment(
        self: &Arc<Self>,
        number: u64,
        body: String,
        now: DateTime<Utc>,
    ) -> Result<(), GitError> {
        self.change(move |log| log.comment(number, &body, now))
            .await
    }

    /// Marks `number` merged by `merge_commit`; a pull already merged
    /// stays as it is, so a repeated call adds nothing.
    pub(super) async fn merged(
        self: &Arc<Self>,
        number: u64,
        merge_commit: String,
        now: DateTime<Utc>,
    ) -> Result<(), GitError> {
        self.change(move |log| {
            let current = log.ledger.get(number)?.clone();
            if current.state == PullState::Merged {
                return Ok(());
            }
            log.append(&PullLine {
                state: PullState::Merged,
                merge_commit: Some(merge_commit),
                merged_at: Some(now),
                ..current
            })
        })
        .await
    }

    pub(super) async fn close(
        self: &Arc<Self>,
        number: u64,
        comment: String,
        now: DateTime<Utc>,
    ) -> Result<(), GitError> {
        self.change(move |log| {
            let current = log.ledger.get(number)?.clone();
            if !comment.is_empty() {
                log.comment(number, &comment, now)?;
            }
            if current.state != PullState::Open {
                return Ok(());
            }
            log.append(&PullLine {
                state: PullState::Closed,
                ..current
            })
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, GitError> + Send + 'static,
) -> Result<T, GitError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| GitError::Unavailable(format!("pull log task failed: {e}")))?
}
