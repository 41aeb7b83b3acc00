use super::*;
use crate::settings::UpdateType;

fn pin(file: &str, version: Option<&str>) -> Pin {
    Pin {
        file: file.into(),
        line: 3,
        kind: PinKind::Argocd,
        name: "app".into(),
        env: Some("dev".into()),
        repository: Some("https://charts.example.org".into()),
        chart: Some("app".into()),
        version: version.map(str::to_owned),
        span: None,
        reason: None,
        constraint: None,
        local_chart: false,
        address: None,
    }
}

#[test]
fn ranges_local_charts_failures_and_deprecations_are_marked() {
    let exact = pin("a.yaml", Some("1.2.3"));
    let mut range = pin("b.yaml", None);
    range.constraint = Some("8.x".into());
    let mut local = pin("c.yaml", Some("0.1.0"));
    local.local_chart = true;
    let failed = pin("d.yaml", Some("2.0.0"));
    let pins = [exact, range, local, failed];
    let latest = [
        Latest {
            latest: Some("1.2.3".into()),
            deprecated: true,
            note: Some("1.2.3 is deprecated in the index".into()),
            ..Latest::default()
        },
        Latest {
            latest: Some("8.2.1".into()),
            ..Latest::default()
        },
        Latest::default(),
        Latest {
            error: Some("chart repository https://x: HTTP 500".into()),
            ..Latest::default()
        },
    ];
    let counts = Counts {
        local: 1,
        local_listed: true,
    };
    let text = render(&pins, Some(&latest), counts);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].ends_with("deprecated: 1.2.3 is deprecated in the index"),
        "{text}"
    );
    assert!(lines[2].contains("8.x (range)  8.2.1"), "{text}");
    assert!(lines[3].ends_with("local chart"), "{text}");
    assert!(
        lines[4].contains(" ? ")
            && lines[4].ends_with("lookup failed: chart repository https://x: HTTP 500"),
        "{text}"
    );
    assert_eq!(
        lines[5],
        "4 pins (argocd 4); by environment: dev 4; 0 unresolved, 1 range, 1 local chart; 0 behind, 1 lookup failed"
    );
}

#[test]
fn the_summary_counts_hidden_local_charts_and_plural_failures() {
    let mut a = pin("a.yaml", None);
    a.constraint = Some("^1".into());
    let mut b = pin("b.yaml", None);
    b.constraint = Some("~2.1".into());
    let pins = [a, b];
    let failed = Latest {
        error: Some("down".into()),
        ..Latest::default()
    };
    let counts = Counts {
        local: 2,
        local_listed: false,
    };
    let text = render(&pins, Some(&[failed.clone(), failed]), counts);
    assert!(
        text.ends_with(
            "0 unresolved, 2 ranges, 2 local charts (listed with --include-local); 0 behind, 2 lookups failed\n"
        ),
        "{text}"
    );
    let offline = render(&pins, None, Counts::default());
    assert!(offline.ends_with("0 unresolved, 2 ranges\n"), "{offline}");
    let behind = Latest {
        latest: Some("1.1.0".into()),
        update: Some(UpdateType::Minor),
        ..Latest::default()
    };
    let one = render(&pins[..1], Some(&[behind]), Counts::default());
    assert!(one.ends_with("; 1 behind\n"), "{one}");
}
