//! Who may act: team memberships and repository permissions (ChatOps
//! and comment commands check them).

use super::wire::encode_path;
use super::GithubHost;
use crate::git::GitError;

impl GithubHost {
    /// Whether `user` is an active member of team `org/slug`.
    pub(super) async fn membership(&self, team: &str, user: &str) -> Result<bool, GitError> {
        #[derive(serde::Deserialize)]
        struct Membership {
            state: String,
        }
        let Some((org, slug)) = team.split_once('/') else {
            return Ok(false);
        };
        let path = format!(
            "/orgs/{}/teams/{}/memberships/{}",
            encode_path(org),
            encode_path(slug),
            encode_path(user)
        );
        let reply = self.get(&path).await?;
        match reply.status {
            404 => Ok(false),
            _ if reply.is_success() => {
                Ok(reply.json::<Membership>("team membership")?.state == "active")
            }
            _ => Err(reply.error(&format!("membership of {user} in {team}"))),
        }
    }

    /// `user`'s permission on the repository.
    pub(super) async fn permission_of(
        &self,
        user: &str,
    ) -> Result<crate::settings::RepoPermission, GitError> {
        use crate::settings::RepoPermission as P;
        #[derive(serde::Deserialize)]
        struct Answer {
            permission: String,
            #[serde(default)]
            role_name: Option<String>,
        }
        let path = format!(
            "{}/collaborators/{}/permission",
            self.repo_path,
            encode_path(user)
        );
        let reply = self.get(&path).await?;
        match reply.status {
            404 => Ok(P::None),
            _ if reply.is_success() => {
                let a: Answer = reply.json("permission")?;
                // `role_name` tells maintain and triage apart; `permission`
                // folds them into write and read.
                Ok(match a.role_name.as_deref().unwrap_or(&a.permission) {
                    "admin" => P::Admin,
                    "maintain" => P::Maintain,
                    "write" => P::Write,
                    "triage" => P::Triage,
                    "read" => P::Read,
                    _ => P::None,
                })
            }
            _ => Err(reply.error(&format!("permission of {user}"))),
        }
    }
}
