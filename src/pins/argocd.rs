//! Argo CD `Application` / `ApplicationSet` pins (stub; being written).

use super::{Scan, SourceFile};

/// Scans one YAML file (possibly multi-document).
pub fn scan(_file: &SourceFile) -> Scan {
    Scan::default()
}
