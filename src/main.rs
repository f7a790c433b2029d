use std::process::ExitCode;

use clap::Parser;
use fleetsh::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    fleetsh::logging::init(cli.global.log_level.as_deref());
    match &cli.command {
        Some(Command::Serve(args)) => {
            let rt = tokio::runtime::Runtime::new().expect("starting the tokio runtime");
            match rt.block_on(fleetsh::serve::run(&cli.global, args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("fleetsh serve: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        None => {
            eprintln!("fleetsh: the Lua runner is not built yet; try `fleetsh serve`");
            ExitCode::from(2)
        }
    }
}
