//! The per-op suite (`crypten bench ops`): the anchor's operations and shapes.

use crate::{Error, Record, Result, measure};
use crypten::ndarray::{ArrayD, Axis, Ix2, IxDyn};
use crypten::{Conv2dParams, CrypTensor, Prg, Session};
use std::time::Instant;

mod compare;
mod functions;

/// What to run.
#[derive(Clone, Debug)]
pub struct OpsConfig {
    /// Op names to run; empty runs all.
    pub only: Vec<String>,
    /// Measured repetitions per op (after one warm-up).
    pub reps: usize,
}

impl Default for OpsConfig {
    fn default() -> Self {
        Self {
            only: Vec::new(),
            reps: 7,
        }
    }
}

/// Every op name the suite knows, in order.
pub const OP_NAMES: &[&str] = &["add", "mul", "square", "matmul", "conv2d", "sum"];

/// Deterministic benchmark data, uniform in [-1, 1).
fn data(shape: &[usize], seed: u8) -> ArrayD<f64> {
    let mut prg = Prg::from_seed([seed; 16]);
    let n = shape.iter().product();
    let v = (0..n).map(|_| prg.uniform_f64() * 2.0 - 1.0).collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("length matches shape")
}

/// Median seconds of a plaintext closure over `reps` runs.
fn plain_time<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    let mut times: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn matmul_plain(a: &ArrayD<f64>, b: &ArrayD<f64>) -> ArrayD<f64> {
    let a = a.view().into_dimensionality::<Ix2>().expect("2-d");
    let b = b.view().into_dimensionality::<Ix2>().expect("2-d");
    a.dot(&b).into_dyn()
}

/// Runs the suite; every party gets the records (party 0 usually prints them).
///
/// # Errors
/// An unknown op name, or the ops' own failures.
pub fn run_suite(sess: &Session, config: &OpsConfig) -> Result<Vec<Record>> {
    for name in &config.only {
        if !OP_NAMES.contains(&name.as_str())
            && !compare::OP_NAMES.contains(&name.as_str())
            && !functions::OP_NAMES.contains(&name.as_str())
        {
            return Err(Error::UnknownOp(name.clone()));
        }
    }
    let wanted = |name: &str| config.only.is_empty() || config.only.iter().any(|n| n == name);
    let reps = config.reps;
    let mut records = Vec::new();
    let mut push = |op: &str, shape: &[usize], m: crate::Measurement, plain: f64, note: &str| {
        records.push(Record::new(sess, op, shape, &m, plain, note));
    };
    let vec_shape = [100_000];
    let (xv, yv) = (data(&vec_shape, 1), data(&vec_shape, 2));
    let x = CrypTensor::from_array(sess, &xv, 0)?;
    let y = CrypTensor::from_array(sess, &yv, 1)?;
    if wanted("add") {
        let m = measure(sess, reps, || x.add(&y))?;
        push(
            "add",
            &vec_shape,
            m,
            plain_time(reps, || &xv + &yv),
            "x + y, 1e5 elements, x at P0, y at P1",
        );
    }
    if wanted("mul") {
        let m = measure(sess, reps, || x.mul(&y))?;
        push(
            "mul",
            &vec_shape,
            m,
            plain_time(reps, || &xv * &yv),
            "x * y elementwise, 1e5 elements",
        );
    }
    if wanted("square") {
        let m = measure(sess, reps, || x.square())?;
        push(
            "square",
            &vec_shape,
            m,
            plain_time(reps, || &xv * &xv),
            "x * x, 1e5 elements",
        );
    }
    if wanted("sum") {
        let m = measure(sess, reps, || x.sum(&[0], false))?;
        push(
            "sum",
            &vec_shape,
            m,
            plain_time(reps, || xv.sum_axis(Axis(0))),
            "sum of 1e5 elements",
        );
    }
    if wanted("matmul") {
        for n in [100, 256, 512] {
            let shape = [n, n];
            let (av, bv) = (data(&shape, 3), data(&shape, 4));
            let a = CrypTensor::from_array(sess, &av, 0)?;
            let b = CrypTensor::from_array(sess, &bv, 1)?;
            let m = measure(sess, reps, || a.matmul(&b))?;
            let note = format!("{n}x{n} @ {n}x{n}, both secret, a at P0, b at P1");
            push(
                "matmul",
                &shape,
                m,
                plain_time(reps, || matmul_plain(&av, &bv)),
                &note,
            );
        }
    }
    if wanted("conv2d") {
        let (in_shape, w_shape) = ([1, 3, 32, 32], [16, 3, 3, 3]);
        let p = Conv2dParams {
            padding: (1, 1),
            ..Conv2dParams::default()
        };
        let (iv, wv) = (data(&in_shape, 5), data(&w_shape, 6));
        let input = CrypTensor::from_array(sess, &iv, 1)?;
        let weight = CrypTensor::from_array(sess, &wv, 0)?;
        let m = measure(sess, reps, || input.conv2d(&weight, &p))?;
        let enc = sess.encoder();
        let (ir, wr) = (enc.encode(&iv)?, enc.encode(&wv)?);
        let plain = plain_time(reps, || ir.conv2d(&wr, &p));
        push(
            "conv2d",
            &in_shape,
            m,
            plain,
            "input 1x3x32x32 (P1) * kernel 16x3x3x3 (P0), padding 1 (plaintext: ring conv)",
        );
    }
    records.extend(compare::run_suite(sess, reps, &wanted)?);
    functions::run(sess, config, &wanted, &mut records)?;
    Ok(records)
}
