//! Throughput and peak memory of `charts::index::parse_index`.
//!
//! `cargo bench --bench index_parse [-- FILE...]`; without files it reads the
//! corpus indexes and `target/index-bench/generated.index.yaml` (made by
//! `benches/gen_index.py`, see `benches/index.sh`).
//!
//! Each file is measured in a fresh child process (this binary again), so
//! peak memory is the kernel's own count: the child reads the file, resets
//! its resident-set high-water mark (`/proc/self/clear_refs`), parses, and
//! reports `VmHWM` from `/proc/self/status`. Throughput is the best of
//! several batches of parses, both by wall clock and by the thread's CPU
//! time, since the latter holds up on a machine shared with other builds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chartpilot::charts::index::parse_index;

/// Runs per file and selection; the best one counts, as the others mostly
/// measure interference from whatever else the machine runs.
const RUNS: usize = 5;

/// Least time one measurement spans: the kernel's CPU-time count moves in
/// scheduler ticks, too coarse for one parse of a small index.
const MIN_BATCH: Duration = Duration::from_millis(200);

/// Marks the child invocation, which measures one file.
const CHILD_FLAG: &str = "--child";

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(CHILD_FLAG) {
        return child(&args[1..]);
    }
    // `cargo bench` adds `--bench`; flags are not files.
    let mut files: Vec<PathBuf> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    if files.is_empty() {
        files = default_files();
    }
    println!(
        "{:<28} {:>9} {:>9} {:>10} {:>10} {:>10} {:>9} {:>7}",
        "file", "MB", "select", "MB/s wall", "MB/s cpu", "parse MB", "total MB", "x file"
    );
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    for file in files {
        let out = Command::new(&exe)
            .arg(CHILD_FLAG)
            .arg(&file)
            .output()
            .map_err(|e| format!("{}: {e}", exe.display()))?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            eprintln!(
                "{}: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    Ok(())
}

fn default_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("../shared/corpus/helm-index");
    let mut files: Vec<PathBuf> = ["argo-helm", "jupyterhub", "kedacore"]
        .iter()
        .map(|n| corpus.join(format!("{n}.index.yaml")))
        .collect();
    let generated = root.join("target/index-bench/generated.index.yaml");
    if generated.exists() {
        files.push(generated);
    } else {
        eprintln!(
            "{} missing: run benches/index.sh (or benches/gen_index.py)",
            generated.display()
        );
    }
    files
}

/// One file: peak memory of a first parse keeping every chart, then the
/// best run times keeping every chart and keeping none.
fn child(args: &[String]) -> Result<(), String> {
    let path = args.first().ok_or("no file")?;
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let mb = bytes.len() as f64 / 1e6;
    let name = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let before = status_kb("VmRSS")?;
    std::fs::write("/proc/self/clear_refs", "5").map_err(|e| format!("clear_refs: {e}"))?;
    let index = parse_index(&bytes, &|_| true).map_err(|e| e.to_string())?;
    let hwm = status_kb("VmHWM")?;
    let releases: usize = index.values().map(Vec::len).sum();
    drop(index);
    let parse_mb = hwm.saturating_sub(before) as f64 * 1024.0 / 1e6;
    let total_mb = hwm as f64 * 1024.0 / 1e6;

    for (select, wanted) in [
        ("all", &(|_: &str| true) as &dyn Fn(&str) -> bool),
        ("none", &|_: &str| false),
    ] {
        let (mut wall, mut cpu) = (f64::MAX, f64::MAX);
        for _ in 0..RUNS {
            let (t, c, mut n) = (Instant::now(), cpu_ns()?, 0u32);
            while n == 0 || t.elapsed() < MIN_BATCH {
                let index = parse_index(&bytes, wanted).map_err(|e| e.to_string())?;
                std::hint::black_box(index);
                n += 1;
            }
            wall = wall.min(t.elapsed().as_secs_f64() / f64::from(n));
            cpu = cpu.min((cpu_ns()? - c) as f64 / 1e9 / f64::from(n));
        }
        let mem = if select == "all" {
            format!("{parse_mb:>10.1} {total_mb:>9.1} {:>7.2}", parse_mb / mb)
        } else {
            String::new()
        };
        println!(
            "{name:<28} {mb:>9.2} {select:>9} {:>10.1} {:>10.1} {mem}",
            mb / wall,
            mb / cpu
        );
    }
    println!("{name:<28} {releases} releases");
    Ok(())
}

/// A `kB` line of `/proc/self/status`.
fn status_kb(key: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {key} in /proc/self/status"))
}

/// CPU time of this thread in nanoseconds (first field of schedstat).
fn cpu_ns() -> Result<u64, String> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").map_err(|e| e.to_string())?;
    s.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "unreadable schedstat".to_owned())
}
