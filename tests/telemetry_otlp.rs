//! `telemetry.otlp_endpoint`: the `chartpilot serve` binary exports its
//! spans to an OTLP/HTTP receiver of our own on 127.0.0.1, and a webhook,
//! the job it queued and that job's follow-up job are one trace.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

const CHARTS_URL: &str = "https://charts.example.org/stable";
const SECRET: &str = "otlp-test-webhook-secret";

/// One exported span, as the receiver decoded it.
#[derive(Debug, Clone)]
struct Seen {
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
    service: String,
    error: bool,
}

type Spans = Arc<Mutex<Vec<Seen>>>;

fn service_name(resource: Option<&opentelemetry_proto::tonic::resource::v1::Resource>) -> String {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    resource
        .into_iter()
        .flat_map(|r| &r.attributes)
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            Value::StringValue(s) => s.clone(),
            other => format!("{other:?}"),
        })
        .unwrap_or_default()
}

/// An OTLP/HTTP receiver: decodes each protobuf export request and keeps
/// its spans. Anything but protobuf on `/v1/traces` is a 415, so the test
/// fails if the exporter speaks something else.
fn receiver() -> (String, Spans, actix_web::dev::ServerHandle) {
    let spans: Spans = Arc::default();
    let (listener, url) = support::loopback();
    let data = web::Data::new(Arc::clone(&spans));
    let handle = support::serve(listener, move |cfg| {
        cfg.app_data(data.clone())
            .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
            .route(
                "/v1/traces",
                web::post().to(
                    |spans: web::Data<Spans>, req: actix_web::HttpRequest, body: web::Bytes| async move {
                        let protobuf = req
                            .headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            == Some("application/x-protobuf");
                        if !protobuf {
                            return HttpResponse::UnsupportedMediaType().finish();
                        }
                        let Ok(export) = ExportTraceServiceRequest::decode(body.as_ref()) else {
                            return HttpResponse::BadRequest().finish();
                        };
                        let mut seen = spans.lock().unwrap();
                        for rs in export.resource_spans {
                            let service = service_name(rs.resource.as_ref());
                            for ss in rs.scope_spans {
                                for s in ss.spans {
                                    seen.push(Seen {
                                        name: s.name,
                                        trace_id: hex::encode(&s.trace_id),
                                        span_id: hex::encode(&s.span_id),
                                        parent: hex::encode(&s.parent_span_id),
                                        service: service.clone(),
                                        // STATUS_CODE_ERROR
                                        error: s.status.is_some_and(|st| st.code == 2),
                                    });
                                }
                            }
                        }
                        HttpResponse::Ok()
                            .content_type("application/x-protobuf")
                            .body(ExportTraceServiceResponse::default().encode_to_vec())
                    },
                ),
            );
    });
    (url, spans, handle)
}

/// A repository with one pin, and an index that has nothing newer: the
/// upgrade pass the push asks for finds nothing to do and succeeds.
fn gitops(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let repo = root.join("repo");
    std::fs::create_dir_all(repo.join("environments/dev")).unwrap();
    support::git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(
        repo.join("environments/dev/podinfo.yaml"),
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: podinfo-dev\nspec:\n  source:\n    repoURL: {CHARTS_URL}\n    chart: podinfo\n    targetRevision: 6.5.0\n  destination:\n    namespace: podinfo\n"
        ),
    )
    .unwrap();
    support::git(&repo, &["add", "-A"]);
    support::git(&repo, &["commit", "-q", "-m", "podinfo in dev"]);
    let charts = root.join("charts");
    std::fs::create_dir_all(&charts).unwrap();
    std::fs::write(
        charts.join("index.yaml"),
        "apiVersion: v1\nentries:\n  podinfo:\n  - name: podinfo\n    version: 6.5.0\n    created: \"2024-01-01T10:00:00Z\"\n    urls:\n    - charts/podinfo-6.5.0.tgz\n",
    )
    .unwrap();
    (repo, charts)
}

/// The JSON log lines of the child so far, read by a thread.
fn collect_lines(child: &mut Child) -> Arc<Mutex<Vec<serde_json::Value>>> {
    use std::io::BufRead;
    let lines: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let out = child.stdout.take().unwrap();
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                sink.lock().unwrap().push(v);
            }
        }
    });
    lines
}

fn done_jobs(lines: &Mutex<Vec<serde_json::Value>>) -> usize {
    lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l["fields"]["message"] == "job done")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_its_job_and_the_follow_up_job_are_one_exported_trace() {
    let (otlp_url, spans, otlp) = receiver();
    let root = tempfile::tempdir().unwrap();
    let (repo, charts) = gitops(root.path());
    let head = support::git(&repo, &["rev-parse", "HEAD"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = root.path().join("chartpilot.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\
             [queue]\npath = \"{queue}\"\n\
             [log]\nformat = \"json\"\nlevel = \"info\"\n\
             [telemetry]\notlp_endpoint = \"{otlp_url}\"\n\
             [github]\nwebhook_secret = \"{SECRET}\"\n\
             [git]\nprovider = \"local\"\npath = \"{repo}\"\nrepository = \"acme/gitops\"\n\
             [helm]\ntimeout = \"5s\"\n[[helm.mirrors]]\nfrom = \"{CHARTS_URL}\"\nto = \"file://{charts}\"\n",
            queue = root.path().join("queue").display(),
            repo = repo.display(),
            charts = charts.display(),
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chartpilot"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let lines = collect_lines(&mut child);
    support::process::wait_healthy(port, &mut child, Duration::from_secs(30));

    // A push to main that changed the pin file: a push job (syncs), whose
    // follow-up is an upgrade pass.
    let push = serde_json::json!({
        "ref": "refs/heads/main",
        "before": "0".repeat(40),
        "after": head,
        "created": false, "deleted": false, "forced": false,
        "repository": {"full_name": "acme/gitops"},
        "sender": {"login": "person"},
        "commits": [{
            "id": head, "message": "podinfo in dev",
            "added": [], "removed": [],
            "modified": ["environments/dev/podinfo.yaml"]
        }]
    })
    .to_string();
    assert_eq!(
        support::post_github_event(port, SECRET, "push", &push).await,
        202
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    while done_jobs(&lines) < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "chartpilot exited early"
        );
        assert!(
            Instant::now() < deadline,
            "two jobs never finished: {:#?}",
            lines.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SIGTERM: the exporter sends what it still holds before the exit.
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    otlp.stop(true).await;

    let spans = spans.lock().unwrap().clone();
    let by_name: BTreeMap<&str, Vec<&Seen>> = spans.iter().fold(BTreeMap::new(), |mut m, s| {
        m.entry(s.name.as_str()).or_default().push(s);
        m
    });
    let one = |name: &str| -> &Seen {
        let found = by_name.get(name).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            found.len(),
            1,
            "one `{name}` span, got {found:#?} among {spans:#?}"
        );
        found[0]
    };
    let webhook = one("webhook github.push");
    let job = one("job github.push");
    let follow_up = one("job chartpilot.upgrade");

    // One trace, and each span under the one that caused it.
    assert_eq!(webhook.trace_id.len(), 32);
    assert_ne!(webhook.trace_id, "0".repeat(32));
    assert_eq!(job.trace_id, webhook.trace_id);
    assert_eq!(follow_up.trace_id, webhook.trace_id);
    assert_eq!(
        job.parent, webhook.span_id,
        "the job's parent is the webhook"
    );
    assert_eq!(
        follow_up.parent, job.span_id,
        "the follow-up's parent is the job"
    );
    assert!(webhook.parent.is_empty(), "the webhook starts the trace");
    assert!(spans.iter().all(|s| s.service == "chartpilot"));
    assert!(!job.error && !follow_up.error, "{spans:#?}");
    // Only chartpilot's spans: every exported span belongs to this trace
    // or to work of chartpilot's own (no HTTP or AMQP client spans).
    assert!(
        spans.iter().all(|s| s.trace_id == webhook.trace_id),
        "spans outside the event's trace: {spans:#?}"
    );

    // The logs name the same trace, so a log line leads to the trace.
    let lines = lines.lock().unwrap();
    let queued = lines
        .iter()
        .find(|l| l["fields"]["message"] == "job queued")
        .expect("the receiver logged the job");
    assert_eq!(queued["fields"]["trace_id"], webhook.trace_id.as_str());
    let done: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "job done")
        .collect();
    for d in done {
        assert_eq!(d["span"]["trace_id"], webhook.trace_id.as_str(), "{d}");
    }
}

#[test]
fn a_bad_otlp_endpoint_is_refused_at_load_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (value, reason) in [
        ("tempo:4318", "must start with http:// or https://"),
        ("http://user:pw@tempo:4318", "must not hold credentials"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_chartpilot"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CHARTPILOT__TELEMETRY__OTLP_ENDPOINT", value)
            .env("CHARTPILOT__QUEUE__PATH", dir.path().join("q"))
            .arg("check-config")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{value}: {stderr}");
        assert!(stderr.contains("telemetry.otlp_endpoint"), "{stderr}");
        assert!(stderr.contains(reason), "{stderr}");
        assert!(
            !stderr.contains("pw@"),
            "the password is never repeated: {stderr}"
        );
    }
}
