use std::process::ExitCode;

use clap::Parser;

use billbot::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
