//! The fixed-point encoder: reals to and from the ring Z/2^64 as `round(x * 2^f)` in two's
//! complement, with `f` fractional bits.

use crate::{Error, Result, RingTensor};
use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;

/// Largest accepted precision. Products of two encoded values carry `2f` fractional bits and
/// must still leave room for an integer part below 2^62 (see [`FixedPointEncoder::max_abs`]).
const MAX_FRAC_BITS: u32 = 30;

/// Elements from which encoding and decoding run on rayon's pool.
const PAR_THRESHOLD: usize = 1 << 15;

/// Maps reals to ring elements: `x` becomes `round(x * 2^f)` read as a two's-complement `u64`.
///
/// # Safe range
/// Encoded magnitudes stay below 2^62, i.e. `|x| < 2^(62 - f)` ([`max_abs`](Self::max_abs)).
/// The two spare bits keep the sign bit meaningful for comparisons of values *and* of their
/// differences, which is what the secure comparison protocols read. A product of two encoded
/// values carries `2f` fractional bits before truncation, so it is only correct when
/// `|x * y| < 2^(62 - 2f)`; with the default 16 bits that is about 1.1e9.
///
/// Rounding is to the nearest representable value with ties away from zero (`f64::round`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedPointEncoder {
    frac_bits: u32,
}

impl Default for FixedPointEncoder {
    /// 16 fractional bits, CrypTen's default precision.
    fn default() -> Self {
        Self { frac_bits: 16 }
    }
}

impl FixedPointEncoder {
    /// An encoder with `frac_bits` fractional bits (`0..=30`).
    ///
    /// # Errors
    /// `InvalidArgument` when `frac_bits > 30`.
    pub fn new(frac_bits: u32) -> Result<Self> {
        if frac_bits > MAX_FRAC_BITS {
            return Err(Error::InvalidArgument {
                op: "FixedPointEncoder::new",
                shape: Vec::new(),
                reason: format!(
                    "{frac_bits} fractional bits requested, at most {MAX_FRAC_BITS} supported"
                ),
            });
        }
        Ok(Self { frac_bits })
    }

    /// The number of fractional bits `f`.
    pub fn frac_bits(&self) -> u32 {
        self.frac_bits
    }

    /// The scale 2^f: the encoding of 1.0.
    pub fn scale(&self) -> u64 {
        1 << self.frac_bits
    }

    /// The exclusive bound 2^(62 - f) on the magnitude of encodable values.
    pub fn max_abs(&self) -> f64 {
        (1u64 << (62 - self.frac_bits)) as f64
    }

    /// Encodes one real.
    ///
    /// # Errors
    /// `Encode` for NaN, infinities and `|x| >= max_abs()`.
    pub fn encode_scalar(&self, x: f64) -> Result<u64> {
        let reject = |reason| {
            Err(Error::Encode {
                value: x,
                frac_bits: self.frac_bits,
                reason,
            })
        };
        if x.is_nan() {
            return reject("NaN has no fixed-point encoding");
        }
        if x.is_infinite() {
            return reject("infinity has no fixed-point encoding");
        }
        if x.abs() >= self.max_abs() {
            return reject("magnitude is not below 2^(62 - frac_bits)");
        }
        // Scaling by a power of two is exact; above 2^53 the product is already an integer,
        // so rounding cannot push it onto 2^62.
        let scaled = (x * self.scale() as f64).round();
        Ok(scaled as i64 as u64)
    }

    /// Encodes `x.len()` reals laid out row-major in `shape`.
    ///
    /// # Errors
    /// `InvalidArgument` when the length does not match `shape`; `Encode` for the first value
    /// that cannot be encoded.
    pub fn encode_slice(&self, shape: &[usize], x: &[f64]) -> Result<RingTensor> {
        let numel: usize = shape.iter().product();
        if numel != x.len() {
            return Err(Error::InvalidArgument {
                op: "encode_slice",
                shape: shape.to_vec(),
                reason: format!("{} values given for {numel} elements", x.len()),
            });
        }
        let data = if x.len() < PAR_THRESHOLD {
            x.iter()
                .map(|&v| self.encode_scalar(v))
                .collect::<Result<Vec<u64>>>()?
        } else {
            x.par_iter()
                .map(|&v| self.encode_scalar(v))
                .collect::<Result<Vec<u64>>>()?
        };
        RingTensor::new(shape, data)
    }

    /// Encodes an array of any memory layout.
    ///
    /// # Errors
    /// `Encode` for a value that cannot be encoded.
    pub fn encode(&self, x: &ArrayD<f64>) -> Result<RingTensor> {
        match x.as_slice() {
            Some(s) => self.encode_slice(x.shape(), s),
            None => {
                let data: Vec<f64> = x.iter().copied().collect();
                self.encode_slice(x.shape(), &data)
            }
        }
    }

    /// Decodes one ring element: two's complement divided by 2^f.
    pub fn decode_scalar(&self, v: u64) -> f64 {
        v as i64 as f64 / self.scale() as f64
    }

    /// Decodes a tensor into an f64 array of the same shape.
    pub fn decode(&self, t: &RingTensor) -> ArrayD<f64> {
        let data: Vec<f64> = if t.numel() < PAR_THRESHOLD {
            t.data().iter().map(|&v| self.decode_scalar(v)).collect()
        } else {
            t.data()
                .par_iter()
                .map(|&v| self.decode_scalar(v))
                .collect()
        };
        ArrayD::from_shape_vec(IxDyn(t.shape()), data)
            .expect("a ring tensor's data length matches its shape")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn precision_bounds() {
        let e = FixedPointEncoder::default();
        assert_eq!(
            (e.frac_bits(), e.scale(), e.max_abs()),
            (16, 65536, 2f64.powi(46))
        );
        assert_eq!(FixedPointEncoder::new(0).unwrap().max_abs(), 2f64.powi(62));
        assert_eq!(FixedPointEncoder::new(30).unwrap().scale(), 1 << 30);
        assert!(matches!(
            FixedPointEncoder::new(31),
            Err(Error::InvalidArgument {
                op: "FixedPointEncoder::new",
                ..
            })
        ));
    }

    #[test]
    fn encodes_twos_complement_and_rounds_to_nearest() {
        let e = FixedPointEncoder::new(2).unwrap();
        let enc = |x| e.encode_scalar(x).unwrap();
        assert_eq!(enc(1.0), 4);
        assert_eq!(enc(-1.0), u64::MAX - 3);
        assert_eq!(enc(0.3), 1); // 1.2 -> 1
        assert_eq!(enc(0.4), 2); // 1.6 -> 2
        assert_eq!(enc(0.125), 1); // tie 0.5 -> away from zero
        assert_eq!(enc(-0.125), u64::MAX); // tie -0.5 -> -1
        assert_eq!(enc(-0.1), 0); // -0.4 -> 0
        assert_eq!(enc(-0.0), 0);
        assert_eq!(e.decode_scalar(u64::MAX - 5), -1.5);
    }

    #[test]
    fn rejects_nan_inf_and_out_of_range() {
        let e = FixedPointEncoder::default();
        for bad in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            e.max_abs(),
            -e.max_abs(),
            1e300,
        ] {
            let err = e.encode_scalar(bad).unwrap_err();
            assert!(
                matches!(err, Error::Encode { frac_bits: 16, .. }),
                "{bad}: {err}"
            );
        }
        // Just inside the range is fine and stays below 2^62 in magnitude.
        let below = e.max_abs() - 1.0;
        assert_eq!(e.encode_scalar(below).unwrap(), (below * 65536.0) as u64);
        assert!((e.encode_scalar(-below).unwrap() as i64).unsigned_abs() < 1 << 62);
        let err = e.encode_slice(&[3], &[1.0, f64::NAN, 2.0]).unwrap_err();
        assert!(matches!(err, Error::Encode { .. }), "{err}");
    }

    #[test]
    fn tensor_round_trip_any_layout() {
        let e = FixedPointEncoder::default();
        let x = ndarray::Array::from_shape_fn(IxDyn(&[3, 5]), |ix| {
            ix[0] as f64 * 1.5 - ix[1] as f64 / 4.0
        });
        let t = e.encode(&x).unwrap();
        assert_eq!(t.shape(), &[3, 5]);
        assert_eq!(e.decode(&t), x);
        // A column-major array takes the non-slice path and must still encode in logical order.
        let col_major = x.clone().reversed_axes();
        assert!(col_major.as_slice().is_none());
        let t = e.encode(&col_major).unwrap();
        assert_eq!(t.shape(), &[5, 3]);
        assert_eq!(e.decode(&t), col_major);
        assert!(matches!(
            e.encode_slice(&[2, 2], &[1.0; 3]),
            Err(Error::InvalidArgument {
                op: "encode_slice",
                ..
            })
        ));
        let big: Vec<f64> = (0..PAR_THRESHOLD + 7)
            .map(|i| i as f64 / 8.0 - 1000.0)
            .collect();
        let t = e.encode_slice(&[big.len()], &big).unwrap();
        assert_eq!(e.decode(&t).as_slice().unwrap(), &big[..]);
    }

    proptest! {
        #[test]
        fn round_trip_error_is_half_an_ulp(x in -1e12f64..1e12, f in 0u32..=30) {
            let e = FixedPointEncoder::new(f).unwrap();
            prop_assume!(x.abs() < e.max_abs());
            let back = e.decode_scalar(e.encode_scalar(x).unwrap());
            prop_assert!((back - x).abs() <= 0.5 / e.scale() as f64 + x.abs() * f64::EPSILON);
        }

        #[test]
        fn encoding_is_additive(a in -1e6f64..1e6, b in -1e6f64..1e6) {
            let e = FixedPointEncoder::default();
            let sum = e.encode_scalar(a).unwrap().wrapping_add(e.encode_scalar(b).unwrap());
            prop_assert!((e.decode_scalar(sum) - (a + b)).abs() <= 1.0 / e.scale() as f64);
        }
    }
}
