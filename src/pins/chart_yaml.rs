//! Helm `Chart.yaml` (v2) and `requirements.yaml` (v1) dependencies (stub).

use super::{Scan, SourceFile};

/// Scans one `Chart.yaml` or `requirements.yaml`.
pub fn scan(_file: &SourceFile) -> Scan {
    Scan::default()
}
