//! Tests of the shape operations.

use super::*;
use crate::broadcast_shapes;
use ndarray::{ArrayD, Axis, IxDyn, Slice};
use proptest::prelude::*;

fn iota(shape: &[usize]) -> RingTensor {
    let n: usize = shape.iter().product();
    RingTensor::new(
        shape,
        (0..n as u64)
            .map(|i| i.wrapping_mul(0x1234_5678_9abc_def1))
            .collect(),
    )
    .unwrap()
}

fn arr(t: &RingTensor) -> ArrayD<u64> {
    t.to_array()
}

#[test]
fn broadcast_shapes_follows_numpy() {
    assert_eq!(
        broadcast_shapes(&[3, 1, 5], &[4, 1]).unwrap(),
        vec![3, 4, 5]
    );
    assert_eq!(broadcast_shapes(&[], &[2, 3]).unwrap(), vec![2, 3]);
    assert_eq!(broadcast_shapes(&[0, 1], &[1, 4]).unwrap(), vec![0, 4]);
    assert_eq!(broadcast_shapes(&[1], &[0]).unwrap(), vec![0]);
    assert!(matches!(
        broadcast_shapes(&[3, 2], &[3]),
        Err(Error::ShapeMismatch {
            op: "broadcast_shapes",
            ..
        })
    ));
}

#[test]
fn reshape_and_into_shape() {
    let t = iota(&[2, 3, 4]);
    assert_eq!(t.reshape(&[6, 4]).unwrap().data(), t.data());
    assert_eq!(t.clone().into_shape(&[24]).unwrap().shape(), &[24]);
    assert!(matches!(
        t.reshape(&[5, 5]),
        Err(Error::InvalidArgument { op: "reshape", .. })
    ));
    assert!(matches!(
        t.into_shape(&[7]),
        Err(Error::InvalidArgument {
            op: "into_shape",
            ..
        })
    ));
}

#[test]
fn permute_and_transpose_match_ndarray() {
    for (shape, dims) in [
        (&[2usize, 3, 4][..], &[2usize, 0, 1][..]),
        (&[5, 1, 7, 3], &[3, 1, 0, 2]),
        (&[300, 257], &[1, 0]),
        (&[], &[]),
    ] {
        let t = iota(shape);
        let expect = arr(&t)
            .permuted_axes(IxDyn(dims))
            .as_standard_layout()
            .into_owned();
        assert_eq!(arr(&t.permute(dims).unwrap()), expect);
    }
    let t = iota(&[3, 4, 5]);
    let expect = arr(&t)
        .permuted_axes(IxDyn(&[2, 1, 0]))
        .as_standard_layout()
        .into_owned();
    assert_eq!(arr(&t.transpose(0, 2).unwrap()), expect);
    assert!(t.permute(&[0, 0, 1]).is_err());
    assert!(t.permute(&[0, 1]).is_err());
    assert!(t.transpose(0, 3).is_err());
}

#[test]
fn narrow_slice_index_select() {
    let t = iota(&[4, 7, 3]);
    let a = arr(&t);
    let expect = a.slice_axis(Axis(1), Slice::from(2..5)).to_owned();
    assert_eq!(arr(&t.narrow(1, 2, 3).unwrap()), expect);
    let expect = a.slice_axis(Axis(1), Slice::new(1, Some(7), 3)).to_owned();
    assert_eq!(arr(&t.slice(1, 1, 7, 3).unwrap()), expect);
    assert_eq!(t.slice(2, 1, 1, 1).unwrap().shape(), &[4, 7, 0]);
    let expect = a.select(Axis(0), &[3, 0, 3]);
    assert_eq!(arr(&t.index_select(0, &[3, 0, 3]).unwrap()), expect);
    assert!(matches!(
        t.narrow(1, 5, 3),
        Err(Error::InvalidArgument { op: "narrow", .. })
    ));
    assert!(t.narrow(1, usize::MAX, 2).is_err());
    assert!(t.slice(1, 0, 7, 0).is_err());
    assert!(t.slice(1, 3, 2, 1).is_err());
    assert!(t.slice(3, 0, 1, 1).is_err());
    assert!(matches!(
        t.index_select(2, &[0, 3]),
        Err(Error::InvalidArgument {
            op: "index_select",
            ..
        })
    ));
}

#[test]
fn cat_and_stack_match_ndarray() {
    let (x, y) = (iota(&[2, 3, 4]), iota(&[2, 5, 4]).add_scalar(7));
    let expect = ndarray::concatenate(Axis(1), &[arr(&x).view(), arr(&y).view()]).unwrap();
    assert_eq!(arr(&RingTensor::cat(&[&x, &y], 1).unwrap()), expect);
    assert!(matches!(
        RingTensor::cat(&[&x, &y], 0),
        Err(Error::ShapeMismatch { op: "cat", .. })
    ));
    assert!(RingTensor::cat(&[], 0).is_err());
    let z = x.add_scalar(1);
    for dim in 0..=3 {
        let expect = ndarray::stack(Axis(dim), &[arr(&x).view(), arr(&z).view()]).unwrap();
        assert_eq!(
            arr(&RingTensor::stack(&[&x, &z], dim).unwrap()),
            expect,
            "dim {dim}"
        );
    }
    assert!(RingTensor::stack(&[&x, &y], 0).is_err());
    assert!(RingTensor::stack(&[&x, &z], 4).is_err());
}

#[test]
fn pad_places_input_inside_border() {
    let t = iota(&[2, 1, 3]);
    let pads = [(1, 0), (2, 1), (0, 2)];
    let p = t.pad(&pads, 99).unwrap();
    assert_eq!(p.shape(), &[3, 4, 5]);
    let pa = arr(&p);
    let ta = arr(&t);
    for ((i, j, k), &v) in pa.indexed_iter().map(|(ix, v)| ((ix[0], ix[1], ix[2]), v)) {
        let inside = i >= 1 && j == 2 && k < 3;
        let expect = if inside { ta[[i - 1, 0, k]] } else { 99 };
        assert_eq!(v, expect, "{i} {j} {k}");
    }
    assert!(t.pad(&[(1, 1)], 0).is_err());
    assert_eq!(
        iota(&[0, 2]).pad(&[(1, 0), (0, 0)], 5).unwrap().data(),
        &[5, 5]
    );
}

#[test]
fn expand_matches_broadcast_to() {
    let t = iota(&[3, 1]);
    let e = t.expand(&[2, 3, 4]).unwrap();
    assert_eq!(
        arr(&e),
        arr(&t).broadcast(IxDyn(&[2, 3, 4])).unwrap().to_owned()
    );
    assert_eq!(
        RingTensor::scalar(7).expand(&[2, 2]).unwrap().data(),
        &[7; 4]
    );
    assert!(matches!(
        t.expand(&[3, 4, 2]),
        Err(Error::ShapeMismatch { op: "expand", .. })
    ));
    assert!(t.expand(&[3]).is_err());
}

#[test]
fn squeeze_unsqueeze_flatten() {
    let t = iota(&[1, 3, 1, 2]);
    assert_eq!(t.squeeze(None).unwrap().shape(), &[3, 2]);
    assert_eq!(t.squeeze(Some(2)).unwrap().shape(), &[1, 3, 2]);
    assert_eq!(t.squeeze(Some(1)).unwrap().shape(), &[1, 3, 1, 2]);
    assert!(t.squeeze(Some(4)).is_err());
    assert_eq!(t.unsqueeze(4).unwrap().shape(), &[1, 3, 1, 2, 1]);
    assert!(t.unsqueeze(5).is_err());
    let f = t.flatten(1, 3).unwrap();
    assert_eq!((f.shape(), f.data()), (&[1usize, 6][..], t.data()));
    assert_eq!(RingTensor::scalar(4).flatten(0, 0).unwrap().shape(), &[1]);
    assert!(t.flatten(2, 1).is_err());
    assert!(t.flatten(0, 4).is_err());
}

proptest! {
    #[test]
    fn permute_inverse_round_trips(shape in proptest::collection::vec(1usize..5, 0..5), seed: u64) {
        let t = iota(&shape).add_scalar(seed);
        let n = shape.len();
        let dims: Vec<usize> = (0..n).map(|i| (i + seed as usize % n.max(1)) % n.max(1)).collect();
        let mut inverse = vec![0; n];
        for (i, &d) in dims.iter().enumerate() {
            inverse[d] = i;
        }
        prop_assert_eq!(t.permute(&dims).unwrap().permute(&inverse).unwrap(), t);
    }

    #[test]
    fn narrow_pieces_cat_back(len in 1usize..9, cut in 0usize..9) {
        let t = iota(&[3, len, 2]);
        let cut = cut.min(len);
        let a = t.narrow(1, 0, cut).unwrap();
        let b = t.narrow(1, cut, len - cut).unwrap();
        prop_assert_eq!(RingTensor::cat(&[&a, &b], 1).unwrap(), t);
    }
}
