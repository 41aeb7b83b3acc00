//! Promotion from one environment to the next: a pure gate over what Argo
//! CD, Alertmanager, git and the clock say, and the freeze file people
//! write through ChatOps.

pub mod freeze;
pub mod gate;
pub mod run;
