#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::io::Read;

use super::*;

/// One tar entry of a test archive.
enum Item<'a> {
    File(&'a str, &'a [u8]),
    Sized(&'a str, u64),
    Symlink(&'a str, &'a str),
    Dir(&'a str),
    Raw(&'a str, tar::EntryType),
}

fn header(path: &str, size: u64, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    // set_path refuses `..` and absolute paths: write the name raw so the
    // reader sees what a hostile archive holds.
    let name = &mut h.as_old_mut().name;
    name.fill(0);
    name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_cksum();
    h
}

fn tgz(items: &[Item<'_>]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for item in items {
        match item {
            Item::File(path, data) => {
                let h = header(path, data.len() as u64, tar::EntryType::Regular);
                b.append(&h, *data).unwrap_or_default();
            }
            Item::Sized(path, size) => {
                let h = header(path, *size, tar::EntryType::Regular);
                b.append(&h, std::io::repeat(b'a').take(*size))
                    .unwrap_or_default();
            }
            Item::Symlink(path, target) => {
                let mut h = header(path, 0, tar::EntryType::Symlink);
                h.set_link_name(target).unwrap_or_default();
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap_or_default();
            }
            Item::Dir(path) => {
                let h = header(path, 0, tar::EntryType::Directory);
                b.append(&h, std::io::empty()).unwrap_or_default();
            }
            Item::Raw(path, kind) => {
                let h = header(path, 0, *kind);
                b.append(&h, std::io::empty()).unwrap_or_default();
            }
        }
    }
    let gz = b
        .into_inner()
        .unwrap_or_else(|_| flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    gz.finish().unwrap_or_default()
}

const CHART: &[u8] = b"apiVersion: v2\nname: app\nversion: 1.2.0\nkubeVersion: \">=1.25.0-0\"\n";

#[test]
fn reads_the_wanted_files_of_a_chart() {
    let bytes = tgz(&[
        Item::Dir("app/"),
        Item::File("app/Chart.yaml", CHART),
        Item::File("app/values.yaml", b"replicas: 1\n"),
        Item::File("app/values.schema.json", b"{}"),
        Item::File("app/crds/a.yaml", b"kind: CustomResourceDefinition\n"),
        Item::File("app/crds/nested/b.yml", b"kind: CustomResourceDefinition\n"),
        Item::File("app/crds/README.md", b"not a crd"),
        Item::File("app/templates/deploy.yaml", b"{{ .Values }}"),
        Item::File("app/charts/sub-1.0.0.tgz", b"\x1f\x8b"),
        Item::File("app/charts/other/values.yaml", b"x: 1"),
        Item::File("app/charts/other/Chart.yaml", b"name: other"),
        Item::Symlink("app/link.yaml", "/etc/passwd"),
        Item::Raw("app/dev", tar::EntryType::Char),
        Item::Raw("app/fifo", tar::EntryType::Fifo),
    ]);
    let files = read(&bytes).unwrap_or_default();
    assert_eq!(
        files.chart_yaml,
        ChartMeta {
            name: "app".into(),
            version: "1.2.0".into(),
            kube_version: Some(">=1.25.0-0".into()),
            api_version: Some("v2".into()),
        }
    );
    assert_eq!(files.values_yaml.as_deref(), Some("replicas: 1\n"));
    assert_eq!(files.values_schema.as_deref(), Some("{}"));
    let crds: Vec<&str> = files.crds.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(crds, ["crds/a.yaml", "crds/nested/b.yml"]);
    assert_eq!(files.subcharts, ["sub-1.0.0.tgz", "other"]);
    assert_eq!(files.skipped, ["link.yaml", "dev", "fifo"]);
}

#[test]
fn refuses_hostile_and_broken_archives() {
    let big = MAX_FILE_BYTES + 1;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "parent path",
            tgz(&[
                Item::File("app/Chart.yaml", CHART),
                Item::File("app/../../etc/values.yaml", b"x"),
            ]),
            "goes up with `..`",
        ),
        (
            "absolute path",
            tgz(&[Item::File("/app/Chart.yaml", CHART)]),
            "is an absolute path",
        ),
        (
            "two top folders",
            tgz(&[
                Item::File("app/Chart.yaml", CHART),
                Item::File("evil/values.yaml", b"x"),
            ]),
            "outside the chart folder `app`",
        ),
        (
            "huge values.yaml",
            tgz(&[
                Item::File("app/Chart.yaml", CHART),
                Item::Sized("app/values.yaml", big),
            ]),
            "`values.yaml` is 8388609 bytes",
        ),
        (
            "no Chart.yaml",
            tgz(&[Item::File("app/values.yaml", b"x: 1")]),
            "no Chart.yaml",
        ),
        (
            "Chart.yaml without a version",
            tgz(&[Item::File("app/Chart.yaml", b"name: app\n")]),
            "Chart.yaml: no `version`",
        ),
        (
            "values.yaml not UTF-8",
            tgz(&[
                Item::File("app/Chart.yaml", CHART),
                Item::File("app/values.yaml", b"\xff\xfe"),
            ]),
            "values.yaml is not UTF-8",
        ),
        (
            "not gzip",
            b"apiVersion: v1\nentries: {}\n".to_vec(),
            "not a chart archive",
        ),
        (
            "too large to start with",
            vec![0u8; MAX_COMPRESSED_BYTES + 1],
            "more than the 20971520 allowed",
        ),
    ];
    for (name, bytes, wanted) in cases {
        match read(&bytes) {
            Ok(files) => panic!("{name}: read {files:?}"),
            Err(e) => assert!(e.to_string().contains(wanted), "{name}: {e}"),
        }
    }
}

/// 200 MiB of one byte in one skipped entry: about 2 MiB compressed at
/// the fast level the tests use (a hundredfold, and far smaller still at
/// higher levels). The reader stops at the decompressed cap instead of
/// inflating it all.
#[test]
fn a_gzip_bomb_stops_at_the_decompressed_cap() {
    let bytes = tgz(&[
        Item::File("app/Chart.yaml", CHART),
        Item::Sized("app/templates/bomb.yaml", 200 * 1024 * 1024),
    ]);
    assert!(bytes.len() < 4 * 1024 * 1024, "{} bytes", bytes.len());
    assert_eq!(
        read(&bytes),
        Err(ArchiveError::Bomb {
            max: MAX_DECOMPRESSED_BYTES
        })
    );
}

#[test]
fn too_many_entries_are_refused() {
    let names: Vec<String> = (0..=MAX_ENTRIES)
        .map(|i| format!("app/templates/{i}.yaml"))
        .collect();
    let mut items = vec![Item::File("app/Chart.yaml", CHART)];
    items.extend(names.iter().map(|n| Item::File(n, b"")));
    assert_eq!(
        read(&tgz(&items)),
        Err(ArchiveError::TooManyEntries { max: MAX_ENTRIES })
    );
}

#[test]
fn the_decompressed_cap_counts_what_the_stream_yields() {
    let data = vec![7u8; 100];
    let mut capped = Capped {
        inner: data.as_slice(),
        left: 100,
        hit: false,
    };
    let mut out = Vec::new();
    assert!(capped.read_to_end(&mut out).is_ok());
    assert!(!capped.hit, "exactly the cap is fine");
    let mut capped = Capped {
        inner: data.as_slice(),
        left: 99,
        hit: false,
    };
    assert!(capped.read_to_end(&mut Vec::new()).is_err());
    assert!(capped.hit);
}
