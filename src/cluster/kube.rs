//! `argocd.mode = "kube"`: Application resources read and patched through
//! the Kubernetes API, the way the Argo CD API server itself writes them.
//! Applications are a dynamic resource so no CRD types are generated or
//! compiled; private DTOs declare only the fields chartpilot reads.

use std::time::Duration;

use async_trait::async_trait;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::application::Application;
use super::{AppStatus, ArgoCd, ArgoError, SyncRequest};
use crate::settings::ArgocdSettings;

/// Group, version, kind and plural of Argo CD's Application CRD.
const GROUP: &str = "argoproj.io";
const VERSION: &str = "v1alpha1";
const KIND: &str = "Application";
const PLURAL: &str = "applications";

/// Annotation the application controller watches: setting it asks for a
/// comparison with git now instead of at the next poll (~3 minutes).
const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";
/// `normal` compares with git; `hard` would also drop the manifest cache,
/// which a push does not call for.
const REFRESH_KIND: &str = "normal";

/// One GET or PATCH of one object answers in milliseconds; a stuck API
/// server should turn into a retried job, not a worker stalled for kube's
/// default of almost five minutes.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Talks to `applications.argoproj.io/v1alpha1` in one namespace.
#[derive(Clone)]
pub struct KubeClient {
    apps: Api<DynamicObject>,
    namespace: String,
}

impl std::fmt::Debug for KubeClient {
    // The client holds credentials; only say where it points.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeClient")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl KubeClient {
    /// From `argocd.kubeconfig` when set, else `KUBECONFIG`, `~/.kube/config`
    /// or the in-cluster service account. Configuration problems are
    /// `Refused`: a person has to fix them.
    pub async fn new(settings: &ArgocdSettings) -> Result<Self, ArgoError> {
        let mut config = match &settings.kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path)
                    .map_err(|e| kubeconfig_error(&path.display().to_string(), &e))?;
                Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| kubeconfig_error(&path.display().to_string(), &e))?
            }
            None => Config::infer().await.map_err(|e| {
                ArgoError::Refused(format!("no Kubernetes configuration found: {e}"))
            })?,
        };
        config.read_timeout = Some(REQUEST_TIMEOUT);
        config.write_timeout = Some(REQUEST_TIMEOUT);
        let client = Client::try_from(config)
            .map_err(|e| ArgoError::Refused(format!("cannot build the Kubernetes client: {e}")))?;
        let gvk = GroupVersionKind::gvk(GROUP, VERSION, KIND);
        let resource = ApiResource::from_gvk_with_plural(&gvk, PLURAL);
        Ok(Self {
            apps: Api::namespaced_with(client, &settings.namespace, &resource),
            namespace: settings.namespace.clone(),
        })
    }

    async fn get(&self, app: &str) -> Result<Option<DynamicObject>, ArgoError> {
        self.apps
            .get_opt(app)
            .await
            .map_err(|e| api_error(app, "read", e))
    }

    async fn merge_patch(&self, app: &str, what: &str, body: &Value) -> Result<(), ArgoError> {
        self.apps
            .patch(app, &PatchParams::default(), &Patch::Merge(body))
            .await
            .map(drop)
            .map_err(|e| api_error(app, what, e))
    }
}

/// The merge patch that starts a sync. `metadata.resourceVersion` makes the
/// API server answer 409 if the app changed since it was read (another sync
/// may have started), like the Argo CD server's `Update`; clearing
/// `status.operationState` is what that server does too, so a finished old
/// operation is not mistaken for the new one before the controller starts it.
fn sync_patch(request: &SyncRequest, resource_version: Option<&str>) -> Value {
    let mut sync = Map::new();
    if let Some(revision) = &request.revision {
        sync.insert("revision".into(), json!(revision));
    }
    if !request.sync_options.is_empty() {
        sync.insert("syncOptions".into(), json!(request.sync_options));
    }
    let mut patch = json!({
        "operation": {
            "initiatedBy": { "username": request.initiated_by },
            "sync": sync,
        },
        "status": { "operationState": null },
    });
    if let (Some(rv), Some(obj)) = (resource_version, patch.as_object_mut()) {
        obj.insert("metadata".into(), json!({ "resourceVersion": rv }));
    }
    patch
}

/// The merge patch that asks for a refresh.
fn refresh_patch() -> Value {
    json!({ "metadata": { "annotations": { REFRESH_ANNOTATION: REFRESH_KIND } } })
}

#[async_trait]
impl ArgoCd for KubeClient {
    fn describe(&self) -> String {
        format!("kube:{}", self.namespace)
    }

    async fn status(&self, app: &str) -> Result<Option<AppStatus>, ArgoError> {
        let Some(obj) = self.get(app).await? else {
            return Ok(None);
        };
        app_status(app, obj).map(Some)
    }

    async fn sync(&self, request: &SyncRequest) -> Result<(), ArgoError> {
        let app = request.app.as_str();
        let obj = self
            .get(app)
            .await?
            .ok_or_else(|| ArgoError::NotFound(app.to_owned()))?;
        if parse_doc(app, &obj)?.operation_in_progress() {
            return Err(ArgoError::Unavailable(format!(
                "operation in progress on `{app}`"
            )));
        }
        let body = sync_patch(request, obj.metadata.resource_version.as_deref());
        self.merge_patch(app, "sync", &body).await?;
        tracing::info!(
            app,
            revision = request.revision.as_deref(),
            "argocd sync requested"
        );
        Ok(())
    }

    async fn refresh(&self, app: &str) -> Result<(), ArgoError> {
        self.merge_patch(app, "refresh", &refresh_patch()).await?;
        tracing::info!(app, "argocd refresh requested");
        Ok(())
    }
}

fn app_status(app: &str, obj: DynamicObject) -> Result<AppStatus, ArgoError> {
    // `DynamicObject` keeps `metadata` apart from the rest of the object.
    let mut status = parse_doc(app, &obj)?.into_status(app);
    status.name = obj.metadata.name.unwrap_or_else(|| app.to_owned());
    status.labels = obj.metadata.labels.unwrap_or_default();
    Ok(status)
}

fn parse_doc(app: &str, obj: &DynamicObject) -> Result<Application, ArgoError> {
    // A schema-violating object will not fix itself on retry.
    Application::deserialize(&obj.data).map_err(|e| {
        ArgoError::Refused(format!("Application `{app}` has an unexpected shape: {e}"))
    })
}

/// Kube errors → chartpilot's dispositions. Messages name the app and the
/// HTTP status; credentials never appear in kube's errors or in ours.
fn api_error(app: &str, what: &str, err: kube::Error) -> ArgoError {
    let kube::Error::Api(status) = err else {
        return ArgoError::Unavailable(format!(
            "{what} `{app}`: Kubernetes API unreachable: {err}"
        ));
    };
    let detail = format!(
        "{what} `{app}`: Kubernetes API answered {}: {}",
        status.code, status.message
    );
    match status.code {
        401 | 403 => ArgoError::Refused(detail),
        404 => ArgoError::NotFound(app.to_owned()),
        409 | 429 => ArgoError::Unavailable(detail),
        code if code >= 500 => ArgoError::Unavailable(detail),
        _ => ArgoError::Refused(detail),
    }
}

fn kubeconfig_error(path: &str, err: &KubeconfigError) -> ArgoError {
    // YAML parse errors may quote the file, and the file holds credentials.
    let reason = match err {
        KubeconfigError::Parse(_) => "not valid kubeconfig YAML".to_owned(),
        other => other.to_string(),
    };
    ArgoError::Refused(format!("kubeconfig {path}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(revision: Option<&str>, options: &[&str]) -> SyncRequest {
        SyncRequest {
            app: "web-dev".into(),
            revision: revision.map(str::to_owned),
            initiated_by: "chartpilot".into(),
            sync_options: options.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn sync_patch_leaves_out_what_is_unset() {
        let body = sync_patch(&request(None, &[]), None);
        assert_eq!(
            body,
            json!({
                "operation": { "initiatedBy": { "username": "chartpilot" }, "sync": {} },
                "status": { "operationState": null },
            })
        );
    }

    #[test]
    fn disabled_automated_block_is_not_automated() {
        let mut obj = DynamicObject::new(
            "a",
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(GROUP, VERSION, KIND),
                PLURAL,
            ),
        );
        obj.data = json!({ "spec": { "syncPolicy": { "automated": { "enabled": false } } } });
        assert!(!app_status("a", obj.clone())
            .map(|s| s.automated)
            .unwrap_or(true));
        obj.data = json!({ "spec": { "syncPolicy": { "automated": {} } } });
        assert!(app_status("a", obj).map(|s| s.automated).unwrap_or(false));
    }
}
