//! Overrides read from real repositories (`shared/corpus/gitops`), against
//! lines checked by reading those files: Argo CD `valuesObject` and
//! `values: |-`, chart-package value files, Terraform `yamlencode` with
//! quoted dotted keys, `set` blocks with literal and computed values, and
//! a release label shared by several modules.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::PathBuf;

use super::collect;
use crate::pins::{self, DiscoverOptions};

fn rows() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/gitops");
    let (files, _) = pins::collect(&root).unwrap();
    let scan = pins::scan_files(&files, &DiscoverOptions::default());
    scan.pins
        .iter()
        .flat_map(|pin| collect(Some(&root), pin, &files))
        .map(|o| {
            let value = match (&o.unresolved, &o.value) {
                (Some(why), _) => format!("! {why}"),
                (None, Some(v)) => format!("= {v}"),
                (None, None) => "= ?".to_owned(),
            };
            format!("{}:{} {} {value}", o.file, o.line, o.path)
        })
        .collect()
}

#[test]
fn real_argocd_and_terraform_overrides() {
    let rows = rows();
    let want = [
        "AlbertVilaCalvo__RecipeManager/kubernetes/argocd-apps/dev/external-secrets-app.yaml:23 serviceAccount.create = true",
        "AlbertVilaCalvo__RecipeManager/terraform/server/modules/argocd/argocd.tf:24 global.domain = ?",
        "AlbertVilaCalvo__RecipeManager/terraform/server/modules/argocd/argocd.tf:38 configs.params.server\\.insecure = true",
        "AlbertVilaCalvo__RecipeManager/terraform/server/modules/argocd/argocd.tf:50 server.ingress.annotations.alb\\.ingress\\.kubernetes\\.io/scheme = \"internet-facing\"",
        "Azure-Samples__aks-platform-engineering/terraform/main.tf:564 image.tag = \"v2\"",
        "Azure-Samples__aks-platform-engineering/terraform/main.tf:568 env.K8S_CLUSTER_NAME = ?",
        "NorskHelsenett__gitOps/cluster/apps/gitea/application.yml:17  ! value file `values.yaml` is read from the chart package, not from this repository",
        "NorskHelsenett__gitOps/cluster/apps/gitea/application.yml:22 gitea.config.server.ROOT_URL = \"https://git.local\"",
        "NorskHelsenett__gitOps/cluster/apps/gitea/application.yml:24 gitea.config.repository.ENABLE_PUSH_CREATE_USER = true",
    ];
    for row in want {
        assert!(rows.iter().any(|r| r == row), "missing {row}");
    }
    // Releases named `this` in four modules: each var-file finds its own.
    assert!(
        !rows.iter().any(|r| r.contains("blocks of that name")),
        "{:#?}",
        rows.iter()
            .filter(|r| r.contains("blocks of that name"))
            .collect::<Vec<_>>()
    );
    let unresolved = rows.iter().filter(|r| r.contains(" ! ")).count();
    assert!(
        rows.len() > 250 && unresolved < rows.len() / 3,
        "{} rows, {unresolved} unresolved",
        rows.len()
    );
}
