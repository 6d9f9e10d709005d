//! Preprocessing for crypten-rs, without I/O but for the serving loop: the contract between
//! the parties and the dealer that hands them correlated randomness.
//!
//! A [`Request`] names what a protocol needs (a Beaver triple for a [`Bilinear`] map, a
//! square pair, truncation masks, binary triples, bits in both sharings, the material of a
//! bit test laid out by its [`Plan`]). Every party draws its parts of a request from a PRG
//! stream it shares with the dealer ([`deal::draw`]); the dealer, holding all streams, draws
//! the same and computes party 0's dependent parts ([`deal::complete`]). So the parties'
//! provider and the dealer process agree without sending shapes or randomness, and the
//! dealer process ([`run_ttp`]) links only this crate, the ring and the communicator: no
//! protocols, no tensor API, no autograd.
#![deny(missing_docs)]

mod bilinear;
mod binary;
mod bit_test_plan;
pub mod deal;
mod error;
mod request;
mod seed;
mod serve;

pub use bilinear::{Bilinear, ConvParams};
pub use binary::bit_test_values;
pub use bit_test_plan::{
    ARITY, BLOCK_BITS, BitTest, Combine, Kind, Leaf, Level, Needs, NodeRef, Output, Plan, Src, Term,
};
pub use error::{Error, Result};
pub use request::{MAX_PART_ELEMENTS, MAX_REQUEST_ELEMENTS, Request};
pub use seed::{SeedPurpose, fresh_seed};
pub use serve::{
    Message, SERVE_OP, SETUP_OP, parse_seed, run_at, run_from_env, run_ttp, run_ttp_seeded,
};
