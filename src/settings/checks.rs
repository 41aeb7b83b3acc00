//! `[checks]`: the `chartpilot` check on pull requests that touch pins,
//! and how much each of its rules weighs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How much a rule's findings weigh in the check's conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleLevel {
    /// A finding fails the check.
    Error,
    /// A finding makes the check neutral; it does not block a merge.
    Warning,
    /// The rule is not evaluated.
    Off,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckSettings {
    /// Whether pull requests that touch pins get the `chartpilot` check.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// A pin changed to a range, `latest` or no version.
    #[serde(default = "error")]
    pub ranges: RuleLevel,
    /// A repository outside `policy.allowed_repositories`.
    #[serde(default = "error")]
    pub allowed_repositories: RuleLevel,
    /// A version that skipped the environment before it (or the Terraform
    /// root before it in `policy.tier1_order`).
    #[serde(default = "error")]
    pub promotion_order: RuleLevel,
    /// A major update without release notes or without the major label.
    #[serde(default = "warning")]
    pub major_update: RuleLevel,
    /// A target version its repository marks deprecated or does not list.
    #[serde(default = "warning")]
    pub deprecated: RuleLevel,
    /// A chart whose provenance file does not verify.
    #[serde(default = "error")]
    pub provenance: RuleLevel,
    /// A target version that breaks the release's overrides (a key it no
    /// longer has, a value its `values.schema.json` refuses).
    #[serde(default = "error")]
    pub values: RuleLevel,
}

impl Default for CheckSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            ranges: RuleLevel::Error,
            allowed_repositories: RuleLevel::Error,
            promotion_order: RuleLevel::Error,
            major_update: RuleLevel::Warning,
            deprecated: RuleLevel::Warning,
            provenance: RuleLevel::Error,
            values: RuleLevel::Error,
        }
    }
}

fn default_true() -> bool {
    true
}

fn error() -> RuleLevel {
    RuleLevel::Error
}

fn warning() -> RuleLevel {
    RuleLevel::Warning
}
