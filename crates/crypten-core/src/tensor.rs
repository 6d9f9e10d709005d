//! `RingTensor`: a dense, row-major n-d array of `u64` with wrapping (mod 2^64) arithmetic.

use crate::{Error, Result};
use ndarray::{ArrayD, ArrayViewD, IxDyn};

/// A dense row-major n-d array over the ring Z/2^64.
///
/// Every arithmetic operation wraps modulo 2^64; the data is always contiguous in row-major
/// (C) order, so it can go on the wire and into kernels without copies. A 0-d tensor (shape
/// `[]`) holds one element.
///
/// `Debug` prints the shape only: a ring tensor is usually a secret share.
#[derive(Clone, PartialEq, Eq)]
pub struct RingTensor {
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Vec<u64>,
}

impl std::fmt::Debug for RingTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RingTensor(shape={:?})", self.shape)
    }
}

impl RingTensor {
    /// Builds a tensor from a shape and row-major data.
    ///
    /// # Errors
    /// `InvalidArgument` when `data.len()` is not the product of `shape`.
    pub fn new(shape: &[usize], data: Vec<u64>) -> Result<Self> {
        let numel: usize = shape.iter().product();
        if numel != data.len() {
            return Err(Error::InvalidArgument {
                op: "RingTensor::new",
                shape: shape.to_vec(),
                reason: format!("{} elements given for {numel}", data.len()),
            });
        }
        Ok(Self {
            shape: shape.to_vec(),
            data,
        })
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, 0)
    }

    /// A tensor with every element equal to `value`.
    pub fn full(shape: &[usize], value: u64) -> Self {
        let numel = shape.iter().product();
        Self {
            shape: shape.to_vec(),
            data: vec![value; numel],
        }
    }

    /// A 0-d tensor holding `value`.
    pub fn scalar(value: u64) -> Self {
        Self {
            shape: Vec::new(),
            data: vec![value],
        }
    }

    /// Converts an ndarray array (any layout) into a ring tensor.
    pub fn from_array(array: &ArrayD<u64>) -> Self {
        let shape = array.shape().to_vec();
        let data = array.iter().copied().collect();
        Self { shape, data }
    }

    /// Copies the tensor into an ndarray array.
    pub fn to_array(&self) -> ArrayD<u64> {
        ArrayD::from_shape_vec(IxDyn(&self.shape), self.data.clone())
            .expect("shape and data length agree by construction")
    }

    /// A borrowed ndarray view of the tensor.
    pub fn view(&self) -> ArrayViewD<'_, u64> {
        ArrayViewD::from_shape(IxDyn(&self.shape), &self.data)
            .expect("shape and data length agree by construction")
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[u64] {
        &self.data
    }

    /// The elements in row-major order, mutably.
    pub fn data_mut(&mut self) -> &mut [u64] {
        &mut self.data
    }

    /// Consumes the tensor and returns its row-major elements.
    pub fn into_data(self) -> Vec<u64> {
        self.data
    }
}
