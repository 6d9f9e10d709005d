//! im2col: the receptive fields of a 2-D convolution laid out as the columns of a matrix, so
//! that the convolution itself becomes one GEMM (weights x columns).
//!
//! Row `(c*KH + i)*KW + j` of the matrix holds, for every output position in row-major order,
//! the input value under kernel tap `(i, j)` of channel `c`, or zero in the padding.

/// The geometry of a 2-D sliding window over a stack of `H x W` planes; axis 0 is the height.
///
/// Built by the caller after validation: strides and dilations are positive and `output` is
/// `(input + 2*padding - dilation*(kernel-1) - 1) / stride + 1` on both axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) input: [usize; 2],
    pub(crate) kernel: [usize; 2],
    pub(crate) output: [usize; 2],
    pub(crate) stride: [usize; 2],
    pub(crate) padding: [usize; 2],
    pub(crate) dilation: [usize; 2],
}

impl Window {
    /// Whether the column matrix equals the input itself (a 1x1 kernel with unit stride and no
    /// padding), so im2col can be skipped.
    pub(crate) fn is_identity(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0, 0]
    }

    /// Taps per channel, the rows one input channel contributes to the column matrix.
    pub(crate) fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// Output positions, the length of every row of the column matrix.
    pub(crate) fn positions(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// Fills `cols` (`channels * taps()` rows of `positions()`) from `x` (`channels` planes).
    ///
    /// Panics if `x` or `cols` is shorter than that (an internal invariant).
    pub(crate) fn im2col(&self, x: &[u64], cols: &mut [u64]) {
        let [h, w] = self.input;
        let [_, kw] = self.kernel;
        let [_, ow] = self.output;
        let [sh, sw] = self.stride;
        let [ph, pw] = self.padding;
        let [dh, dw] = self.dilation;
        if self.positions() == 0 {
            return;
        }
        for (r, dst) in cols.chunks_exact_mut(self.positions()).enumerate() {
            let (c, tap) = (r / self.taps(), r % self.taps());
            let (ki, kj) = (tap / kw, tap % kw);
            let plane = &x[c * h * w..][..h * w];
            // Output column `o` reads input column `o*sw + kj*dw - pw`. The `o` for which that is
            // inside 0..w form one range [lo, hi), found once per row rather than per element.
            let shift = kj * dw;
            let lo = if pw > shift {
                (pw - shift).div_ceil(sw)
            } else {
                0
            };
            let hi = if w + pw > shift {
                (w + pw - shift).div_ceil(sw)
            } else {
                0
            };
            let hi = hi.min(ow);
            let lo = lo.min(hi);
            for (i, line) in dst.chunks_exact_mut(ow).enumerate() {
                let ih = i * sh + ki * dh;
                if ih < ph || ih - ph >= h || lo == hi {
                    line.fill(0);
                    continue;
                }
                let src = &plane[(ih - ph) * w..][..w];
                line[..lo].fill(0);
                line[hi..].fill(0);
                // `lo` is at least (pw - shift) / sw rounded up, so this does not underflow.
                let first = lo * sw + shift - pw;
                if sw == 1 {
                    line[lo..hi].copy_from_slice(&src[first..first + (hi - lo)]);
                } else {
                    let picks = src[first..].iter().step_by(sw);
                    for (d, &v) in line[lo..hi].iter_mut().zip(picks) {
                        *d = v;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(input: [usize; 2], kernel: [usize; 2], s: [usize; 2], p: [usize; 2]) -> Window {
        let dilation = [2, 1];
        let out = |a: usize| (input[a] + 2 * p[a] - dilation[a] * (kernel[a] - 1) - 1) / s[a] + 1;
        let output = [out(0), out(1)];
        Window {
            input,
            kernel,
            output,
            stride: s,
            padding: p,
            dilation,
        }
    }

    /// The definition, one element at a time on signed coordinates.
    fn naive(win: &Window, channels: usize, x: &[u64]) -> Vec<u64> {
        let mut cols = Vec::new();
        for c in 0..channels {
            for ki in 0..win.kernel[0] {
                for kj in 0..win.kernel[1] {
                    for oi in 0..win.output[0] {
                        for oj in 0..win.output[1] {
                            let coord = |a: usize, o: usize, k: usize| {
                                (o * win.stride[a] + k * win.dilation[a]) as isize
                                    - win.padding[a] as isize
                            };
                            let (ih, iw) = (coord(0, oi, ki), coord(1, oj, kj));
                            let [h, w] = win.input.map(|v| v as isize);
                            let inside = (0..h).contains(&ih) && (0..w).contains(&iw);
                            let at = (c as isize * h + ih) * w + iw;
                            cols.push(if inside { x[at as usize] } else { 0 });
                        }
                    }
                }
            }
        }
        cols
    }

    #[test]
    fn matches_definition() {
        let cases = [
            window([5, 7], [3, 2], [1, 1], [0, 0]),
            window([5, 7], [3, 2], [2, 3], [1, 2]),
            window([4, 4], [1, 3], [1, 2], [3, 5]),
            window([6, 3], [2, 3], [3, 1], [2, 0]),
            window([1, 1], [1, 1], [1, 1], [0, 0]),
        ];
        for win in cases {
            let channels = 3;
            let x: Vec<u64> = (1..=(channels * win.input[0] * win.input[1]) as u64).collect();
            // Stale garbage in the buffer must be overwritten everywhere.
            let mut cols = vec![u64::MAX; channels * win.taps() * win.positions()];
            win.im2col(&x, &mut cols);
            assert_eq!(cols, naive(&win, channels, &x), "{win:?}");
        }
    }

    #[test]
    fn identity_window() {
        assert!(window([3, 3], [1, 1], [1, 1], [0, 0]).is_identity());
        assert!(!window([3, 3], [1, 1], [2, 1], [0, 0]).is_identity());
        assert!(!window([3, 3], [1, 1], [1, 1], [0, 1]).is_identity());
    }
}
