//! `crypten launch` and `crypten run`: starting party processes with the rendezvous
//! environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, CRYPTEN_PROVIDER) and relaying
//! their output.

use anyhow::{Context, bail, ensure};
use crypten::{ProviderKind, Truncation};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Arguments of `crypten launch`.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct LaunchArgs {
    /// Number of computing parties.
    #[arg(short = 'n', long, default_value_t = 2)]
    pub parties: usize,
    /// Preprocessing provider: ttp (adds a dealer process) or tfp (insecure, tests only).
    #[arg(long, value_enum, default_value = "ttp")]
    pub provider: ProviderArg,
    /// Start a trusted third party: the default, the same as `--provider ttp`.
    #[arg(long, conflicts_with = "provider")]
    pub ttp: bool,
    /// Truncation of products with 2 parties: exact (default) or local (opt-in: no round,
    /// but it fails with a small probability; see the README).
    #[arg(long, value_enum, default_value = "exact")]
    pub truncation: TruncationArg,
    /// Seconds to wait for the other processes after one has failed before killing them.
    #[arg(long, default_value_t = 120.0)]
    pub timeout: f64,
    /// Benchmarks: shape every link like a wide-area one, RTT,BANDWIDTH (e.g. 25ms,100mbit),
    /// with a relay in each process (CRYPTEN_LINK).
    #[arg(long, value_parser = parse_link)]
    pub link: Option<String>,
    /// The subcommand every party runs, with its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Arguments of `crypten run`: one process of a computation spread over machines, placed by
/// a cluster file (`--cluster --party`, TLS when the file names a CA) or by a rank and a
/// rendezvous address (`--rank -n --master`, plain TCP).
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub place: ClusterArgs,
    /// This process's rank: 0..N-1 for parties, N for the dealer.
    #[arg(long, required_unless_present = "cluster", conflicts_with = "cluster")]
    pub rank: Option<usize>,
    /// Number of computing parties.
    #[arg(
        short = 'n',
        long,
        required_unless_present = "cluster",
        conflicts_with = "cluster"
    )]
    pub parties: Option<usize>,
    /// Address of rank 0's rendezvous listener (host:port).
    #[arg(long, required_unless_present = "cluster", conflicts_with = "cluster")]
    pub master: Option<String>,
    /// Preprocessing provider: ttp or tfp.
    #[arg(long, value_enum, default_value = "ttp")]
    pub provider: ProviderArg,
    /// The program to run as this party: a crypten subcommand (`demo`, `infer ...`) or any
    /// executable with its arguments (ignored for the dealer).
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// An endpoint's place in a cluster file, for `crypten run` and `crypten ttp`; without a
/// file, the environment (RANK, WORLD_SIZE, MASTER_*) or `--rank -n --master` place it.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct ClusterArgs {
    /// The cluster file (the same at every endpoint).
    #[arg(long, requires = "party")]
    pub cluster: Option<PathBuf>,
    /// This endpoint's name in the cluster file (a party's, or the dealer's).
    #[arg(long, requires = "cluster")]
    pub party: Option<String>,
    /// This endpoint's certificate (PEM), issued for its name by the cluster's CA.
    #[arg(long, requires = "cluster")]
    pub cert: Option<PathBuf>,
    /// This endpoint's private key (PEM).
    #[arg(long, requires = "cluster")]
    pub key: Option<PathBuf>,
}

impl ClusterArgs {
    /// Credentials from `--cert`/`--key`, both or neither, as absolute paths.
    fn credentials(&self) -> anyhow::Result<Option<crypten::Credentials>> {
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Ok(Some(crypten::Credentials {
                cert: absolute(cert)?,
                key: absolute(key)?,
            })),
            (None, None) => Ok(None),
            _ => bail!("give both --cert and --key"),
        }
    }
}

/// The command that runs `program`: crypten's own subcommand when its first word names one,
/// otherwise that executable (a path, or a name looked up on `PATH`), like torchrun.
pub(crate) fn program(program: &[String]) -> anyhow::Result<Command> {
    let Some((first, rest)) = program.split_first() else {
        bail!("no program to run: give it after `--`, e.g. `-- demo` or `-- ./my_program`");
    };
    if crate::is_subcommand(first) {
        let exe = std::env::current_exe().context("cannot locate the crypten executable")?;
        let mut cmd = Command::new(exe);
        cmd.args(program);
        return Ok(cmd);
    }
    let mut cmd = Command::new(first);
    cmd.args(rest);
    Ok(cmd)
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("bad path {}", p.display()))
}

/// `crypten ttp`: the dealer, placed by a cluster file or by the environment.
pub(crate) fn ttp(args: &ClusterArgs) -> anyhow::Result<ExitCode> {
    match (&args.cluster, &args.party) {
        (Some(cluster), Some(name)) => {
            let endpoint = crypten::advanced::comm::Endpoint::from_cluster(
                cluster,
                name,
                args.credentials()?,
            )?;
            crypten::advanced::dealer::run_at(&endpoint, crypten::CommConfig::from_env()?)?;
        }
        _ => crypten::advanced::dealer::run_from_env()?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A preprocessing provider on the command line, by the names `ProviderKind::name` gives
/// (`ttp`, `tfp`), so that the names are defined in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProviderArg(pub ProviderKind);

impl ProviderArg {
    /// Whether the computation has a dealer process.
    pub(crate) fn has_dealer(self) -> bool {
        self.0.has_dealer()
    }
}

impl clap::ValueEnum for ProviderArg {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            Self(ProviderKind::TrustedThirdParty),
            Self(ProviderKind::InsecureTrustedFirstParty),
        ]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match self.0 {
            ProviderKind::TrustedThirdParty => "a trusted third party (a dealer process)",
            ProviderKind::InsecureTrustedFirstParty => "INSECURE: party 0 deals (tests only)",
        };
        Some(clap::builder::PossibleValue::new(self.0.name()).help(help))
    }
}

/// A truncation on the command line, by the names `Truncation::name` gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct TruncationArg(pub Truncation);

impl clap::ValueEnum for TruncationArg {
    fn value_variants<'a>() -> &'a [Self] {
        &[Self(Truncation::Exact), Self(Truncation::Local)]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match self.0 {
            Truncation::Exact => "exact, dealer-assisted, deferred to the next opening",
            Truncation::Local => {
                "2 parties: local shifts, no round, fails with a small probability"
            }
        };
        Some(clap::builder::PossibleValue::new(self.0.name()).help(help))
    }
}

/// One process to start: its label, rank and arguments.
struct Spec {
    label: String,
    rank: usize,
    args: Vec<String>,
}

/// Starts the processes and relays their output; fails when any of them fails.
pub(crate) fn launch(args: &LaunchArgs) -> anyhow::Result<ExitCode> {
    if !(2..=64).contains(&args.parties) {
        bail!("--parties must be between 2 and 64, got {}", args.parties);
    }
    ensure!(
        args.timeout.is_finite() && (0.0..=86_400.0).contains(&args.timeout),
        "--timeout must be a number of seconds from 0 to 86400, got {}",
        args.timeout
    );
    let with_ttp = args.provider.has_dealer();
    // Rank 0 binds a free port itself and announces it in this file; the others start once it
    // has, so no other process can take the port in between.
    static LAUNCHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let launch_id = LAUNCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // In a directory of its own, readable by this user only: no other local user can plant a
    // port (or a link) there.
    let private =
        std::env::temp_dir().join(format!("crypten-launch-{}-{launch_id}", std::process::id()));
    let _ = std::fs::remove_dir_all(&private);
    let mut dir = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        dir.mode(0o700);
    }
    dir.create(&private)
        .with_context(|| format!("cannot create {}", private.display()))?;
    let announce = private.join("master.port");
    let mut port = "0".to_string();
    let mut specs: Vec<Spec> = (0..args.parties)
        .map(|rank| Spec {
            label: format!("party {rank}"),
            rank,
            args: args.command.clone(),
        })
        .collect();
    if with_ttp {
        specs.push(Spec {
            label: "ttp".into(),
            rank: args.parties,
            args: vec!["ttp".into()],
        });
    }
    let threads = threads_per_process(specs.len());
    let mut children: Vec<(String, Child)> = Vec::new();
    let mut relays = Vec::new();
    // The write ends of the children's stdin: held, never written, closed by our exit.
    let mut lifelines = Vec::new();
    for spec in specs {
        if spec.rank == 1 {
            port = match wait_for_port(&announce, &mut children) {
                Ok(p) => p,
                Err(e) => {
                    for (_, child) in &mut children {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                    let _ = std::fs::remove_dir_all(&private);
                    return Err(e);
                }
            };
        }
        let mut cmd = program(&spec.args)?;
        if spec.rank == 0 {
            cmd.env("CRYPTEN_MASTER_PORT_FILE", &announce);
        }
        let mut child = cmd
            .env("RANK", spec.rank.to_string())
            .env("WORLD_SIZE", args.parties.to_string())
            .env("MASTER_ADDR", "127.0.0.1")
            .env("MASTER_PORT", &port)
            .env("CRYPTEN_PROVIDER", args.provider.0.name())
            .env("CRYPTEN_TRUNCATION", args.truncation.0.name())
            .env("CRYPTEN_LINK", args.link.as_deref().unwrap_or(""))
            .env("RAYON_NUM_THREADS", &threads)
            // The children exit when this pipe closes: when this launcher ends, however.
            .env(crypten::advanced::comm::LAUNCHER_PIPE_VAR, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", spec.label))?;
        if let Some(pipe) = child.stdin.take() {
            lifelines.push(pipe);
        }
        if let Some(out) = child.stdout.take() {
            relays.push(relay(out, spec.label.clone(), false));
        }
        if let Some(err) = child.stderr.take() {
            relays.push(relay(err, spec.label.clone(), true));
        }
        children.push((spec.label, child));
    }
    let failures = supervise(
        &mut children,
        Duration::from_secs_f64(args.timeout.max(0.0)),
    )?;
    let _ = std::fs::remove_dir_all(&private);
    drop(lifelines);
    for r in relays {
        let _ = r.join();
    }
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("crypten launch: failed: {}", failures.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

/// The worker threads each of `processes` processes on this machine gets: the user's
/// `RAYON_NUM_THREADS` if set, otherwise an equal share of the cores (at least one). More
/// threads than cores in all makes the parties preempt each other in the middle of their
/// kernels, and idle workers spinning in one party take the core another party computes on.
fn threads_per_process(processes: usize) -> String {
    std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| {
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        (cores / processes.max(1)).max(1).to_string()
    })
}

/// Copies a child's output line by line, prefixed by its label.
fn relay(
    stream: impl Read + Send + 'static,
    label: String,
    is_err: bool,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if is_err {
                let _ = writeln!(std::io::stderr().lock(), "[{label}] {line}");
            } else {
                let _ = writeln!(std::io::stdout().lock(), "[{label}] {line}");
            }
        }
    })
}

/// Waits for every child. Once one fails, the others get `grace` to finish (they should fail
/// on their own, naming the dead peer) before they are killed. Returns the failures.
fn supervise(children: &mut [(String, Child)], grace: Duration) -> anyhow::Result<Vec<String>> {
    let mut done: Vec<Option<String>> = vec![None; children.len()];
    let mut failures = Vec::new();
    let mut deadline: Option<Instant> = None;
    while done.iter().any(Option::is_none) {
        for (i, (label, child)) in children.iter_mut().enumerate() {
            if done[i].is_some() {
                continue;
            }
            if let Some(status) = child.try_wait()? {
                done[i] = Some(status.to_string());
                if !status.success() {
                    failures.push(format!("{label} ({status})"));
                    deadline.get_or_insert_with(|| Instant::now() + grace);
                }
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            for (i, (label, child)) in children.iter_mut().enumerate() {
                if done[i].is_none() {
                    let _ = child.kill();
                    let _ = child.wait();
                    failures.push(format!("{label} (killed after timeout)"));
                    done[i] = Some("killed".into());
                }
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
    Ok(failures)
}

/// `crypten run`: one process, placed by a cluster file or by a rank and a rendezvous
/// address; the program runs with the environment that places it.
pub(crate) fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    if let (Some(cluster), Some(name)) = (&args.place.cluster, &args.place.party) {
        return run_in_cluster(args, cluster, name);
    }
    let (Some(rank), Some(parties), Some(master)) = (args.rank, args.parties, &args.master) else {
        bail!("give --cluster and --party, or --rank, -n and --master");
    };
    ensure!(
        (1..crypten::advanced::comm::MAX_ENDPOINTS).contains(&parties),
        "-n must be between 1 and {}, got {parties}",
        crypten::advanced::comm::MAX_ENDPOINTS - 1
    );
    let with_ttp = args.provider.has_dealer();
    let (host, port) = master
        .rsplit_once(':')
        .with_context(|| format!("--master must be host:port, got `{master}`"))?;
    let is_dealer = with_ttp && rank == parties;
    if !is_dealer && rank >= parties {
        bail!("--rank {rank} is not a party of {parties} (the dealer is rank {parties} with ttp)");
    }
    let child_args = if is_dealer {
        vec!["ttp".to_string()]
    } else {
        args.command.clone()
    };
    let mut cmd = program(&child_args)?;
    cmd.env("RANK", rank.to_string())
        .env("WORLD_SIZE", parties.to_string())
        .env("MASTER_ADDR", host)
        .env("MASTER_PORT", port)
        .env("CRYPTEN_PROVIDER", args.provider.0.name());
    let status = run_tethered(cmd)?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `crypten run --cluster F --party NAME`: the dealer in this process, or the party's
/// program with `CRYPTEN_CLUSTER`, `CRYPTEN_PARTY`, `CRYPTEN_CERT`, `CRYPTEN_KEY` (and `RANK`,
/// `WORLD_SIZE` for programs that look for them).
fn run_in_cluster(args: &RunArgs, cluster_path: &Path, name: &str) -> anyhow::Result<ExitCode> {
    let cluster = crypten::advanced::comm::Cluster::load(cluster_path)?;
    let rank = cluster.rank_of(name)?;
    let credentials = args.place.credentials()?;
    ensure!(
        !cluster.tls() || credentials.is_some(),
        "{} asks for TLS: give `{name}`'s --cert and --key",
        cluster_path.display()
    );
    let parties = cluster.parties.len();
    if rank == parties {
        return ttp(&args.place);
    }
    let provider = if cluster.dealer.is_some() {
        args.provider
    } else {
        ProviderArg(ProviderKind::InsecureTrustedFirstParty)
    };
    let mut cmd = program(&args.command)?;
    cmd.env("CRYPTEN_CLUSTER", absolute(cluster_path)?)
        .env("CRYPTEN_PARTY", name)
        .env("RANK", rank.to_string())
        .env("WORLD_SIZE", parties.to_string())
        .env("CRYPTEN_PROVIDER", provider.0.name());
    if let Some(c) = &credentials {
        cmd.env("CRYPTEN_CERT", &c.cert).env("CRYPTEN_KEY", &c.key);
    }
    let status = run_tethered(cmd)?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs `cmd` to its end with its stdin a pipe this process holds, so that it exits when this
/// wrapper is gone (see [`crypten::advanced::comm::exit_with_launcher`]).
fn run_tethered(mut cmd: Command) -> anyhow::Result<std::process::ExitStatus> {
    let mut child = cmd
        .env(crypten::advanced::comm::LAUNCHER_PIPE_VAR, "1")
        .stdin(Stdio::piped())
        .spawn()
        .context("cannot start the party process")?;
    let lifeline = child.stdin.take();
    let status = child.wait().context("waiting for the party process")?;
    drop(lifeline);
    Ok(status)
}

/// A link shape as `--link` takes it, checked here so that a typo fails before any process.
pub(crate) fn parse_link(s: &str) -> Result<String, String> {
    crypten::advanced::comm::LinkShape::parse(s).map(|_| s.to_string())
}

/// Waits for rank 0 to announce its master port in `path`; fails if rank 0 exits first or
/// takes longer than 30 s.
fn wait_for_port(path: &Path, children: &mut [(String, Child)]) -> anyhow::Result<String> {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(port) = text.trim().parse::<u16>()
        {
            let _ = std::fs::remove_file(path);
            return Ok(port.to_string());
        }
        if let Some((label, child)) = children.first_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            bail!("{label} exited ({status}) before opening the master port");
        }
        if start.elapsed() > Duration::from_secs(30) {
            bail!("party 0 did not open the master port within 30 s (is it a crypten program?)");
        }
        thread::sleep(Duration::from_millis(5));
    }
}
