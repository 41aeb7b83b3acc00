//! The help, completions and man pages of the real binary, checked against
//! clap's own view of the command line (`chartpilot::cli::command()`): a new
//! subcommand or flag without a description or an example fails here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::process::{Command, Output};

/// The binary with a clean environment: help must not depend on it.
fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chartpilot"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

fn stdout_of(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "chartpilot {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every command with the words that reach it: `[]`, `["jobs"]`,
/// `["jobs", "list"]`, … (clap's `help` subcommand is added at build time
/// and so is not listed).
fn commands() -> Vec<(Vec<String>, clap::Command)> {
    fn walk(path: Vec<String>, cmd: &clap::Command, all: &mut Vec<(Vec<String>, clap::Command)>) {
        all.push((path.clone(), cmd.clone()));
        for sub in cmd.get_subcommands() {
            let mut p = path.clone();
            p.push(sub.get_name().to_owned());
            walk(p, sub, all);
        }
    }
    let mut all = Vec::new();
    walk(Vec::new(), &chartpilot::cli::command(), &mut all);
    all
}

/// The user's arguments of a command (clap adds `--help`/`--version` itself).
fn user_args(cmd: &clap::Command) -> Vec<&clap::Arg> {
    cmd.get_arguments()
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
        .collect()
}

/// How help shows the argument: `--dry-run`, or `<DIR>` / `[DIR]`.
fn shown_as(arg: &clap::Arg) -> Vec<String> {
    match arg.get_long() {
        Some(long) => vec![format!("--{long}")],
        None => {
            let name = arg
                .get_value_names()
                .and_then(|v| v.first())
                .map_or_else(|| arg.get_id().as_str().to_uppercase(), |v| v.to_string());
            vec![format!("<{name}>"), format!("[{name}]")]
        }
    }
}

/// The indented lines under `Examples:` up to the next blank line.
fn examples(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Examples:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
        .collect()
}

/// An example as the words clap receives: leading `VAR=value` assignments
/// and anything after a pipe or redirection are the shell's, not ours.
fn example_words(line: &str) -> Vec<String> {
    line.split_whitespace()
        .skip_while(|w| w.contains('=') && !w.starts_with('-'))
        .take_while(|w| !matches!(*w, "|" | ">" | ">>"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_command_help_describes_each_argument() {
    let all = commands();
    assert!(all.len() > 10, "the walk found {} commands", all.len());
    for (path, cmd) in &all {
        let mut words: Vec<&str> = path.iter().map(String::as_str).collect();
        words.push("--help");
        let help = stdout_of(&words);
        for arg in user_args(cmd) {
            let text = arg
                .get_long_help()
                .or_else(|| arg.get_help())
                .map(ToString::to_string)
                .unwrap_or_default();
            assert!(
                text.split_whitespace().count() >= 3,
                "`chartpilot {}`: argument `{}` has no description (got {text:?})",
                path.join(" "),
                arg.get_id()
            );
            let shown = shown_as(arg);
            assert!(
                shown.iter().any(|s| help.contains(s.as_str())),
                "`chartpilot {} --help` does not show {shown:?}:\n{help}",
                path.join(" ")
            );
            // The description itself is printed, not only the flag.
            let opening: Vec<&str> = text.split_whitespace().take(4).collect();
            assert!(
                help.contains(&opening.join(" ")),
                "`chartpilot {} --help` lacks the description of `{}` ({text:?}):\n{help}",
                path.join(" "),
                arg.get_id()
            );
        }
        for sub in cmd.get_subcommands() {
            let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
            assert!(
                !about.trim().is_empty() && help.contains(about.trim_end_matches('.')),
                "`chartpilot {}`: subcommand `{}` is not described in its parent's help",
                path.join(" "),
                sub.get_name()
            );
        }
    }
}

#[test]
fn every_command_help_shows_examples_that_parse() {
    for (path, _) in commands() {
        let mut words: Vec<&str> = path.iter().map(String::as_str).collect();
        words.push("--help");
        let help = stdout_of(&words);
        let lines = examples(&help);
        assert!(
            !lines.is_empty(),
            "`chartpilot {} --help` has no `Examples:` block:\n{help}",
            path.join(" ")
        );
        for line in lines {
            let argv = example_words(&line);
            assert_eq!(
                argv.first().map(String::as_str),
                Some("chartpilot"),
                "example {line:?} does not run chartpilot"
            );
            // The example is for this command (or one below it) …
            assert!(
                argv[1..].starts_with(&path),
                "example {line:?} under `chartpilot {}` runs another command",
                path.join(" ")
            );
            // … and clap accepts it as written (`help scan` "fails" by
            // printing the help, as it should).
            match chartpilot::cli::command().try_get_matches_from(&argv) {
                Ok(_) => {}
                Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {}
                Err(e) => panic!("example {line:?} does not parse: {e}"),
            }
        }
    }
}

#[test]
fn commands_that_read_the_config_name_its_environment_overrides() {
    let mut checked = 0;
    for (path, cmd) in commands() {
        if !cmd.get_arguments().any(|a| a.get_id() == "config") {
            continue;
        }
        let mut words: Vec<&str> = path.iter().map(String::as_str).collect();
        words.push("--help");
        let help = stdout_of(&words);
        let env = help
            .split("\nEnvironment:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("`chartpilot {}` has no Environment block", path.join(" ")));
        assert!(
            env.contains("CHARTPILOT__SECTION__KEY") && env.contains("_file"),
            "`chartpilot {}`: the Environment block names neither the override nor *_file:\n{env}",
            path.join(" ")
        );
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} commands take --config");
    // The commands that log while they work also say how to raise a level.
    for cmd in ["serve", "upgrade"] {
        assert!(stdout_of(&[cmd, "--help"]).contains("RUST_LOG"), "{cmd}");
    }
    assert!(stdout_of(&["demo", "--help"]).contains("CHARTPILOT__SERVER__LISTEN"));
}

#[test]
fn completions_cover_every_command_and_flag_in_four_shells() {
    let all = commands();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef chartpilot"),
        ("fish", "complete -c chartpilot"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: no `{marker}`");
        for (path, cmd) in &all {
            if let Some(name) = path.last() {
                assert!(script.contains(name.as_str()), "{shell}: no `{name}`");
            }
            for long in user_args(cmd).iter().filter_map(|a| a.get_long()) {
                assert!(
                    script.contains(long),
                    "{shell}: `chartpilot {}` flag --{long} is missing",
                    path.join(" ")
                );
            }
        }
    }
    // The bash script is valid bash, as a shell sourcing it needs.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chartpilot.bash");
    std::fs::write(&file, stdout_of(&["completions", "bash"])).unwrap();
    let check = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn an_unknown_shell_is_refused_naming_the_valid_ones() {
    let out = run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(err.contains(shell), "{shell} not offered: {err}");
    }
    assert!(out.stdout.is_empty());
}

/// roff escapes `-` as `\-`.
fn roff(text: &str) -> String {
    text.replace('-', "\\-")
}

#[test]
fn the_man_page_renders_and_lists_every_subcommand() {
    let page = stdout_of(&["man"]);
    let title = page
        .lines()
        .find(|l| l.starts_with(".TH "))
        .unwrap_or_else(|| panic!("no .TH line:\n{page}"));
    assert!(title.starts_with(".TH chartpilot 1"), "{title}");
    assert!(title.contains(env!("CARGO_PKG_VERSION")), "{title}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "no {section}");
    }
    for sub in chartpilot::cli::command().get_subcommands() {
        let reference = roff(&format!("chartpilot-{}(1)", sub.get_name()));
        assert!(page.contains(&reference), "no {reference}");
    }
}

#[test]
fn man_out_writes_one_page_per_command_with_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    let listed = stdout_of(&["man", "--out", out_dir.to_str().unwrap()]);
    let all = commands();
    assert_eq!(listed.lines().count(), all.len(), "{listed}");
    for (path, cmd) in &all {
        let name = std::iter::once("chartpilot")
            .chain(path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("-");
        let file = out_dir.join(format!("{name}.1"));
        assert!(listed.contains(file.to_str().unwrap()), "{name} not listed");
        let page =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(page.contains(&format!(".TH {name} 1")), "{name}: no .TH");
        for long in user_args(cmd).iter().filter_map(|a| a.get_long()) {
            let flag = roff(&format!("--{long}"));
            assert!(page.contains(&flag), "{name}: no {flag}");
        }
        // The examples travel into the page.
        assert!(page.contains("Examples:"), "{name}: no examples");
    }
}
