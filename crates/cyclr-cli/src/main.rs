//! `cyclr`: cyclical learning rates and the LR range test, from the command line.

mod cmd_bench;
mod cmd_range_test;
mod cmd_recreate;
mod cmd_schedule;
mod cmd_train;
mod common;
mod error;
mod out_of_memory;
mod output;
mod schedule_args;

use crate::output::note;
use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: out_of_memory::ExitOnOutOfMemory<mimalloc::MiMalloc> =
    out_of_memory::ExitOnOutOfMemory(mimalloc::MiMalloc);

use error::CliResult;

#[derive(Debug, Parser)]
#[command(
    name = "cyclr",
    version,
    about = "Cyclical learning rates (Smith, arXiv 1506.01186) and the LR range test, on burn",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print, plot or save a learning-rate schedule.
    Schedule(Box<cmd_schedule::ScheduleCmd>),
    /// Train the reference CNN on CIFAR-10 under a schedule.
    Train(Box<cmd_train::TrainCmd>),
    /// Run the LR range test and suggest base and max learning rates.
    RangeTest(Box<cmd_range_test::RangeTestCmd>),
    /// Recreate the CLR experiment end to end and write a report.
    Recreate(Box<cmd_recreate::RecreateCmd>),
    /// Measure training and evaluation speed and peak memory of the reference CNN.
    Bench(cmd_bench::BenchCmd),
}

fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Schedule(cmd) => cmd_schedule::run(*cmd),
        Command::Train(cmd) => cmd_train::run(*cmd),
        Command::RangeTest(cmd) => cmd_range_test::run(*cmd),
        Command::Recreate(cmd) => cmd_recreate::run(*cmd),
        Command::Bench(cmd) => cmd_bench::run(cmd),
    }
}

fn main() {
    let cli = Cli::parse();
    let flags = match &cli.command {
        Command::RangeTest(_) => error::Flags::RangeTest,
        Command::Recreate(_) => error::Flags::Recreate,
        Command::Bench(_) => error::Flags::Bench,
        Command::Schedule(_) | Command::Train(_) => error::Flags::Default,
    };
    if let Err(e) = run(cli) {
        note!("error: {}", e.render(flags));
        std::process::exit(e.exit_code());
    }
}
