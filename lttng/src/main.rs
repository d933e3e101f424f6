//! `lttng`: the command line of the tracer.
//!
//! Commands so far: `lttng version` and `lttng view` (see [`view`]). Exit codes are part of
//! the interface: 0 success, 1 the trace was read but some of it was corrupt, 2 usage errors
//! or nothing readable.
#![deny(unsafe_code)]

mod localtime;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "lttng",
    about = "Linux tracer control",
    disable_version_flag = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the version of this tool.
    Version,
    /// Print the events of a trace, like babeltrace2's text output.
    View {
        /// Run this program on the trace instead (e.g. `babeltrace2`).
        #[arg(long, value_name = "PROGRAM")]
        viewer: Option<String>,
        /// The trace directory (same as PATH).
        #[arg(
            long = "trace-path",
            short = 't',
            value_name = "DIR",
            conflicts_with = "path"
        )]
        trace_path: Option<PathBuf>,
        /// A trace directory, or a directory holding several traces (e.g. a session output).
        path: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ERROR: {e}");
            view::EXIT_USAGE.into()
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Version => {
            println!("lttng (lttng-rs) {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::View {
            viewer,
            trace_path,
            path,
        } => {
            let Some(path) = path.or(trace_path) else {
                anyhow::bail!(
                    "a trace path is required: viewing a tracing session is not implemented yet"
                );
            };
            if let Some(program) = viewer {
                return Err(view::exec_viewer(&program, &path).into());
            }
            Ok(view::view(&path)?.into())
        }
    }
}
