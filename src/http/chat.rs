//! `POST /webhooks/chat`: generic signed JSON commands for chat tools other
//! than Slack: `{"user": "...", "text": "...", "reply_url": "..."}`.
//! Signed like Slack's, over a timestamp and the body (see
//! [`signature::verify_chat`]), so a captured request cannot be replayed
//! after five minutes, and within them names the same job.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::bounds::{read_body, BodyRule, CHAT_MAX_BODY_BYTES};
use super::signature::{self, CHAT_REQUEST_ID, CHAT_SIGNATURE, CHAT_TIMESTAMP};
use super::{enqueue, header, refused, ApiError, AppState};
use crate::jobs::{ChatCommand, ChatSource, Job};

const ROUTE: &str = "/webhooks/chat";

#[derive(Deserialize)]
struct ChatDto {
    user: String,
    text: String,
    #[serde(default)]
    reply_url: Option<String>,
}

pub(super) async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rule = BodyRule {
        route: ROUTE,
        limit: CHAT_MAX_BODY_BYTES.min(state.bounds.max_body_bytes),
        unauthenticated: true,
    };
    let body = read_body(&req, payload, rule, &state.bounds).await?;
    let request_id = header(&req, CHAT_REQUEST_ID);
    let signature = signature::verify_chat(
        state.secrets.chat.expose(),
        header(&req, CHAT_TIMESTAMP),
        request_id,
        header(&req, CHAT_SIGNATURE),
        body.bytes(),
        state.clock.now(),
    )
    .map_err(|e| refused(&req, ROUTE, e))?;
    let body = body.authenticated();
    let dto: ChatDto = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed chat command: {e}")))?;
    if dto.user.trim().is_empty() {
        return Err(ApiError::BadRequest("`user` is empty".into()));
    }
    if dto.text.trim().is_empty() {
        return Err(ApiError::BadRequest("`text` is empty".into()));
    }
    if let Some(url) = &dto.reply_url {
        if !url.starts_with("https://") && !url.starts_with("http://") {
            return Err(ApiError::BadRequest(
                "`reply_url` is not an http(s) URL".into(),
            ));
        }
    }
    // A sender's retry re-signs with a new timestamp but keeps its request
    // id; without one, a replay is the same signature.
    let key = match request_id {
        Some(id) => format!("chat:id:{id}"),
        None => format!("chat:sig:{signature}"),
    };
    let job = Job::Chat(ChatCommand {
        source: ChatSource::Generic,
        user: dto.user,
        user_name: None,
        text: dto.text,
        reply_url: dto.reply_url,
        channel: None,
    });
    let envelope = enqueue(&state, job, key, None).await?;
    Ok(
        HttpResponse::Accepted()
            .json(serde_json::json!({ "status": "queued", "job": envelope.id })),
    )
}
