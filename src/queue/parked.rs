//! Parked jobs as people read them: position, id, kind, attempt, age
//! and reason. Shared by `chartpilot jobs` and the status page.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::jobs::JobEnvelope;
use crate::queue::ParkedJob;

/// One parked job as `jobs list` and the status page show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParkedRow {
    /// 1-based position, for `jobs show N`.
    pub n: usize,
    pub id: Option<String>,
    pub kind: Option<String>,
    pub attempt: Option<u32>,
    pub created_at: Option<DateTime<Utc>>,
    pub reason: String,
}

/// The rows of `parked`; a body that is no envelope still gets its row,
/// with the reason (it was parked for being unreadable, most likely).
pub fn rows(parked: &[ParkedJob]) -> Vec<ParkedRow> {
    parked
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let env = JobEnvelope::from_bytes(p.body.as_bytes()).ok();
            ParkedRow {
                n: i + 1,
                id: env.as_ref().map(|e| e.id.to_string()),
                kind: env.as_ref().map(|e| e.kind.clone()),
                attempt: env.as_ref().map(|e| e.attempt),
                created_at: env.as_ref().map(|e| e.created_at),
                reason: p.reason.clone(),
            }
        })
        .collect()
}
