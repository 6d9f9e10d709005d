//! The party-dealer contract: what a party may ask the dealer for ([`Request`]), and the shapes
//! and order of the parts each request yields. Both sides compute these the same way, so
//! neither has to send them.

use crate::bit_test_plan::{BitTest, Plan};
use crate::{Bilinear, Error, Result};
use serde::{Deserialize, Serialize};

/// The largest number of elements one preprocessing part may have (2^30 elements = 8 GiB).
pub const MAX_PART_ELEMENTS: usize = 1 << 30;

/// The largest number of elements all the parts of one request may have together (2^30
/// elements = 8 GiB): a bound on what one request, however malformed, makes the dealer
/// allocate. The largest requests of the paper's models hold under half of it.
pub const MAX_REQUEST_ELEMENTS: usize = 1 << 30;

/// A request for correlated randomness.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Request {
    /// A Beaver triple `(a, b, c = op(a, b))` for operands shaped `x_shape` and `y_shape`.
    /// Parts: `a, b` (independent), `c` (dependent).
    Triple {
        /// The bilinear map.
        op: Bilinear,
        /// Shape of the first operand.
        x_shape: Vec<usize>,
        /// Shape of the second operand.
        y_shape: Vec<usize>,
    },
    /// A square pair `(r, r*r)`. Parts: `r` (independent), `r*r` (dependent).
    Square {
        /// The shape.
        shape: Vec<usize>,
    },
    /// A truncation mask: uniform `r`, `r >> bits` (logical) and the top bit of `r`.
    /// Parts: `r` (independent), `r >> bits` and `msb(r)` (dependent).
    Trunc {
        /// The shape.
        shape: Vec<usize>,
        /// How many bits the protocol shifts by.
        bits: u32,
    },
    /// An elementwise fixed-point product whose operands may be *deferred*: values at scale
    /// `2^(f + bits)` whose truncation by their own `bits` rides on this product's opening
    /// (see `deferred`). Parts: one mask per operand (independent: the Beaver mask `a` of a
    /// settled operand, the truncation mask `r` of a deferred one); for each deferred operand
    /// `-(r >> bits)` and `msb(r)`; then `alpha_x * alpha_y`, and `alpha_x * msb(r_y)` and
    /// `msb(r_x) * alpha_y` for a deferred `y` and `x` (dependent; `alpha` is `a` for a
    /// settled operand and `-(r >> bits)` for a deferred one); and, when the two pending
    /// truncations add up to more than 64 bits (so that the product of the two wrap terms does
    /// not vanish in the ring), `msb(r_x) * msb(r_y)`.
    DeferredMul {
        /// Shape of the first operand.
        x_shape: Vec<usize>,
        /// Shape of the second operand.
        y_shape: Vec<usize>,
        /// Each operand's pending truncation, `1..=48` bits, or 0 for a settled operand.
        bits: [u32; 2],
    },
    /// The square of a deferred operand: `r` (independent); `alpha = -(r >> bits)`,
    /// `msb(r)`, `alpha^2` and `alpha * msb(r)` (dependent).
    DeferredSquare {
        /// The shape.
        shape: Vec<usize>,
        /// The truncation, `1..=48` bits.
        bits: u32,
    },
    /// [`Request::BitMul`] for a deferred operand, whose truncation by `bits` rides on the
    /// product's opening: daBits `t` (binary, packed) and the truncation mask `r`, shape `[n]`
    /// (independent); `t` as arithmetic 0/1 values, `alpha = -(r >> bits)`, `msb(r)`,
    /// `alpha * t` and `msb(r) * t` (dependent).
    DeferredBitMul {
        /// Number of products.
        n: usize,
        /// The truncation, `1..=48` bits.
        bits: u32,
    },
    /// Binary (AND) triples over XOR-shared words: `a, b` (independent), `c = a & b`
    /// (dependent).
    AndTriple {
        /// The shape.
        shape: Vec<usize>,
    },
    /// Masks for one level of a Kogge-Stone adder that shifts by `shift`: `u, v`
    /// (independent), `u & (v << shift)` and `u & (u << shift)` (dependent), all binary. The
    /// masks of the shifted operands are the shifted masks, so they need not be opened.
    AdderLevel {
        /// The shape.
        shape: Vec<usize>,
        /// The shift, `1..64`.
        shift: u32,
    },
    /// `n` random bits held in both sharings (daBits): `t` XOR-shared and packed 64 to a word
    /// (independent), then the same bits as arithmetic 0/1 values, shape `[n]` (dependent).
    DaBits {
        /// Number of bits.
        n: usize,
    },
    /// What multiplying `n` arithmetic values by `n` XOR-shared bits takes: daBits `t`
    /// (binary, packed) and an arithmetic mask `a` of shape `[n]` (independent); `t` as
    /// arithmetic 0/1 values and the products `a * t` (dependent).
    BitMul {
        /// Number of products.
        n: usize,
    },
    /// Random words held in both sharings (edaBits): `r` XOR-shared (independent), then the
    /// same words arithmetically shared (dependent).
    EdaBits {
        /// The shape.
        shape: Vec<usize>,
    },
    /// Everything a bit test (sign or zero) of `n` values takes (see `binary::plan`): an
    /// arithmetic mask `r` of shape `[n]` and the masks of each tree level (independent);
    /// the one-hot planes of `r`'s blocks, `r`'s top bit plane (sign only) and each level's
    /// mask products (dependent, binary). Planes are `[groups, count]`, 64 lanes a word.
    BitTest {
        /// Number of values.
        n: usize,
        /// Which test.
        test: BitTest,
    },
}

impl Request {
    /// A short description for errors and logs.
    pub fn describe(&self) -> String {
        match self {
            Self::Triple {
                op,
                x_shape,
                y_shape,
            } => {
                format!("{} triple {x_shape:?} x {y_shape:?}", op.name())
            }
            Self::Square { shape } => format!("square pair {shape:?}"),
            Self::Trunc { shape, bits } => format!("truncation mask {shape:?} >> {bits}"),
            Self::DeferredMul {
                x_shape,
                y_shape,
                bits,
            } => format!("deferred product {x_shape:?} x {y_shape:?} (pending {bits:?} bits)"),
            Self::DeferredSquare { shape, .. } => format!("deferred square {shape:?}"),
            Self::AndTriple { shape } => format!("binary triple {shape:?}"),
            Self::AdderLevel { shape, shift } => format!("adder level {shape:?} << {shift}"),
            Self::DaBits { n } => format!("{n} daBits"),
            Self::BitMul { n } => format!("{n} bit products"),
            Self::DeferredBitMul { n, .. } => format!("{n} deferred bit products"),
            Self::EdaBits { shape } => format!("edaBits {shape:?}"),
            Self::BitTest { n, test } => format!("{test:?} bit test of {n} values"),
        }
    }

    /// Shapes of all parts, in order; the first `independent()` are independent.
    ///
    /// # Errors
    /// When the request is inconsistent (shapes that don't fit, a too-large part, a shift of
    /// 64 bits or more): a dealer must treat requests as untrusted input.
    pub fn part_shapes(&self) -> Result<Vec<Vec<usize>>> {
        let shapes = match self {
            Self::Triple {
                op,
                x_shape,
                y_shape,
            } => {
                vec![
                    x_shape.clone(),
                    y_shape.clone(),
                    op.output_shape(x_shape, y_shape)?,
                ]
            }
            Self::Square { shape } => vec![shape.clone(), shape.clone()],
            Self::Trunc { shape, bits } => {
                if *bits == 0 || *bits >= 63 {
                    return Err(self.invalid(format!("shift of {bits} bits")));
                }
                vec![shape.clone(), shape.clone(), shape.clone()]
            }
            Self::DeferredMul {
                x_shape,
                y_shape,
                bits,
            } => {
                for &b in bits {
                    if b > 48 {
                        return Err(self.invalid(format!("deferred truncation by {b} bits")));
                    }
                }
                let out = Bilinear::Mul.output_shape(x_shape, y_shape)?;
                let mut shapes = vec![x_shape.clone(), y_shape.clone()];
                for (shape, &b) in [x_shape, y_shape].into_iter().zip(bits) {
                    if b > 0 {
                        shapes.extend([shape.clone(), shape.clone()]);
                    }
                }
                shapes.push(out.clone());
                let cross = usize::from(bits[0] > 0)
                    + usize::from(bits[1] > 0)
                    + usize::from(bits[0] + bits[1] > 64);
                shapes.extend(std::iter::repeat_n(out, cross));
                shapes
            }
            Self::DeferredSquare { shape, bits } => {
                check_deferred_bits(self, *bits)?;
                vec![shape.clone(); 5]
            }
            Self::AndTriple { shape } => vec![shape.clone(); 3],
            Self::AdderLevel { shape, shift } => {
                if !(1..64).contains(shift) {
                    return Err(self.invalid(format!("adder shift of {shift} bits")));
                }
                vec![shape.clone(); 4]
            }
            Self::DaBits { n } => vec![vec![n.div_ceil(64)], vec![*n]],
            Self::BitMul { n } => vec![vec![n.div_ceil(64)], vec![*n], vec![*n], vec![*n]],
            Self::DeferredBitMul { n, bits } => {
                check_deferred_bits(self, *bits)?;
                let mut shapes = vec![vec![n.div_ceil(64)]];
                shapes.extend(std::iter::repeat_n(vec![*n], 6));
                shapes
            }
            Self::EdaBits { shape } => vec![shape.clone(); 2],
            Self::BitTest { n, test } => crate::binary::bit_test_shapes(&Plan::new(*test), *n),
        };
        let mut total = 0usize;
        for shape in &shapes {
            let numel = shape
                .iter()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d))
                .filter(|&n| n <= MAX_PART_ELEMENTS);
            let Some(numel) = numel else {
                return Err(self.invalid(format!("part of shape {shape:?} is too large")));
            };
            total = total.saturating_add(numel);
        }
        if total > MAX_REQUEST_ELEMENTS {
            return Err(self.invalid(format!(
                "{total} elements in all, more than the {MAX_REQUEST_ELEMENTS} one request may \
                 ask for"
            )));
        }
        Ok(shapes)
    }

    /// How many leading parts every party draws on its own.
    pub fn independent(&self) -> usize {
        match self {
            Self::Triple { .. } | Self::AndTriple { .. } | Self::AdderLevel { .. } => 2,
            Self::DeferredMul { .. } => 2,
            Self::DeferredSquare { .. } => 1,
            Self::BitMul { .. } | Self::DeferredBitMul { .. } => 2,
            Self::Square { .. } | Self::Trunc { .. } => 1,
            Self::DaBits { .. } | Self::EdaBits { .. } => 1,
            Self::BitTest { test, .. } => 1 + Plan::new(*test).levels.len(),
        }
    }

    pub(crate) fn invalid(&self, reason: String) -> Error {
        Error::InvalidArgument {
            op: "preprocessing request",
            reason,
        }
    }
}

/// Deferred truncation needs `2 * bits <= 64` (so `2^(64-bits)` squared vanishes in the ring)
/// and a non-empty shift.
fn check_deferred_bits(request: &Request, bits: u32) -> Result<()> {
    if (1..=48).contains(&bits) {
        Ok(())
    } else {
        Err(request.invalid(format!("deferred truncation by {bits} bits")))
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_REQUEST_ELEMENTS, Request};

    #[test]
    fn one_request_allocates_at_most_the_request_cap() {
        // Three parts of 2^28 elements: under the cap.
        let fits = Request::AndTriple {
            shape: vec![1 << 14, 1 << 14],
        };
        assert_eq!(fits.part_shapes().expect("fits").len(), 3);
        // Three parts of 2^29: each under the part cap, together over the request cap.
        let over = Request::AndTriple {
            shape: vec![1 << 15, 1 << 14],
        };
        let err = over.part_shapes().expect_err("over the cap").to_string();
        assert!(err.contains(&MAX_REQUEST_ELEMENTS.to_string()), "{err}");
    }
}
