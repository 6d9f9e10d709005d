//! Preprocessing providers: where Beaver triples, square pairs, truncation masks and the binary
//! correlations (AND triples, bits and words in both sharings, bit-test masks) come from.
//!
//! Both providers are built on one dealer (`crypten_dealer::deal`): for every request, each party's randomness is
//! drawn from a PRG stream that party shares with the dealer, in a fixed order, and only the
//! parts that depend on everyone's randomness (the product `c` of a triple, say) are computed
//! from all streams and handed to party 0 as its share. So with a trusted third party, parties
//! 1..N-1 never talk to it after set-up, and party 0 receives one correction per request.

mod tfp;
mod ttp;

pub use crypten_dealer::Request;
pub use tfp::InsecureTrustedFirstParty;
pub use ttp::TrustedThirdParty;

use crate::Result;
use crypten_comm::Communicator;
use crypten_core::RingTensor;

/// Preprocessing material for one request, possibly still awaiting party 0's correction.
///
/// `parts` holds what is available now, in the order the request defines (for a triple:
/// `a, b` and, except for party 0, `c`). [`Provider::finish`] completes it.
pub struct Pending {
    pub(crate) request: Request,
    /// The parts available now.
    pub parts: Vec<RingTensor>,
    pub(crate) awaiting: bool,
    /// The request's position among this party's requests to a third party (0 otherwise).
    pub(crate) seq: u64,
    /// Party 0 under a first party: every other party's draws, from which `finish` computes
    /// party 0's dependent parts (empty otherwise).
    pub(crate) others: Vec<Vec<RingTensor>>,
}

/// A source of correlated randomness for the parties' protocols.
///
/// # Design
/// Two-phase so a dealer's latency hides behind the parties' own round: `begin` is called
/// before the protocol's opening (a third party's request leaves then) and must return the
/// parts that do not depend on the other parties' randomness; `finish`, called once this
/// party's share of the opening has been sent (before or after the peers' shares arrive),
/// returns all parts. Every party calls `begin` for every request, in the same order
/// (it fixes the order of the PRG draws); `finish` may come in any order, so a protocol can
/// prefetch material for a later step while it runs other requests in between.
/// [`InsecureTrustedFirstParty`] is the trivially correct implementation (no communication);
/// [`TrustedThirdParty`] the deployable one.
pub trait Provider: Send + Sync {
    /// Short name for logs and errors.
    fn name(&self) -> &'static str;

    /// Starts serving `request`.
    ///
    /// # Errors
    /// Shape errors, or failure to reach the dealer.
    fn begin(&self, comm: &dyn Communicator, request: Request) -> Result<Pending>;

    /// Completes a pending request: returns every part, in order.
    ///
    /// # Errors
    /// The dealer died, timed out or sent a correction of the wrong size.
    fn finish(&self, comm: &dyn Communicator, pending: Pending) -> Result<Vec<RingTensor>>;

    /// Tells the dealer that the session is over (no-op without one).
    ///
    /// # Errors
    /// Failure to reach the dealer.
    fn shutdown(&self, _comm: &dyn Communicator) -> Result<()> {
        Ok(())
    }
}
