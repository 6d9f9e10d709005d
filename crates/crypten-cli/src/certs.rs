//! `crypten certs`: a development CA and one certificate and key per endpoint of a cluster
//! file, to try TLS out. In production each organisation's own PKI issues them: what crypten
//! checks is that every certificate chains to the cluster's CA and carries its endpoint's name.

use anyhow::{Context, ensure};
use crypten::advanced::comm::Cluster;
use crypten::advanced::comm::devcerts::DevCa;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `crypten certs`.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct CertsArgs {
    /// The cluster file whose endpoints get certificates.
    #[arg(long)]
    pub cluster: PathBuf,
    /// The directory for ca.pem, NAME.pem and NAME.key (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// Days the endpoint certificates stay valid.
    #[arg(long, default_value_t = 30)]
    pub days: u64,
}

/// Writes `bytes` to a new file readable by its owner only (private keys).
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Generates and writes the files; prints what it wrote.
pub(crate) fn certs(args: &CertsArgs) -> anyhow::Result<()> {
    ensure!(
        (1..=3650).contains(&args.days),
        "--days must be between 1 and 3650"
    );
    let cluster = Cluster::load(&args.cluster)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let ca = DevCa::generate("crypten development CA")?;
    let ca_path = args.out.join("ca.pem");
    std::fs::write(&ca_path, ca.cert_pem())
        .with_context(|| format!("cannot write {}", ca_path.display()))?;
    println!("{}", ca_path.display());
    for member in cluster.members() {
        let issued = ca.issue(&member.name, args.days)?;
        let cert = args.out.join(format!("{}.pem", member.name));
        let key = args.out.join(format!("{}.key", member.name));
        std::fs::write(&cert, &issued.cert_pem)
            .with_context(|| format!("cannot write {}", cert.display()))?;
        write_private(&key, issued.key_pem.as_bytes())?;
        println!("{} {}", cert.display(), key.display());
    }
    let same = |a: &Path, b: &Path| {
        std::fs::canonicalize(a)
            .ok()
            .is_some_and(|a| std::fs::canonicalize(b).ok() == Some(a))
    };
    if !cluster.ca.as_deref().is_some_and(|ca| same(ca, &ca_path)) {
        eprintln!(
            "note: the cluster file's `ca` should name {} for these certificates",
            ca_path.display()
        );
    }
    Ok(())
}
