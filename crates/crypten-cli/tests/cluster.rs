//! Deployment from a cluster file, as separate processes on loopback: `crypten certs` makes a
//! development CA and the endpoints' certificates, and every party and the dealer start with
//! `crypten run --cluster ... --party NAME --cert --key` over TLS with mutual authentication.
//! The demo's results equal a plain-TCP run's; a model benchmark and a program built on the
//! library run the same way; missing or wrong credentials are refused before anything moves.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PARTIES: [&str; 3] = ["alice", "bob", "carol"];

fn crypten() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crypten"));
    c.env("CRYPTEN_RECV_TIMEOUT", "30");
    c
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crypten-cluster-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A cluster file of the three parties and a dealer on free loopback ports, with the CA at
/// `certs/ca.pem` beside it; and the certificates, from `crypten certs`.
fn cluster(dir: &Path, tls: bool) -> PathBuf {
    let ports: Vec<u16> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect::<Vec<_>>()
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let mut file = String::new();
    if tls {
        file.push_str("ca = \"certs/ca.pem\"\n");
    }
    for (name, port) in PARTIES.iter().zip(&ports) {
        file.push_str(&format!(
            "[[party]]\nname = \"{name}\"\naddress = \"127.0.0.1:{port}\"\n"
        ));
    }
    file.push_str(&format!(
        "[dealer]\nname = \"dealer\"\naddress = \"127.0.0.1:{}\"\n[timeouts]\nconnect = 20\n",
        ports[3]
    ));
    let path = dir.join("cluster.toml");
    std::fs::write(&path, file).unwrap();
    let out = crypten()
        .args(["certs", "--cluster"])
        .arg(&path)
        .arg("--out")
        .arg(dir.join("certs"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    path
}

/// Starts every endpoint of the cluster running `program` (the dealer runs itself).
fn start(dir: &Path, cluster: &Path, program: &[&str]) -> Vec<(String, Child)> {
    let certs = dir.join("certs");
    PARTIES
        .iter()
        .chain(&["dealer"])
        .map(|name| {
            let mut c = crypten();
            c.arg("run")
                .arg("--cluster")
                .arg(cluster)
                .args(["--party", name, "--cert"])
                .arg(certs.join(format!("{name}.pem")))
                .arg("--key")
                .arg(certs.join(format!("{name}.key")));
            if *name != "dealer" {
                c.arg("--").args(program);
            }
            let child = c
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (name.to_string(), child)
        })
        .collect()
}

/// Waits for every process; all must succeed. Returns each one's stdout.
fn finish(children: Vec<(String, Child)>) -> Vec<(String, String)> {
    children
        .into_iter()
        .map(|(name, child)| {
            let out = child.wait_with_output().unwrap();
            let (stdout, stderr) = text(&out);
            assert!(
                out.status.success(),
                "{name} failed:\nstdout:\n{stdout}\nstderr:\n{stderr}"
            );
            (name, stdout)
        })
        .collect()
}

fn revealed(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| {
            if l.starts_with("[party ") {
                l.split_once("] ").map_or(l, |(_, rest)| rest)
            } else {
                l
            }
        })
        .filter(|l| l.starts_with("revealed"))
        .map(str::to_string)
        .collect()
}

#[test]
fn three_parties_and_a_dealer_over_tls_match_plain_tcp() {
    let dir = workdir("demo");
    let cluster = cluster(&dir, true);
    let outputs = finish(start(&dir, &cluster, &["demo"]));
    let alice = &outputs[0].1;
    let over_tls = revealed(alice);
    assert!(!over_tls.is_empty(), "{alice}");
    // The same demo launched on one machine over plain TCP reveals the same results.
    let plain = crypten()
        .args(["launch", "-n", "3", "--", "demo"])
        .output()
        .unwrap();
    assert!(plain.status.success());
    let plain_lines: Vec<String> = revealed(
        &text(&plain)
            .0
            .lines()
            .filter(|l| l.starts_with("[party 0]"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    assert_eq!(over_tls, plain_lines);

    // A model benchmark, and a program built on the library, the same way.
    let outputs = finish(start(
        &dir,
        &cluster,
        &["bench", "models", "--reps", "1", "--only", "mlp_infer_b64"],
    ));
    assert!(outputs[0].1.contains("mlp_infer_b64"), "{}", outputs[0].1);
    let example = Path::new(env!("CARGO_BIN_EXE_crypten"))
        .parent()
        .unwrap()
        .join("examples/private_average");
    if example.exists() {
        let example = example.display().to_string();
        let outputs = finish(start(&dir, &cluster, &[example.as_str()]));
        for (name, stdout) in &outputs[..3] {
            assert!(
                stdout.contains("average 42.83; 2 of 3 earn more"),
                "{name}: {stdout}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn any_program_runs_under_crypten_launch() {
    let example = Path::new(env!("CARGO_BIN_EXE_crypten"))
        .parent()
        .unwrap()
        .join("examples/private_average");
    assert!(
        example.exists(),
        "cargo test builds the crate's examples: {} is missing",
        example.display()
    );
    let out = crypten()
        .args(["launch", "-n", "3", "--"])
        .arg(&example)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout.matches("average 42.83; 2 of 3 earn more").count(),
        3,
        "{stdout}"
    );
    // A name that is neither a subcommand nor an executable: a clear error.
    let out = crypten()
        .args(["launch", "-n", "2", "--", "no-such-program-here"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("cannot start party 0"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn missing_or_wrong_credentials_are_refused_before_anything_moves() {
    let dir = workdir("refusals");
    let cluster = cluster(&dir, true);
    let certs = dir.join("certs");
    let started = Instant::now();
    // No certificate for a cluster that asks for TLS.
    let out = crypten()
        .arg("run")
        .arg("--cluster")
        .arg(&cluster)
        .args(["--party", "bob", "--", "demo"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).1.contains("asks for TLS"), "{:?}", text(&out));
    // Alice's certificate presented as bob.
    let out = crypten()
        .arg("run")
        .arg("--cluster")
        .arg(&cluster)
        .args(["--party", "bob", "--cert"])
        .arg(certs.join("alice.pem"))
        .arg("--key")
        .arg(certs.join("alice.key"))
        .args(["--", "demo"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("not issued for `bob`"),
        "{:?}",
        text(&out)
    );
    // A name the file does not have.
    let out = crypten()
        .arg("run")
        .arg("--cluster")
        .arg(&cluster)
        .args(["--party", "mallory", "--", "demo"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("no endpoint is called `mallory`"),
        "{:?}",
        text(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| {
                let e = e.ok()?;
                let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                String::from_utf8_lossy(&cmdline)
                    .contains(marker)
                    .then_some(pid)
            })
            .collect()
        })
        .unwrap_or_default()
}

/// Waits up to `limit` for no process to hold `marker`.
fn gone_within(marker: &str, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if processes_with(marker).is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[cfg(target_os = "linux")]
#[test]
fn killing_the_launcher_or_the_run_wrapper_leaves_no_process_behind() {
    use std::io::{BufRead, BufReader};
    // `crypten launch` killed (SIGKILL) in the middle of a long run.
    // A step count unique to this run marks its processes.
    let steps = (900_000_000 + std::process::id()).to_string();
    let steps = steps.as_str();
    let mut launcher = crypten()
        .args([
            "launch", "-n", "3", "--", "probe", "--fault", "none", "--steps", steps,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(launcher.stdout.take().unwrap()).lines();
    let mut running = 0;
    while running < 3 {
        let line = lines.next().expect("a line").unwrap();
        running += usize::from(line.contains("probe: running"));
    }
    // The launcher and its three parties.
    let seen = processes_with(steps).len();
    launcher.kill().unwrap();
    assert_eq!(seen, 4, "the launcher and three parties run");
    let _ = launcher.wait();
    drop(lines);
    assert!(
        gone_within(steps, Duration::from_secs(5)),
        "parties left behind: {:?}",
        processes_with(steps)
    );

    // `crypten run` killed while its party waits for the others.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let steps = (800_000_000 + std::process::id()).to_string();
    let steps = steps.as_str();
    let mut wrapper = crypten()
        .args(["run", "--rank", "1", "-n", "2", "--master"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--", "probe", "--fault", "none", "--steps", steps])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while processes_with(steps).len() < 2 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    wrapper.kill().unwrap();
    let _ = wrapper.wait();
    assert!(
        gone_within(steps, Duration::from_secs(5)),
        "the party outlived its wrapper: {:?}",
        processes_with(steps)
    );
}

#[test]
fn a_busy_party_is_waited_for_and_a_stopped_one_is_named() {
    // Busy on local work for twice the receive timeout: its keepalives keep the others waiting.
    let out = crypten()
        .env("CRYPTEN_RECV_TIMEOUT", "1.5")
        .args([
            "launch",
            "-n",
            "3",
            "--",
            "probe",
            "--fault",
            "busy",
            "--busy-seconds",
            "3",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.matches("probe finished").count(), 3, "{stdout}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_stopped_party_fails_the_run_within_the_timeout_naming_it() {
    use std::io::{BufRead, BufReader};
    let steps = (700_000_000 + std::process::id()).to_string();
    let mut launcher = crypten()
        .env("CRYPTEN_RECV_TIMEOUT", "2")
        .args([
            "launch",
            "-n",
            "3",
            "--timeout",
            "1",
            "--",
            "probe",
            "--fault",
            "none",
        ])
        .args(["--steps", &steps])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(launcher.stdout.take().unwrap()).lines();
    let mut running = 0;
    while running < 3 {
        running += usize::from(lines.next().unwrap().unwrap().contains("probe: running"));
    }
    // Stop party 1 (SIGSTOP): alive, but silent.
    let party1 = processes_with(&steps)
        .into_iter()
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == b"RANK=1"))
        })
        .expect("party 1");
    let stopped = Command::new("kill")
        .args(["-STOP", &party1.to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let stopped_at = Instant::now();
    let status = launcher.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut launcher.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stopped_at.elapsed() < Duration::from_secs(2 + 5),
        "took {:?} after the stop",
        stopped_at.elapsed()
    );
    assert!(stderr.contains("party 1"), "{stderr}");
    assert!(gone_within(&steps, Duration::from_secs(5)));
}
