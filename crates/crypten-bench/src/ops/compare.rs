//! The comparison ops of the per-op suite: conversions, bit tests, relu, max/argmax and max
//! pooling, on the shapes of the anchor measurements (1e5 elements; 1000x10 and 100x100 along
//! dimension 1).

use super::{data, plain_time};
use crate::{Record, Result, measure};
use crypten::advanced::protocol::binary::{a2b, b2a};
use crypten::ndarray::{ArrayD, Axis, IxDyn};
use crypten::{CrypTensor, Session};

/// The op names this file adds to the suite.
pub(super) const OP_NAMES: &[&str] = &[
    "a2b",
    "b2a",
    "ltz",
    "eq",
    "relu",
    "max",
    "argmax",
    "max_pool2d",
];

/// The one-hot of each row's first maximum (plaintext reference for argmax).
fn onehot_argmax(x: &ArrayD<f64>) -> ArrayD<f64> {
    let mut out = ArrayD::zeros(x.raw_dim());
    for (mut o, row) in out.lanes_mut(Axis(1)).into_iter().zip(x.lanes(Axis(1))) {
        let best =
            row.iter().enumerate().fold(
                (0, f64::NEG_INFINITY),
                |b, (i, &v)| if v > b.1 { (i, v) } else { b },
            );
        o[best.0] = 1.0;
    }
    out
}

/// Plaintext 2x2, stride-2 max pooling of an `[N, C, H, W]` array.
fn max_pool_plain(x: &ArrayD<f64>) -> ArrayD<f64> {
    let s = x.shape();
    ArrayD::from_shape_fn(IxDyn(&[s[0], s[1], s[2] / 2, s[3] / 2]), |ix| {
        let mut m = f64::NEG_INFINITY;
        for a in 0..2 {
            for b in 0..2 {
                m = m.max(x[[ix[0], ix[1], 2 * ix[2] + a, 2 * ix[3] + b]]);
            }
        }
        m
    })
}

/// Runs the ops of this file that `wanted` selects.
pub(super) fn run_suite(
    sess: &Session,
    reps: usize,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<Record>> {
    if !OP_NAMES.iter().any(|op| wanted(op)) {
        return Ok(Vec::new());
    }
    let mut records = Vec::new();
    let mut push = |op: &str, shape: &[usize], m: crate::Measurement, plain: f64, note: &str| {
        records.push(Record::new(sess, op, shape, &m, plain, note));
    };
    let vec_shape = [100_000];
    let (xv, yv) = (data(&vec_shape, 11), data(&vec_shape, 12));
    let x = CrypTensor::from_array(sess, &xv, 0)?;
    let y = CrypTensor::from_array(sess, &yv, 1)?;
    if wanted("a2b") {
        let m = measure(sess, reps, || a2b::a2b(sess, x.share()?))?;
        let enc = sess.encoder();
        let plain = plain_time(reps, || enc.encode(&xv));
        let note = "arithmetic -> XOR shares of 1e5 words (plaintext: encoding)";
        push("a2b", &vec_shape, m, plain, note);
    }
    if wanted("b2a") {
        let words = a2b::a2b(sess, x.share()?)?;
        let m = measure(sess, reps, || b2a::b2a(sess, &words))?;
        let enc = sess.encoder();
        let ring = enc.encode(&xv)?;
        let plain = plain_time(reps, || enc.decode(&ring));
        let note = "XOR -> arithmetic shares of 1e5 words (plaintext: decoding)";
        push("b2a", &vec_shape, m, plain, note);
    }
    if wanted("ltz") {
        let m = measure(sess, reps, || x.ltz())?;
        let plain = plain_time(reps, || xv.mapv(|v| f64::from(u8::from(v < 0.0))));
        push(
            "ltz",
            &vec_shape,
            m,
            plain,
            "x < 0 as fixed-point 0/1, 1e5 elements",
        );
    }
    if wanted("eq") {
        let m = measure(sess, reps, || x.eq(&y))?;
        let plain = plain_time(reps, || {
            ArrayD::from_shape_fn(xv.raw_dim(), |i| f64::from(u8::from(xv[&i] == yv[&i])))
        });
        push(
            "eq",
            &vec_shape,
            m,
            plain,
            "x == y as fixed-point 0/1, 1e5 elements",
        );
    }
    if wanted("relu") {
        let m = measure(sess, reps, || x.relu())?;
        let plain = plain_time(reps, || xv.mapv(|v| v.max(0.0)));
        push("relu", &vec_shape, m, plain, "max(x, 0), 1e5 elements");
    }
    for shape in [[1000, 10], [100, 100]] {
        if !wanted("max") && !wanted("argmax") {
            break;
        }
        let av = data(&shape, 13);
        let a = CrypTensor::from_array(sess, &av, 0)?;
        if wanted("max") {
            let m = measure(sess, reps, || a.max(1, false))?;
            let plain = plain_time(reps, || {
                av.fold_axis(Axis(1), f64::NEG_INFINITY, |m, &v| m.max(v))
            });
            let note = format!("max along dim 1 of {}x{}", shape[0], shape[1]);
            push("max", &shape, m, plain, &note);
        }
        if wanted("argmax") {
            let m = measure(sess, reps, || a.argmax(1, false))?;
            let plain = plain_time(reps, || onehot_argmax(&av));
            let note = format!("one-hot argmax along dim 1 of {}x{}", shape[0], shape[1]);
            push("argmax", &shape, m, plain, &note);
        }
    }
    if wanted("max_pool2d") {
        let shape = [1, 16, 32, 32];
        let iv = data(&shape, 14);
        let input = CrypTensor::from_array(sess, &iv, 1)?;
        let m = measure(sess, reps, || input.max_pool2d((2, 2), (2, 2), (0, 0)))?;
        let plain = plain_time(reps, || max_pool_plain(&iv));
        push(
            "max_pool2d",
            &shape,
            m,
            plain,
            "1x16x32x32, kernel 2x2, stride 2",
        );
    }
    Ok(records)
}
