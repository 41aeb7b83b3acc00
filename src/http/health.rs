use actix_web::{web, HttpResponse};

use super::AppState;

pub(super) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Ready only while the queue accepts jobs: a load balancer then sends
/// webhooks to replicas that can confirm them.
pub(super) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.queue.is_ready() {
        HttpResponse::Ok().json(serde_json::json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "not ready", "reason": "queue unavailable" }))
    }
}

pub(super) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
