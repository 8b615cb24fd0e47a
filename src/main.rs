//! The `switchboard` command: parses the command line and calls the library.

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand};
use switchboard::{
    app::{self, Application},
    config::{Config, RawConfig},
    observability,
};

// glibc malloc spends a third of a bulk import consolidating free lists and keeps freed
// memory; mimalloc is faster here and returns memory to the system.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Enterprise directory, contact views and messaging"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// `--config` and `--data` are global: they may stand before or after any subcommand
    /// (`switchboard ldap test --config F` and `switchboard --config F ldap test` alike).
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Seed the demo company if the directory is empty.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// The LDAP connector: `test` checks the connection and shows what a sync would change;
    /// `sync` runs one (use it while the service is stopped, e.g. for the first import; a
    /// running service syncs on its own schedule and through its API).
    Ldap {
        #[command(subcommand)]
        action: LdapAction,
    },
}

#[derive(Subcommand)]
enum LdapAction {
    /// Connect, bind, count, map a sample, dry-run a sync.
    Test,
    /// Run a sync now.
    Sync {
        /// An incremental run instead of a full one.
        #[arg(long)]
        incremental: bool,
    },
}

#[derive(Args)]
struct CommonArgs {
    /// A TOML configuration file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (default ./data).
    #[arg(long = "data", global = true)]
    data_dir: Option<String>,
}

fn load_config(
    common: &CommonArgs,
    cli: RawConfig,
) -> Result<Config, switchboard::config::ConfigError> {
    let file = match &common.config {
        Some(path) => RawConfig::from_file(path)?,
        None => RawConfig::default(),
    };
    let env = RawConfig::from_env(|key| std::env::var(key).ok());
    let flags = RawConfig {
        data_dir: common.data_dir.clone(),
        ..cli
    };
    Config::parse(file.overlay(env).overlay(flags))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("switchboard: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let common = cli.common;
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { listen, demo } => {
                let config = load_config(
                    &common,
                    RawConfig {
                        listen,
                        demo: demo.then_some(true),
                        ..Default::default()
                    },
                )?;
                observability::init_tracing(config.log_format);
                let application = Application::build(config).await?;
                application
                    .run_until_stopped(app::shutdown_signal())
                    .await?;
                Ok(())
            }
            Command::Migrate => {
                let config = load_config(&common, RawConfig::default())?;
                observability::init_tracing(config.log_format);
                app::open_database(&config, switchboard::store::Checkpoints::InCommit).await?;
                println!("migrations applied");
                Ok(())
            }
            Command::Ldap { action } => {
                let config = load_config(&common, RawConfig::default())?;
                // stdout is the JSON result; logs go to stderr.
                observability::init_tracing_to_stderr(config.log_format);
                let state = app::open_services(config, false).await?;
                let ldap = state.ldap.clone();
                match action {
                    LdapAction::Test => {
                        let report = ldap.test().await?;
                        println!("{}", serde_json::to_string_pretty(&report)?);
                    }
                    LdapAction::Sync { incremental } => {
                        let kind = if incremental {
                            switchboard::ldap::SyncKind::Incremental
                        } else {
                            switchboard::ldap::SyncKind::Full
                        };
                        let run = ldap.sync("cli", kind, false).await?;
                        println!("{}", serde_json::to_string_pretty(&run)?);
                        state.contacts.flush().await;
                        if run.status != "succeeded" {
                            return Err(format!("sync {}: {}", run.status, run.message).into());
                        }
                    }
                }
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let error: Box<dyn std::error::Error> = error;
            eprintln!("switchboard: {error}");
            ExitCode::FAILURE
        }
    }
}
