use actix_web::{web, HttpResponse};

use super::AppState;

pub(super) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Ready only while the queue accepts jobs (a load balancer then sends
/// webhooks to replicas that can confirm them) and no configured feature is
/// broken (a bad token should page someone, not pass as healthy). The body
/// lists each feature and why it is off or broken.
pub(super) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let current = state.features.get();
    let features = current.to_json();
    let broken: Vec<&str> = current.broken().iter().map(|f| f.name).collect();
    if !state.queue.is_ready() {
        HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "not ready",
            "reason": "queue unavailable",
            "features": features,
        }))
    } else if !broken.is_empty() {
        HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "not ready",
            "reason": format!("configured but broken: {}", broken.join(", ")),
            "features": features,
        }))
    } else {
        HttpResponse::Ok().json(serde_json::json!({ "status": "ready", "features": features }))
    }
}

pub(super) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
