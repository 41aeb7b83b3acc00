//! The published contracts as the fakes' law. GitHub's OpenAPI description
//! (npm `@octokit/openapi`, fetched by scripts/fetch-specs.sh), Argo CD's
//! Swagger and the Application CRD say what a request may be and what an
//! answer is; the fakes check every request chartpilot sends and every
//! answer they give against them, and record what does not fit. A fake
//! that recorded a violation panics when it is dropped, so the test that
//! caused it fails, naming the request.

mod crd;
pub mod graphql;
mod ops;
mod schema;

use std::sync::{Arc, Mutex};

use actix_web::body::MessageBody;
use actix_web::HttpResponse;

pub use self::crd::CrdSchema;
pub use self::ops::Contract;

/// The `@octokit/openapi` release scripts/fetch-specs.sh stores; the two
/// change together.
pub const OCTOKIT_OPENAPI_VERSION: &str = "23.0.2";

/// Where scripts/fetch-specs.sh keeps GitHub's description.
pub fn github_description() -> std::path::PathBuf {
    let cache = std::env::var_os("CHARTPILOT_SPEC_CACHE")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(|d| std::path::PathBuf::from(d).join("chartpilot/specs"))
        })
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|d| std::path::PathBuf::from(d).join(".cache/chartpilot/specs"))
        })
        .unwrap_or_else(|| std::path::PathBuf::from("/tmp/chartpilot/specs"));
    cache
        .join(format!("octokit-openapi-{OCTOKIT_OPENAPI_VERSION}"))
        .join("api.github.com.json")
}

/// What a fake saw that its contract does not allow, shared between the
/// fake's handle and its server.
#[derive(Clone, Default)]
pub struct Violations(Arc<Mutex<Vec<String>>>);

impl Violations {
    pub fn record(&self, found: Vec<String>) {
        if found.is_empty() {
            return;
        }
        for v in &found {
            eprintln!("contract violation: {v}");
        }
        self.0.lock().unwrap().extend(found);
    }

    /// The violations so far, forgotten: for tests that cause them on
    /// purpose.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// Panics listing every violation, unless the thread already panics
    /// (a second panic would abort and hide the first).
    pub fn assert_none(&self, fake: &str) {
        if std::thread::panicking() {
            return;
        }
        let found = self.take();
        assert!(
            found.is_empty(),
            "{fake} saw {} contract violation(s):\n  {}",
            found.len(),
            found.join("\n  ")
        );
    }
}

/// `answer` checked as the response of operation `op`: its JSON body is
/// completed with the required fields the fake does not model, validated,
/// and sent on; what does not fit is recorded.
pub fn checked_answer(
    contract: &Contract,
    op: usize,
    what: &str,
    answer: HttpResponse,
    violations: &Violations,
) -> HttpResponse {
    let status = answer.status().as_u16();
    let json = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let (head, body) = answer.into_parts();
    let bytes = match body.try_into_bytes() {
        Ok(bytes) => bytes,
        Err(body) => return head.set_body(body),
    };
    let (filled, found) = contract.response(op, status, json, &bytes);
    violations.record(
        found
            .into_iter()
            .map(|v| format!("{what} → {status}: {v}"))
            .collect(),
    );
    let mut head = head.set_body(filled.map(Into::into).unwrap_or(bytes));
    // The body changed length; actix writes the new one.
    head.headers_mut().remove("content-length");
    head.map_into_boxed_body()
}
