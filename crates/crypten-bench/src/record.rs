//! Benchmark records: the JSON format and the table on stdout.

use crate::{Error, Result};
use serde::Serialize;

/// One benchmark result.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// The op's name (`mul`, `matmul`, ...).
    pub op: String,
    /// Number of computing parties.
    pub parties: usize,
    /// The preprocessing provider (`ttp` or `tfp`).
    pub provider: String,
    /// The input shape.
    pub shape: Vec<usize>,
    /// Median seconds of the slowest party.
    pub seconds: f64,
    /// Bytes one party writes to the wire (payload and frame headers, no TCP/IP headers);
    /// the largest over parties.
    pub bytes_per_party: u64,
    /// Communication rounds (the largest over parties).
    pub rounds: u64,
    /// Seconds for the same op in plaintext f64 on one party, for comparison.
    pub plain_seconds: f64,
    /// What exactly was measured.
    pub note: String,
}

impl Record {
    /// A record of `m` for `op` on input `shape` in this session, next to the plaintext time.
    pub fn new(
        sess: &crypten::Session,
        op: &str,
        shape: &[usize],
        m: &crate::Measurement,
        plain_seconds: f64,
        note: impl Into<String>,
    ) -> Self {
        Self {
            op: op.into(),
            parties: sess.parties(),
            provider: sess.config().provider.name().to_string(),
            shape: shape.to_vec(),
            seconds: m.seconds,
            bytes_per_party: m.bytes_per_party,
            rounds: m.rounds,
            plain_seconds,
            note: note.into(),
        }
    }
}

/// Prints records as an aligned table.
pub fn print_table(records: &[Record]) {
    println!(
        "{:<12} {:>3} {:<4} {:<18} {:>12} {:>14} {:>7} {:>12}",
        "op", "N", "prov", "shape", "time", "bytes/party", "rounds", "plaintext"
    );
    for r in records {
        println!(
            "{:<12} {:>3} {:<4} {:<18} {:>12} {:>14} {:>7} {:>12}",
            r.op,
            r.parties,
            r.provider,
            format!("{:?}", r.shape),
            human_seconds(r.seconds),
            human_bytes(r.bytes_per_party),
            r.rounds,
            human_seconds(r.plain_seconds)
        );
    }
}

/// Writes records as a JSON array.
///
/// # Errors
/// The file cannot be written.
pub fn write_json(path: &str, records: &[Record]) -> Result<()> {
    let text = serde_json::to_string_pretty(records).map_err(|e| Error::Write {
        path: path.into(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(path, text).map_err(|source| Error::Write {
        path: path.into(),
        source,
    })
}

fn human_seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} us", s * 1e6)
    }
}

fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= (1 << 20) as f64 {
        format!("{:.2} MiB", b / (1 << 20) as f64)
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b} B")
    }
}
