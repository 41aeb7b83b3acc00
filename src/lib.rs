//! chartpilot: keeps the Helm chart pins of a GitOps repository moving
//! safely. See `docs/architecture.md` for the flow.

pub mod alerts;
pub mod charts;
pub mod chat;
pub mod checks;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod dashboard;
pub mod demo;
pub mod domain;
pub mod features;
pub mod git;
pub mod http;
pub mod impact;
pub mod jobs;
pub mod matrix;
pub mod metrics;
pub mod notify;
pub mod pins;
pub mod promote;
pub mod queue;
pub mod rollback;
pub mod settings;
pub mod startup;
pub mod status;
pub mod sync;
pub mod telemetry;
pub mod text;
pub mod upgrade;
pub mod worker;
pub mod yaml;
