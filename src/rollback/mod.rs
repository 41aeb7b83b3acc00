//! Alert-triggered rollback: an alert that a rollout failed reverts, in
//! git, the commit that moved the alerting app's pin. `rules` says which
//! alerts count and which app they name, `decide` whether to act, `revert`
//! builds the revert without a clone, `run` carries it out.

pub mod body;
pub mod decide;
pub mod revert;
pub mod rules;
pub mod run;
