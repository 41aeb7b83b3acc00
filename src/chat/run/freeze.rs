//! `freeze` and `unfreeze`: a commit of the freeze file on the base
//! branch, so every freeze is in git's history.

use super::{private, public, ChatOps, Reply};
use crate::git::{FileChange, GitError};
use crate::promote::freeze::{Freeze, Freezes, FREEZE_FILE};

/// How often a freeze commit is retried when the branch moved meanwhile.
const FREEZE_ATTEMPTS: usize = 3;

impl ChatOps {
    /// Commits the freeze file with `env` frozen (or not) on the base
    /// branch, so freezes are in git's history; retried when the branch
    /// moved meanwhile.
    pub(super) async fn write_freeze(
        &self,
        env: &str,
        freeze: Option<Freeze>,
    ) -> Result<Reply, GitError> {
        if self.dry_run {
            return Ok(private(format!(
                "Dry run (policy.dry_run), nothing done: would {} {env}.",
                if freeze.is_some() {
                    "freeze"
                } else {
                    "unfreeze"
                }
            )));
        }
        let base = self.host.base_branch().to_owned();
        for _ in 0..FREEZE_ATTEMPTS {
            let head = self
                .host
                .branch_head(&base)
                .await?
                .ok_or_else(|| GitError::NotFound(format!("branch {base}")))?;
            let mut freezes = match self.host.read_file(&head, FREEZE_FILE).await? {
                None => Freezes::default(),
                Some(b) => {
                    Freezes::parse(&String::from_utf8_lossy(&b)).map_err(GitError::Refused)?
                }
            };
            let message = match &freeze {
                // A replayed or repeated command changes nothing: the same
                // reason already stands (whoever set it, whenever).
                Some(f) if freezes.get(env).is_some_and(|now| now.reason == f.reason) => {
                    let now = freezes.get(env).map(|now| now.describe(env));
                    return Ok(private(format!(
                        "{}; already so, nothing changed.",
                        now.unwrap_or_else(|| format!("{env} is frozen"))
                    )));
                }
                Some(f) => {
                    freezes.set(env, f.clone());
                    format!(
                        "chore(chartpilot): freeze {env}\n\nBy {}{}.",
                        f.by,
                        f.reason
                            .as_deref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    )
                }
                None => {
                    if freezes.remove(env).is_none() {
                        return Ok(private(format!("{env} is not frozen.")));
                    }
                    format!("chore(chartpilot): unfreeze {env}")
                }
            };
            let change = FileChange {
                path: FREEZE_FILE.to_owned(),
                content: freezes.to_yaml().into_bytes(),
            };
            match self.host.push_commit(&base, &head, &message, &[change]).await {
                Ok(sha) => {
                    return Ok(public(match &freeze {
                        Some(f) => format!(
                            "{env} is frozen{} (`{}`, commit `{}`): no automatic upgrade, promotion or rollback until `/chartpilot unfreeze {env}`.",
                            f.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default(),
                            FREEZE_FILE,
                            sha.short()
                        ),
                        None => format!("{env} is no longer frozen (commit `{}`).", sha.short()),
                    }))
                }
                Err(GitError::NotFastForward(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(GitError::Unavailable(format!(
            "{base} kept moving; the freeze file was not written"
        )))
    }
}
