//! The `crypten` command: launch a multi-party computation on this machine, join one as a
//! party or as the trusted third party, run the demo, and run benchmarks.

mod bench;
mod certs;
mod demo;
mod examples;
mod files;
mod infer;
mod launch;
mod party;
mod probe;
mod split;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "crypten",
    version,
    about = "Secure multi-party computation for machine learning"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start N party processes (plus the trusted third party) on loopback, running the given
    /// subcommand, and relay their output prefixed by rank. Each process gets an equal share of
    /// the cores as worker threads, unless RAYON_NUM_THREADS says otherwise.
    Launch(launch::LaunchArgs),
    /// Run one party (or the dealer) of a computation spread over machines.
    Run(launch::RunArgs),
    /// Serve as the trusted third party (dealer) described by a cluster file (`--cluster
    /// --party --cert --key`) or by RANK/WORLD_SIZE/MASTER_*.
    Ttp(launch::ClusterArgs),
    /// A development CA and one certificate and key per endpoint of a cluster file
    /// (DIR/ca.pem, DIR/NAME.pem, DIR/NAME.key), to try TLS out.
    Certs(certs::CertsArgs),
    /// A multi-party demo on embedded data: inputs from different parties, products, a
    /// matmul, the revealed results and each party's bytes and rounds.
    Demo(party::PartyArgs),
    /// One of the four use cases, as a party of `crypten launch` (or launching 2 parties and
    /// a dealer when run alone): feature-aggregation, data-labelling, dataset-augmentation,
    /// model-hiding.
    Example {
        /// Which use case.
        #[arg(value_enum)]
        name: examples::Example,
        #[command(flatten)]
        party: party::PartyArgs,
    },
    /// Private inference of an ONNX model: the model owner's weights and the data owner's
    /// input stay private; launches the parties on this machine when run alone.
    Infer(infer::InferArgs),
    /// Private training of an ONNX model on data split across parties (feature columns,
    /// rows, labels at another party); the trained model goes back, as ONNX, to its owner
    /// only. Launches the parties on this machine when run alone.
    Train(Box<train::TrainArgs>),
    /// Cut a CSV table into the files each party would hold (feature-column blocks and a
    /// label file, or row blocks), to try `crypten train` on one machine.
    Split(split::SplitArgs),
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        suite: bench::Suite,
    },
    /// Fault-injection programs for end-to-end tests.
    #[command(hide = true)]
    Probe(probe::ProbeArgs),
}

/// Whether `name` is one of crypten's own subcommands (so that `crypten launch -- NAME`
/// runs it rather than an executable of that name).
pub(crate) fn is_subcommand(name: &str) -> bool {
    use clap::CommandFactory;
    Cli::command()
        .get_subcommands()
        .any(|c| c.get_name() == name || c.get_all_aliases().any(|a| a == name))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Party output is relayed through pipes by `crypten launch`: no colour codes there.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = if std::env::var_os("RANK").is_some() {
        in_worker_pool(|| run(cli.command))
    } else {
        run(cli.command)
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `f` on a worker of a fresh rayon pool (sized by `RAYON_NUM_THREADS`, which `crypten
/// launch` sets, or one thread per core). A party's program runs there rather than on the main
/// thread so that every parallel kernel forks from inside the pool: a parallel call from
/// outside has to wake a worker and sleep until it is done, which costs tens of microseconds
/// per call, and on a one-thread pool the kernels then run inline at no cost at all.
fn in_worker_pool(f: impl FnOnce() -> anyhow::Result<ExitCode> + Send) -> anyhow::Result<ExitCode> {
    let pool = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("crypten-worker-{i}"))
        // The size of a main thread's stack: the program runs here instead.
        .stack_size(8 << 20)
        .build()?;
    pool.install(f)
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Launch(args) => launch::launch(&args),
        Command::Run(args) => launch::run(&args),
        Command::Ttp(args) => launch::ttp(&args),
        Command::Certs(args) => certs::certs(&args).map(|()| ExitCode::SUCCESS),
        Command::Demo(args) => party::party_or_launch(&args, vec!["demo".into()], demo::demo),
        Command::Example { name, party } => {
            let value = clap::ValueEnum::to_possible_value(&name)
                .map(|v| v.get_name().to_string())
                .unwrap_or_default();
            party::party_or_launch(&party, vec!["example".into(), value], move |sess| {
                examples::run(name, sess)
            })
        }
        Command::Infer(args) => infer::infer(&args),
        Command::Train(args) => train::train(&args),
        Command::Split(args) => split::split(&args).map(|()| ExitCode::SUCCESS),
        Command::Bench { suite } => bench::bench(suite),
        Command::Probe(args) => probe::probe(&args),
    }
}
