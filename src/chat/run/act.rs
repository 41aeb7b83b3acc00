//! The verbs that read the repository and Argo CD or go through the
//! upgrade path: `status`, `sync`, and the PRs of `upgrade` and `promote`.

use super::{private, public, ChatOps, Reply, Repo};
use crate::cluster::SyncRequest;
use crate::git::GitError;
use crate::pins::{Pin, PinKind};
use crate::sync::affected::{apps_in, SyncAt};
use crate::sync::run::INITIATED_BY;
use crate::upgrade::run::{Action, PromotionRequest};

impl ChatOps {
    pub(super) async fn status(
        &self,
        repo: &Repo,
        app: &str,
        env: Option<&str>,
    ) -> Result<String, GitError> {
        let pins: Vec<&Pin> = repo
            .pins
            .iter()
            .filter(|p| p.name == app && (env.is_none() || p.env.as_deref() == env))
            .collect();
        if pins.is_empty() {
            return Ok(format!(
                "{app} has no pin in {}",
                env.unwrap_or("any environment")
            ));
        }
        let open = self.host.open_pulls().await?;
        let mut lines = vec![format!("*{app}*")];
        for p in pins {
            let mut line = format!(
                "• {}: {} `{}` ({}:{})",
                p.env.as_deref().unwrap_or("any"),
                p.chart_name().unwrap_or("?"),
                p.version.as_deref().unwrap_or("?"),
                p.file,
                p.line
            );
            if p.kind == PinKind::Argocd {
                match self.argocd.status(&p.name).await {
                    Ok(Some(s)) => line.push_str(&format!(
                        "; Argo CD: {}, {}{}",
                        s.sync,
                        s.health,
                        s.revision
                            .as_deref()
                            .map(|r| format!(" at `{}`", r.get(..12).unwrap_or(r)))
                            .unwrap_or_default()
                    )),
                    Ok(None) => line.push_str("; unknown to Argo CD"),
                    Err(e) => {
                        tracing::warn!(app = %p.name, error = %e, "status: Argo CD did not answer");
                        line.push_str("; Argo CD did not answer");
                    }
                }
            }
            let prefix = p.chart_name().map(|c| {
                crate::upgrade::plan::chart_branch_prefix(p.env.as_deref().unwrap_or("any"), c)
            });
            for pr in open.iter().filter(|pr| {
                prefix.as_deref().is_some_and(|x| pr.head.starts_with(x))
                    || pr.head.starts_with(crate::rollback::run::REVERT_PREFIX)
                        && pr.body.contains(&p.file)
            }) {
                line.push_str(&format!("; open: #{} {}", pr.number, pr.title));
            }
            lines.push(line);
        }
        Ok(lines.join("\n"))
    }

    pub(super) async fn sync(
        &self,
        repo: &Repo,
        app: &str,
        env: Option<&str>,
    ) -> Result<Reply, GitError> {
        let pin = repo
            .pins
            .iter()
            .find(|p| p.name == app && (env.is_none() || p.env.as_deref() == env));
        let Some(pin) = pin else {
            return Ok(private(format!(
                "{app} has no pin in {}",
                env.unwrap_or("any environment")
            )));
        };
        if pin.kind != PinKind::Argocd {
            return Ok(private(format!(
                "{app} is a Terraform helm_release: Terraform applies it, not Argo CD"
            )));
        }
        let sync_at = repo
            .files
            .iter()
            .find(|f| f.path == pin.file)
            .into_iter()
            .flat_map(|f| apps_in(&f.path, &f.text))
            .find(|a| a.name == app)
            .map(|a| a.sync_at);
        // The commit the manifest was read at, so what syncs is what was
        // read.
        let revision = match sync_at {
            Some(SyncAt::Chart(v)) => Some(v),
            Some(SyncAt::Spec) => None,
            Some(SyncAt::Commit) | None => Some(repo.head.to_string()),
        };
        if self.dry_run {
            return Ok(private(format!(
                "Dry run (policy.dry_run), nothing done: would sync {app}{}.",
                revision.map(|r| format!(" at `{r}`")).unwrap_or_default()
            )));
        }
        self.argocd
            .sync(&SyncRequest {
                app: app.to_owned(),
                revision: revision.clone(),
                initiated_by: INITIATED_BY.to_owned(),
                sync_options: self.sync_options.clone(),
            })
            .await
            .map_err(|e| GitError::Refused(format!("Argo CD: {e}")))?;
        Ok(public(format!(
            "Sync of {app} started{}.",
            revision.map(|r| format!(" at `{r}`")).unwrap_or_default()
        )))
    }

    pub(super) async fn open_upgrade(
        &self,
        chart: &str,
        version: Option<&str>,
        env: &str,
        why: String,
    ) -> Result<Reply, GitError> {
        // Upgrade branches spell the chart ref-safe; so does the request.
        let branch_chart = crate::upgrade::plan::ref_safe(chart);
        let report = self
            .upgrader
            .promote(
                &PromotionRequest {
                    chart: &branch_chart,
                    version,
                    env,
                    why,
                },
                self.dry_run,
            )
            .await
            .map_err(|e| GitError::Refused(e.to_string()))?;
        let Some(action) = report.actions.first() else {
            return Ok(private(format!(
                "Nothing to do: {chart} in {env} is already at {} or past it.",
                version.unwrap_or("the newest version the policy allows")
            )));
        };
        Ok(match action {
            Action::Opened {
                number, url, title, ..
            } => public(format!(
                "Opened {}: {title}",
                url.clone().unwrap_or_else(|| format!("#{number}"))
            )),
            Action::Updated { number, title, .. }
            | Action::Unchanged {
                number,
                branch: title,
            } => public(format!("Already open: #{number} ({title})")),
            Action::Declined { number, .. } => private(format!(
                "That upgrade was closed before (#{number}); chartpilot does not open it again."
            )),
            other => public(format!("{other:?}")),
        })
    }
}
