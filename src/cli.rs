//! The command line: one clap definition drives parsing, `--help` and shell completions.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Parser, Subcommand};

use crate::chores::logger::LogFormat;
use crate::client::target::{Origin, Selection};

#[derive(Debug, Parser)]
#[command(
    name = "fleetsh",
    version,
    about = "Script a Viam robot fleet in Lua",
    propagate_version = true,
    disable_help_subcommand = true,
    after_help = crate::exit::CODES_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,

    #[command(flatten)]
    pub runner: RunnerOpts,

    /// Run this Lua chunk and exit (like `lua -e`).
    #[arg(short = 'e', value_name = "CHUNK", global = false)]
    pub exec: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parses the command line (exiting on errors, as `Parser::parse` does) and notes where
    /// the API key id came from, so that a refused key's message can name it.
    pub fn parse_args() -> Cli {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        let matches = cmd
            .try_get_matches_from_mut(std::env::args_os())
            .unwrap_or_else(|e| usage_exit(e));
        let mut cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
            .unwrap_or_else(|e| usage_exit(e.format(&mut cmd)));
        cli.global.api_key_id_from_env =
            value_source(&matches, "api_key_id") == Some(ValueSource::EnvVariable);
        cli
    }
}

/// Exits on a command line clap refused (or on `--help`/`--version`, which clap prints). A
/// usage error is a JSON log line when the command line asked for JSON logs, so that a cron
/// job's log collector reads it as it reads the runner's other failures.
fn usage_exit(e: clap::Error) -> ! {
    if e.use_stderr() && asks_for_json_logs(std::env::args()) {
        let logger = crate::chores::logger::Logger {
            format: LogFormat::Json,
            quiet: false,
            script: String::new(),
            run_id: String::new(),
        };
        logger.runner("error", e.render().to_string().trim_end());
        std::process::exit(crate::exit::USAGE.into());
    }
    e.exit()
}

/// Whether `--log-format json` is among `args` (the parse that would say so has failed).
fn asks_for_json_logs(args: impl Iterator<Item = String>) -> bool {
    let args: Vec<String> = args.collect();
    args.iter().any(|a| a == "--log-format=json")
        || args
            .windows(2)
            .any(|w| w[0] == "--log-format" && w[1] == "json")
}

/// Where a global argument's value came from: the innermost subcommand holds the value given
/// after it, the top level one given before it or taken from the environment.
fn value_source(m: &ArgMatches, id: &str) -> Option<ValueSource> {
    m.subcommand()
        .and_then(|(_, sub)| value_source(sub, id))
        .or_else(|| m.value_source(id))
}

/// Options that select and reach the fleet; accepted before or after the subcommand.
#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// Data directory of the local fleet (default: the user's data directory).
    #[arg(long, global = true, env = "FLEETSH_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// Remote app endpoint: http://HOST:PORT is plaintext (a `fleetsh serve`), https://HOST[:PORT]
    /// or a bare host is TLS.
    #[arg(long, global = true, env = "FLEETSH_URL", value_name = "URL")]
    pub url: Option<String>,

    /// API key id for the remote endpoint.
    #[arg(long, global = true, env = "VIAM_API_KEY_ID", value_name = "ID")]
    pub api_key_id: Option<String>,

    /// API key for the remote endpoint (prefer the environment variable: flags show in `ps`).
    #[arg(
        long,
        global = true,
        env = "VIAM_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,

    /// Named profile from the config file.
    #[arg(
        long,
        global = true,
        env = "FLEETSH_PROFILE",
        value_name = "NAME",
        add = clap_complete::ArgValueCompleter::new(profile_names)
    )]
    pub profile: Option<String>,

    /// Deadline of each call.
    #[arg(long, global = true, default_value = "30s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub call_timeout: Duration,

    /// Most calls per second the run makes, e.g. 200/s: a hard ceiling under the adaptive
    /// slow-down that a rate-limiting server causes anyway.
    #[arg(long, global = true, value_name = "N/s")]
    pub max_rate: Option<crate::client::throttle::Rate>,

    /// Log level or filter (e.g. info, debug, fleetsh=trace); RUST_LOG works too.
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,

    /// Only errors on stderr (cron then mails only failures); no progress bars.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,

    /// Whether --api-key-id came from VIAM_API_KEY_ID (set by `Cli::parse_args`).
    #[arg(skip)]
    pub api_key_id_from_env: bool,
}

impl GlobalOpts {
    /// The fleet these options select, for `client::target::resolve`.
    pub fn selection(&self) -> Selection {
        Selection {
            url: self.url.clone(),
            api_key_id: self.api_key_id.clone(),
            api_key: self.api_key.clone(),
            api_key_origin: if self.api_key_id_from_env {
                Origin::Environment
            } else {
                Origin::Flag
            },
            profile: self.profile.clone(),
            data: self.data.clone().unwrap_or_else(default_data_dir),
            call_timeout: self.call_timeout,
            max_rate: self.max_rate,
        }
    }
}

/// How a script runs unattended (`run`, `-e`, stdin). Not global: `profile`, `serve` and the
/// others do not list them, and after `run`'s script path every word is the script's. They go
/// before the subcommand (`fleetsh --dry-run run x.lua`) or after it (`fleetsh run --dry-run x.lua`).
#[derive(Debug, Clone, Default, PartialEq, Args)]
#[command(next_help_heading = "Runner options")]
pub struct RunnerOpts {
    /// Send reads; plan writes instead of sending them and print the plan at the end
    /// (exit 0 when the plan is empty, 7 when it has changes).
    #[arg(long)]
    pub dry_run: bool,

    /// Hold this lock file for the whole run; when another run holds it, exit 4 at once.
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,

    /// Stop the script after this long (e.g. 90s, 10m); in-flight calls are cancelled (exit 5).
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub timeout: Option<Duration>,

    /// Format of log lines on stderr (json: time, level, script, run_id, message) [default: text].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Append one JSON line per mutating call (time, run id, method, target ids, outcome).
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,

    /// How values the chunk returns are printed on stdout: lua (pretty, as the REPL shows them)
    /// or json (one document per value, for jq) [default: lua on a terminal, else json].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Lua,
    Json,
}

impl RunnerOpts {
    /// These options with `after`'s (given after the subcommand) taking precedence.
    pub fn then(&self, after: &RunnerOpts) -> RunnerOpts {
        RunnerOpts {
            dry_run: self.dry_run || after.dry_run,
            lock: after.lock.clone().or_else(|| self.lock.clone()),
            timeout: after.timeout.or(self.timeout),
            log_format: after.log_format.or(self.log_format),
            audit: after.audit.clone().or_else(|| self.audit.clone()),
            output: after.output.or(self.output),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Interactive Lua session with `cloud` connected (the default on a terminal).
    Repl,
    /// Run a Lua script (`-` reads it from stdin); ARGS become the `arg` table and `...`.
    Run(RunArgs),
    /// Serve the local fleet (the app API) on a socket.
    Serve(ServeArgs),
    /// Write LuaLS definitions (`---@meta`) of `cloud` and the helpers, for editors.
    Types(TypesArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Named connection profiles in the config file (FLEETSH_CONFIG overrides its path).
    Profile(ProfileArgs),
    /// The help of a cloud function (as `help "NAME"` in Lua), or of a subcommand.
    Help(HelpArgs),
    /// Run `*_test.lua` files: each test against a fresh local fleet of its own.
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Test files, or folders searched for `*_test.lua` [default: the current folder].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Files run at once [default: the CPUs].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// Only the tests whose name contains this text.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,

    /// A test that runs longer fails.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub test_timeout: Duration,

    /// Also write the results as JUnit XML, for CI systems.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// A fleet described as data (a Lua file returning a table, or JSON; see fleet.seed), made
    /// in every test's fleet before its before_each; its ids are in `t.ids`.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HelpArgs {
    /// A cloud function (`get_robot`, `cloud.robot.log`) or a subcommand; none: the overview.
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct TypesArgs {
    /// Write here instead of stdout (e.g. types/fleetsh.lua, listed in .luarc.json).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    #[command(subcommand)]
    pub command: ProfileCommand,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Save (or replace) a profile from --url and --api-key-id/--api-key (or VIAM_API_KEY_ID and
    /// VIAM_API_KEY); the file is written with mode 0600.
    Add {
        /// Profile name, used as `--profile NAME`.
        name: String,
        /// Default organization for calls that take an org_id.
        #[arg(long, value_name = "ID")]
        org_id: Option<String>,
        /// Default location for calls that take a location_id.
        #[arg(long, value_name = "ID")]
        location_id: Option<String>,
    },
    /// List the profiles (names, urls and key ids; never the keys).
    List,
    /// Remove a profile.
    Remove {
        /// Profile name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The script file (`-` for stdin), then its arguments. Every word after the script path is
    /// the script's, even one that looks like a fleetsh flag.
    #[arg(
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_names = ["FILE", "ARGS"]
    )]
    pub argv: Vec<String>,

    #[command(flatten)]
    pub runner: RunnerOpts,
}

impl RunArgs {
    /// The script path (`-` for stdin).
    pub fn script(&self) -> &str {
        &self.argv[0]
    }

    /// The script's own arguments.
    pub fn args(&self) -> &[String] {
        &self.argv[1..]
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Allow listening on a non-loopback address.
    #[arg(long)]
    pub allow_remote: bool,

    /// TLS certificate (PEM); with --tls-key serves TLS instead of plaintext.
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Lifetime of the access tokens the server issues.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub token_ttl: Duration,

    /// Calls each API key (or part) may make, e.g. 500/s; over it a call is refused with
    /// RESOURCE_EXHAUSTED and a retry delay, as a rate-limiting cloud does.
    #[arg(long, value_name = "N/s")]
    pub rate_limit: Option<crate::client::throttle::Rate>,

    /// Threads serving calls [default: one less than the CPUs, at least 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,

    /// Simulated machines (a Lua table or JSON, as fleet.simulate takes): parts that call in,
    /// log, go offline on a schedule and restart when marked, through the part RPCs.
    #[arg(long, value_name = "FILE")]
    pub simulate: Option<PathBuf>,
    /// A web page origin (scheme://host[:port]) allowed to call the fleet over gRPC-web, beyond
    /// the loopback origins always allowed; repeatable.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,

    /// Allow web pages of any origin to call the fleet (Access-Control-Allow-Origin: *).
    #[arg(long)]
    pub cors_allow_any_origin: bool,
    /// A fleet described as data (Lua table or JSON, as for `fleetsh test --seed`), made once,
    /// at the first start that names it; its ids by name go to DATA/seed-ids.json.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,

    /// Also write the seeded fleet's ids by name (JSON, mode 0600) to FILE.
    #[arg(long, value_name = "FILE", requires = "seed")]
    pub seed_ids: Option<PathBuf>,

    /// Fault rules (TOML or JSON; the fields of `fleet.fault{}`) the fleet applies from the
    /// start; the admin API (fleetsh.admin.v1.FleetAdminService) changes them while it runs.
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
}

impl ServeArgs {
    pub fn worker_threads(&self) -> usize {
        self.workers
            .map_or_else(crate::server::default_workers, usize::from)
    }
}

/// The profile names that start with what was typed, for shell completion of `--profile` (a
/// config file that cannot be read offers none: completion is no place for errors).
fn profile_names(current: &std::ffi::OsStr) -> Vec<clap_complete::CompletionCandidate> {
    let typed = current.to_string_lossy();
    crate::config::Config::load(&crate::config::path())
        .map(|c| {
            c.profiles
                .into_keys()
                .filter(|name| name.starts_with(typed.as_ref()))
                .map(clap_complete::CompletionCandidate::new)
                .collect()
        })
        .unwrap_or_default()
}

/// `fleetsh completions SHELL`: the shell code that asks fleetsh itself at each Tab
/// (clap_complete's dynamic completion), so that `--profile` offers the names in the config.
pub fn write_completions(
    shell: clap_complete::Shell,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};
    let completer: &dyn EnvCompleter = match shell {
        clap_complete::Shell::Bash => &Bash,
        clap_complete::Shell::Zsh => &Zsh,
        clap_complete::Shell::Fish => &Fish,
        clap_complete::Shell::Elvish => &Elvish,
        _ => &Powershell,
    };
    completer.write_registration(COMPLETE_VAR, "fleetsh", "fleetsh", "fleetsh", out)
}

/// The environment variable that turns a run of fleetsh into a completion request.
pub const COMPLETE_VAR: &str = "COMPLETE";

/// The default data directory of the local fleet.
pub fn default_data_dir() -> PathBuf {
    dirs::data_local_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("fleetsh")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
