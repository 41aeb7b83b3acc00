//! The registry of the job being run, for features that record a decision
//! where they make it without carrying the registry through every
//! constructor. The worker runs each handler [`within`] the service's
//! metrics; outside a job (the CLI, unit tests) recording does nothing.
//!
//! Task-local: work a feature moves to another task with `tokio::spawn`
//! records nothing; features await their work in the job's task.

use std::future::Future;
use std::sync::Arc;

use super::Metrics;

tokio::task_local! {
    static CURRENT: Arc<Metrics>;
}

/// Runs `f` with `metrics` as the registry [`record`] writes to.
pub async fn within<F: Future>(metrics: Arc<Metrics>, f: F) -> F::Output {
    CURRENT.scope(metrics, f).await
}

/// Calls `f` with the registry of the job being run, if any.
pub fn record(f: impl FnOnce(&Metrics)) {
    let _ = CURRENT.try_with(|m| f(m));
}

/// Counts a promotion check's outcome and hands it back unchanged.
pub fn promotion<E>(
    checked: Result<crate::promote::run::Checked, E>,
) -> Result<crate::promote::run::Checked, E> {
    record(|m| m.promotion_checked(&checked));
    checked
}

/// Counts one rollback decision on an alert.
pub fn rollback(outcome: &crate::rollback::run::Outcome) {
    record(|m| m.rollback_decided(outcome));
}

/// Counts one chat audit decision.
pub fn chat(text: &str, decision: &str) {
    record(|m| m.chat_command(text, decision));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_only_within_a_scope() {
        let m = Arc::new(Metrics::new());
        let line = "chartpilot_chat_commands_total{verb=\"status\",outcome=\"allowed\"}";
        chat("status web", "allowed");
        within(Arc::clone(&m), async { chat("status web", "allowed") }).await;
        chat("status web", "allowed");
        let text = m.render();
        assert!(text.contains(&format!("{line} 1\n")), "{text}");
    }
}
