//! `chartpilot demo send push|alert|chat`: the three events of the guided
//! loop, sent over HTTP to the running service's real receivers, signed
//! with the demo's secrets; each waits for its effect and describes it.

use std::time::Duration;

use anyhow::{bail, Context};
use chrono::Utc;

use super::{repo, Demo, FAILING_APP, MERGED_CHART};
use crate::git::local::LocalGit;
use crate::git::{GitHost, PullRequest, PullState};
use crate::http::signature::{sign_chat, sign_sha256};
use crate::settings::Settings;

/// How long a step waits for its effect. The slowest, the promotion, takes
/// the demo's soak (5 s) plus a check or two; a minute means something is
/// wrong, and the message says where to look.
const EFFECT_PATIENCE: Duration = Duration::from_secs(60);

/// Between looks at the pull log while waiting.
const POLL: Duration = Duration::from_millis(200);

/// Per request to the service: it answers once the job is on disk.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The simulated alert starts this long after the prod rollout (or now,
/// when the rollout is younger): inside `policy.rollout_window`, so the
/// rollout is what it blames.
const ALERT_AFTER_ROLLOUT: chrono::Duration = chrono::Duration::minutes(2);

/// A chat reply larger than this is not a reply chartpilot sends.
const MAX_REPLY_BYTES: usize = 1 << 20;

/// Hex digits of a commit shown to people, as git's own short form grows
/// to in repositories of this size and beyond.
const SHORT_SHA: usize = 12;

fn short(sha: &str) -> &str {
    sha.get(..SHORT_SHA).unwrap_or(sha)
}

/// One of the three events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Event {
    /// Merge the dev upgrade PR and send GitHub's push webhook.
    Push,
    /// Send an Alertmanager notification that prod is failing.
    Alert,
    /// Send `/chartpilot status` through the generic chat route.
    Chat,
}

/// The running service as the senders see it.
pub struct Target<'a> {
    pub demo: &'a Demo,
    pub settings: &'a Settings,
    /// `http://127.0.0.1:8080`.
    pub base: String,
}

impl Target<'_> {
    /// Sends `event` and waits for its effect; the lines describe both.
    pub async fn send(&self, event: Event) -> anyhow::Result<Vec<String>> {
        match event {
            Event::Push => self.push().await,
            Event::Alert => self.alert().await,
            Event::Chat => self.chat().await,
        }
    }

    fn host(&self) -> anyhow::Result<LocalGit> {
        LocalGit::open(&self.settings.git).map_err(|e| anyhow::anyhow!("{e}"))
    }

    fn client() -> anyhow::Result<reqwest::Client> {
        reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("cannot build an HTTP client")
    }

    async fn post(
        &self,
        route: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> anyhow::Result<String> {
        let url = format!("{}{route}", self.base);
        let mut req = Self::client()?
            .post(&url)
            .header("Content-Type", "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.with_context(|| {
            format!("cannot reach {url}: is `chartpilot serve` (or `chartpilot demo`) running?")
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{route} answered {status}: {text}");
        }
        Ok(format!("{route} answered {status} {text}"))
    }

    /// Waits until an open pull request's head starts with `prefix`.
    async fn wait_for_pull(&self, prefix: &str, what: &str) -> anyhow::Result<PullRequest> {
        let host = self.host()?;
        let deadline = tokio::time::Instant::now() + EFFECT_PATIENCE;
        loop {
            let open = host
                .open_pulls()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if let Some(p) = open.into_iter().find(|p| p.head.starts_with(prefix)) {
                return Ok(p);
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "no {what} after {}s; the service's log says why",
                    EFFECT_PATIENCE.as_secs()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn push(&self) -> anyhow::Result<Vec<String>> {
        let dev = format!("chartpilot/upgrade/dev/{MERGED_CHART}-");
        let staging = format!("chartpilot/upgrade/staging/{MERGED_CHART}-");
        // Sent before: say what it did rather than wait for a PR that
        // will not come back.
        let host = self.host()?;
        let closed = host
            .recently_closed_pulls()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some(merged) = closed
            .iter()
            .find(|p| p.state == PullState::Merged && p.head.starts_with(&dev))
        {
            let mut lines = vec![format!(
                "PR #{} ({}) was merged by an earlier `demo send push`",
                merged.number, merged.title
            )];
            if let Some(p) = host
                .open_pulls()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .iter()
                .find(|p| p.head.starts_with(&staging))
            {
                lines.push(format!(
                    "promotion PR #{}: {} (branch {})",
                    p.number, p.title, p.head
                ));
            }
            return Ok(lines);
        }
        let pull = self
            .wait_for_pull(&dev, &format!("open dev upgrade PR for {MERGED_CHART}"))
            .await?;
        let repo_dir = &self.demo.repo;
        let before = repo::git(repo_dir, &["rev-parse", "main"])?;
        // As a person merging on GitHub would: a merge commit on main. The
        // checkout is the demo's own, so its files follow.
        repo::git(repo_dir, &["checkout", "-q", "main"])?;
        repo::git(
            repo_dir,
            &[
                "merge",
                "-q",
                "--no-ff",
                "-m",
                &format!("Merge pull request #{} from {}", pull.number, pull.head),
                &pull.head,
            ],
        )?;
        let after = repo::git(repo_dir, &["rev-parse", "main"])?;
        let sha = crate::domain::CommitSha::parse(&after)
            .map_err(|e| anyhow::anyhow!("git gave {after}: {e}"))?;
        self.host()?
            .record_merge(pull.number, &sha)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let files = repo::git(repo_dir, &["diff", "--name-only", &before, &after])?;
        let modified: Vec<&str> = files.lines().collect();
        let body = serde_json::json!({
            "ref": format!("refs/heads/{}", self.settings.git.branch),
            "before": before,
            "after": after,
            "created": false,
            "deleted": false,
            "forced": false,
            "commits": [{
                "id": after,
                "message": format!("Merge pull request #{} from {}", pull.number, pull.head),
                "added": [],
                "modified": modified,
                "removed": [],
            }],
            "repository": { "full_name": self.settings.git.repository },
            "sender": { "login": "demo", "type": "User" },
        });
        let body = serde_json::to_vec(&body)?;
        let signature = sign_sha256(self.settings.github.webhook_secret.expose(), &body);
        let answer = self
            .post(
                "/webhooks/github",
                body,
                &[
                    ("X-Hub-Signature-256", signature),
                    ("X-GitHub-Event", "push".into()),
                    ("X-GitHub-Delivery", uuid::Uuid::new_v4().to_string()),
                ],
            )
            .await?;
        let mut lines = vec![
            format!(
                "merged PR #{} ({}) into main as {}",
                pull.number,
                pull.title,
                short(&after)
            ),
            format!("push sent: {answer}"),
            format!(
                "waiting for the promotion to staging (soak {})…",
                humantime::format_duration(self.settings.policy.soak)
            ),
        ];
        let promoted = self
            .wait_for_pull(&staging, "promotion PR to staging")
            .await?;
        lines.push(format!(
            "promotion PR #{}: {} (branch {})",
            promoted.number, promoted.title, promoted.head
        ));
        Ok(lines)
    }

    async fn alert(&self) -> anyhow::Result<Vec<String>> {
        let path = repo::application_path("prod");
        let log = repo::git(
            &self.demo.repo,
            &["log", "-1", "--format=%H %cI %s", "main", "--", &path],
        )?;
        let mut parts = log.splitn(3, ' ');
        let (Some(sha), Some(at), subject) = (parts.next(), parts.next(), parts.next()) else {
            bail!("{path} has no history on main");
        };
        let landed = chrono::DateTime::parse_from_rfc3339(at)
            .with_context(|| format!("git gave the date {at}"))?
            .with_timezone(&Utc);
        let starts_at = (landed + ALERT_AFTER_ROLLOUT).min(Utc::now());
        let body = serde_json::json!({
            "version": "4",
            "groupKey": format!("{{}}:{{alertname=\"JupyterHubHubDown\",argocd_app=\"{FAILING_APP}\"}}"),
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "chartpilot",
            "groupLabels": { "alertname": "JupyterHubHubDown" },
            "commonLabels": { "alertname": "JupyterHubHubDown", "severity": "critical" },
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.demo.invalid",
            "alerts": [{
                "status": "firing",
                "labels": {
                    "alertname": "JupyterHubHubDown",
                    "severity": "critical",
                    "argocd_app": FAILING_APP,
                    "env": "prod",
                },
                "annotations": { "summary": "The JupyterHub hub pod is crash-looping in prod" },
                "startsAt": starts_at.to_rfc3339(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.demo.invalid/graph",
                "fingerprint": "6f1a2b3c4d5e6f70",
            }],
        });
        let answer = self
            .post(
                "/webhooks/alertmanager",
                serde_json::to_vec(&body)?,
                &[(
                    "Authorization",
                    format!("Bearer {}", self.settings.alertmanager.token.expose()),
                )],
            )
            .await?;
        let mut lines = vec![
            format!(
                "alert sent: JupyterHubHubDown for {FAILING_APP} started {} (prod rollout {} \"{}\" landed {})",
                starts_at.format("%H:%M:%S"),
                short(sha),
                subject.unwrap_or(""),
                landed.format("%H:%M:%S")
            ),
            format!("{answer}"),
        ];
        let revert = self
            .wait_for_pull("chartpilot/revert/", "revert PR")
            .await?;
        lines.push(format!("revert PR #{}: {}", revert.number, revert.title));
        lines.extend(revert.body.lines().map(|l| format!("    {l}")));
        Ok(lines)
    }

    async fn chat(&self) -> anyhow::Result<Vec<String>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen for the chat reply")?;
        let port = listener.local_addr()?.port();
        let text = format!("/chartpilot status {FAILING_APP}");
        let body = serde_json::to_vec(&serde_json::json!({
            "user": "demo",
            "text": text,
            "reply_url": format!("http://127.0.0.1:{port}/reply"),
        }))?;
        let ts = Utc::now().timestamp();
        let id = uuid::Uuid::new_v4().to_string();
        let signature = sign_chat(self.settings.chat.secret.expose(), ts, Some(&id), &body);
        let answer = self
            .post(
                "/webhooks/chat",
                body,
                &[
                    ("X-Chartpilot-Signature", signature),
                    ("X-Chartpilot-Timestamp", ts.to_string()),
                    ("X-Chartpilot-Request-Id", id),
                ],
            )
            .await?;
        let reply = tokio::time::timeout(EFFECT_PATIENCE, one_reply(listener))
            .await
            .map_err(|_| anyhow::anyhow!("no chat reply after {}s", EFFECT_PATIENCE.as_secs()))??;
        let mut lines = vec![format!("chat sent: `{text}`"), answer, "reply:".into()];
        lines.extend(reply.lines().map(|l| format!("    {l}")));
        Ok(lines)
    }
}

/// Takes one POST on `listener`, answers 200 and returns its `text`.
async fn one_reply(listener: tokio::net::TcpListener) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut stream, _) = listener.accept().await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let body_start = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("the reply connection closed early");
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_REPLY_BYTES {
            bail!("the reply's headers are too large");
        }
    };
    let head = String::from_utf8_lossy(&buf[..body_start]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
        .min(MAX_REPLY_BYTES);
    while buf.len() < body_start + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await?;
    let body = buf.get(body_start..).unwrap_or_default();
    let value: serde_json::Value = serde_json::from_slice(body).context("the reply is not JSON")?;
    Ok(value
        .get("text")
        .and_then(|t| t.as_str())
        .unwrap_or_default()
        .to_owned())
}
