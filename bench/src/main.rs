//! `switchboard-bench`: the benchmarks, apart from the server binary. Each prints its figures;
//! none asserts on time. Run them with `scripts/bench <which>` (a release build of both
//! binaries, then this one).

mod changelog;
mod directory_import;
mod im;
mod im_client;
mod im_setup;
mod ldap_sync;
mod portal;
mod storage;
mod views;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

// The same allocator as the server, so in-process memory figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Benchmarks that print their figures.
#[derive(Parser)]
#[command(name = "switchboard-bench", version)]
struct Cli {
    #[command(subcommand)]
    which: Which,
}

/// Which benchmark to run.
#[derive(Subcommand)]
enum Which {
    /// Import a generated company through the directory write path on SQLite.
    Import {
        #[arg(long, default_value_t = 100_000)]
        staff: usize,
        #[arg(long, default_value_t = 5_000)]
        departments: usize,
        /// Staff per transaction.
        #[arg(long, default_value_t = 5_000)]
        batch: usize,
    },
    /// Contact views: full view vs naive casbin, deltas, edits, a large rule edit, memory.
    Views {
        #[arg(long, default_value_t = 100_000)]
        staff: usize,
        #[arg(long, default_value_t = 5_000)]
        departments: usize,
        #[arg(long, default_value_t = 200)]
        roles: usize,
    },
    /// LDAP full sync vs plain ldapsearch, and an incremental run of 100 changes.
    Ldap {
        #[arg(long, default_value_t = 100_000)]
        staff: usize,
        #[arg(long, default_value_t = 5_000)]
        departments: usize,
    },
    /// Messaging: idle memory per connection, throughput at saturation, latency, department
    /// fan-out and a reconnect storm, against a `serve` child process.
    Im(im::ImArgs),
    /// Admin portal pages on a generated company: cold and warm latency per page (staff search
    /// by name, pinyin, initials, login, email), then an open-loop mix at fixed rates.
    Portal {
        #[arg(long, default_value_t = 100_000)]
        staff: usize,
        #[arg(long, default_value_t = 5_000)]
        departments: usize,
        /// Requests per page, one after another.
        #[arg(long, default_value_t = 200)]
        samples: usize,
        /// Offered rates (pages per second) of the open-loop mix.
        #[arg(long, value_delimiter = ',', default_value = "10,50,100")]
        rates: Vec<f64>,
    },
    /// Storage: database and WAL size, and cold start after kill -9, as people are created and
    /// given roles one by one (`moves`); start-up with a million changelog rows (`changes`).
    #[command(subcommand)]
    Storage(StorageBench),
    /// Load a directory into memory and report time and memory (run by `import` in a fresh
    /// process, so the figure is what a service start costs).
    #[command(hide = true)]
    Load {
        #[arg(long)]
        database_url: String,
    },
}

/// The two storage benchmarks.
#[derive(Subcommand)]
enum StorageBench {
    /// People created and given a role one at a time through the API of a `serve` process.
    Moves(storage::MovesArgs),
    /// Start-up with a million changelog rows, before and after they pass the retention.
    Changes(changelog::ChangesArgs),
}

async fn run(which: Which) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match which {
        Which::Import {
            staff,
            departments,
            batch,
        } => directory_import::run(staff, departments, batch).await,
        Which::Im(args) => im::run(args).await,
        Which::Storage(StorageBench::Moves(args)) => storage::run(args).await,
        Which::Storage(StorageBench::Changes(args)) => changelog::run(args).await,
        Which::Load { database_url } => directory_import::load(&database_url).await,
        Which::Ldap { staff, departments } => ldap_sync::run_bench(staff, departments).await,
        Which::Portal {
            staff,
            departments,
            samples,
            rates,
        } => portal::run(staff, departments, samples, rates).await,
        Which::Views {
            staff,
            departments,
            roles,
        } => views::run(staff, departments, roles).await,
    }
}

/// Peak resident set size of this process, in MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> Option<f64> {
    Some(status_kib("self", "VmHWM")? as f64 / 1024.0)
}

/// Current resident set size of this process, in MiB (Linux `VmRSS`).
pub fn rss_mib() -> Option<f64> {
    Some(status_kib("self", "VmRSS")? as f64 / 1024.0)
}

/// A memory figure (in KiB) from `/proc/<process>/status`, e.g. `VmRSS` of `self` or a pid.
pub fn status_kib(process: &str, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|l| l.split(':').next() == Some(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The `switchboard` server binary: beside this one (both are built into the same target
/// folder), or where `SWITCHBOARD_BIN` says.
pub fn server_binary() -> std::io::Result<PathBuf> {
    if let Some(path) = std::env::var_os("SWITCHBOARD_BIN") {
        return Ok(PathBuf::from(path));
    }
    let path = std::env::current_exe()?.with_file_name("switchboard");
    if path.is_file() {
        Ok(path)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "{} not found: build it first (cargo build --release), or set SWITCHBOARD_BIN",
                path.display()
            ),
        ))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs only when asked for with RUST_LOG.
    if std::env::var_os("RUST_LOG").is_some() {
        switchboard::observability::init_tracing(switchboard::config::LogFormat::Text);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("switchboard-bench: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.which)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("switchboard-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
