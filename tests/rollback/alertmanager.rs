//! A private Alertmanager per test (Debian's `prometheus-alertmanager`,
//! installed by `scripts/test-services.sh`), on a free 127.0.0.1 port,
//! whose one receiver is the service under test, with its bearer token.
//! Private, so its routing (short group and repeat intervals) and its
//! alerts belong to the one test.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::support::PATIENCE;

const BINARY: &str = "/usr/bin/prometheus-alertmanager";

pub struct Alertmanager {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Alertmanager {
    /// Starts one that sends every group to `webhook` with `token`: the
    /// first notification 1 s after an alert arrives, the same group again
    /// every few seconds while it fires (a short `repeat_interval`, so a
    /// test sees repeated deliveries).
    pub async fn start(webhook: &str, token: &str) -> Alertmanager {
        assert!(
            std::path::Path::new(BINARY).exists(),
            "{BINARY} is missing: run `bash scripts/test-services.sh`"
        );
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "route:\n  receiver: chartpilot\n  group_by: [alertname, argocd_app]\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 3s\nreceivers:\n  - name: chartpilot\n    webhook_configs:\n      - url: {webhook}\n        send_resolved: true\n        http_config:\n          authorization:\n            type: Bearer\n            credentials: {token}\n"
        );
        let file = dir.path().join("alertmanager.yml");
        std::fs::write(&file, config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("alertmanager.log")).unwrap();
        let child = Command::new(BINARY)
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let am = Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let until = Instant::now() + PATIENCE;
        loop {
            let ready = reqwest::get(format!("{}/-/ready", am.url)).await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return am;
            }
            assert!(Instant::now() < until, "alertmanager did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Posts one firing alert through `POST /api/v2/alerts`, as Prometheus
    /// does.
    pub async fn fire(&self, labels: &[(&str, &str)], runbook: &str) {
        let labels: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect();
        let body = serde_json::json!([{
            "labels": labels,
            "annotations": { "summary": "podinfo is down", "runbook_url": runbook },
            "startsAt": chrono::Utc::now().to_rfc3339(),
            "generatorURL": "http://127.0.0.1:9/graph?g0.expr=up",
        }]);
        let response = reqwest::Client::new()
            .post(format!("{}/api/v2/alerts", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
}
