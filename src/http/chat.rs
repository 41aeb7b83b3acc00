//! `POST /webhooks/chat`: generic signed JSON commands for chat tools other
//! than Slack: `{"user": "...", "text": "...", "reply_url": "..."}`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{digest, enqueue, read_hmac_signed_body, ApiError, AppState};
use crate::jobs::{ChatCommand, ChatSource, Job};

const SIGNATURE_HEADER: &str = "X-Chartpilot-Signature";

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
    let body =
        read_hmac_signed_body(&req, payload, &state, &state.secrets.chat, SIGNATURE_HEADER).await?;
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
    let key = format!("chat:{}", digest([body.as_ref()]));
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
