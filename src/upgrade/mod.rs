//! Upgrade pull requests: one per chart and environment, the first
//! environment of the promotion order first. `plan` decides, `body` writes
//! what people read, `run` carries a plan out against a git host.

pub mod body;
pub mod plan;
pub mod run;
