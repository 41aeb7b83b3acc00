//! `POST /webhooks/alertmanager`: bearer token, then a v4 notification.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Datelike, Utc};
use serde::Deserialize;

use super::bounds::{read_body, BodyRule, ALERTMANAGER_MAX_BODY_BYTES};
use super::signature::{verify_bearer, SignatureError};
use super::{digest, enqueue, header, refused, ApiError, AppState};
use crate::domain::AlertFingerprint;
use crate::jobs::{Alert, AlertNotification, AlertStatus, Job};

const ROUTE: &str = "/webhooks/alertmanager";

/// The only webhook payload version Alertmanager has shipped so far.
const SUPPORTED_VERSION: &str = "4";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertDto {
    status: AlertStatus,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    #[serde(rename = "generatorURL", default)]
    generator_url: String,
    fingerprint: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotificationDto {
    version: String,
    #[serde(default)]
    receiver: String,
    status: AlertStatus,
    group_key: String,
    #[serde(default)]
    truncated_alerts: u64,
    #[serde(default)]
    group_labels: BTreeMap<String, String>,
    #[serde(default)]
    common_labels: BTreeMap<String, String>,
    #[serde(rename = "externalURL", default)]
    external_url: String,
    #[serde(default, alias = "notification_reason")]
    notification_reason: Option<String>,
    alerts: Vec<AlertDto>,
}

/// Alertmanager writes Go's zero time (`0001-01-01T00:00:00Z`) for an alert
/// that has not ended.
fn ends_at(t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    t.filter(|t| t.year() > 1)
}

fn translate(body: &[u8]) -> Result<AlertNotification, ApiError> {
    let dto: NotificationDto = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("malformed Alertmanager notification: {e}")))?;
    if dto.version != SUPPORTED_VERSION {
        return Err(ApiError::BadRequest(format!(
            "unsupported Alertmanager webhook version `{}` (expected {SUPPORTED_VERSION})",
            dto.version
        )));
    }
    if dto.alerts.is_empty() {
        return Err(ApiError::BadRequest("notification holds no alerts".into()));
    }
    let alerts = dto
        .alerts
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            Ok(Alert {
                status: a.status,
                labels: a.labels,
                annotations: a.annotations,
                starts_at: a.starts_at,
                ends_at: ends_at(a.ends_at),
                generator_url: a.generator_url,
                fingerprint: AlertFingerprint::parse(&a.fingerprint)
                    .map_err(|e| ApiError::BadRequest(format!("alerts[{i}].fingerprint: {e}")))?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(AlertNotification {
        receiver: dto.receiver,
        status: dto.status,
        group_key: dto.group_key,
        truncated_alerts: dto.truncated_alerts,
        group_labels: dto.group_labels,
        common_labels: dto.common_labels,
        external_url: dto.external_url,
        notification_reason: dto.notification_reason,
        alerts,
    })
}

/// The same group in the same state yields the same key, whichever
/// Alertmanager replica sent it and however often it repeats.
fn idempotency_key(n: &AlertNotification) -> String {
    let mut parts: Vec<String> = n
        .alerts
        .iter()
        .map(|a| {
            format!(
                "{}@{}:{:?}",
                a.fingerprint,
                a.starts_at.to_rfc3339(),
                a.status
            )
        })
        .collect();
    parts.sort();
    let joined = parts.join(",");
    format!(
        "alertmanager:{}",
        digest([n.group_key.as_bytes(), joined.as_bytes()])
    )
}

fn authorize(req: &HttpRequest, state: &AppState) -> Result<(), SignatureError> {
    let token = state.secrets.alertmanager.expose();
    if token.is_empty() && state.secrets.alertmanager_allow_unauthenticated {
        // Only for setups where Alertmanager runs beside chartpilot.
        return match req.peer_addr() {
            Some(addr) if addr.ip().is_loopback() => Ok(()),
            _ => Err(SignatureError::NoSecret),
        };
    }
    verify_bearer(token, header(req, "Authorization"))
}

pub(super) async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // The token is in a header: the sender is known before the body is
    // read, so the body does not count as unauthenticated.
    authorize(&req, &state).map_err(|e| refused(&req, ROUTE, e))?;
    let rule = BodyRule {
        route: ROUTE,
        limit: ALERTMANAGER_MAX_BODY_BYTES.min(state.bounds.max_body_bytes),
        unauthenticated: false,
    };
    let body = read_body(&req, payload, rule, &state.bounds)
        .await?
        .authenticated();
    let notification = translate(&body)?;
    let key = idempotency_key(&notification);
    let envelope = enqueue(&state, Job::Alert(notification), key, None).await?;
    Ok(
        HttpResponse::Accepted()
            .json(serde_json::json!({ "status": "queued", "job": envelope.id })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRING: &str = r#"{"version":"4","status":"firing","groupKey":"g","receiver":"r",
      "alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-24T00:23:03.007Z",
      "endsAt":"0001-01-01T00:00:00Z","fingerprint":"d00d0fdcf380e141"}]}"#;

    #[test]
    fn zero_end_time_means_still_firing() {
        let n = translate(FIRING.as_bytes()).unwrap();
        assert_eq!(n.alerts[0].ends_at, None);
        assert_eq!(n.truncated_alerts, 0);
    }

    #[test]
    fn rejects_other_versions_and_empty_groups() {
        let v3 = FIRING.replace("\"4\"", "\"3\"");
        assert!(translate(v3.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("version `3`"));
        let empty = r#"{"version":"4","status":"firing","groupKey":"g","alerts":[]}"#;
        assert!(translate(empty.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("no alerts"));
        let bad_fp = FIRING.replace("d00d0fdcf380e141", "zz");
        assert!(translate(bad_fp.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("alerts[0].fingerprint"));
    }

    #[test]
    fn key_ignores_order_but_not_state() {
        let one = translate(FIRING.as_bytes()).unwrap();
        let mut resolved = one.clone();
        resolved.alerts[0].status = AlertStatus::Resolved;
        assert_eq!(idempotency_key(&one), idempotency_key(&one.clone()));
        assert_ne!(idempotency_key(&one), idempotency_key(&resolved));
    }
}
