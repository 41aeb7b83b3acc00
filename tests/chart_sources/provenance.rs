use std::io::Write;

use chartpilot::charts::lookup::Lookup;
use chartpilot::charts::provenance::{
    verdict, verify, Keyring, ProvenanceError, Verdict, MAX_PROVENANCE_BYTES,
};
use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, KeyType, SecretKeyParamsBuilder, SignedPublicKey,
    SignedSecretKey, SubkeyParamsBuilder,
};
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, Password};
use sha2::{Digest, Sha256};

use super::server::{Reply, Request, Server};
use super::{chart_tgz, settings};

/// A fresh signing key, made for the test and never stored. With
/// `subkey`, the primary only certifies and a subkey signs (gpg's layout).
fn key(user: &str, subkey: bool) -> SignedSecretKey {
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(!subkey)
        .primary_user_id(user.into());
    if subkey {
        params.subkeys(vec![SubkeyParamsBuilder::default()
            .key_type(KeyType::Ed25519Legacy)
            .can_sign(true)
            .build()
            .unwrap()]);
    }
    params
        .build()
        .unwrap()
        .generate(rand_08::thread_rng())
        .unwrap()
}

fn public(key: &SignedSecretKey) -> SignedPublicKey {
    key.to_public_key()
}

/// A keyring file holding `keys`, ASCII-armored (one block each) or binary.
fn keyring(keys: &[&SignedSecretKey], armored: bool) -> (tempfile::NamedTempFile, Keyring) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for key in keys {
        let public = public(key);
        let bytes = if armored {
            public.to_armored_bytes(ArmorOptions::default()).unwrap()
        } else {
            public.to_bytes().unwrap()
        };
        file.write_all(&bytes).unwrap();
    }
    file.flush().unwrap();
    let loaded = Keyring::load(file.path()).unwrap();
    (file, loaded)
}

/// The statement `helm package --sign` clearsigns: Chart.yaml, `...`,
/// then the archive's digest under its file name.
fn statement(name: &str, version: &str, file: &str, archive: &[u8]) -> String {
    format!(
        "apiVersion: v2\nname: {name}\nversion: {version}\n\n...\nfiles:\n  {file}: sha256:{}\n",
        hex::encode(Sha256::digest(archive))
    )
}

fn clearsign(text: &str, key: &SignedSecretKey, with_subkey: bool) -> Vec<u8> {
    let message = if with_subkey {
        CleartextSignedMessage::sign(
            rand_08::thread_rng(),
            text,
            &key.secret_subkeys[0].key,
            &Password::empty(),
        )
    } else {
        CleartextSignedMessage::sign(
            rand_08::thread_rng(),
            text,
            &key.primary_key,
            &Password::empty(),
        )
    };
    message
        .unwrap()
        .to_armored_bytes(ArmorOptions::default())
        .unwrap()
}

fn signed_prov(key: &SignedSecretKey, archive: &[u8]) -> Vec<u8> {
    clearsign(
        &statement("app", "1.0.0", "app-1.0.0.tgz", archive),
        key,
        false,
    )
}

#[test]
fn a_correctly_signed_prov_verifies_and_names_the_signer() {
    let signer = key("Chart Signer <charts@example.org>", false);
    let (_file, ring) = keyring(&[&signer], true);
    let archive = chart_tgz("app", "1.0.0");
    let prov = signed_prov(&signer, &archive);
    let signed = verify(&archive, "app-1.0.0.tgz", &prov, &ring).unwrap();
    assert_eq!(
        signed.user_id.as_deref(),
        Some("Chart Signer <charts@example.org>")
    );
    assert_eq!(signed.fingerprint, format!("{:X}", signer.fingerprint()));
    assert_eq!(
        signed.key_id,
        signer.legacy_key_id().to_string().to_uppercase()
    );
    assert_eq!(signed.chart.as_deref(), Some("app"));
    assert_eq!(signed.version.as_deref(), Some("1.0.0"));
    let shown = verdict(&archive, "app-1.0.0.tgz", Some(&prov), &ring).to_string();
    assert!(shown.starts_with("signed by Chart Signer"), "{shown}");
}

#[test]
fn a_signing_subkey_and_a_binary_keyring_with_several_keys_work_too() {
    let other = key("Other <o@example.org>", false);
    let signer = key("Sub Signer <s@example.org>", true);
    let (_file, ring) = keyring(&[&other, &signer], false);
    assert_eq!(ring.len(), 2);
    let archive = chart_tgz("app", "1.0.0");
    let prov = clearsign(
        &statement("app", "1.0.0", "app-1.0.0.tgz", &archive),
        &signer,
        true,
    );
    let signed = verify(&archive, "app-1.0.0.tgz", &prov, &ring).unwrap();
    let sub = format!("{:X}", signer.secret_subkeys[0].key.fingerprint());
    assert_eq!(signed.fingerprint, sub, "the subkey made the signature");
    assert_eq!(
        signed.user_id.as_deref(),
        Some("Sub Signer <s@example.org>")
    );
}

#[test]
fn a_tampered_archive_fails_with_a_digest_reason() {
    let signer = key("Signer <s@example.org>", false);
    let (_file, ring) = keyring(&[&signer], true);
    let archive = chart_tgz("app", "1.0.0");
    let prov = signed_prov(&signer, &archive);
    let mut tampered = archive.clone();
    tampered.extend_from_slice(b"evil");
    let error = verify(&tampered, "app-1.0.0.tgz", &prov, &ring).unwrap_err();
    let expected = format!("sha256:{}", hex::encode(Sha256::digest(&archive)));
    match &error {
        ProvenanceError::DigestMismatch {
            file, expected: e, ..
        } => {
            assert_eq!((file.as_str(), e), ("app-1.0.0.tgz", &expected));
        }
        other => panic!("{other}"),
    }
    // The statement names another file: no digest to compare with.
    let error = verify(&archive, "app-2.0.0.tgz", &prov, &ring).unwrap_err();
    assert_eq!(error, ProvenanceError::NoDigest("app-2.0.0.tgz".into()));
}

#[test]
fn a_signature_by_a_key_outside_the_keyring_fails() {
    let trusted = key("Trusted <t@example.org>", false);
    let stranger = key("Stranger <x@example.org>", false);
    let (_file, ring) = keyring(&[&trusted], true);
    let archive = chart_tgz("app", "1.0.0");
    let prov = signed_prov(&stranger, &archive);
    let error = verify(&archive, "app-1.0.0.tgz", &prov, &ring).unwrap_err();
    let fingerprint = format!("{:X}", stranger.fingerprint());
    assert_eq!(error, ProvenanceError::UnknownKey(fingerprint));
    assert!(matches!(
        verdict(&archive, "app-1.0.0.tgz", Some(&prov), &ring),
        Verdict::Bad(ProvenanceError::UnknownKey(_))
    ));
}

#[test]
fn an_altered_statement_breaks_the_signature() {
    let signer = key("Signer <s@example.org>", false);
    let (_file, ring) = keyring(&[&signer], true);
    let archive = chart_tgz("app", "1.0.0");
    let prov = String::from_utf8(signed_prov(&signer, &archive)).unwrap();
    // Someone points the signed statement at their own archive.
    let evil = chart_tgz("app", "6.6.6");
    let forged = prov.replace(
        &hex::encode(Sha256::digest(&archive)),
        &hex::encode(Sha256::digest(&evil)),
    );
    assert_ne!(forged, prov);
    let error = verify(&evil, "app-1.0.0.tgz", forged.as_bytes(), &ring).unwrap_err();
    assert!(matches!(error, ProvenanceError::BadSignature(_)), "{error}");
}

#[test]
fn malformed_and_oversized_provs_are_bad_and_nothing_panics() {
    let signer = key("Signer <s@example.org>", false);
    let (_file, ring) = keyring(&[&signer], true);
    let archive = chart_tgz("app", "1.0.0");
    let good = signed_prov(&signer, &archive);
    let text = String::from_utf8(good.clone()).unwrap();
    let sig_start = text.find("-----BEGIN PGP SIGNATURE-----").unwrap();
    let unsigned_statement = clearsign("no separator here\n", &signer, false);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("not utf-8", vec![0xff, 0xfe, 0x00]),
        ("plain text", b"name: app\n...\nfiles: {}\n".to_vec()),
        (
            "signature cut off",
            text.as_bytes()[..sig_start + 40].to_vec(),
        ),
        ("no signature block", text.as_bytes()[..sig_start].to_vec()),
        ("statement without files", unsigned_statement),
        (
            "oversized",
            [&good[..], &vec![b'\n'; MAX_PROVENANCE_BYTES][..]].concat(),
        ),
    ];
    // Every prefix and a few byte flips of a good file: errors, no panics.
    for cut in (0..good.len()).step_by(97) {
        cases.push(("prefix", good[..cut].to_vec()));
    }
    for at in (0..good.len()).step_by(53) {
        let mut flipped = good.clone();
        flipped[at] ^= 0x20;
        cases.push(("flipped", flipped));
    }
    for (case, prov) in &cases {
        let result = verify(&archive, "app-1.0.0.tgz", prov, &ring);
        if case == &"flipped" {
            // A flip inside an armor header or of letter case in a
            // comment may leave a valid file; what matters is no panic
            // and no pass for a changed statement.
            if let Ok(signed) = result {
                assert_eq!(signed.chart.as_deref(), Some("app"));
            }
            continue;
        }
        let error = result.expect_err(case);
        match *case {
            "oversized" => assert_eq!(
                error,
                ProvenanceError::TooLarge {
                    limit: MAX_PROVENANCE_BYTES
                }
            ),
            "statement without files" => assert!(
                matches!(&error, ProvenanceError::Malformed(m) if m.contains("...")),
                "{error}"
            ),
            _ => {}
        }
        assert!(
            matches!(
                verdict(&archive, "app-1.0.0.tgz", Some(prov), &ring),
                Verdict::Bad(_)
            ),
            "{case}"
        );
    }
}

#[test]
fn keyrings_without_usable_keys_are_refused() {
    let signer = key("Signer <s@example.org>", false);
    let secret_armored = signer.to_armored_bytes(ArmorOptions::default()).unwrap();
    // A secret key given by mistake is used for its public half.
    let ring = Keyring::parse(&secret_armored).unwrap();
    assert_eq!(ring.len(), 1);
    for (case, bytes) in [
        ("empty", Vec::new()),
        ("text", b"hello".to_vec()),
        ("truncated armor", secret_armored[..200].to_vec()),
        ("garbage packet", vec![0x99, 0x00, 0x03, 1, 2, 3]),
    ] {
        assert!(Keyring::parse(&bytes).is_err(), "{case}");
    }
}

#[tokio::test]
async fn downloaded_charts_get_a_verdict_signed_tampered_or_unsigned() {
    let signer = key("Signer <s@example.org>", false);
    let (_file, ring) = keyring(&[&signer], true);
    let archive = chart_tgz("app", "1.0.0");
    let prov = signed_prov(&signer, &archive);
    let serve = |archive: Vec<u8>, prov: Option<Vec<u8>>| {
        move |req: &Request| {
            match req.path() {
            "/index.yaml" => Reply::ok(
                "apiVersion: v1\nentries:\n  app:\n    - version: 1.0.0\n      urls: [app-1.0.0.tgz]\n",
            ),
            "/app-1.0.0.tgz" => Reply::ok(archive.clone()),
            "/app-1.0.0.tgz.prov" => match &prov {
                Some(p) => Reply::ok(p.clone()),
                None => Reply::status(404),
            },
            _ => Reply::status(404),
        }
        }
    };
    let mut tampered = archive.clone();
    tampered.push(0);
    let cases = [
        ("signed", archive.clone(), Some(prov.clone())),
        ("tampered", tampered, Some(prov)),
        ("unsigned", archive, None),
    ];
    let lookup = Lookup::new(&settings()).unwrap();
    for (case, bytes, prov) in cases {
        let server = Server::start(|_| serve(bytes, prov)).await;
        let got = lookup
            .download(Some(&server.url()), "app", "1.0.0", true)
            .await
            .unwrap();
        let verdict = verdict(
            &got.bytes,
            &got.file_name(),
            got.provenance.as_deref(),
            &ring,
        );
        match (case, &verdict) {
            ("signed", Verdict::Verified { signer }) => {
                assert_eq!(signer.user_id.as_deref(), Some("Signer <s@example.org>"))
            }
            ("tampered", Verdict::Bad(ProvenanceError::DigestMismatch { .. })) => {}
            ("unsigned", Verdict::Unsigned) => {}
            _ => panic!("{case}: {verdict}"),
        }
    }
}

#[test]
fn keyrings_and_verdicts_cross_threads() {
    // The check verifies inside async jobs on a multi-threaded runtime.
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Keyring>();
    shared::<Verdict>();
    shared::<chartpilot::charts::download::Downloaded>();
    fn send<F: std::future::Future + Send>(_: F) {}
    let lookup = Lookup::new(&settings()).unwrap();
    send(lookup.download(Some("https://charts.example.org"), "app", "1.0.0", true));
}
