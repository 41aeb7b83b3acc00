//! Arbitrary text as Terraform: up to three NUL-separated parts become
//! `m/main.tf`, `m/terraform.tfvars` and `n/main.tf`, so module calls and
//! var-files between them are explored too.

#![no_main]

use chartpilot::pins::{scan_files, terraform, DiscoverOptions, SourceFile};
use chartpilot_fuzz::{check_edit, check_pins};
use libfuzzer_sys::fuzz_target;

const PATHS: [&str; 3] = ["m/main.tf", "m/terraform.tfvars", "n/main.tf"];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let files: Vec<SourceFile> = text
        .splitn(PATHS.len(), '\0')
        .zip(PATHS)
        .map(|(text, path)| SourceFile {
            path: path.to_owned(),
            text: text.to_owned(),
        })
        .collect();
    let scan = terraform::scan(&files);
    check_pins(&files, &scan.pins);
    let scan = scan_files(&files, &DiscoverOptions::default());
    check_pins(&files, &scan.pins);
    check_edit(&files, &scan.pins);
});
