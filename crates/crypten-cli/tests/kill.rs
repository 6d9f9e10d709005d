//! Randomized kill runs: parties (and the dealer) as separate processes over loopback TCP, one
//! of them killed with SIGKILL at a random moment of a long computation. Every survivor must
//! exit with an error that names the killed process, within the receive timeout.
//!
//! The number of runs and the seed come from `CRYPTEN_KILL_RUNS` (default 12) and
//! `CRYPTEN_KILL_SEED` (default: the clock; printed, so that a failing run can be replayed).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The survivors' receive timeout; they must all be gone within it after the kill.
const RECV_TIMEOUT: Duration = Duration::from_secs(10);

/// splitmix64: enough randomness to pick cases, reproducible from a printed seed.
struct Picker(u64);

impl Picker {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One process of a run, with its output gathered by threads. Killed when dropped, so that a
/// failing test leaves no long computation behind.
struct Proc {
    rank: usize,
    child: Child,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(
    rank: usize,
    parties: usize,
    port: u16,
    provider: &str,
    args: &[&str],
    running: &mpsc::Sender<usize>,
) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crypten"))
        .args(args)
        .env("RANK", rank.to_string())
        .env("WORLD_SIZE", parties.to_string())
        .env("MASTER_ADDR", "127.0.0.1")
        .env("MASTER_PORT", port.to_string())
        .env("CRYPTEN_PROVIDER", provider)
        .env("CRYPTEN_RECV_TIMEOUT", RECV_TIMEOUT.as_secs().to_string())
        .env("RAYON_NUM_THREADS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = running.clone();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("probe: running") {
                let _ = running.send(rank);
            }
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let stderr = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    Proc {
        rank,
        child,
        stderr: Some(stderr),
    }
}

/// Waits for `child` until `deadline`; `None` if it is still running then.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<std::process::ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// One run: `parties` parties (plus a dealer with `ttp`), `victim` killed `delay` after every
/// party has started computing. Returns a description of what went wrong, if anything.
fn kill_run(parties: usize, ttp: bool, victim: usize, delay: Duration) -> Result<(), String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let provider = if ttp { "ttp" } else { "tfp" };
    let (running_tx, running_rx) = mpsc::channel();
    let mut procs: Vec<Proc> = (0..parties)
        .map(|rank| {
            let args = ["probe", "--fault", "none", "--steps", "1000000"];
            spawn(rank, parties, port, provider, &args, &running_tx)
        })
        .collect();
    if ttp {
        procs.push(spawn(
            parties,
            parties,
            port,
            provider,
            &["ttp"],
            &running_tx,
        ));
    }
    let started = Instant::now();
    let mut ready = 0;
    while ready < parties && started.elapsed() < Duration::from_secs(30) {
        match running_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(_) => ready += 1,
            // A process that died before computing (a lost port race, say) ends the wait.
            Err(_)
                if procs
                    .iter_mut()
                    .any(|p| p.child.try_wait().ok().flatten().is_some()) =>
            {
                break;
            }
            Err(_) => {}
        }
    }
    if ready < parties {
        return Err(format!(
            "only {ready} of {parties} parties started within {:?}",
            started.elapsed()
        ));
    }
    thread::sleep(delay);
    // The kill must strike a live computation: nobody may have finished or failed yet.
    for p in &mut procs {
        if p.child.try_wait().ok().flatten().is_some() {
            return Err(format!("rank {} exited before the kill", p.rank));
        }
    }
    procs[victim].child.kill().unwrap();
    let killed = Instant::now();
    let status = procs[victim].child.wait().unwrap();
    if status.signal() != Some(9) {
        return Err(format!("rank {victim} was not killed by SIGKILL: {status}"));
    }
    check_survivors(&mut procs, victim, killed)
}

fn check_survivors(procs: &mut [Proc], victim: usize, killed: Instant) -> Result<(), String> {
    let named = format!("party {victim} closed the connection");
    let mut problems = Vec::new();
    for p in procs.iter_mut().filter(|p| p.rank != victim) {
        let rank = p.rank;
        let Some(status) = wait_until(&mut p.child, killed + RECV_TIMEOUT) else {
            problems.push(format!(
                "rank {rank} still running {RECV_TIMEOUT:?} after the kill"
            ));
            continue;
        };
        let stderr = p
            .stderr
            .take()
            .map(|t| t.join().unwrap())
            .unwrap_or_default();
        let error = stderr.lines().find(|l| l.starts_with("error:"));
        if status.success() {
            problems.push(format!("rank {rank} succeeded after the kill"));
        } else if !error.is_some_and(|l| l.contains(&named)) {
            problems.push(format!(
                "rank {rank} did not name party {victim}:\n{stderr}"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn every_survivor_names_the_killed_process() {
    let runs: usize = std::env::var("CRYPTEN_KILL_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let seed: u64 = std::env::var("CRYPTEN_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("CRYPTEN_KILL_SEED={seed} CRYPTEN_KILL_RUNS={runs}");
    let mut pick = Picker(seed);
    let mut failures = Vec::new();
    for run in 0..runs {
        // 2 to 5 parties, with and without the dealer; any process, the dealer included.
        let parties = 2 + pick.below(4) as usize;
        let ttp = pick.below(2) == 0;
        let victim = pick.below((parties + usize::from(ttp)) as u64) as usize;
        let delay = Duration::from_millis(pick.below(300));
        let case = format!(
            "run {run}: {parties} parties, {}, rank {victim} killed after {delay:?}",
            if ttp { "dealer" } else { "no dealer" }
        );
        match kill_run(parties, ttp, victim, delay) {
            Ok(()) => println!("{case}: ok"),
            Err(why) => {
                println!("{case}: FAILED");
                failures.push(format!("{case}:\n{why}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed (CRYPTEN_KILL_SEED={seed}):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
