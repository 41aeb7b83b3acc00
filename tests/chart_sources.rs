//! Chart sources against real HTTP on 127.0.0.1: Helm indexes (cache
//! revalidation, gzip, mirrors, credentials, errors), `file://`
//! repositories, OCI registries (token flow, pagination, tags, release
//! times), one lookup per repository for a whole scan, chart archive
//! downloads and their provenance.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

#[path = "chart_sources/download.rs"]
mod download;
#[path = "chart_sources/helm.rs"]
mod helm;
#[path = "chart_sources/lookup.rs"]
mod lookup;
#[path = "chart_sources/min_age.rs"]
mod min_age;
#[path = "chart_sources/oci.rs"]
mod oci;
#[path = "chart_sources/provenance.rs"]
mod provenance;
#[path = "chart_sources/server.rs"]
mod server;

use std::time::Duration;

use chartpilot::settings::{HelmCredential, HelmMirror, HelmSettings, Secret};

/// Long enough for a loaded CI machine, short enough for the timeout test.
const TEST_TIMEOUT: Duration = Duration::from_secs(5);

fn settings() -> HelmSettings {
    HelmSettings {
        mirrors: Vec::new(),
        credentials: Vec::new(),
        timeout: TEST_TIMEOUT,
        keyring: None,
    }
}

fn mirror(from: &str, to: &str) -> HelmMirror {
    HelmMirror {
        from: from.into(),
        to: to.into(),
    }
}

fn basic(host: &str, username: &str, password: &str) -> HelmCredential {
    HelmCredential {
        host: host.into(),
        username: username.into(),
        password: Secret::new(password),
        password_file: None,
        token: Secret::default(),
        token_file: None,
    }
}

fn bearer(host: &str, token: &str) -> HelmCredential {
    HelmCredential {
        token: Secret::new(token),
        ..basic(host, "", "")
    }
}

/// A two-chart index; `urls` relative, as `helm repo index` writes them.
const INDEX: &str = "apiVersion: v1
entries:
  app:
    - version: 1.1.0
      created: \"2024-05-01T10:00:00Z\"
      urls: [charts/app-1.1.0.tgz]
    - version: 1.0.0
      urls: [charts/app-1.0.0.tgz]
  other:
    - version: v2.0.0
      urls: [https://cdn.example.org/other-2.0.0.tgz]
generated: \"2024-05-01T10:00:00Z\"
";

fn charts(names: &[&str]) -> std::collections::BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// A chart archive as `helm package` lays it out: `name/Chart.yaml` and
/// `name/values.yaml` in a gzipped tar.
fn chart_tgz(name: &str, version: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let files = [
        (
            "Chart.yaml",
            format!("apiVersion: v2\nname: {name}\nversion: {version}\n"),
        ),
        ("values.yaml", "replicas: 1\n".to_owned()),
    ];
    for (file, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("{name}/{file}"), text.as_bytes())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}
