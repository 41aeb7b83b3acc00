//! `GET /`: the status page. Read only; behind `server.status_auth` when
//! set. Its parts are gathered here and rendered by `status::page`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use crate::settings::StatusAuth;
use crate::status::page::{self, View};

/// Whether `req` may read the page.
fn allowed(auth: &StatusAuth, req: &HttpRequest) -> bool {
    let (scheme, expected) = match auth {
        StatusAuth::Open => return true,
        StatusAuth::Bearer(t) => ("bearer", t),
        StatusAuth::Basic(c) => ("basic", c),
    };
    let Some(given) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((s, value)) = given.trim().split_once(' ') else {
        return false;
    };
    // Digests of equal length, so the comparison time says nothing about
    // the secret's length either.
    let digest = |b: &[u8]| -> [u8; 32] { Sha256::digest(b).into() };
    s.eq_ignore_ascii_case(scheme)
        && bool::from(digest(value.trim().as_bytes()).ct_eq(&digest(expected.as_bytes())))
}

fn unauthorized(auth: &StatusAuth) -> HttpResponse {
    let mut res = HttpResponse::Unauthorized();
    if matches!(auth, StatusAuth::Basic(_)) {
        res.insert_header((
            header::WWW_AUTHENTICATE,
            "Basic realm=\"chartpilot\", charset=\"UTF-8\"",
        ));
    } else {
        res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"chartpilot\""));
    }
    res.json(serde_json::json!({
        "error": "the status page needs the credentials set in server.status_auth"
    }))
}

pub(super) async fn page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if !allowed(&state.status_auth, &req) {
        return unauthorized(&state.status_auth);
    }
    let queue = state.queue.depth().await.map_err(|e| e.to_string());
    let parked = state
        .queue
        .parked_preview(page::MAX_PARKED_ROWS)
        .await
        .map(|p| p.map(|p| crate::queue::parked::rows(&p)))
        .map_err(|e| e.to_string());
    let features = state.features.get();
    let matrices = state.status.matrices();
    let actions = state.status.actions();
    let html = page::render(&View {
        now: state.clock.now(),
        worker: state.status.worker(),
        matrices: &matrices,
        queue,
        parked,
        actions: &actions,
        features: &features,
    });
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // Nothing runs and nothing loads from elsewhere, whatever a value
        // on the page says.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(html)
}
