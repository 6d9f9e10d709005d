//! Convolutions of ring tensors with the semantics of `torch.nn.functional.conv1d`/`conv2d`
//! (zero padding, stride, dilation, groups; no bias), lowered to GEMM by im2col.
//!
//! For each sample and group, the receptive fields of the input are laid out as the columns of
//! a `(C/groups * KH * KW) x (OH * OW)` matrix, which the group's weights (`O/groups` rows of
//! that length, already contiguous in `[O, C/groups, KH, KW]`) multiply through [`gemm_u64`]
//! straight into the `[O/groups, OH * OW]` slice of the output. A 1-D convolution is the 2-D
//! one with a unit height.

use crate::kernels::{Window, gemm_u64};
use crate::{Error, Result, RingTensor};
use rayon::prelude::*;

/// Batches with less work than this (multiply-adds) run their samples in sequence.
const PAR_SAMPLE_MIN_WORK: usize = 1 << 20;

/// Hyper-parameters of a 2-D convolution, as in `torch.nn.functional.conv2d`.
///
/// The default is stride 1, no padding, dilation 1 and one group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dParams {
    /// Step between receptive fields, (height, width); both must be positive.
    pub stride: (usize, usize),
    /// Zeros added on each side of the input, (height, width).
    pub padding: (usize, usize),
    /// Spacing between kernel taps, (height, width); both must be positive.
    pub dilation: (usize, usize),
    /// Channel groups: must divide both the input and the output channels.
    pub groups: usize,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Self {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

/// Hyper-parameters of a 1-D convolution, as in `torch.nn.functional.conv1d`.
///
/// The default is stride 1, no padding, dilation 1 and one group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Conv1dParams {
    /// Step between receptive fields; must be positive.
    pub stride: usize,
    /// Zeros added on each side of the input.
    pub padding: usize,
    /// Spacing between kernel taps; must be positive.
    pub dilation: usize,
    /// Channel groups: must divide both the input and the output channels.
    pub groups: usize,
}

impl Default for Conv1dParams {
    fn default() -> Self {
        Self {
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
        }
    }
}

impl Conv2dParams {
    /// The output shape `[N, O, OH, OW]` of a convolution of an `[N, C, H, W]` input with an
    /// `[O, C/groups, KH, KW]` weight, with `OH = (H + 2*pad - dil*(KH-1) - 1) / stride + 1`.
    ///
    /// # Errors
    /// `InvalidArgument` (op `"conv2d"`) for operands that are not 4-D, a zero stride, dilation,
    /// group count or kernel size, groups that do not divide C or O, or a kernel that does not
    /// fit in the padded input; `ShapeMismatch` when the weight's second dimension is not
    /// `C/groups`.
    pub fn output_shape(&self, input: &[usize], weight: &[usize]) -> Result<Vec<usize>> {
        Ok(self.geometry(input, weight)?.output_shape(2))
    }

    fn geometry(&self, input: &[usize], weight: &[usize]) -> Result<Geometry> {
        let spatial = Spatial {
            stride: [self.stride.0, self.stride.1],
            padding: [self.padding.0, self.padding.1],
            dilation: [self.dilation.0, self.dilation.1],
        };
        Geometry::new("conv2d", input, weight, &spatial, 2, self.groups)
    }
}

impl Conv1dParams {
    /// The output shape `[N, O, OL]` of a convolution of an `[N, C, L]` input with an
    /// `[O, C/groups, K]` weight, with `OL = (L + 2*pad - dil*(K-1) - 1) / stride + 1`.
    ///
    /// # Errors
    /// As [`Conv2dParams::output_shape`], with op `"conv1d"` and 3-D operands.
    pub fn output_shape(&self, input: &[usize], weight: &[usize]) -> Result<Vec<usize>> {
        Ok(self.geometry(input, weight)?.output_shape(1))
    }

    fn geometry(&self, input: &[usize], weight: &[usize]) -> Result<Geometry> {
        // A unit height with a unit stride, no padding and no dilation leaves it untouched.
        let spatial = Spatial {
            stride: [1, self.stride],
            padding: [0, self.padding],
            dilation: [1, self.dilation],
        };
        Geometry::new("conv1d", input, weight, &spatial, 1, self.groups)
    }
}

impl RingTensor {
    /// 2-D convolution over Z/2^64: `[N, C, H, W]` input, `[O, C/groups, KH, KW]` weight,
    /// `[N, O, OH, OW]` output (see [`Conv2dParams::output_shape`]). Zero padding, no bias,
    /// cross-correlation as in PyTorch; every product and sum wraps modulo 2^64.
    ///
    /// # Errors
    /// As [`Conv2dParams::output_shape`].
    pub fn conv2d(&self, weight: &RingTensor, params: &Conv2dParams) -> Result<RingTensor> {
        let geo = params.geometry(&self.shape, &weight.shape)?;
        Ok(convolve(&geo, &self.data, &weight.data, 2))
    }

    /// 1-D convolution over Z/2^64: `[N, C, L]` input, `[O, C/groups, K]` weight, `[N, O, OL]`
    /// output (see [`Conv1dParams::output_shape`]). Zero padding, no bias.
    ///
    /// # Errors
    /// As [`Conv1dParams::output_shape`].
    pub fn conv1d(&self, weight: &RingTensor, params: &Conv1dParams) -> Result<RingTensor> {
        let geo = params.geometry(&self.shape, &weight.shape)?;
        Ok(convolve(&geo, &self.data, &weight.data, 1))
    }
}

/// Per-axis parameters, (height, width).
struct Spatial {
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
}

/// A validated convolution, always in 2-D form (1-D has height 1).
struct Geometry {
    batch: usize,
    channels: usize,
    out_channels: usize,
    groups: usize,
    window: Window,
}

impl Geometry {
    /// Validates operand shapes with `dims` (1 or 2) spatial axes against the parameters.
    fn new(
        op: &'static str,
        input: &[usize],
        weight: &[usize],
        spatial: &Spatial,
        dims: usize,
        groups: usize,
    ) -> Result<Self> {
        let invalid = |shape: &[usize], reason: String| Error::InvalidArgument {
            op,
            shape: shape.to_vec(),
            reason,
        };
        let layout = if dims == 1 { "L" } else { "H, W" };
        if input.len() != dims + 2 {
            return Err(invalid(input, format!("input must be [N, C, {layout}]")));
        }
        if weight.len() != dims + 2 {
            let reason = format!("weight must be [O, C/groups, k{layout}]");
            return Err(invalid(weight, reason));
        }
        if groups == 0 {
            return Err(invalid(input, "groups must be positive".into()));
        }
        let (batch, channels, out_channels) = (input[0], input[1], weight[0]);
        if channels % groups != 0 {
            let reason = format!("{groups} groups do not divide {channels} input channels");
            return Err(invalid(input, reason));
        }
        if out_channels % groups != 0 {
            let reason = format!("{groups} groups do not divide {out_channels} output channels");
            return Err(invalid(weight, reason));
        }
        if weight[1] != channels / groups {
            let (lhs, rhs) = (input.to_vec(), weight.to_vec());
            return Err(Error::ShapeMismatch { op, lhs, rhs });
        }
        // Lift to 2-D: the 1-D case gets a unit leading axis with neutral parameters.
        let lift = |s: &[usize]| if dims == 1 { [1, s[2]] } else { [s[2], s[3]] };
        let (size, kernel) = (lift(input), lift(weight));
        let mut output = [1; 2];
        for axis in 2 - dims..2 {
            let stride = spatial.stride[axis];
            let (pad, dil) = (spatial.padding[axis], spatial.dilation[axis]);
            if stride == 0 || dil == 0 {
                let reason = "stride and dilation must be positive".into();
                return Err(invalid(input, reason));
            }
            if kernel[axis] == 0 {
                return Err(invalid(weight, "kernel size must be positive".into()));
            }
            let extent = dil
                .checked_mul(kernel[axis] - 1)
                .and_then(|e| e.checked_add(1));
            let padded = pad.checked_mul(2).and_then(|p| p.checked_add(size[axis]));
            output[axis] = match (extent, padded) {
                (Some(e), Some(p)) if e <= p => (p - e) / stride + 1,
                _ => {
                    let reason = format!(
                        "dilated kernel ({} taps, dilation {dil}) is larger than the padded input \
                         ({} + 2 * {pad})",
                        kernel[axis], size[axis]
                    );
                    return Err(invalid(input, reason));
                }
            };
        }
        let window = Window {
            input: size,
            kernel,
            output,
            stride: spatial.stride,
            padding: spatial.padding,
            dilation: spatial.dilation,
        };
        Ok(Self {
            batch,
            channels,
            out_channels,
            groups,
            window,
        })
    }

    fn output_shape(&self, dims: usize) -> Vec<usize> {
        let mut shape = vec![self.batch, self.out_channels];
        shape.extend_from_slice(&self.window.output[2 - dims..]);
        shape
    }
}

/// Runs a validated convolution; `dims` only decides the rank of the result.
fn convolve(geo: &Geometry, input: &[u64], weight: &[u64], dims: usize) -> RingTensor {
    let mut out = RingTensor::zeros(&geo.output_shape(dims));
    let sample_in = geo.channels * geo.window.input[0] * geo.window.input[1];
    if out.data.is_empty() || sample_in == 0 {
        // No output, or no input to sum over: every entry is the empty sum, zero.
        return out;
    }
    let sample_out = out.data.len() / geo.batch;
    let work = out
        .data
        .len()
        .saturating_mul(geo.channels / geo.groups * geo.window.taps());
    // The im2col buffer is reused across the samples a task runs: a fresh multi-megabyte
    // buffer per sample costs page faults comparable to the GEMM itself.
    let run = |cols: &mut Vec<u64>, (x, y): (&[u64], &mut [u64])| {
        convolve_sample(geo, x, weight, y, cols)
    };
    if geo.batch > 1 && work >= PAR_SAMPLE_MIN_WORK {
        // Samples are independent; each GEMM may split further on the same pool.
        input
            .par_chunks(sample_in)
            .zip(out.data.par_chunks_mut(sample_out))
            .for_each_init(Vec::new, run);
    } else {
        let mut cols = Vec::new();
        let pairs = input.chunks(sample_in).zip(out.data.chunks_mut(sample_out));
        pairs.for_each(|pair| run(&mut cols, pair));
    }
    out
}

/// One sample: per group, im2col then one GEMM into the group's output channels.
fn convolve_sample(geo: &Geometry, x: &[u64], weight: &[u64], y: &mut [u64], cols: &mut Vec<u64>) {
    let win = &geo.window;
    let group_in = geo.channels / geo.groups;
    let group_out = geo.out_channels / geo.groups;
    let plane = win.input[0] * win.input[1];
    let taps = group_in * win.taps();
    let positions = win.positions();
    for g in 0..geo.groups {
        let xg = &x[g * group_in * plane..][..group_in * plane];
        let wg = &weight[g * group_out * taps..][..group_out * taps];
        let yg = &mut y[g * group_out * positions..][..group_out * positions];
        if win.is_identity() {
            gemm_u64(group_out, taps, positions, wg, xg, yg);
        } else {
            // im2col writes every element, so stale contents from the last sample are fine.
            cols.resize(taps * positions, 0);
            win.im2col(xg, cols);
            gemm_u64(group_out, taps, positions, wg, cols, yg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tensor(shape: &[usize], seed: u64) -> RingTensor {
        let numel: usize = shape.iter().product();
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let data = (0..numel)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s
            })
            .collect();
        RingTensor::new(shape, data).expect("numel matches")
    }

    /// Direct convolution by its definition, on signed positions so padding needs no care.
    fn direct2d(x: &RingTensor, w: &RingTensor, p: &Conv2dParams) -> (Vec<usize>, Vec<u64>) {
        let (&[n, c, h, wd], &[o, cg, kh, kw]) = (x.shape(), w.shape()) else {
            panic!("4-D operands expected");
        };
        let out = |size: usize, k: usize, s: usize, pad: usize, d: usize| {
            (size + 2 * pad - d * (k - 1) - 1) / s + 1
        };
        let oh = out(h, kh, p.stride.0, p.padding.0, p.dilation.0);
        let ow = out(wd, kw, p.stride.1, p.padding.1, p.dilation.1);
        let og = o / p.groups;
        let mut data = Vec::new();
        for b in 0..n {
            for oc in 0..o {
                let g = oc / og;
                for i in 0..oh {
                    for j in 0..ow {
                        let mut s = 0u64;
                        for ci in 0..cg {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    let ih = (i * p.stride.0 + ki * p.dilation.0) as isize
                                        - p.padding.0 as isize;
                                    let iw = (j * p.stride.1 + kj * p.dilation.1) as isize
                                        - p.padding.1 as isize;
                                    if ih < 0 || iw < 0 || ih >= h as isize || iw >= wd as isize {
                                        continue;
                                    }
                                    let (ih, iw) = (ih as usize, iw as usize);
                                    let xi = ((b * c + g * cg + ci) * h + ih) * wd + iw;
                                    let wi = ((oc * cg + ci) * kh + ki) * kw + kj;
                                    s = s.wrapping_add(x.data[xi].wrapping_mul(w.data[wi]));
                                }
                            }
                        }
                        data.push(s);
                    }
                }
            }
        }
        (vec![n, o, oh, ow], data)
    }

    fn check2d(input: &[usize], weight: &[usize], p: &Conv2dParams) {
        let (x, w) = (tensor(input, 7), tensor(weight, 8));
        let got = x.conv2d(&w, p).expect("valid convolution");
        let (shape, data) = direct2d(&x, &w, p);
        assert_eq!(got.shape(), shape.as_slice(), "{input:?} {weight:?} {p:?}");
        assert!(
            got.data == data,
            "{input:?} {weight:?} {p:?}: values differ"
        );
        assert_eq!(p.output_shape(input, weight).expect("valid"), shape);
    }

    /// Shorthand: (stride, padding, dilation, groups).
    fn p2(s: (usize, usize), p: (usize, usize), d: (usize, usize), g: usize) -> Conv2dParams {
        Conv2dParams {
            stride: s,
            padding: p,
            dilation: d,
            groups: g,
        }
    }

    #[test]
    fn conv2d_matches_direct_over_parameter_grid() {
        for stride in [(1, 1), (2, 1), (1, 3)] {
            for padding in [(0, 0), (1, 2)] {
                for dilation in [(1, 1), (2, 1)] {
                    for groups in [1, 2] {
                        let p = p2(stride, padding, dilation, groups);
                        check2d(&[2, 4, 7, 9], &[6, 4 / groups, 3, 2], &p);
                    }
                }
            }
        }
    }

    #[test]
    fn conv2d_special_cases() {
        let unit = Conv2dParams::default();
        let cases: &[(&[usize], &[usize], Conv2dParams)] = &[
            // Pointwise (no im2col), depthwise, kernel as large as the padded input.
            (&[3, 5, 4, 6], &[7, 5, 1, 1], unit.clone()),
            (&[2, 6, 5, 5], &[6, 1, 3, 3], p2((1, 1), (0, 0), (1, 1), 6)),
            (&[1, 2, 3, 3], &[2, 2, 5, 5], p2((1, 1), (1, 1), (1, 1), 1)),
            (&[1, 1, 1, 1], &[1, 1, 1, 1], unit.clone()),
            // Padding beyond the kernel's reach: whole output rows and columns are zero.
            (&[1, 2, 3, 2], &[3, 2, 2, 2], p2((1, 1), (4, 3), (1, 1), 1)),
            (&[1, 1, 4, 4], &[1, 1, 2, 2], p2((5, 5), (0, 0), (1, 1), 1)),
            // Big enough for the parallel per-sample path and the blocked GEMM.
            (
                &[4, 8, 32, 30],
                &[16, 8, 3, 3],
                p2((1, 1), (1, 1), (1, 1), 1),
            ),
            // Empty batch and empty output channels.
            (&[0, 2, 4, 4], &[3, 2, 3, 3], unit.clone()),
            (&[2, 2, 4, 4], &[0, 2, 3, 3], unit),
        ];
        for (input, weight, p) in cases {
            check2d(input, weight, p);
        }
    }

    #[test]
    fn output_shape_known_values() {
        let p = p2((2, 2), (2, 2), (1, 1), 1);
        let shape = p.output_shape(&[1, 3, 32, 32], &[8, 3, 5, 5]);
        assert_eq!(shape.expect("ok"), [1, 8, 16, 16]);
        // (10 + 2 - 2*(3-1) - 1) / 3 + 1 = 3
        let p = Conv1dParams {
            stride: 3,
            padding: 1,
            dilation: 2,
            groups: 2,
        };
        assert_eq!(
            p.output_shape(&[5, 4, 10], &[6, 2, 3]).expect("ok"),
            [5, 6, 3]
        );
    }

    #[test]
    fn conv1d_matches_direct() {
        let params = [
            (1, 0, 1, 1),
            (2, 1, 1, 1),
            (1, 2, 3, 2),
            (3, 0, 2, 4),
            (2, 5, 1, 2),
        ];
        for (stride, padding, dilation, groups) in params {
            let p = Conv1dParams {
                stride,
                padding,
                dilation,
                groups,
            };
            let (x, w) = (tensor(&[3, 4, 11], 1), tensor(&[8, 4 / groups, 3], 2));
            let got = x.conv1d(&w, &p).expect("valid");
            // The reference sees the same data as a unit-height 2-D problem.
            let lift = |t: &RingTensor| {
                let s = t.shape();
                RingTensor::new(&[s[0], s[1], 1, s[2]], t.data.clone()).expect("same numel")
            };
            let p2 = p2((1, stride), (0, padding), (1, dilation), groups);
            let (shape, data) = direct2d(&lift(&x), &lift(&w), &p2);
            assert_eq!(got.shape(), [shape[0], shape[1], shape[3]], "{p:?}");
            let predicted = p.output_shape(x.shape(), w.shape()).expect("valid");
            assert_eq!(got.shape(), predicted);
            assert!(got.data == data, "{p:?}");
        }
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        let d = Conv2dParams::default();
        let (x, w): (&[usize], &[usize]) = (&[2, 4, 8, 8], &[6, 4, 3, 3]);
        let cases: &[(Conv2dParams, &[usize], &[usize], &str)] = &[
            (p2((0, 1), (0, 0), (1, 1), 1), x, w, "stride"),
            (p2((1, 1), (0, 0), (1, 0), 1), x, w, "stride"),
            (p2((1, 1), (0, 0), (1, 1), 0), x, w, "groups"),
            (
                p2((1, 1), (0, 0), (1, 1), 3),
                x,
                &[6, 1, 3, 3],
                "input channels",
            ),
            (
                p2((1, 1), (0, 0), (1, 1), 4),
                x,
                &[6, 1, 3, 3],
                "output channels",
            ),
            (d.clone(), x, &[6, 4, 9, 3], "larger than the padded input"),
            (
                p2((1, 1), (0, 0), (4, 1), 1),
                x,
                w,
                "larger than the padded input",
            ),
            (d.clone(), x, &[6, 4, 0, 3], "kernel size"),
            (d.clone(), &[2, 4, 8], w, "input must be"),
            (d.clone(), x, &[6, 4, 3], "weight must be"),
        ];
        for (p, input, weight, needle) in cases {
            match p.output_shape(input, weight) {
                Err(Error::InvalidArgument {
                    op: "conv2d",
                    reason,
                    ..
                }) => {
                    assert!(reason.contains(needle), "{reason:?} lacks {needle:?}");
                }
                other => panic!("{p:?} {input:?} {weight:?}: expected {needle}, got {other:?}"),
            }
        }
        // Padding makes the dilated kernel fit again: 9 taps in 8 + 2.
        let shape = p2((1, 1), (1, 0), (4, 1), 1).output_shape(x, w);
        assert_eq!(shape.expect("fits"), [2, 6, 2, 6]);
        match d.output_shape(x, &[6, 3, 3, 3]) {
            Err(Error::ShapeMismatch {
                op: "conv2d",
                lhs,
                rhs,
            }) => {
                assert_eq!((lhs, rhs), (x.to_vec(), vec![6, 3, 3, 3]));
            }
            other => panic!("expected ShapeMismatch, got {other:?}"),
        }
        let p1 = Conv1dParams::default();
        let bad_stride = Conv1dParams {
            stride: 0,
            ..p1.clone()
        };
        for (p, input, weight) in [
            (&bad_stride, &[1, 2, 5][..], &[1, 2, 2][..]),
            (&p1, &[1, 2, 5], &[1, 2, 6]),
            (&p1, &[1, 2, 5, 5], &[1, 2, 2]),
        ] {
            let err = p.output_shape(input, weight);
            assert!(
                matches!(err, Err(Error::InvalidArgument { op: "conv1d", .. })),
                "{err:?}"
            );
        }
        // The tensor methods report the same errors.
        let err = tensor(x, 1).conv2d(&tensor(&[6, 4, 9, 3], 2), &d);
        assert!(matches!(
            err,
            Err(Error::InvalidArgument { op: "conv2d", .. })
        ));
        let err = tensor(&[1, 2, 5], 1).conv1d(&tensor(&[1, 3, 2], 2), &p1);
        assert!(matches!(
            err,
            Err(Error::ShapeMismatch { op: "conv1d", .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn random_conv2d_matches_direct(
            n in 1usize..3, cg in 1usize..4, og in 1usize..4, groups in 1usize..3,
            h in 1usize..9, w in 1usize..9, kh in 1usize..4, kw in 1usize..4,
            sh in 1usize..4, sw in 1usize..4, ph in 0usize..3, pw in 0usize..3,
            dh in 1usize..3, dw in 1usize..3,
        ) {
            let p = Conv2dParams { stride: (sh, sw), padding: (ph, pw), dilation: (dh, dw), groups };
            prop_assume!(dh * (kh - 1) < h + 2 * ph && dw * (kw - 1) < w + 2 * pw);
            let (x, wt) = (tensor(&[n, cg * groups, h, w], 3), tensor(&[og * groups, cg, kh, kw], 4));
            let got = x.conv2d(&wt, &p).expect("valid by construction");
            let (shape, data) = direct2d(&x, &wt, &p);
            prop_assert_eq!(got.shape(), shape.as_slice());
            prop_assert_eq!(got.data, data);
        }
    }
}
