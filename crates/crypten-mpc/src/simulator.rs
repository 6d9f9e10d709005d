//! The in-process simulator: a multi-party program run as threads over the in-memory
//! communicator, each party with its own session. The helper every
//! multi-party test (and the single-process simulation) goes through.

use crate::{Config, ProviderKind, Result, Session};
use crypten_comm::MemoryComm;
use crypten_dealer::run_ttp_seeded;

/// Runs `program` as `parties` parties on threads, each with its own session over the
/// in-memory communicator, with the provider and limits of `config` (a dealer thread is added
/// for a trusted third party). Returns each party's result, in rank order.
///
/// # Errors
/// The first party error in rank order (a party failing makes its peers fail too, with an
/// error naming it), or the dealer's error if no party failed.
pub fn run_with<T, F>(parties: usize, config: Config, program: F) -> Result<Vec<T>>
where
    T: Send,
    F: Fn(Session) -> Result<T> + Send + Sync,
{
    let with_dealer = config.provider.has_dealer();
    let mut comms = MemoryComm::create(config.provider.endpoints(parties), config.comm.clone());
    let dealer_comm = if with_dealer { comms.pop() } else { None };
    let program = &program;
    std::thread::scope(|scope| {
        let seed = config.seed;
        let dealer = dealer_comm
            .map(|comm| scope.spawn(move || run_ttp_seeded(&comm, parties, seed.as_ref())));
        let handles: Vec<_> = comms
            .into_iter()
            .map(|comm| {
                let config = config.clone();
                scope.spawn(move || -> Result<T> {
                    let sess = Session::new(Box::new(comm), parties, config)?;
                    let out = program(sess.clone())?;
                    sess.close()?;
                    Ok(out)
                })
            })
            .collect();
        let results: Vec<Result<T>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        let dealer_result = dealer
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .unwrap_or(Ok(()));
        let outputs = results.into_iter().collect::<Result<Vec<T>>>()?;
        dealer_result?;
        Ok(outputs)
    })
}

/// [`run_with`] with the default configuration and the given provider.
///
/// # Errors
/// See [`run_with`].
pub fn run<T, F>(parties: usize, provider: ProviderKind, program: F) -> Result<Vec<T>>
where
    T: Send,
    F: Fn(Session) -> Result<T> + Send + Sync,
{
    run_with(
        parties,
        Config {
            provider,
            ..Config::default()
        },
        program,
    )
}
