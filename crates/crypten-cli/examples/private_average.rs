//! A party program built on the library: each party holds one private salary (in thousands);
//! together they learn the average and how many earn more than it, and nothing else.
//!
//! ```sh
//! cargo build --release -p crypten-cli --example private_average
//! cargo run --release -p crypten-cli -- launch -n 3 -- target/release/examples/private_average
//! ```
//!
//! `crypten launch` (one machine) or `crypten run` (one party per machine, placed by a cluster
//! file) start it with the environment `crypten::init_from_env` reads.

use crypten::ndarray::{ArrayD, IxDyn};
use crypten::{CrypTensor, Result};

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let sess = crypten::init_from_env()?;
    let (rank, parties) = (sess.rank(), sess.parties());
    // This party's private input (a stand-in for a value read from its own records).
    let mine = 30.0 + 11.5 * rank as f64 + if rank % 2 == 1 { 4.0 } else { 0.0 };
    println!("party {rank} of {parties}: my salary stays private");
    // Every party shares its value; the others pass zeros of the same shape.
    let shares = (0..parties)
        .map(|owner| {
            let value = if owner == rank { mine } else { 0.0 };
            CrypTensor::from_array(&sess, &ArrayD::from_elem(IxDyn(&[1]), value), owner)
        })
        .collect::<Result<Vec<_>>>()?;
    let salaries = CrypTensor::cat(&shares.iter().collect::<Vec<_>>(), 0)?;
    let total = salaries.sum(&[0], false)?;
    let average = total.mul_scalar(1.0 / parties as f64)?;
    // How many earn more than the average: a private comparison, then a sum.
    let above = salaries
        .sub(&average.expand(&[parties])?)?
        .gt_scalar(0.0)?
        .sum(&[0], false)?;
    let average = average.get_plain_text()?.sum();
    let above = above.get_plain_text()?.sum().round();
    println!("average {average:.2}; {above} of {parties} earn more");
    sess.close()?;
    Ok(())
}
