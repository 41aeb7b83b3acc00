//! Arbitrary text as an Argo CD manifest and as a Chart.yaml, directly and
//! through the walk's routing by content.

#![no_main]

use chartpilot::pins::{argocd, chart_yaml, scan_files, DiscoverOptions, SourceFile};
use chartpilot_fuzz::{check_edit, check_pins};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let file = |path: &str| SourceFile {
        path: path.to_owned(),
        text: text.clone(),
    };
    let app = [file("apps/app.yaml")];
    check_pins(&app, &argocd::scan(&app[0]).pins);
    let chart = [file("charts/x/Chart.yaml")];
    check_pins(&chart, &chart_yaml::scan(&chart[0]).pins);
    for files in [&app, &chart] {
        let scan = scan_files(files, &DiscoverOptions::default());
        check_pins(files, &scan.pins);
        check_edit(files, &scan.pins);
    }
});
