use std::process::ExitCode;

use clap::FromArgMatches;

use billbot::cli::{self, Cli};

/// jemalloc rather than glibc's allocator: in a burst, glibc's spent a fifth of the CPU and its
/// arenas grew and shrank by page faults (docs/performance.md, "The allocator").
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let matches = cli::localized(billbot::config::terminal_lang()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    billbot::telemetry::init(cli::default_log_filter(&cli.command));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("billbot: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(cli::run(cli)).into()
}
