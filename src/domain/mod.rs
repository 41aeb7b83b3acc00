//! Identifiers parsed once at the edge, so code past the receivers never
//! re-validates strings.

mod ids;

pub use ids::{AlertFingerprint, CommitSha, DeliveryId, IdError};
