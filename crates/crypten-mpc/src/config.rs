//! Session configuration: data, validated before anything runs.

use crate::functions::FunctionConfig;
use crate::{Error, Result};
use crypten_comm::CommConfig;
use crypten_core::{FixedPointEncoder, Seed};
use serde::{Deserialize, Serialize};

/// Where Beaver triples and other correlated randomness come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProviderKind {
    /// A trusted third party: its own process (the last rank) that shares a PRG seed with each
    /// party and sends party 0 the one correction that depends on the others' randomness.
    TrustedThirdParty,
    /// INSECURE, for tests and demos: every party derives all the preprocessing from one seed
    /// chosen by party 0, so party 0 could reconstruct everything.
    InsecureTrustedFirstParty,
}

impl ProviderKind {
    /// Short name used in logs, bench records and the command line (`ttp` / `tfp`).
    pub fn name(self) -> &'static str {
        match self {
            Self::TrustedThirdParty => "ttp",
            Self::InsecureTrustedFirstParty => "tfp",
        }
    }

    /// Whether the provider is a dealer process: one more endpoint, after the parties.
    pub fn has_dealer(self) -> bool {
        self == Self::TrustedThirdParty
    }

    /// The communicator's endpoints for `parties` computing parties: the parties, plus the
    /// dealer when there is one.
    pub fn endpoints(self, parties: usize) -> usize {
        parties + usize::from(self.has_dealer())
    }

    /// Parses `ttp` or `tfp`.
    ///
    /// # Errors
    /// `Config` for any other string.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "ttp" => Ok(Self::TrustedThirdParty),
            "tfp" => Ok(Self::InsecureTrustedFirstParty),
            other => Err(Error::Config(format!(
                "unknown provider `{other}` (use ttp or tfp)"
            ))),
        }
    }
}

/// How products of fixed-point values are brought back to the session's scale with 2 parties
/// (with 1 party a truncation is always the exact shift of the one share; with 3+ it is
/// always the exact dealer-assisted one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Truncation {
    /// Exact (default): the dealer-assisted truncation of 3+ parties, deferred to ride on the
    /// value's next opening wherever it can (see `protocol::deferred`). It never fails for
    /// values below `2^62` at twice the scale.
    #[default]
    Exact,
    /// OPT-IN, probabilistic: each party shifts its own share, no round and no dealer. Per
    /// element it returns garbage (off by about `2^(64-f)`) with probability `|x| / 2^63`,
    /// where `x` is the product at twice the scale: `|v| 2^(2f) / 2^63` for a real product
    /// `v`. With `f = 16` that is `2^-31` for `|v| = 1`, `2^-21` for `|v| = 1000` and
    /// `2^-14.6` for `|v| = 10^5`; a ResNet-18 inference truncates about `10^7` values.
    Local,
}

/// Whether each operation's result is checked against plaintext (a debugging tool).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Validation {
    /// No checks (default).
    #[default]
    Off,
    /// DEBUGGING ONLY, REVEALS DATA: after each checked operation (products, sums, public
    /// scalings and the non-linear functions) every party reveals its inputs and its result,
    /// recomputes the operation in f64, and fails with `Error::Validation` naming the first
    /// operation whose result is outside the fixed-point range or off its plaintext value by
    /// more than `1e-3 + 1e-2 |want|`: the silent overflows and failures of fixed point,
    /// found where they happen. Every value involved becomes known to every party, and each
    /// check costs rounds of its own. Never use it on private data.
    RevealAndCheck,
}

impl Truncation {
    /// Short name used on the command line, in the environment and in bench records
    /// (`exact` / `local`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Local => "local",
        }
    }

    /// Parses `exact` or `local`.
    ///
    /// # Errors
    /// `Config` for any other string.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "exact" => Ok(Self::Exact),
            "local" => Ok(Self::Local),
            other => Err(Error::Config(format!(
                "unknown truncation `{other}` (use exact or local)"
            ))),
        }
    }
}

/// Configuration of a session, shared by all parties (they must agree on it).
#[derive(Clone, Debug)]
pub struct Config {
    /// Fractional bits of the fixed-point encoding (default 16).
    pub frac_bits: u32,
    /// The preprocessing provider (default: trusted third party).
    pub provider: ProviderKind,
    /// Timeouts and limits of the communicator.
    pub comm: CommConfig,
    /// Iterations, degrees and methods of the non-linear functions.
    pub functions: FunctionConfig,
    /// The truncation of products with 2 parties (default: exact).
    pub truncation: Truncation,
    /// Checks of every operation against plaintext, revealing everything (default: off).
    pub validation: Validation,
    /// FOR TESTS ONLY: when set, every seed the session would draw from the operating system
    /// (the pairwise zero-sharing seeds, the provider's seeds, each party's private stream
    /// for random sampling, and a trusted third party's when it runs in-process through
    /// `testing`) is derived from this one, so a run is reproducible. Anyone who knows it can
    /// recompute every share and predict every sample: never set it in a deployment.
    /// Default: `None` (operating-system entropy).
    pub seed: Option<Seed>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            frac_bits: 16,
            provider: ProviderKind::TrustedThirdParty,
            comm: CommConfig::default(),
            functions: FunctionConfig::default(),
            truncation: Truncation::Exact,
            validation: Validation::Off,
            seed: None,
        }
    }
}

impl Config {
    /// Checks the configuration and returns the encoder it implies.
    ///
    /// # Errors
    /// `Config` when the precision or a function knob is unsupported.
    pub fn validate(&self) -> Result<FixedPointEncoder> {
        // Products are truncated by frac_bits and must fit below 2^62 before truncation, so
        // more than 24 fractional bits would leave no room for the integer part.
        if !(1..=24).contains(&self.frac_bits) {
            return Err(Error::Config(format!(
                "frac_bits must be in 1..=24, got {}",
                self.frac_bits
            )));
        }
        self.functions.validate()?;
        Ok(FixedPointEncoder::new(self.frac_bits)?)
    }
}
