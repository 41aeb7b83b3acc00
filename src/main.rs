use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use chartpilot::cli::args::{CheckConfigArgs, Cli, Command, DemoAction, JobsAction, LogFormatArg};
use chartpilot::cli::{self, BumpFilter, Format};
use chartpilot::clock::SystemClock;
use chartpilot::demo::send::{Event, Target};
use chartpilot::demo::{self, Demo};
use chartpilot::pins::DiscoverOptions;
use chartpilot::queue::QueueError;
use chartpilot::settings::{LogFormat, Settings};
use chartpilot::startup::{shutdown_signal, Application, Role};
use chartpilot::upgrade::Upgrader;

fn load(config: Option<&PathBuf>) -> Result<Settings, String> {
    let env: HashMap<String, String> = std::env::vars().collect();
    Settings::load(config.map(PathBuf::as_path), &env).map_err(|e| e.to_string())
}

fn discover_options(s: &Settings) -> DiscoverOptions {
    DiscoverOptions {
        environments: s.policy.environments.clone(),
        env_patterns: s.pins.env_patterns.clone(),
        env_aliases: s.pins.env_aliases.clone(),
    }
}

/// `chartpilot jobs`: reads, retries or drops the parked jobs of the
/// configured queue.
fn jobs(action: JobsAction) -> Result<(), String> {
    use cli::jobs::Request;
    let (config, request) = match action {
        JobsAction::List { config, format } => (config, Request::List(format)),
        JobsAction::Show { n, config } => (config, Request::Show(n)),
        JobsAction::Retry { id, config } => (config, Request::Retry(id)),
        JobsAction::Drop { id, config, yes } => (config, Request::Drop { id, yes }),
    };
    let s = load(config.as_ref())?;
    cli::jobs::run(&s.queue, request, &mut std::io::stdout().lock())
}

/// `chartpilot report`: the matrix of DIR, or of a snapshot of the
/// configured repository's base branch.
fn report(
    s: &Settings,
    dir: Option<PathBuf>,
    format: cli::report::ReportFormat,
    offline: bool,
) -> Result<(), String> {
    cli::report::run(s, &discover_options(s), dir, format, offline)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan {
            dir,
            config,
            format,
            offline,
            include_local,
        } => load(config.as_ref()).and_then(|s| {
            let opts = discover_options(&s);
            let run = |lookup: Option<cli::LookupFn<'_>>| {
                cli::scan(
                    &dir,
                    format,
                    include_local,
                    &opts,
                    lookup,
                    &mut std::io::stdout().lock(),
                    &mut std::io::stderr().lock(),
                )
            };
            if offline {
                run(None)
            } else {
                cli::latest::with_lookups(&s, |f| run(Some(f)))
            }
        }),
        Command::Upgrade {
            config,
            dry_run,
            format,
        } => load(config.as_ref()).and_then(|s| upgrade(s, dry_run, format)),
        Command::Jobs { action } => jobs(action),
        Command::Report {
            dir,
            config,
            format,
            offline,
        } => load(config.as_ref()).and_then(|s| report(&s, dir, format, offline)),
        Command::Bump {
            dir,
            chart,
            to,
            env,
            name,
            allow_downgrade,
            config,
        } => load(config.as_ref()).and_then(|s| {
            cli::bump(
                &dir,
                &BumpFilter { chart, env, name },
                &to,
                allow_downgrade,
                &discover_options(&s),
                &mut std::io::stdout().lock(),
                &mut std::io::stderr().lock(),
            )
        }),
        Command::Impact {
            dir,
            chart,
            to,
            env,
            format,
            config,
        } => {
            let request = cli::impact::ImpactRequest { chart, to, env };
            let found = load(config.as_ref())
                .and_then(|s| cli::impact::run(&s, &discover_options(&s), &dir, &request, format));
            return match found {
                Ok(false) => ExitCode::SUCCESS,
                Ok(true) => ExitCode::from(1),
                Err(e) => fail(&e, ExitCode::from(2)),
            };
        }
        Command::CheckConfig(args) => check_config(args),
        Command::Completions { shell } => {
            cli::docs::completions(shell, &mut std::io::stdout().lock())
        }
        Command::Man { out } => cli::docs::man(out.as_deref(), &mut std::io::stdout().lock()),
        Command::ConfigSchema => chartpilot::settings::schema::json()
            .map(|text| print!("{text}"))
            .map_err(|e| e.to_string()),
        Command::Demo {
            dir,
            script,
            log_format,
            action,
        } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(demo::DEFAULT_DIR));
            return match (action, script) {
                (Some(DemoAction::Send { event, dir: d }), _) => {
                    let dir = d.unwrap_or(dir);
                    exit(demo_send(&dir, event))
                }
                (None, true) => exit(demo_script(&dir)),
                (None, false) => demo_serve(&dir, log_format),
            };
        }
        Command::Serve {
            config,
            role,
            log_format,
        } => {
            let env: HashMap<String, String> = std::env::vars().collect();
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            if role == Role::All && demo::serve_runs_demo(config.is_some(), &env, &cwd) {
                return demo_serve(std::path::Path::new(demo::DEFAULT_DIR), log_format);
            }
            let mut settings = match load(config.as_ref()) {
                Ok(s) => s,
                Err(e) => return fail(&e, ExitCode::FAILURE),
            };
            set_log_format(&mut settings, log_format);
            return serve(settings, role, false);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e, ExitCode::FAILURE),
    }
}

fn set_log_format(settings: &mut Settings, format: Option<LogFormatArg>) {
    if let Some(f) = format {
        settings.log.format = match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        };
    }
}

fn exit(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e, ExitCode::FAILURE),
    }
}

fn demo_settings(demo: &Demo) -> Result<Settings, String> {
    let env: HashMap<String, String> = std::env::vars().collect();
    demo.settings(&env).map_err(|e| format!("{e:#}"))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// `serve` on the demo: the banner, then the service with a pass at start.
fn demo_serve(dir: &std::path::Path, log_format: Option<LogFormatArg>) -> ExitCode {
    let prepared = Demo::prepare(dir)
        .map_err(|e| format!("{e:#}"))
        .and_then(|d| demo_settings(&d).map(|s| (d, s)));
    let (demo, mut settings) = match prepared {
        Ok(p) => p,
        Err(e) => return fail(&e, ExitCode::FAILURE),
    };
    set_log_format(&mut settings, log_format);
    // JSON logs keep stdout to JSON lines; the banner is for a person.
    match settings.log.format {
        LogFormat::Text => println!("{}", demo.banner(&settings)),
        LogFormat::Json => eprintln!("{}", demo.banner(&settings)),
    }
    serve(settings, Role::All, true)
}

fn demo_script(dir: &std::path::Path) -> Result<(), String> {
    let demo = Demo::prepare(dir).map_err(|e| format!("{e:#}"))?;
    let settings = demo_settings(&demo)?;
    // Only trouble in the log: stdout is the step-by-step account.
    chartpilot::telemetry::init(settings.log.format, "warn", std::io::stderr)?;
    runtime()?.block_on(async {
        demo::script::run(&demo, settings, &mut std::io::stdout())
            .await
            .map_err(|e| format!("{e:#}"))
    })
}

fn demo_send(dir: &std::path::Path, event: Event) -> Result<(), String> {
    let demo = Demo::open(dir).map_err(|e| format!("{e:#}"))?;
    let settings = demo_settings(&demo)?;
    let base = Demo::base_url(&settings).map_err(|e| format!("{e:#}"))?;
    let lines = runtime()?.block_on(async {
        Target {
            demo: &demo,
            settings: &settings,
            base,
        }
        .send(event)
        .await
        .map_err(|e| format!("{e:#}"))
    })?;
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// `chartpilot check-config`: the effective configuration, secrets
/// redacted; with `--probe`, each feature tried once instead.
fn check_config(args: CheckConfigArgs) -> Result<(), String> {
    if args.probe {
        return load(args.config.as_ref()).and_then(probe);
    }
    let env: HashMap<String, String> = std::env::vars().collect();
    let text =
        chartpilot::settings::explain::check_config(args.config.as_deref(), &env, args.explain)
            .map_err(|e| e.to_string())?;
    print!("{text}");
    // On stderr: stdout stays the configuration, for tools to read.
    eprintln!("{}", chartpilot::settings::explain::CONFIG_OK);
    Ok(())
}

/// `check-config --probe`: the features as `serve` would start them.
fn probe(settings: Settings) -> Result<(), String> {
    let features = runtime()?.block_on(async {
        let repos = chartpilot::worker::repos::Repositories::from_settings(
            &settings,
            Arc::new(SystemClock),
        )
        .await;
        chartpilot::features::assess_repositories(&settings, &repos).await
    });
    print!("{}", features.render());
    let broken: Vec<&str> = features.broken().iter().map(|f| f.name).collect();
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!("configured but broken: {}", broken.join(", ")))
    }
}

/// One block at start: what is on, what is off and which key turns it on.
/// Text logs get it as text; JSON logs as one event, for log pipelines.
fn show_features(features: &chartpilot::features::Features, format: LogFormat) {
    if features.0.is_empty() {
        return;
    }
    match format {
        LogFormat::Text => print!("{}", features.render()),
        LogFormat::Json => {
            tracing::info!(features = %features.to_json(), "features");
        }
    }
}

fn fail(message: &str, code: ExitCode) -> ExitCode {
    eprintln!("chartpilot: {message}");
    code
}

/// The exit status for a failure: errors that need a person (a damaged
/// queue file) have their own, the rest are 1.
fn exit_code(e: &anyhow::Error) -> ExitCode {
    e.chain()
        .find_map(|c| c.downcast_ref::<QueueError>())
        .and_then(QueueError::exit_code)
        .map_or(ExitCode::FAILURE, ExitCode::from)
}

fn upgrade(settings: Settings, dry_run: bool, format: Format) -> Result<(), String> {
    // Logs go to stderr: stdout is the report, for cron mails and CI.
    chartpilot::telemetry::init(settings.log.format, &settings.log.level, std::io::stderr)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let dry_run = dry_run || settings.policy.dry_run;
    let report = runtime.block_on(async {
        let upgrader = Upgrader::from_settings(&settings, Arc::new(SystemClock))
            .map_err(|e| format!("{e:#}"))?;
        upgrader.run(dry_run).await.map_err(|e| e.to_string())
    })?;
    match format {
        Format::Table => print!("{}", cli::upgrade::render(&report, dry_run)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        ),
    }
    match (report.errors.len(), report.lookup_errors.len()) {
        (0, 0) => Ok(()),
        (0, n) => Err(format!(
            "{n} chart lookup(s) failed; their pins were left alone"
        )),
        (n, _) => Err(format!("{n} upgrade PR(s) failed; see `failed` above")),
    }
}

/// The service; `first_pass` queues an upgrade pass at start (the demo).
fn serve(settings: Settings, role: Role, first_pass: bool) -> ExitCode {
    // Declared before the runtime, so dropped after it: the last jobs'
    // spans are flushed once they are done.
    let _exporter = match chartpilot::telemetry::init_with_export(
        settings.log.format,
        &settings.log.level,
        std::io::stdout,
        &settings.telemetry.otlp_endpoint,
    ) {
        Ok(exporter) => exporter,
        Err(e) => return fail(&e, ExitCode::FAILURE),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the runtime: {e}"), ExitCode::FAILURE),
    };
    let result = runtime.block_on(async {
        let app = Application::build(&settings, role).await?;
        show_features(&app.features(), settings.log.format);
        if first_pass {
            demo::script::first_pass(app.queue().as_ref(), &settings.git.key()).await?;
        }
        app.run_until_stopped(shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("{e:#}"), exit_code(&e)),
    }
}
