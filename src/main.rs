use std::io::IsTerminal;
use std::process::ExitCode;

use fleetsh::cli::{Cli, Command, RunnerOpts};
use fleetsh::run::{self, Source};

// glibc malloc returned freed memory to the kernel and faulted it back in on every burst of
// calls (~20% of client CPU in profiles); mimalloc keeps it and is faster per allocation.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A completion request (COMPLETE=SHELL, from the script `fleetsh completions` prints) is
    // answered and exits here; otherwise this only reads one environment variable.
    clap_complete::CompleteEnv::with_factory(<Cli as clap::CommandFactory>::command)
        .var(fleetsh::cli::COMPLETE_VAR)
        .complete();
    let cli = Cli::parse_args();
    // Scripts own stdout/stderr: the in-process fleet's request lines stay quiet unless asked for.
    let quiet =
        !matches!(cli.command, Some(Command::Serve(_))) && std::env::var_os("RUST_LOG").is_none();
    let level = cli.global.log_level.as_deref().or(quiet.then_some("warn"));
    let runner = match &cli.command {
        Some(Command::Run(args)) => cli.runner.then(&args.runner),
        _ => cli.runner.clone(),
    };
    let json = runner.log_format == Some(fleetsh::chores::logger::LogFormat::Json);
    fleetsh::logging::init(level, json);
    // Before another subcommand they would be silently ignored.
    if !matches!(cli.command, None | Some(Command::Run(_))) && cli.runner != RunnerOpts::default() {
        eprintln!(
            "fleetsh: --dry-run, --lock, --timeout, --log-format, --audit and --output apply to `run`, -e and stdin scripts only"
        );
        return ExitCode::from(fleetsh::exit::USAGE);
    }
    match (&cli.command, &cli.exec) {
        (Some(_), Some(_)) => {
            eprintln!("fleetsh: -e cannot be combined with a subcommand");
            ExitCode::from(fleetsh::exit::USAGE)
        }
        (Some(Command::Serve(args)), None) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(args.worker_threads())
                .enable_all()
                .build()
                .expect("starting the tokio runtime");
            match rt.block_on(fleetsh::serve::run(&cli.global, args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("fleetsh serve: {e:#}");
                    // A bad --seed or --faults file is a usage error, as bad flags are.
                    let usage = e.is::<fleetsh::client::target::UsageError>();
                    ExitCode::from(if usage { fleetsh::exit::USAGE } else { 1 })
                }
            }
        }
        (Some(Command::Types(args)), None) => {
            ExitCode::from(fleetsh::chores::types::main(args.output.as_deref()))
        }
        (Some(Command::Completions(args)), None) => {
            let mut text = Vec::new();
            let _ = fleetsh::cli::write_completions(args.shell, &mut text);
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &text);
            ExitCode::SUCCESS
        }
        (Some(Command::Help(args)), None) => ExitCode::from(help(args.name.as_deref())),
        (Some(Command::Test(args)), None) => {
            ExitCode::from(fleetsh::testing::main(&fleetsh::testing::TestRun {
                paths: args.paths.clone(),
                jobs: args.jobs.map_or_else(
                    || std::thread::available_parallelism().map_or(1, usize::from),
                    usize::from,
                ),
                filter: args.filter.clone(),
                timeout: args.test_timeout,
                call_timeout: cli.global.call_timeout,
                junit: args.junit.clone(),
                seed: args.seed.clone(),
            }))
        }
        (Some(Command::Profile(args)), None) => {
            ExitCode::from(fleetsh::config::command(&cli.global, &args.command))
        }
        (Some(Command::Run(args)), None) => {
            let source = if args.script() == "-" {
                Source::Stdin
            } else {
                Source::File(args.script().into())
            };
            ExitCode::from(run::main(
                &cli.global,
                &cli.runner.then(&args.runner),
                source,
                args.args().to_vec(),
            ))
        }
        (None, Some(chunk)) => ExitCode::from(run::main(
            &cli.global,
            &cli.runner,
            Source::Chunk(chunk.clone()),
            Vec::new(),
        )),
        (Some(Command::Repl), None) => ExitCode::from(fleetsh::repl::main(&cli.global)),
        (None, None) if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() => {
            ExitCode::from(fleetsh::repl::main(&cli.global))
        }
        (None, None) => ExitCode::from(run::main(
            &cli.global,
            &cli.runner,
            Source::Stdin,
            Vec::new(),
        )),
    }
}

/// `fleetsh help [NAME]`: a subcommand's `--help`, else what Lua's `help "NAME"` prints.
fn help(name: Option<&str>) -> u8 {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Built, so a subcommand's usage line reads `fleetsh types`, not `types`.
    cmd.build();
    if let Some(sub) = name.and_then(|n| cmd.find_subcommand_mut(n)) {
        let _ = sub.print_long_help();
        return 0;
    }
    match fleetsh::repl::help::text_for(name) {
        Ok(text) => {
            println!("{text}");
            let unknown = text.starts_with("help: `");
            if name.is_none() {
                println!("fleetsh --help shows the command line.");
            }
            if unknown { fleetsh::exit::USAGE } else { 0 }
        }
        Err(e) => {
            eprintln!("fleetsh help: {e}");
            fleetsh::exit::SCRIPT
        }
    }
}
