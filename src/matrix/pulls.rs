//! chartpilot's open PRs placed in the cells they move, by their branch
//! name (`chartpilot/upgrade/<env>/<chart>-<version>`).

use super::{CellPull, Matrix, NO_ENV};
use crate::git::PullRequest;
use crate::upgrade::plan::{ref_safe, ANY_ENV, BRANCH_PREFIX};

/// The version `head` moves `chart` to in `env`, when it is chartpilot's
/// branch for that cell.
fn version_of<'a>(head: &'a str, chart: &str, env: &str) -> Option<&'a str> {
    let env = if env == NO_ENV { ANY_ENV } else { env };
    let version = head.strip_prefix(&format!("{BRANCH_PREFIX}{env}/{}-", ref_safe(chart)))?;
    // `web-api-1.0` or `web-vault-1.0` is not a PR of `web`: the rest is a
    // version.
    version
        .strip_prefix('v')
        .unwrap_or(version)
        .starts_with(|c: char| c.is_ascii_digit())
        .then_some(version)
}

fn cell_pull(p: &PullRequest, chart: &str, env: &str) -> Option<CellPull> {
    version_of(&p.head, chart, env).map(|version| CellPull {
        number: p.number,
        version: version.to_owned(),
        url: p.url.clone(),
    })
}

/// Sets each cell's `pull` from `open`; the newest PR wins when several
/// name the same cell.
pub fn attach_pulls(m: &mut Matrix, open: &[PullRequest]) {
    let mut newest_first: Vec<&PullRequest> = open.iter().collect();
    newest_first.sort_by_key(|p| std::cmp::Reverse(p.number));
    for row in &mut m.rows {
        for (env, cell) in &mut row.cells {
            cell.pull = newest_first
                .iter()
                .find_map(|p| cell_pull(p, &row.chart, env));
        }
    }
}

/// A PR opened since the matrix was built, in the cells it moves.
pub fn opened(m: &mut Matrix, pr: &PullRequest) {
    for row in &mut m.rows {
        for (env, cell) in &mut row.cells {
            if let Some(pull) = cell_pull(pr, &row.chart, env) {
                cell.pull = Some(pull);
            }
        }
    }
}

/// A PR closed since the matrix was built, out of its cells.
pub fn closed(m: &mut Matrix, number: u64) {
    for cell in m.rows.iter_mut().flat_map(|r| r.cells.values_mut()) {
        if cell.pull.as_ref().is_some_and(|p| p.number == number) {
            cell.pull = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::PullState;
    use crate::pins::{Pin, PinKind};
    use crate::promote::freeze::Freezes;

    fn pin(env: Option<&str>, chart: &str) -> Pin {
        Pin::sample(PinKind::Argocd, env, chart, "1.0.0")
    }

    fn pr(number: u64, head: &str) -> PullRequest {
        PullRequest {
            number,
            head: head.into(),
            base: "main".into(),
            title: String::new(),
            body: String::new(),
            state: PullState::Open,
            labels: Vec::new(),
            url: Some(format!("https://github.example/o/r/pull/{number}")),
            merge_commit: None,
            merged_at: None,
        }
    }

    #[test]
    fn each_pr_lands_in_the_cell_its_branch_names() {
        let pins = [
            pin(Some("dev"), "web"),
            pin(Some("prod"), "web"),
            pin(Some("dev"), "web-vault"),
            pin(None, "cert-manager"),
        ];
        let mut m = crate::matrix::build(
            &pins,
            None,
            &["dev".into(), "prod".into()],
            &Freezes::default(),
        );
        attach_pulls(
            &mut m,
            &[
                pr(3, "chartpilot/upgrade/dev/web-1.1.0"),
                pr(7, "chartpilot/upgrade/dev/web-1.2.0"),
                pr(8, "chartpilot/upgrade/dev/web-vault-2.0.0"),
                pr(9, "chartpilot/upgrade/any/cert-manager-v1.14.0"),
                pr(10, "feature/web-1.3.0"),
            ],
        );
        let pull = |chart: &str, env: &str| {
            let row = m.rows.iter().find(|r| r.chart == chart).unwrap();
            row.cells[env]
                .pull
                .as_ref()
                .map(|p| (p.number, p.version.clone()))
        };
        assert_eq!(pull("web", "dev"), Some((7, "1.2.0".into())), "the newest");
        assert_eq!(pull("web", "prod"), None);
        assert_eq!(pull("web-vault", "dev"), Some((8, "2.0.0".into())));
        assert_eq!(pull("cert-manager", NO_ENV), Some((9, "v1.14.0".into())));
    }
}
