use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Job;
use crate::domain::DeliveryId;

/// Bumped only for a change old workers cannot read; new optional fields do
/// not bump it, because unknown fields are ignored.
pub const ENVELOPE_VERSION: u32 = 1;

/// What travels through the queue. Unknown fields are ignored so a newer
/// receiver can talk to an older worker during a rolling update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEnvelope {
    pub version: u32,
    pub id: Uuid,
    pub kind: String,
    /// 1 for the first run; the worker bumps it on each retry.
    pub attempt: u32,
    pub created_at: DateTime<Utc>,
    /// Stable across redeliveries of the same event (GitHub delivery id,
    /// alert group + fingerprints + startsAt, Slack trigger id).
    pub idempotency_key: String,
    /// 32 hex digits: the OpenTelemetry trace of the event, shared by the
    /// webhook, this job and its follow-ups.
    pub trace_id: String,
    /// The span that queued this job (16 hex digits), when spans are
    /// exported: the webhook's, or the job's that asked for a follow-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<DeliveryId>,
    /// The repository the job acts on (see [`crate::settings::GitSettings::key`]):
    /// jobs of one repository run one at a time, in its lane. Jobs queued
    /// before it was carried have none and share the unnamed lane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Why the previous attempt failed, for the parking queue and logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub payload: serde_json::Value,
    /// Set by the worker, never carried: the queue handed this job out
    /// before and it was not settled (a worker died on it, or its ack was
    /// lost with a broker node), so it may have run already. Handlers are
    /// idempotent; this says why one may find its work done.
    #[serde(skip)]
    pub redelivered: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("job is not a valid envelope: {0}")]
    Envelope(String),
    #[error("unknown job kind `{0}`")]
    UnknownKind(String),
    #[error("payload of `{kind}` is invalid: {reason}")]
    Payload { kind: String, reason: String },
}

impl JobEnvelope {
    pub fn new(
        job: &Job,
        idempotency_key: String,
        delivery_id: Option<DeliveryId>,
        now: DateTime<Utc>,
    ) -> Result<Self, serde_json::Error> {
        let id = Uuid::new_v4();
        // Inside an exported span (a webhook, a job asking for a follow-up)
        // the job joins its trace; otherwise its own id starts one.
        let (trace_id, parent_span) = match crate::telemetry::otlp::current_ids() {
            Some((trace, span)) => (trace, Some(span)),
            None => (id.simple().to_string(), None),
        };
        Ok(Self {
            version: ENVELOPE_VERSION,
            id,
            kind: job.kind().to_owned(),
            attempt: 1,
            created_at: now,
            idempotency_key,
            trace_id,
            parent_span,
            delivery_id,
            repository: None,
            last_error: None,
            payload: job.payload()?,
            redelivered: false,
        })
    }

    /// The same envelope, acting on `repository`.
    #[must_use]
    pub fn in_repository(self, repository: impl Into<String>) -> Self {
        Self {
            repository: Some(repository.into()),
            ..self
        }
    }

    /// What serialises this job with others: its repository, or the
    /// unnamed lane for jobs that name none.
    pub fn lane_key(&self) -> &str {
        self.repository.as_deref().unwrap_or("")
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing our own plain-data struct into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let env: Self =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::Envelope(e.to_string()))?;
        if env.version > ENVELOPE_VERSION {
            return Err(DecodeError::Envelope(format!(
                "version {} is newer than this worker understands ({ENVELOPE_VERSION})",
                env.version
            )));
        }
        Ok(env)
    }

    /// The envelope for the next attempt after `error`.
    /// The same attempt again later: a job that waits, not one that failed.
    pub fn deferred(&self, reason: &str) -> Self {
        Self {
            last_error: Some(reason.to_owned()),
            ..self.clone()
        }
    }

    pub fn next_attempt(&self, error: &str) -> Self {
        Self {
            attempt: self.attempt + 1,
            last_error: Some(error.to_owned()),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{ChatCommand, ChatSource};

    fn chat() -> Job {
        Job::Chat(ChatCommand {
            source: ChatSource::Generic,
            user: "alice".into(),
            user_name: None,
            text: "help".into(),
            reply_url: Some("http://127.0.0.1:1/reply".into()),
            channel: None,
        })
    }

    #[test]
    fn round_trips_and_ignores_unknown_fields() {
        let env = JobEnvelope::new(&chat(), "k".into(), None, Utc::now()).unwrap();
        let mut value = serde_json::to_value(&env).unwrap();
        value["added_by_a_newer_version"] = serde_json::json!(true);
        let back = JobEnvelope::from_bytes(&serde_json::to_vec(&value).unwrap()).unwrap();
        assert_eq!(back, env);
        assert_eq!(Job::from_envelope(&back).unwrap(), chat());
    }

    #[test]
    fn unknown_kind_and_bad_payload_are_distinct_errors() {
        let mut env = JobEnvelope::new(&chat(), "k".into(), None, Utc::now()).unwrap();
        env.kind = "future.kind".into();
        assert!(
            matches!(Job::from_envelope(&env), Err(DecodeError::UnknownKind(k)) if k == "future.kind")
        );
        env.kind = "chat.command".into();
        env.payload = serde_json::json!({"text": 3});
        assert!(matches!(
            Job::from_envelope(&env),
            Err(DecodeError::Payload { .. })
        ));
    }

    #[test]
    fn rejects_garbage_and_newer_versions() {
        assert!(JobEnvelope::from_bytes(b"not json").is_err());
        let mut env = JobEnvelope::new(&chat(), "k".into(), None, Utc::now()).unwrap();
        env.version = ENVELOPE_VERSION + 1;
        assert!(JobEnvelope::from_bytes(&env.to_bytes()).is_err());
    }

    #[test]
    fn next_attempt_keeps_identity() {
        let env = JobEnvelope::new(&chat(), "k".into(), None, Utc::now()).unwrap();
        let next = env.next_attempt("boom");
        assert_eq!((next.id, next.attempt), (env.id, 2));
        assert_eq!(next.last_error.as_deref(), Some("boom"));
    }
}
