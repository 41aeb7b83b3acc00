//! `POST /webhooks/slack`: Slack v0 signature within five minutes, then a
//! slash command. Slack wants an answer within 3 s, so the HTTP response is
//! the ephemeral acknowledgement and the result follows on `response_url`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::bounds::{read_body, BodyRule, SLACK_MAX_BODY_BYTES};
use super::signature::verify_slack;
use super::{enqueue, header, refused, ApiError, AppState};
use crate::jobs::{ChatCommand, ChatSource, Job};

const ROUTE: &str = "/webhooks/slack";

#[derive(Deserialize)]
struct SlashCommandDto {
    user_id: String,
    #[serde(default)]
    user_name: Option<String>,
    command: String,
    #[serde(default)]
    text: String,
    response_url: String,
    #[serde(default)]
    channel_name: Option<String>,
}

fn ephemeral(text: String) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "response_type": "ephemeral", "text": text }))
}

pub(super) async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rule = BodyRule {
        route: ROUTE,
        limit: SLACK_MAX_BODY_BYTES.min(state.bounds.max_body_bytes),
        unauthenticated: true,
    };
    let body = read_body(&req, payload, rule, &state.bounds).await?;
    let signature = verify_slack(
        state.secrets.slack.expose(),
        header(&req, "X-Slack-Request-Timestamp"),
        header(&req, "X-Slack-Signature"),
        body.bytes(),
        state.clock.now(),
    )
    .map_err(|e| refused(&req, ROUTE, e))?;
    let body = body.authenticated();
    let dto: SlashCommandDto = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed Slack slash command: {e}")))?;
    if !dto.response_url.starts_with("https://") && !dto.response_url.starts_with("http://") {
        return Err(ApiError::BadRequest(
            "response_url is not an http(s) URL".into(),
        ));
    }
    // The signature covers the timestamp and the body, trigger id
    // included: a replay inside the window carries the same one, and the
    // queue takes one job per key. Slack never retries a slash command.
    let key = format!("slack:{signature}");
    let echo = format!("{} {}", dto.command, dto.text);
    let response_url = dto.response_url.clone();
    let job = Job::Chat(ChatCommand {
        source: ChatSource::Slack,
        user: dto.user_id,
        user_name: dto.user_name,
        text: dto.text,
        reply_url: Some(dto.response_url),
        channel: dto.channel_name,
    });
    // Slack does not retry slash commands, so a 503 would only show the
    // person a generic failure: say what happened instead. Slack gives up
    // on an answer after 3 s, and a stalled broker takes
    // `queue.confirm_timeout` (5 s by default) to say no: the publish goes
    // on in its own task, and past [`QUEUE_PATIENCE`] the person hears
    // that it may still run.
    let not_accepted = || ephemeral(NOT_ACCEPTED.into());
    // A queue known to be down or stalled (`/readyz` says so) would only
    // make the person wait: answer at once, before anything is published.
    if !state.queue.is_ready() {
        return Ok(not_accepted());
    }
    let mut publishing = {
        let state = state.clone();
        tokio::spawn(async move { enqueue(&state, job, key, None).await })
    };
    match tokio::time::timeout(QUEUE_PATIENCE, &mut publishing).await {
        Ok(Ok(Ok(_))) => Ok(ephemeral(format!("Working on `{}`…", echo.trim()))),
        Ok(Ok(Err(ApiError::Unavailable(_)))) => Ok(not_accepted()),
        Ok(Ok(Err(e))) => Err(e),
        Ok(Err(join)) => Err(ApiError::Internal(format!("publishing stopped: {join}"))),
        Err(_) => {
            tracing::warn!(
                event = "slack_publish_slow",
                "the queue did not confirm a Slack command in time to answer Slack; it may still run"
            );
            // Slack heard "it may still run": if the queue then says no,
            // the person hears that too, where the answer would have come.
            tokio::spawn(async move {
                if let Ok(Err(ApiError::Unavailable(_))) = publishing.await {
                    let reply = crate::chat::run::Reply {
                        text: NOT_ACCEPTED.into(),
                        public: false,
                    };
                    let sent = crate::chat::reply::Replier::default()
                        .slack(&response_url, &reply)
                        .await;
                    if let Err(e) = sent {
                        tracing::warn!(error = %e, "late 'not accepted' not delivered to Slack");
                    }
                }
            });
            Ok(ephemeral(format!(
                "chartpilot's queue is slow to confirm `{}`: it may still run, and its \
                 answer will come here. Check with `/chartpilot status` before asking again.",
                echo.trim()
            )))
        }
    }
}

const NOT_ACCEPTED: &str = "chartpilot cannot take commands right now (its queue is unavailable). \
                            Nothing was done; please try again in a minute.";

/// How long a Slack command waits for the queue before Slack is answered:
/// under Slack's 3 s, with room for the network.
const QUEUE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);
