use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use async_trait::async_trait;

use super::*;
use crate::cluster::AppStatus;
use crate::domain::CommitSha;
use crate::git::local::LocalGit;
use crate::jobs::PushCommit;
use crate::settings::{GitProvider, GitSettings};

/// Argo CD as a table of apps; records what chartpilot asked.
#[derive(Default)]
struct FakeArgo {
    automated: HashMap<String, bool>,
    calls: Mutex<Vec<String>>,
}

#[async_trait]
impl ArgoCd for FakeArgo {
    fn describe(&self) -> String {
        "fake".into()
    }
    async fn status(&self, app: &str) -> Result<Option<AppStatus>, ArgoError> {
        Ok(self.automated.get(app).map(|automated| AppStatus {
            name: app.into(),
            automated: *automated,
            ..AppStatus::default()
        }))
    }
    async fn sync(&self, r: &SyncRequest) -> Result<(), ArgoError> {
        self.calls.lock().unwrap().push(format!(
            "sync {} {} by {}",
            r.app,
            r.revision.as_deref().unwrap_or("-"),
            r.initiated_by
        ));
        Ok(())
    }
    async fn refresh(&self, app: &str) -> Result<(), ArgoError> {
        self.calls.lock().unwrap().push(format!("refresh {app}"));
        Ok(())
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .env_remove("GIT_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn app(name: &str, version: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\nspec:\n  source:\n    repoURL: https://charts.example.org\n    chart: {name}\n    targetRevision: {version}\n"
    )
}

fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn push(before: &str, after: &str, files: &[&str], commits: usize) -> Push {
    let sha = |s: &str| CommitSha::parse(s).unwrap();
    Push {
        repository: "acme/gitops".into(),
        git_ref: "refs/heads/main".into(),
        before: sha(before),
        after: sha(after),
        created: false,
        deleted: false,
        forced: false,
        commits: (0..commits)
            .map(|_| PushCommit {
                id: sha(after),
                message: "m".into(),
                added: vec![],
                modified: files.iter().map(|f| (*f).to_owned()).collect(),
                removed: vec![],
            })
            .collect(),
        sender: "someone".into(),
    }
}

#[tokio::test]
async fn a_push_syncs_the_apps_it_changed_and_refreshes_self_syncing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q", "-b", "main"]);
    for (f, a) in [
        ("dev/a.yaml", "a"),
        ("dev/b.yaml", "b"),
        ("dev/c.yaml", "c"),
        ("dev/d.yaml", "d"),
    ] {
        write(repo, f, &app(a, "1.0.0"));
    }
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "apps"]);
    let before = git(repo, &["rev-parse", "HEAD"]);
    for (f, a) in [
        ("dev/a.yaml", "a"),
        ("dev/b.yaml", "b"),
        ("dev/c.yaml", "c"),
        ("dev/d.yaml", "d"),
    ] {
        write(repo, f, &app(a, "1.1.0"));
    }
    git(repo, &["commit", "-qam", "bump"]);
    let after = git(repo, &["rev-parse", "HEAD"]);
    let host = LocalGit::open(&GitSettings {
        provider: GitProvider::Local,
        path: repo.to_path_buf(),
        repository: String::new(),
        branch: "main".into(),
        pulls_log: None,
    })
    .unwrap();
    let argo = Arc::new(FakeArgo {
        automated: HashMap::from([("a".into(), false), ("b".into(), true), ("c".into(), false)]),
        ..FakeArgo::default()
    });
    let settings: crate::settings::Settings =
        crate::settings::Settings::load(None, &HashMap::new()).unwrap();
    let syncer = Syncer {
        host: Arc::new(host),
        argocd: argo.clone(),
        settings: settings.argocd,
    };

    // The payload lists a, b and d: a syncs, b refreshes, d is unknown.
    let report = syncer
        .on_push(&push(
            &before,
            &after,
            &["dev/a.yaml", "dev/b.yaml", "dev/d.yaml"],
            1,
        ))
        .await
        .unwrap();
    assert_eq!(report.synced, ["a"]);
    assert_eq!(report.refreshed, ["b"]);
    assert_eq!(report.unknown, ["d"]);
    assert_eq!(
        *argo.calls.lock().unwrap(),
        [
            // A Helm repository source syncs to the version now pinned.
            "sync a 1.1.0 by chartpilot".to_owned(),
            "refresh b".to_owned()
        ]
    );

    // Without file lists the trees are compared: all four changed.
    argo.calls.lock().unwrap().clear();
    let report = syncer
        .on_push(&push(&before, &after, &[], 21))
        .await
        .unwrap();
    assert_eq!(report.synced, ["a", "c"]);
    assert_eq!(report.refreshed, ["b"]);

    // Other branches deploy nothing.
    let mut other = push(&before, &after, &["dev/a.yaml"], 1);
    other.git_ref = "refs/heads/chartpilot/upgrade/dev/a-1.1.0".into();
    assert_eq!(syncer.on_push(&other).await.unwrap(), SyncReport::default());
}
