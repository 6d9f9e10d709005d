//! Hidden fault-injection programs used by the end-to-end tests: a party that dies or runs a
//! different operation in the middle of a protocol, or a long run of products for a test to
//! kill a process in.

use crate::party::with_session;
use crypten::CrypTensor;
use crypten::ndarray::{ArrayD, IxDyn};
use std::io::Write;
use std::process::ExitCode;

/// What goes wrong.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub(crate) enum Fault {
    /// Nothing: all parties finish.
    None,
    /// The culprit exits abruptly in the middle of the run.
    Die,
    /// The culprit runs a different operation than the others.
    Diverge,
    /// The culprit computes locally (sleeps) for `--busy-seconds`, then goes on.
    Busy,
}

/// Arguments of `crypten probe`.
#[derive(clap::Args, Debug)]
pub(crate) struct ProbeArgs {
    /// The fault to inject.
    #[arg(long, value_enum)]
    pub fault: Fault,
    /// The party that misbehaves.
    #[arg(long, default_value_t = 1)]
    pub culprit: usize,
    /// Products to run (the fault strikes at the fifth).
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// How long a busy culprit works locally.
    #[arg(long, default_value_t = 2.0)]
    pub busy_seconds: f64,
}

pub(crate) fn probe(args: &ProbeArgs) -> anyhow::Result<ExitCode> {
    with_session(|sess| {
        let shape = [1000];
        let x = CrypTensor::from_array(sess, &ArrayD::from_elem(IxDyn(&shape), 1.5), 0)?;
        let y = CrypTensor::from_array(sess, &ArrayD::from_elem(IxDyn(&shape), 0.5), 1)?;
        let culprit = sess.rank() == args.culprit;
        // Tells a test that kills processes that the computation is under way.
        println!("probe: running");
        std::io::stdout().flush()?;
        let mut acc = x.clone();
        for step in 0..args.steps {
            if step == 5 && culprit {
                match args.fault {
                    Fault::Die => {
                        eprintln!("probe: party {} exits abruptly at step {step}", sess.rank());
                        std::process::exit(3);
                    }
                    Fault::Diverge => {
                        acc = acc.square()?;
                        continue;
                    }
                    Fault::Busy => {
                        let secs = args.busy_seconds.clamp(0.0, 3600.0);
                        std::thread::sleep(std::time::Duration::from_secs_f64(secs));
                    }
                    Fault::None => {}
                }
            }
            acc = acc.mul(&y)?.add(&x)?;
        }
        let v = acc.get_plain_text()?;
        println!("probe finished: {:.4}", v[[0]]);
        Ok(ExitCode::SUCCESS)
    })
}
