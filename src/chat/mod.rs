//! ChatOps: `/chartpilot` commands from Slack, GitHub comments and the
//! generic webhook. `command` parses, `authz` decides who may.

pub mod authz;
pub mod command;
pub mod confirm;
pub mod reply;
pub mod run;
pub mod slack_api;
