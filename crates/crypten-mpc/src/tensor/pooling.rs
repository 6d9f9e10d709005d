//! 2-d pooling on `CrypTensor`: max, average, and their adaptive forms, on `[N, C, H, W]` or
//! `[C, H, W]` inputs, with PyTorch's semantics.
//!
//! Windows are gathered locally (a public index list into the flattened image), one row per
//! output position. Max pooling then runs the tournament of `reduce_max` over each row: a
//! padded position repeats a real element of its window (which cannot change a maximum), so no
//! sentinel value has to be encoded. Average pooling sums each row (local) and multiplies by
//! the public `1 / count` (one truncation); padded positions read an appended zero, and the
//! count includes them, as PyTorch's `count_include_pad = True` does.

use crate::{CrypTensor, Error, Result};
use crypten_core::RingTensor;
use ndarray::{ArrayD, IxDyn};

/// Where one output position's window reads: input positions (flattened `h * W + w`) or
/// `None` for padding.
type Window = Vec<Option<usize>>;

/// The windows of a pooling: one per output position, row-major, all of the same length.
struct Windows {
    out_hw: (usize, usize),
    windows: Vec<Window>,
}

impl CrypTensor {
    /// Max pooling with a `kernel`, `stride` and zero `padding` (rows, columns).
    ///
    /// Rounds: `4 ceil(log2 (kh kw))` (8 for a 2x2 kernel), for any number of parties. Bytes
    /// sent per party: about `20.3 (N-1)` per comparison, `kh kw - 1` per output. Exact.
    ///
    /// # Errors
    /// `InvalidArgument` for an input that is not 3-d or 4-d, a zero kernel or stride, padding
    /// above half the kernel, or a kernel larger than the padded input; provider or
    /// communication failures.
    pub fn max_pool2d(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<Self> {
        let (h, w) = self.image_hw("max_pool2d")?;
        let windows = sliding("max_pool2d", (h, w), kernel, stride, padding)?;
        self.pool_max(&windows)
    }

    /// Average pooling with a `kernel`, `stride` and zero `padding` (rows, columns); the
    /// divisor is always `kh * kw` (padding counts, as PyTorch's default).
    ///
    /// Rounds: 0 for windows of at most 32 entries (the division's truncation is deferred);
    /// larger windows sum first and divide precisely, one round more.
    ///
    /// # Errors
    /// As [`Self::max_pool2d`].
    pub fn avg_pool2d(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<Self> {
        let (h, w) = self.image_hw("avg_pool2d")?;
        let windows = sliding("avg_pool2d", (h, w), kernel, stride, padding)?;
        let count = (kernel.0 * kernel.1) as f64;
        let divisors = ArrayD::from_elem(IxDyn(&[windows.out_hw.0, windows.out_hw.1]), count);
        self.pool_avg(&windows, &divisors)
    }

    /// Adaptive average pooling to `out_hw` (rows, columns): output `(i, j)` averages input
    /// rows `floor(i H / OH) .. ceil((i + 1) H / OH)` and the columns likewise.
    ///
    /// Rounds: 0 for windows of at most 32 entries (the division's truncation is deferred);
    /// larger windows sum first and divide precisely, one round more.
    ///
    /// # Errors
    /// `InvalidArgument` for an input that is not 3-d or 4-d or a zero output size.
    pub fn adaptive_avg_pool2d(&self, out_hw: (usize, usize)) -> Result<Self> {
        let (h, w) = self.image_hw("adaptive_avg_pool2d")?;
        let windows = adaptive("adaptive_avg_pool2d", (h, w), out_hw)?;
        let rows = spans(h, out_hw.0);
        let cols = spans(w, out_hw.1);
        let divisors = ArrayD::from_shape_fn(IxDyn(&[out_hw.0, out_hw.1]), |ix| {
            ((rows[ix[0]].1 - rows[ix[0]].0) * (cols[ix[1]].1 - cols[ix[1]].0)) as f64
        });
        self.pool_avg(&windows, &divisors)
    }

    /// Adaptive max pooling to `out_hw` (rows, columns), with the windows of
    /// [`Self::adaptive_avg_pool2d`].
    ///
    /// Rounds: `4 ceil(log2 m)` for the largest window size `m`. Exact.
    ///
    /// # Errors
    /// As [`Self::adaptive_avg_pool2d`]; provider or communication failures.
    pub fn adaptive_max_pool2d(&self, out_hw: (usize, usize)) -> Result<Self> {
        let (h, w) = self.image_hw("adaptive_max_pool2d")?;
        let windows = adaptive("adaptive_max_pool2d", (h, w), out_hw)?;
        self.pool_max(&windows)
    }

    /// The image size of a `[N, C, H, W]` or `[C, H, W]` input.
    fn image_hw(&self, op: &'static str) -> Result<(usize, usize)> {
        match *self.shape() {
            [.., h, w] if (3..=4).contains(&self.shape().len()) => Ok((h, w)),
            _ => Err(Error::InvalidArgument {
                op,
                reason: format!("expected [N, C, H, W] or [C, H, W], got {:?}", self.shape()),
            }),
        }
    }

    /// The output shape: the input's with the image replaced by `out_hw`.
    fn pooled_shape(&self, out_hw: (usize, usize)) -> Vec<usize> {
        let mut shape = self.shape().to_vec();
        let n = shape.len();
        shape[n - 2] = out_hw.0;
        shape[n - 1] = out_hw.1;
        shape
    }

    /// The windows' elements as `[images * outputs, window]`; padding reads an appended zero
    /// when `zero_padding`, else repeats the window's first real element.
    fn gather(&self, windows: &Windows, zero_padding: bool) -> Result<RingTensor> {
        let n = self.shape().len();
        let hw = self.shape()[n - 2] * self.shape()[n - 1];
        let images = self.numel() / hw.max(1);
        let mut flat = self.share()?.reshape(&[images, hw])?;
        if zero_padding {
            flat = RingTensor::cat(&[&flat, &RingTensor::zeros(&[images, 1])], 1)?;
        }
        let size = windows.windows.first().map_or(0, Vec::len);
        let mut index = Vec::with_capacity(windows.windows.len() * size);
        for window in &windows.windows {
            let first_real = window.iter().flatten().next().copied().unwrap_or(0);
            index.extend(window.iter().map(|p| match p {
                Some(p) => *p,
                None if zero_padding => hw,
                None => first_real,
            }));
        }
        let gathered = flat.index_select(1, &index)?;
        Ok(gathered.into_shape(&[images * windows.windows.len(), size])?)
    }

    fn pool_max(&self, windows: &Windows) -> Result<Self> {
        let rows = self.gather(windows, false)?;
        let maxima = self.with(rows).max(1, false)?;
        maxima.reshape(&self.pooled_shape(windows.out_hw))
    }

    fn pool_avg(&self, windows: &Windows, divisors: &ArrayD<f64>) -> Result<Self> {
        let rows = self.gather(windows, true)?;
        let sums = rows
            .sum(&[1], false)?
            .into_shape(&self.pooled_shape(windows.out_hw))?;
        self.with(sums).mul_plain(&divisors.mapv(|d| 1.0 / d))
    }
}

/// The windows of a sliding pooling, checked as PyTorch checks them.
fn sliding(
    op: &'static str,
    (h, w): (usize, usize),
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
) -> Result<Windows> {
    let bad = |reason: String| Error::InvalidArgument { op, reason };
    if kernel.0 == 0 || kernel.1 == 0 || stride.0 == 0 || stride.1 == 0 {
        return Err(bad(format!(
            "kernel {kernel:?} and stride {stride:?} must be positive"
        )));
    }
    if 2 * padding.0 > kernel.0 || 2 * padding.1 > kernel.1 {
        return Err(bad(format!(
            "padding {padding:?} exceeds half the kernel {kernel:?}"
        )));
    }
    if h + 2 * padding.0 < kernel.0 || w + 2 * padding.1 < kernel.1 {
        return Err(bad(format!(
            "kernel {kernel:?} larger than the padded {h}x{w} input"
        )));
    }
    let oh = (h + 2 * padding.0 - kernel.0) / stride.0 + 1;
    let ow = (w + 2 * padding.1 - kernel.1) / stride.1 + 1;
    let mut windows = Vec::with_capacity(oh * ow);
    for i in 0..oh {
        for j in 0..ow {
            let mut window = Vec::with_capacity(kernel.0 * kernel.1);
            for a in 0..kernel.0 {
                for b in 0..kernel.1 {
                    // Padded coordinates, then back to the input's (None when outside).
                    let r = (i * stride.0 + a).checked_sub(padding.0).filter(|&r| r < h);
                    let c = (j * stride.1 + b).checked_sub(padding.1).filter(|&c| c < w);
                    window.push(r.zip(c).map(|(r, c)| r * w + c));
                }
            }
            windows.push(window);
        }
    }
    Ok(Windows {
        out_hw: (oh, ow),
        windows,
    })
}

/// The input ranges `floor(i n / m) .. ceil((i + 1) n / m)` of adaptive pooling.
fn spans(n: usize, m: usize) -> Vec<(usize, usize)> {
    (0..m)
        .map(|i| ((i * n) / m, ((i + 1) * n).div_ceil(m)))
        .collect()
}

/// The windows of an adaptive pooling, padded to the largest with `None`.
fn adaptive(op: &'static str, (h, w): (usize, usize), out: (usize, usize)) -> Result<Windows> {
    if out.0 == 0 || out.1 == 0 || h == 0 || w == 0 {
        return Err(Error::InvalidArgument {
            op,
            reason: format!("cannot pool a {h}x{w} image to {out:?}"),
        });
    }
    let (rows, cols) = (spans(h, out.0), spans(w, out.1));
    let size = rows.iter().map(|r| r.1 - r.0).max().unwrap_or(0)
        * cols.iter().map(|c| c.1 - c.0).max().unwrap_or(0);
    let mut windows = Vec::with_capacity(out.0 * out.1);
    for &(r0, r1) in &rows {
        for &(c0, c1) in &cols {
            let mut window: Window = (r0..r1)
                .flat_map(|r| (c0..c1).map(move |c| Some(r * w + c)))
                .collect();
            window.resize(size, None);
            windows.push(window);
        }
    }
    Ok(Windows {
        out_hw: out,
        windows,
    })
}
