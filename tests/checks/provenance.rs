//! The provenance rule with the real verifier: `helm.keyring` set, the
//! target archive and its `.prov` fetched through the chart mirror, keys
//! generated here. A correctly signed chart says nothing, a tampered
//! archive fails the check at the pin's line, an unsigned chart is a note.

use std::sync::Arc;

use chartpilot::checks::{Checked, Checker};
use chartpilot::git::check::{AnnotationLevel, Conclusion};
use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, KeyType, SecretKeyParamsBuilder, SignedSecretKey,
};
use pgp::types::Password;
use sha2::{Digest, Sha256};

use super::*;

fn signing_key() -> SignedSecretKey {
    SecretKeyParamsBuilder::default()
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id("Chart Publisher <charts@example.org>".into())
        .build()
        .unwrap()
        .generate(rand_08::thread_rng())
        .unwrap()
}

fn web_tgz(marker: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (file, text) in [
        (
            "Chart.yaml",
            "apiVersion: v2\nname: web\nversion: 1.1.0\n".to_owned(),
        ),
        ("values.yaml", format!("marker: {marker}\n")),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("web/{file}"), text.as_bytes())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// What `helm package --sign` writes next to the archive.
fn prov(key: &SignedSecretKey, archive: &[u8]) -> Vec<u8> {
    let statement = format!(
        "apiVersion: v2\nname: web\nversion: 1.1.0\n\n...\nfiles:\n  web-1.1.0.tgz: sha256:{}\n",
        hex::encode(Sha256::digest(archive))
    );
    CleartextSignedMessage::sign(
        rand_08::thread_rng(),
        &statement,
        &key.primary_key,
        &Password::empty(),
    )
    .unwrap()
    .to_armored_bytes(ArmorOptions::default())
    .unwrap()
}

#[tokio::test]
async fn the_keyring_verdict_passes_a_signed_chart_fails_a_tampered_one_and_notes_an_unsigned_one()
{
    let key = signing_key();
    let signed = web_tgz("as published");
    for (case, archive, with_prov, conclusion, level) in [
        ("signed", signed.clone(), true, Conclusion::Success, None),
        (
            "tampered",
            web_tgz("changed after signing"),
            true,
            Conclusion::Failure,
            Some(AnnotationLevel::Failure),
        ),
        (
            "unsigned",
            signed.clone(),
            false,
            Conclusion::Success,
            Some(AnnotationLevel::Notice),
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (repo, head) = super::local::repository_with(dir.path(), &app("prod", "1.1.0"));
        let mut s = settings(
            dir.path(),
            &TestSecrets::random(),
            &[
                ("GIT__PROVIDER", "local".to_owned()),
                ("GIT__PATH", repo.display().to_string()),
            ],
        );
        s.checks.promotion_order = chartpilot::settings::RuleLevel::Off;
        // The mirror's directory serves the archive (and its .prov).
        let charts = dir.path().join("charts/charts");
        std::fs::create_dir_all(&charts).unwrap();
        std::fs::write(charts.join("web-1.1.0.tgz"), &archive).unwrap();
        if with_prov {
            std::fs::write(charts.join("web-1.1.0.tgz.prov"), prov(&key, &signed)).unwrap();
        }
        let keyring = dir.path().join("pubring.asc");
        std::fs::write(
            &keyring,
            key.to_public_key()
                .to_armored_bytes(ArmorOptions::default())
                .unwrap(),
        )
        .unwrap();
        s.helm.keyring = Some(keyring);

        let host: Arc<dyn chartpilot::git::GitHost> =
            Arc::new(chartpilot::git::local::LocalGit::open(&s.git).unwrap());
        let checker = Checker::from_settings(&s, host).unwrap();
        assert!(
            checker.provenance.is_some(),
            "helm.keyring plugs the verifier in"
        );
        let pull = super::local::bump_pull(5, &head);
        let Checked::Reported(report) = checker.on_pull(&pull).await.unwrap() else {
            panic!("{case}: a pin changed, the check reports");
        };
        assert_eq!(report.conclusion, conclusion, "{case}: {report:#?}");
        let said: Vec<_> = report
            .annotations
            .iter()
            .filter(|a| a.title == "provenance")
            .collect();
        match level {
            None => assert!(said.is_empty(), "{case}: {report:#?}"),
            Some(level) => {
                assert_eq!(said.len(), 1, "{case}: {report:#?}");
                assert_eq!(said[0].level, level, "{case}");
                assert_eq!(said[0].path, path("prod"), "{case}");
            }
        }
    }
}
