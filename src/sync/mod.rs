//! Which Argo CD Applications a push changed: those whose manifest file
//! changed, and those whose values files (`$values/…` through a `ref`
//! source) changed.

pub mod affected;
pub mod run;
