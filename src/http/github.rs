//! `POST /webhooks/github`: `X-Hub-Signature-256`, then the event.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::bounds::BodyRule;
use super::{enqueue, header, read_hmac_signed_body, ApiError, AppState};
use crate::domain::{CommitSha, DeliveryId};
use crate::jobs::{DashboardTick, IssueComment, Job, PullRequest, Push, PushCommit};

const ROUTE: &str = "/webhooks/github";
const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
const EVENT_HEADER: &str = "X-GitHub-Event";
const DELIVERY_HEADER: &str = "X-GitHub-Delivery";

#[derive(Deserialize)]
struct RepoDto {
    full_name: String,
}

#[derive(Deserialize)]
struct UserDto {
    login: String,
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Deserialize)]
struct CommitDto {
    id: String,
    message: String,
    #[serde(default)]
    added: Vec<String>,
    #[serde(default)]
    modified: Vec<String>,
    #[serde(default)]
    removed: Vec<String>,
}

#[derive(Deserialize)]
struct PushDto {
    #[serde(rename = "ref")]
    git_ref: String,
    before: String,
    after: String,
    #[serde(default)]
    created: bool,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    forced: bool,
    #[serde(default)]
    commits: Vec<CommitDto>,
    repository: RepoDto,
    sender: Option<UserDto>,
}

#[derive(Deserialize)]
struct RefDto {
    #[serde(rename = "ref")]
    git_ref: String,
    sha: String,
}

#[derive(Deserialize)]
struct LabelDto {
    name: String,
}

#[derive(Deserialize)]
struct PrDto {
    title: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    merged: Option<bool>,
    merge_commit_sha: Option<String>,
    head: RefDto,
    base: RefDto,
    user: UserDto,
    #[serde(default)]
    labels: Vec<LabelDto>,
}

#[derive(Deserialize)]
struct PullRequestDto {
    action: String,
    number: u64,
    pull_request: PrDto,
    repository: RepoDto,
}

#[derive(Deserialize)]
struct IssueDto {
    number: u64,
    pull_request: Option<serde::de::IgnoredAny>,
}

/// Trimmed captures leave out the comment's id and user; GitHub always
/// sends the top-level `sender`, the same person for `created`.
#[derive(Deserialize)]
struct CommentDto {
    id: Option<u64>,
    body: String,
    user: Option<UserDto>,
}

#[derive(Deserialize)]
struct IssueCommentDto {
    action: String,
    issue: IssueDto,
    comment: CommentDto,
    repository: RepoDto,
    sender: Option<UserDto>,
}

#[derive(Deserialize)]
struct EditedIssueDto {
    #[serde(default)]
    body: Option<String>,
    number: u64,
    pull_request: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct BodyChangeDto {
    from: String,
}

#[derive(Deserialize, Default)]
struct ChangesDto {
    body: Option<BodyChangeDto>,
}

#[derive(Deserialize)]
struct IssuesDto {
    action: String,
    issue: EditedIssueDto,
    #[serde(default)]
    changes: Option<ChangesDto>,
    repository: RepoDto,
    sender: UserDto,
}

fn parse<T: DeserializeOwned>(event: &str, body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("malformed `{event}` payload: {e}")))
}

fn sha(field: &str, value: &str) -> Result<CommitSha, ApiError> {
    CommitSha::parse(value).map_err(|e| ApiError::BadRequest(format!("{field}: {e}")))
}

fn push(dto: PushDto) -> Result<Push, ApiError> {
    let commits = dto
        .commits
        .into_iter()
        .map(|c| {
            Ok(PushCommit {
                id: sha("commits[].id", &c.id)?,
                message: c.message,
                added: c.added,
                modified: c.modified,
                removed: c.removed,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Push {
        repository: dto.repository.full_name,
        git_ref: dto.git_ref,
        before: sha("before", &dto.before)?,
        after: sha("after", &dto.after)?,
        created: dto.created,
        deleted: dto.deleted,
        forced: dto.forced,
        commits,
        sender: dto.sender.map(|s| s.login).unwrap_or_default(),
    })
}

fn pull_request(dto: PullRequestDto) -> Result<PullRequest, ApiError> {
    let pr = dto.pull_request;
    Ok(PullRequest {
        repository: dto.repository.full_name,
        action: dto.action,
        number: dto.number,
        title: pr.title,
        merged: pr.merged.unwrap_or(false),
        merge_commit_sha: pr
            .merge_commit_sha
            .as_deref()
            .map(|s| sha("pull_request.merge_commit_sha", s))
            .transpose()?,
        head_ref: pr.head.git_ref,
        head_sha: sha("pull_request.head.sha", &pr.head.sha)?,
        base_ref: pr.base.git_ref,
        author: pr.user.login,
        labels: pr.labels.into_iter().map(|l| l.name).collect(),
        body: pr.body.unwrap_or_default(),
    })
}

fn issue_comment(dto: IssueCommentDto) -> Result<IssueComment, ApiError> {
    let author = dto.comment.user.or(dto.sender).ok_or_else(|| {
        ApiError::BadRequest("malformed `issue_comment` payload: no comment.user or sender".into())
    })?;
    Ok(IssueComment {
        repository: dto.repository.full_name,
        action: dto.action,
        issue_number: dto.issue.number,
        on_pull_request: dto.issue.pull_request.is_some(),
        comment_id: dto.comment.id,
        body: dto.comment.body,
        author: author.login,
        author_type: author.kind,
    })
}

/// An edit of the dashboard issue's body by a person that ticked boxes;
/// None for every other `issues` event (chartpilot's own rewrites, other
/// issues, title edits, unticking).
fn dashboard_tick(dto: IssuesDto) -> Option<DashboardTick> {
    let body = dto.issue.body.as_deref()?;
    let from = &dto.changes?.body?.from;
    if dto.action != "edited"
        || dto.issue.pull_request.is_some()
        || dto.sender.kind.eq_ignore_ascii_case("bot")
        || !body.contains(crate::dashboard::MARKER)
    {
        return None;
    }
    let ticked = crate::dashboard::ticked(from, body);
    if ticked.is_empty() {
        return None;
    }
    let dropped = ticked
        .len()
        .saturating_sub(crate::dashboard::MAX_TICKS_PER_EDIT);
    Some(DashboardTick {
        repository: dto.repository.full_name,
        issue_number: dto.issue.number,
        author: dto.sender.login,
        commands: ticked
            .iter()
            .take(crate::dashboard::MAX_TICKS_PER_EDIT)
            .map(crate::dashboard::Pending::command)
            .collect(),
        dropped,
    })
}

/// Translates a verified delivery into a job; `None` for events chartpilot
/// does not act on.
fn translate(event: &str, body: &[u8]) -> Result<Option<Job>, ApiError> {
    Ok(Some(match event {
        "push" => Job::Push(push(parse(event, body)?)?),
        "pull_request" => Job::PullRequest(pull_request(parse(event, body)?)?),
        "issue_comment" => Job::IssueComment(issue_comment(parse(event, body)?)?),
        "issues" => match dashboard_tick(parse(event, body)?) {
            Some(tick) => Job::DashboardTick(tick),
            None => return Ok(None),
        },
        _ => return Ok(None),
    }))
}

pub(super) async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // GitHub caps deliveries at 25 MB; the operator chooses how much of
    // that to take with `server.max_body_bytes`.
    let rule = BodyRule {
        route: ROUTE,
        limit: state.bounds.max_body_bytes,
        unauthenticated: true,
    };
    let body = read_hmac_signed_body(
        &req,
        payload,
        &state,
        rule,
        &state.secrets.github,
        SIGNATURE_HEADER,
    )
    .await?;
    let event = header(&req, EVENT_HEADER)
        .ok_or_else(|| ApiError::BadRequest(format!("missing {EVENT_HEADER} header")))?;
    let delivery = header(&req, DELIVERY_HEADER)
        .ok_or_else(|| ApiError::BadRequest(format!("missing {DELIVERY_HEADER} header")))
        .and_then(|d| {
            DeliveryId::parse(d)
                .map_err(|e| ApiError::BadRequest(format!("{DELIVERY_HEADER}: {e}")))
        })?;
    if event == "ping" {
        parse::<serde::de::IgnoredAny>(event, &body)?;
        tracing::info!(delivery = %delivery, "github ping");
        return Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "pong" })));
    }
    let Some(job) = translate(event, &body)? else {
        tracing::debug!(delivery = %delivery, event, "github event ignored");
        return Ok(
            HttpResponse::Ok().json(serde_json::json!({ "status": "ignored", "event": event }))
        );
    };
    let key = format!("github:{delivery}");
    let envelope = enqueue(&state, job, key, Some(delivery)).await?;
    Ok(
        HttpResponse::Accepted()
            .json(serde_json::json!({ "status": "queued", "job": envelope.id })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_known_events_only() {
        assert!(translate("star", b"{}").unwrap().is_none());
        let err = translate("push", b"{\"ref\": 1}").unwrap_err();
        assert!(
            err.to_string().contains("malformed `push` payload"),
            "{err}"
        );
    }
}
