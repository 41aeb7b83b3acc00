//! Where answers go: Slack's `response_url` (Block Kit, `in_channel` for
//! actions, ephemeral otherwise), the generic route's `reply_url`, and
//! GitHub comments; and which lines of a comment are commands.

use std::time::Duration;

use super::run::Reply;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Slack's limit for one section's text, less room for the ellipsis.
const SLACK_SECTION_CHARS: usize = 2_990;

/// At most this many commands are run from one comment.
pub const MAX_COMMANDS_PER_COMMENT: usize = 5;

/// Marks chartpilot's own reply comments, so they are never read as
/// commands (they quote them).
pub const REPLY_MARKER: &str = "<!-- chartpilot:reply -->";

#[derive(Clone)]
pub struct Replier {
    http: reqwest::Client,
}

impl Default for Replier {
    fn default() -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .build()
                .unwrap_or_default(),
        }
    }
}

impl Replier {
    /// Slack: the message, as a section block with the same text for
    /// notifications.
    pub async fn slack(&self, response_url: &str, reply: &Reply) -> Result<(), String> {
        let text = crate::text::slack(&reply.text);
        // Slack refuses a section over 3,000 characters.
        let section = match text.char_indices().nth(SLACK_SECTION_CHARS) {
            Some((i, _)) => format!("{}…", &text[..i]),
            None => text.clone(),
        };
        let body = serde_json::json!({
            "response_type": if reply.public { "in_channel" } else { "ephemeral" },
            "replace_original": false,
            "text": text,
            "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": section } }],
        });
        self.post(response_url, &body).await
    }

    /// The generic route: `{"text", "public"}` to `reply_url`.
    pub async fn generic(&self, reply_url: &str, reply: &Reply) -> Result<(), String> {
        let body = serde_json::json!({ "text": reply.text, "public": reply.public });
        self.post(reply_url, &body).await
    }

    async fn post(&self, url: &str, body: &serde_json::Value) -> Result<(), String> {
        match self.http.post(url).json(body).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("the reply URL answered {}", r.status())),
            // The URL may carry a token (Slack's does): never in the text.
            Err(e) if e.is_timeout() => Err("the reply URL timed out".into()),
            Err(_) => Err("the reply URL could not be reached".into()),
        }
    }
}

/// The `/chartpilot` lines of a GitHub comment, each without its prefix:
/// one command per line, none from fenced code, indented code or quotes,
/// none from chartpilot's own replies, at most
/// [`MAX_COMMANDS_PER_COMMENT`].
pub fn commands_in_comment(body: &str) -> Vec<String> {
    if body.contains(REPLY_MARKER) {
        return Vec::new();
    }
    let mut fence: Option<&str> = None;
    let mut out = Vec::new();
    for line in body.lines() {
        let trimmed = line.trim_start();
        if let Some(open) = fence {
            if trimmed.starts_with(open) {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") {
            fence = Some("```");
            continue;
        }
        if trimmed.starts_with("~~~") {
            fence = Some("~~~");
            continue;
        }
        if trimmed.starts_with('>') || line.starts_with("    ") || line.starts_with('\t') {
            continue;
        }
        let Some(rest) = trimmed.strip_prefix("/chartpilot") else {
            continue;
        };
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            continue;
        }
        out.push(rest.trim().to_owned());
        if out.len() == MAX_COMMANDS_PER_COMMENT {
            break;
        }
    }
    out
}

/// One reply comment for the commands of one comment; `dropped` commands
/// past the limit are said to have not run.
pub fn comment_reply(results: &[(String, Reply)], dropped: usize, per: &str) -> String {
    let mut out = String::new();
    for (command, reply) in results {
        out.push_str(&format!(
            "> `/chartpilot {}`\n\n{}\n\n",
            crate::text::no_mentions(&command.replace('`', "'")),
            crate::text::no_mentions(&reply.text)
        ));
    }
    if dropped > 0 {
        out.push_str(&format!(
            "{dropped} more command(s) did not run: at most {MAX_COMMANDS_PER_COMMENT} {per}.\n\n"
        ));
    }
    out.push_str(REPLY_MARKER);
    out
}

/// How many `/chartpilot` lines a comment has beyond the ones that run.
pub fn dropped_commands(body: &str) -> usize {
    let all = body
        .lines()
        .filter(|l| l.trim_start().starts_with("/chartpilot"))
        .count();
    all.saturating_sub(MAX_COMMANDS_PER_COMMENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_command_lines_count() {
        let body = "Looks bad.\n/chartpilot rollback frontend-app prod\n\n```\n/chartpilot sync x\n```\n> /chartpilot freeze prod\n    /chartpilot unfreeze prod\n~~~\n/chartpilot help\n~~~\n  /chartpilot status frontend-app\n/chartpilotx nope\n/chartpilot\n";
        assert_eq!(
            commands_in_comment(body),
            ["rollback frontend-app prod", "status frontend-app", ""]
        );
        let ours = comment_reply(
            &[(
                "help".into(),
                Reply {
                    text: "/chartpilot sync x @acme/all".into(),
                    public: false,
                },
            )],
            2,
            "per comment",
        );
        assert!(!ours.contains("@acme"), "{ours}");
        assert!(
            ours.contains("2 more command(s) did not run: at most 5 per comment."),
            "{ours}"
        );
        assert!(commands_in_comment(&ours).is_empty());
        let many = "/chartpilot help\n".repeat(9);
        assert_eq!(commands_in_comment(&many).len(), MAX_COMMANDS_PER_COMMENT);
    }

    #[test]
    fn slack_text_cannot_ping() {
        assert_eq!(
            crate::text::slack("<!channel> & <@U1>"),
            "&lt;!channel&gt; &amp; &lt;@U1&gt;"
        );
    }
}
