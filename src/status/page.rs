//! The status page: one server-rendered HTML document, no script, no
//! external asset (the style is inline), every value from the repository,
//! the queue or a job escaped through `text`.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{Action, Snapshot};
use crate::features::{Features, State};
use crate::matrix::render::html_table;
use crate::queue::parked::ParkedRow;
use crate::queue::Depth;
use crate::text;

/// A parked job's reason is cut here; `chartpilot jobs show` has it whole.
const MAX_REASON_CHARS: usize = 300;

/// An action's text is cut here.
const MAX_ACTION_CHARS: usize = 300;

/// Parked jobs listed; the count says how many there are.
pub const MAX_PARKED_ROWS: usize = 50;

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em}\
    table{border-collapse:collapse;margin-bottom:1em}\
    td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
    .on{color:#070}.off{color:#666}.broken{color:#b00;font-weight:bold}\
    small{color:#666}";

/// Everything the page shows, gathered by the HTTP handler.
pub struct View<'a> {
    pub now: DateTime<Utc>,
    /// This process runs jobs (roles `all` and `worker`).
    pub worker: bool,
    /// The last matrix of each repository.
    pub matrices: &'a [Snapshot],
    pub queue: Result<Depth, String>,
    /// The first parked jobs; None where the queue cannot show them
    /// without touching them (RabbitMQ).
    pub parked: Result<Option<Vec<ParkedRow>>, String>,
    pub actions: &'a [Action],
    pub features: &'a Features,
}

fn ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    let d = std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    format!("{} ago", humantime::format_duration(d))
}

fn features(out: &mut String, f: &Features, worker: bool) {
    out.push_str("<h2>Features</h2>\n");
    if !worker {
        out.push_str(
            "<p id=\"features\">This process runs no worker: it only receives webhooks.</p>\n",
        );
        return;
    }
    if f.0.is_empty() {
        out.push_str("<p id=\"features\">Not assessed in this process.</p>\n");
        return;
    }
    out.push_str("<table id=\"features\">\n<tr><th>Feature</th><th>State</th><th>Why</th></tr>\n");
    for feature in &f.0 {
        let (class, why) = match &feature.state {
            State::On { note } => ("on", note.clone().unwrap_or_default()),
            State::Off { why, key } => ("off", format!("{why} (set {key})")),
            State::Broken { why } => ("broken", why.clone()),
        };
        let _ = writeln!(
            out,
            "<tr data-feature=\"{name}\"><td>{name}</td><td class=\"{class}\">{class}</td><td>{}</td></tr>",
            text::html(&why),
            name = text::html(feature.name),
        );
    }
    out.push_str("</table>\n");
}

fn queue(
    out: &mut String,
    depth: &Result<Depth, String>,
    parked: &Result<Option<Vec<ParkedRow>>, String>,
    now: DateTime<Utc>,
) {
    out.push_str("<h2>Queue</h2>\n");
    match depth {
        Ok(d) => {
            let _ = writeln!(
                out,
                "<table id=\"queue\"><tr><th>Pending</th><th>Retrying</th><th>Parked</th></tr>\
                 <tr><td data-count=\"pending\">{}</td><td data-count=\"retrying\">{}</td><td data-count=\"parked\">{}</td></tr></table>",
                d.ready, d.retrying, d.parked
            );
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "<p id=\"queue\" class=\"broken\">Queue not readable: {}</p>",
                text::html(e)
            );
        }
    }
    let total = depth.as_ref().map(|d| d.parked).unwrap_or(0);
    match parked {
        Ok(Some(rows)) if rows.is_empty() => {}
        Ok(Some(rows)) => {
            out.push_str("<h3>Parked jobs</h3>\n<table id=\"parked\">\n<tr><th>#</th><th>Id</th><th>Kind</th><th>Attempt</th><th>Age</th><th>Reason</th></tr>\n");
            for row in rows.iter().take(MAX_PARKED_ROWS) {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    row.n,
                    text::html(row.id.as_deref().unwrap_or("-")),
                    text::html(row.kind.as_deref().unwrap_or("unreadable")),
                    row.attempt.map(|a| a.to_string()).unwrap_or_default(),
                    row.created_at.map(|t| ago(now, t)).unwrap_or_default(),
                    text::html(&text::cut(&row.reason, MAX_REASON_CHARS)),
                );
            }
            out.push_str(
                "</table>\n<p><small>Run one again with <code>chartpilot jobs retry ID</code>; \
                 remove it with <code>chartpilot jobs drop ID --yes</code>.</small></p>\n",
            );
            let shown = rows.len().min(MAX_PARKED_ROWS) as u64;
            if total > shown {
                let _ = writeln!(
                    out,
                    "<p>{} more: <code>chartpilot jobs list</code></p>",
                    total - shown
                );
            }
        }
        Ok(None) if total > 0 => {
            out.push_str(
                "<p id=\"parked\">RabbitMQ hands a message out to show it, so this page does \
                 not read the parked jobs: <code>chartpilot jobs list</code> does, and \
                 <code>chartpilot jobs retry|drop ID</code> acts on them.</p>\n",
            );
        }
        Ok(None) => {}
        Err(e) => {
            let _ = writeln!(
                out,
                "<p class=\"broken\">Parked jobs not readable: {}</p>",
                text::html(e)
            );
        }
    }
}

fn matrix(out: &mut String, matrices: &[Snapshot], worker: bool, now: DateTime<Utc>) {
    out.push_str("<h2>Chart versions</h2>\n");
    if matrices.is_empty() {
        out.push_str(if worker {
            "<p id=\"matrix\">No upgrade pass has run since this process started. \
             <code>chartpilot report</code> shows the matrix now.</p>\n"
        } else {
            "<p id=\"matrix\">This process runs no worker; the workers' status pages show the matrix.</p>\n"
        });
        return;
    }
    // One repository needs no name; several are each named.
    let named = matrices.len() > 1;
    for s in matrices {
        if named {
            let _ = writeln!(
                out,
                "<h3 data-repository=\"{r}\">{r}</h3>",
                r = text::html(&s.repository)
            );
        }
        let _ = writeln!(
            out,
            "<p><small>As of the upgrade pass {} ({}).</small></p>",
            ago(now, s.at),
            s.at.format("%Y-%m-%d %H:%M:%S UTC")
        );
        out.push_str(&html_table(&s.matrix));
        if !s.matrix.freezes.is_empty() {
            out.push_str("<ul id=\"freezes\">\n");
            for (env, why) in &s.matrix.freezes {
                let _ = writeln!(
                    out,
                    "<li data-env=\"{}\">{}</li>",
                    text::html(env),
                    text::html(why)
                );
            }
            out.push_str("</ul>\n");
        }
    }
}

fn actions(out: &mut String, list: &[Action], now: DateTime<Utc>) {
    out.push_str("<h2>Last actions</h2>\n");
    if list.is_empty() {
        out.push_str("<p id=\"actions\">None since this process started.</p>\n");
        return;
    }
    out.push_str("<table id=\"actions\">\n<tr><th>When</th><th>Kind</th><th>What</th></tr>\n");
    // Actions of several repositories say which.
    let many = list
        .iter()
        .map(|a| a.repository.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    for a in list {
        let what = text::cut(&a.text, MAX_ACTION_CHARS);
        let what = if many {
            text::html(&format!("{}: {what}", a.repository))
        } else {
            text::html(&what)
        };
        let what = match a.link.as_deref().and_then(text::link) {
            Some(url) => format!("<a href=\"{}\">{what}</a>", text::html(url)),
            None => what,
        };
        let _ = writeln!(
            out,
            "<tr><td title=\"{}\">{}</td><td>{}</td><td>{what}</td></tr>",
            a.at.format("%Y-%m-%d %H:%M:%S UTC"),
            ago(now, a.at),
            a.kind.as_str(),
        );
    }
    out.push_str("</table>\n");
}

/// The whole page.
pub fn render(v: &View<'_>) -> String {
    let mut out = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>chartpilot status</title><style>{STYLE}</style></head><body>\n\
         <h1>chartpilot</h1>\n<p><small>Rendered {}. What this replica knows and did since it started; \
         git, Argo CD and Alertmanager hold the rest.</small></p>\n",
        v.now.format("%Y-%m-%d %H:%M:%S UTC")
    );
    features(&mut out, v.features, v.worker);
    queue(&mut out, &v.queue, &v.parked, v.now);
    matrix(&mut out, v.matrices, v.worker, v.now);
    actions(&mut out, v.actions, v.now);
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Feature;
    use crate::status::ActionKind;

    fn view<'a>(actions: &'a [Action], features: &'a Features, parked: Vec<ParkedRow>) -> View<'a> {
        View {
            now: Utc::now(),
            worker: !features.0.is_empty(),
            matrices: &[],
            queue: Ok(Depth {
                ready: 2,
                retrying: 1,
                parked: parked.len() as u64,
            }),
            parked: Ok(Some(parked)),
            actions,
            features,
        }
    }

    #[test]
    fn several_repositories_are_each_named_and_one_is_not() {
        use crate::pins::{Pin, PinKind};
        let m = crate::matrix::build(
            &[Pin::sample(PinKind::Argocd, Some("dev"), "web", "1.0.0")],
            None,
            &["dev".into()],
            &crate::promote::freeze::Freezes::default(),
        );
        let snap = |repo: &str| Snapshot {
            repository: repo.into(),
            at: Utc::now(),
            matrix: m.clone(),
        };
        let features = Features::default();
        let acted = |repo: &str| Action {
            repository: repo.into(),
            at: Utc::now(),
            kind: ActionKind::Sync,
            text: "synced web-dev".into(),
            link: None,
            pull: None,
        };
        let two = [snap("acme/apps"), snap("acme/<platform>")];
        let actions = [acted("acme/apps"), acted("acme/<platform>")];
        let page = render(&View {
            matrices: &two,
            ..view(&actions, &features, Vec::new())
        });
        assert!(
            page.contains("<h3 data-repository=\"acme/apps\">acme/apps</h3>"),
            "{page}"
        );
        assert!(page.contains("acme/&lt;platform&gt;</h3>"), "{page}");
        assert!(
            page.contains("acme/&lt;platform&gt;: synced web-dev"),
            "{page}"
        );
        let one = [snap("acme/apps")];
        let actions = [acted("acme/apps")];
        let page = render(&View {
            matrices: &one,
            ..view(&actions, &features, Vec::new())
        });
        assert!(!page.contains("<h3"), "{page}");
        assert!(page.contains("<td>synced web-dev</td>"), "{page}");
    }

    #[test]
    fn hostile_text_stays_text_and_only_web_links_become_links() {
        let actions = [
            Action {
                repository: "acme/gitops".into(),
                at: Utc::now(),
                kind: ActionKind::Upgrade,
                text: "opened #1: <script>alert(1)</script>".into(),
                link: Some("https://github.com/o/r/pull/1".into()),
                pull: None,
            },
            Action {
                repository: "acme/gitops".into(),
                at: Utc::now(),
                kind: ActionKind::Upgrade,
                text: "opened #2".into(),
                link: Some("javascript:alert(1)".into()),
                pull: None,
            },
        ];
        let features = Features(vec![Feature {
            name: "rollbacks",
            state: State::Broken {
                why: "token \"<b>\" revoked".into(),
            },
        }]);
        let parked = vec![ParkedRow {
            n: 1,
            id: None,
            kind: None,
            attempt: None,
            created_at: None,
            reason: "<img src=x onerror=alert(1)>".repeat(100),
        }];
        let page = render(&view(&actions, &features, parked));
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("href=\"javascript"), "{page}");
        assert!(
            page.contains("<a href=\"https://github.com/o/r/pull/1\">opened #1: &lt;script&gt;"),
            "{page}"
        );
        assert!(
            page.contains(
                "<td class=\"broken\">broken</td><td>token &quot;&lt;b&gt;&quot; revoked</td>"
            ),
            "{page}"
        );
        assert!(page.contains("<td data-count=\"pending\">2</td><td data-count=\"retrying\">1</td><td data-count=\"parked\">1</td>"), "{page}");
        // No script and nothing fetched from elsewhere.
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains(" src=\""), "{page}");
    }

    #[test]
    fn the_page_says_why_a_section_is_empty() {
        let features = Features::default();
        let page = render(&view(&[], &features, Vec::new()));
        assert!(page.contains("only receives webhooks"), "{page}");
        assert!(
            page.contains("runs no worker; the workers' status pages"),
            "{page}"
        );
        assert!(page.contains("None since this process started"), "{page}");
        assert!(!page.contains("id=\"parked\""), "{page}");
    }
}
