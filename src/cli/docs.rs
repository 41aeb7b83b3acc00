//! `completions` and `man`: generated from the same [`command`] that
//! parses, so they cannot drift from the flags.

use std::io::Write;
use std::path::Path;

use super::args::command;
use super::io_err;

/// The binary's name as shells and `man` know it.
const BIN: &str = "chartpilot";

/// `chartpilot completions SHELL`: the script for that shell on `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<(), String> {
    let mut cmd = command();
    // clap_complete panics when its writer fails; into memory first, so a
    // closed pipe is an error message, not a panic.
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut buf);
    out.write_all(&buf).map_err(io_err)
}

/// `chartpilot man`: the top page (roff) on `out`; with `dir`, that page and
/// one per subcommand (`chartpilot-scan.1`, `chartpilot-jobs-list.1`, …)
/// written there, each file named on `out`.
pub fn man(dir: Option<&Path>, out: &mut dyn Write) -> Result<(), String> {
    let Some(dir) = dir else {
        let mut buf = Vec::new();
        page(command()).render(&mut buf).map_err(io_err)?;
        return out.write_all(&buf).map_err(io_err);
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut cmd = command().disable_help_subcommand(true);
    cmd.build();
    write_pages(&cmd, dir, out)
}

/// A page whose footer names chartpilot and its version, subcommands too.
fn page(cmd: clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(cmd).source(format!("{BIN} {}", env!("CARGO_PKG_VERSION")))
}

/// Depth first, like `man -k` lists them: the command, then its children.
fn write_pages(cmd: &clap::Command, dir: &Path, out: &mut dyn Write) -> Result<(), String> {
    let page = page(cmd.clone());
    let path = page.generate_to(dir).map_err(|e| {
        format!(
            "cannot write {}: {e}",
            dir.join(page.get_filename()).display()
        )
    })?;
    writeln!(out, "{}", path.display()).map_err(io_err)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, out)?;
    }
    Ok(())
}
