//! Chart sources against real HTTP on 127.0.0.1: Helm indexes (cache
//! revalidation, gzip, mirrors, credentials, errors), `file://`
//! repositories, OCI registries (token flow, pagination, tags, release
//! times), and one lookup per repository for a whole scan.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

#[path = "chart_sources/helm.rs"]
mod helm;
#[path = "chart_sources/lookup.rs"]
mod lookup;
#[path = "chart_sources/min_age.rs"]
mod min_age;
#[path = "chart_sources/oci.rs"]
mod oci;
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
