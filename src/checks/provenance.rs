//! The provenance rule's input: the target archive and its `.prov` through
//! the same lookup (mirrors, credentials, cache) as the versions, verified
//! against `helm.keyring` as `helm verify` does.

use std::sync::Arc;

use async_trait::async_trait;

use super::rules::ProvenanceVerdict;
use super::ProvenanceCheck;
use crate::charts::lookup::Lookup;
use crate::charts::provenance::{verdict, Keyring, Verdict};
use crate::pins::Pin;

pub struct KeyringCheck {
    pub lookup: Arc<Lookup>,
    pub keyring: Keyring,
}

impl KeyringCheck {
    /// The check for `helm.keyring`, or `None` when it is not set (the
    /// rule then says nothing about provenance).
    pub fn from_settings(
        settings: &crate::settings::Settings,
        lookup: Arc<Lookup>,
    ) -> Result<Option<Self>, String> {
        let Some(path) = settings.helm.keyring_path() else {
            return Ok(None);
        };
        let keyring = Keyring::load(path).map_err(|e| format!("helm.keyring: {e}"))?;
        Ok(Some(Self { lookup, keyring }))
    }
}

#[async_trait]
impl ProvenanceCheck for KeyringCheck {
    async fn verdict(&self, pin: &Pin, version: &str) -> Option<ProvenanceVerdict> {
        let chart = pin.chart_name().filter(|_| !pin.local_chart)?;
        let downloaded = match self
            .lookup
            .download(pin.repository.as_deref(), chart, version, true)
            .await
        {
            Ok(d) => d,
            // Not a verdict on the chart: the archive could not be had (the
            // deprecated/unpublished rule speaks of a missing version).
            Err(e) => {
                tracing::info!(chart, version, error = %e, "provenance not checked");
                return None;
            }
        };
        Some(
            match verdict(
                &downloaded.bytes,
                &downloaded.file_name(),
                downloaded.provenance.as_deref(),
                &self.keyring,
            ) {
                Verdict::Verified { signer } => ProvenanceVerdict::Verified {
                    signer: signer.to_string(),
                },
                Verdict::Unsigned => ProvenanceVerdict::Unsigned,
                Verdict::Bad(e) => ProvenanceVerdict::Bad(e.to_string()),
            },
        )
    }
}
