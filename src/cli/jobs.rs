//! `chartpilot jobs list|show|retry|drop`: the parked jobs of either queue,
//! with their kind, attempts, age and the reason they were parked; retry
//! puts one back on the work queue at attempt 1, drop removes one (only
//! with `--yes`). Listing only reads: a RabbitMQ listing takes the messages
//! and gives them back unacknowledged.

use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::jobs::JobEnvelope;
use crate::queue::parked::{rows, ParkedRow};
use crate::queue::{JobQueue, ParkedJob, Unpark};

use super::Format;

/// How long `jobs` waits for the broker before saying it is unreachable.
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);

/// A reason is cut here in the table; `show` and JSON have it whole.
const MAX_REASON_CHARS: usize = 100;

fn age(since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    since
        .and_then(|t| (now - t).to_std().ok())
        .map(|d| humantime::format_duration(Duration::from_secs(d.as_secs())).to_string())
        .unwrap_or_else(|| "?".to_owned())
}

/// `jobs list` in `format`.
pub fn render_list(
    rows: &[ParkedRow],
    format: Format,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(rows).map_err(|e| e.to_string())? + "\n",
        Format::Table => {
            let mut t = String::from("N  ID  KIND  ATTEMPT  AGE  REASON\n");
            for r in rows {
                t.push_str(&format!(
                    "{}  {}  {}  {}  {}  {}\n",
                    r.n,
                    r.id.as_deref().unwrap_or("?"),
                    r.kind.as_deref().unwrap_or("?"),
                    r.attempt.map_or_else(|| "?".to_owned(), |a| a.to_string()),
                    age(r.created_at, now),
                    crate::text::cut(&r.reason.replace('\n', " "), MAX_REASON_CHARS)
                ));
            }
            t.push_str(&format!("{} parked jobs\n", rows.len()));
            t
        }
    };
    out.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

/// `jobs show N`: the reason and the envelope as stored.
pub fn render_show(parked: &[ParkedJob], n: usize, out: &mut dyn Write) -> Result<(), String> {
    let job = n
        .checked_sub(1)
        .and_then(|i| parked.get(i))
        .ok_or_else(|| {
            format!(
                "no parked job {n}: there are {} (see `jobs list`)",
                parked.len()
            )
        })?;
    let body = serde_json::from_str::<serde_json::Value>(&job.body)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| job.body.clone());
    writeln!(out, "reason: {}\n{body}", job.reason).map_err(|e| e.to_string())
}

/// What `drop` says, and does nothing, without `--yes`.
pub const DROP_NEEDS_YES: &str =
    "`jobs drop` removes the parked job for good: add --yes to drop it (`jobs retry ID` runs it again instead)";

/// The job id `retry` and `drop` take, as `jobs list` shows it.
pub fn parse_id(id: &str) -> Result<uuid::Uuid, String> {
    uuid::Uuid::parse_str(id.trim())
        .map_err(|_| format!("`{id}` is not a job id: use the ID column of `chartpilot jobs list`"))
}

/// Waits for the queue to become reachable, up to [`CONNECT_PATIENCE`].
async fn ready(queue: &dyn JobQueue) {
    let until = tokio::time::Instant::now() + CONNECT_PATIENCE;
    while !queue.is_ready() && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The parked jobs of the configured queue, once it is reachable.
pub async fn parked(queue: &dyn JobQueue) -> Result<Vec<ParkedJob>, String> {
    ready(queue).await;
    queue.parked().await.map_err(|e| e.to_string())
}

/// `jobs retry ID` / `jobs drop ID --yes`: takes the parked job `id` out
/// of the parking queue (retry: back on the work queue at attempt 1) and
/// says what it did; an id no parked job has is an error that changes
/// nothing.
async fn unpark_one(
    queue: &dyn JobQueue,
    id: uuid::Uuid,
    action: Unpark,
) -> Result<String, String> {
    ready(queue).await;
    let taken = queue.unpark(id, action).await.map_err(|e| e.to_string())?;
    let Some(job) = taken else {
        let count = queue.parked().await.map(|p| p.len()).unwrap_or(0);
        return Err(format!(
            "no parked job has id {id} ({count} parked; see `chartpilot jobs list`)"
        ));
    };
    let kind = JobEnvelope::from_bytes(job.body.as_bytes())
        .map(|e| e.kind)
        .unwrap_or_else(|_| "?".to_owned());
    Ok(match action {
        Unpark::Retry => format!("job {id} ({kind}) is back on the work queue at attempt 1\n"),
        Unpark::Drop => format!(
            "job {id} ({kind}) dropped; it was parked because: {}\n",
            job.reason
        ),
    })
}

/// What `chartpilot jobs` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    List(Format),
    /// The job's number in `jobs list`.
    Show(usize),
    /// A job id as `jobs list` shows it.
    Retry(String),
    Drop {
        id: String,
        yes: bool,
    },
}

/// Runs `request` on the queue `settings` name and writes the answer to
/// `out`. A malformed id, or a drop without `yes`, is refused before the
/// queue is opened.
pub fn run(
    settings: &crate::settings::QueueSettings,
    request: Request,
    out: &mut dyn Write,
) -> Result<(), String> {
    let unpark = match &request {
        Request::List(_) | Request::Show(_) => None,
        Request::Retry(id) => Some((parse_id(id)?, Unpark::Retry)),
        Request::Drop { id, yes } => {
            let id = parse_id(id)?;
            if !yes {
                return Err(DROP_NEEDS_YES.to_owned());
            }
            Some((id, Unpark::Drop))
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let (listed, said) = runtime.block_on(async {
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::new());
        let queue = crate::queue::open(settings, metrics, false)
            .await
            .map_err(|e| format!("cannot open the queue: {e}"))?;
        let result = match unpark {
            Some((id, how)) => unpark_one(queue.as_ref(), id, how)
                .await
                .map(|said| (Vec::new(), said)),
            None => parked(queue.as_ref()).await.map(|p| (p, String::new())),
        };
        queue.close().await;
        result
    })?;
    match request {
        Request::List(format) => render_list(&rows(&listed), format, Utc::now(), out),
        Request::Show(n) => render_show(&listed, n, out),
        Request::Retry(_) | Request::Drop { .. } => out
            .write_all(said.as_bytes())
            .map_err(|e| format!("cannot write output: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{Job, UpgradeRequest};

    #[test]
    fn rows_list_and_show() {
        let now = Utc::now();
        let job = Job::Upgrade(UpgradeRequest {
            reason: "schedule".into(),
        });
        let env = JobEnvelope::new(&job, "k".into(), None, now - chrono::Duration::hours(2))
            .unwrap_or_else(|e| panic!("{e}"));
        let parked = [
            ParkedJob {
                reason: "crashed the worker 20 times: chartpilot.upgrade".into(),
                body: String::from_utf8_lossy(&env.to_bytes()).into_owned(),
            },
            ParkedJob {
                reason: "not a job envelope".into(),
                body: "garbage".into(),
            },
        ];
        let rows = rows(&parked);
        assert_eq!(rows[0].kind.as_deref(), Some(env.kind.as_str()));
        assert_eq!(rows[1].kind, None);
        let mut out = Vec::new();
        render_list(&rows, Format::Table, now, &mut out).unwrap_or_default();
        let text = String::from_utf8_lossy(&out).into_owned();
        assert!(
            text.contains(&format!(
                "1  {}  {}  1  2h  crashed the worker 20 times",
                env.id, env.kind
            )),
            "{text}"
        );
        assert!(text.contains("2  ?  ?  ?  ?  not a job envelope"), "{text}");
        assert!(text.ends_with("2 parked jobs\n"), "{text}");
        let mut out = Vec::new();
        render_show(&parked, 2, &mut out).unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&out),
            "reason: not a job envelope\ngarbage\n"
        );
        assert!(render_show(&parked, 3, &mut Vec::new()).is_err());
        assert!(render_show(&parked, 0, &mut Vec::new()).is_err());
    }

    #[test]
    fn ids_parse_or_say_where_to_find_one() {
        let id = uuid::Uuid::new_v4();
        assert_eq!(parse_id(&format!(" {id}\n")), Ok(id));
        for bad in ["1", "", "not-a-uuid"] {
            let err = parse_id(bad).unwrap_err();
            assert!(err.contains("ID column of `chartpilot jobs list`"), "{err}");
        }
    }
}
