//! geniusctl: GeniusAuth from the command line, for scripting and support work.

mod app_session;
mod browser;
mod cli;
mod commands;
mod failure;
mod generate;
mod internal_error;
mod output;

use clap::Parser;

use crate::cli::Cli;
use crate::failure::{Failure, EXIT_NETWORK};

fn main() {
    // A bug must not dump a backtrace at a user, nor exit with Rust's 101.
    internal_error::install();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("geniusctl: cannot start: {e}");
            std::process::exit(EXIT_NETWORK);
        }
    };
    let outcome: Result<(), Failure> = runtime.block_on(commands::run(&cli.global, cli.command));
    if let Err(failure) = outcome {
        failure.report();
        std::process::exit(failure.exit_code());
    }
}
