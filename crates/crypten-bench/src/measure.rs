//! Timing one operation at every party, and gathering the figures at party 0.

use crate::Result;
use crypten::Session;
use std::time::Instant;

/// The costs of one operation, gathered from every party.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// The slowest party's median time, in seconds.
    pub seconds: f64,
    /// The largest number of bytes one party wrote (parties' and dealer traffic, with headers).
    pub bytes_per_party: u64,
    /// The largest number of rounds one party spent.
    pub rounds: u64,
}

/// Waits until every party reaches this point (one empty message to each other party).
/// Waits until every party has reached this point (one round: an empty frame to every peer).
///
/// # Errors
/// Communication failures.
pub fn barrier(sess: &Session) -> Result<()> {
    let peers: Vec<usize> = sess.peers().collect();
    let sends = peers.iter().map(|&p| (p, Vec::new())).collect();
    sess.comm().exchange("bench.barrier", sends, &peers)?;
    Ok(())
}

/// Runs `op` once to warm up and `reps` times measured, each time after a barrier, and returns
/// the figures gathered from all parties (every party gets them).
///
/// # Errors
/// The op's own errors, or communication failures.
pub fn measure<T>(
    sess: &Session,
    reps: usize,
    mut op: impl FnMut() -> crypten::Result<T>,
) -> Result<Measurement> {
    barrier(sess)?;
    op()?;
    let mut times = Vec::with_capacity(reps.max(1));
    let mut traffic = (0, 0);
    for _ in 0..reps.max(1) {
        barrier(sess)?;
        let before = sess.stats();
        let start = Instant::now();
        op()?;
        times.push(start.elapsed().as_secs_f64());
        let d = sess.stats().since(&before);
        traffic = (d.bytes_sent, d.rounds);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    // Gather (time, bytes, rounds) from everyone: public benchmark metadata, no secrets.
    let mine = [median.to_bits(), traffic.0, traffic.1];
    let peers: Vec<usize> = sess.peers().collect();
    let sends: Vec<(usize, &[u64])> = peers.iter().map(|&p| (p, &mine[..])).collect();
    let recv_from: Vec<(usize, usize)> = peers.iter().map(|&p| (p, 3)).collect();
    let theirs = sess
        .comm()
        .exchange_u64("bench.gather", &sends, &recv_from)?;
    let mut m = Measurement {
        seconds: median,
        bytes_per_party: traffic.0,
        rounds: traffic.1,
    };
    for t in theirs {
        m.seconds = m.seconds.max(f64::from_bits(t[0]));
        m.bytes_per_party = m.bytes_per_party.max(t[1]);
        m.rounds = m.rounds.max(t[2]);
    }
    Ok(m)
}
