//! Benchmarks of crypten-rs: per-op protocol costs (time, bytes sent per party, rounds) next to
//! plaintext, printed as a table and written as JSON records.
//!
//! Every party runs the same suite; timings and traffic are gathered at party 0, which prints
//! and writes the results. Time is the slowest party's median, from a common barrier to the
//! op's end (sharing and revealing excluded), as in the anchor measurements.
#![deny(missing_docs)]

mod error;
mod measure;
pub mod models;
pub mod ops;
pub mod paper;
mod record;

pub use error::{Error, Result};
pub use measure::{Measurement, barrier, measure};
pub use record::{Record, print_table, write_json};
