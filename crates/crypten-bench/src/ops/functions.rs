//! The non-linear functions in `crypten bench ops`: exp, log, reciprocal, sqrt, inv_sqrt,
//! sigmoid, tanh, erf, gelu and div on 1e4 elements, softmax and log_softmax on 1000x10 and
//! 100x100 along dim 1, on the anchor's input distributions where it has one (exp U(-4,4),
//! reciprocal U(0.1,10), sigmoid U(-8,8), sqrt and log U(0.1,20), softmax 2 N(0,1)).
//!
//! Each record's note ends with the largest absolute error against f64 on the (fixed-point
//! rounded) inputs, measured once outside the timed repetitions.

use super::{OpsConfig, plain_time};
use crate::{Record, Result, measure};
use crypten::ndarray::{ArrayD, Axis, IxDyn};
use crypten::{CrypTensor, Prg, Session};

/// The op names this file adds to the suite.
pub(super) const OP_NAMES: &[&str] = &[
    "exp",
    "log",
    "reciprocal",
    "sqrt",
    "inv_sqrt",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "erf",
    "gelu",
    "div",
];

/// Elements of the elementwise inputs.
const N: usize = 10_000;

/// Deterministic uniform data in `[lo, hi)`.
fn uniform(shape: &[usize], lo: f64, hi: f64, seed: u8) -> ArrayD<f64> {
    let mut prg = Prg::from_seed([seed; 16]);
    let n = shape.iter().product();
    let v = (0..n).map(|_| lo + (hi - lo) * prg.uniform_f64()).collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("length matches shape")
}

/// Deterministic normal data with standard deviation `sd` (Box-Muller in f64).
fn normal(shape: &[usize], sd: f64, seed: u8) -> ArrayD<f64> {
    let mut prg = Prg::from_seed([seed; 16]);
    let n = shape.iter().product();
    let v = (0..n)
        .map(|_| {
            let (u1, u2) = (1.0 - prg.uniform_f64(), prg.uniform_f64());
            sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("length matches shape")
}

fn erf(x: f64) -> f64 {
    crypten::advanced::functions::erf_f64(x)
}

fn softmax_f64(x: &ArrayD<f64>, log: bool) -> ArrayD<f64> {
    let mut out = x.clone();
    for mut row in out.axis_iter_mut(Axis(0)) {
        let m = row.iter().copied().fold(f64::MIN, f64::max);
        let z: f64 = row.iter().map(|v| (v - m).exp()).sum();
        row.mapv_inplace(|v| {
            if log {
                v - m - z.ln()
            } else {
                (v - m).exp() / z
            }
        });
    }
    out
}

type SecretOp = fn(&CrypTensor) -> crypten::Result<CrypTensor>;
type PlainOp = fn(&ArrayD<f64>) -> ArrayD<f64>;

/// One elementwise or row-wise op: its name, input, secret and plaintext versions, note.
struct Case {
    name: &'static str,
    input: ArrayD<f64>,
    secret: SecretOp,
    plain: PlainOp,
    note: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "exp",
            input: uniform(&[N], -4.0, 4.0, 11),
            secret: |x| x.exp(),
            plain: |x| x.mapv(f64::exp),
            note: "exp, 1e4 elements ~U(-4,4)",
        },
        Case {
            name: "log",
            input: uniform(&[N], 0.1, 20.0, 12),
            secret: |x| x.log(),
            plain: |x| x.mapv(f64::ln),
            note: "log, 1e4 elements ~U(0.1,20)",
        },
        Case {
            name: "reciprocal",
            input: uniform(&[N], 0.1, 10.0, 13),
            secret: |x| x.reciprocal(),
            plain: |x| x.mapv(|v| 1.0 / v),
            note: "1/x with sign handling, 1e4 elements ~U(0.1,10)",
        },
        Case {
            name: "sqrt",
            input: uniform(&[N], 0.1, 20.0, 14),
            secret: |x| x.sqrt(),
            plain: |x| x.mapv(f64::sqrt),
            note: "sqrt, 1e4 elements ~U(0.1,20)",
        },
        Case {
            name: "inv_sqrt",
            input: uniform(&[N], 0.1, 20.0, 15),
            secret: |x| x.inv_sqrt(),
            plain: |x| x.mapv(|v| 1.0 / v.sqrt()),
            note: "1/sqrt(x), 1e4 elements ~U(0.1,20)",
        },
        Case {
            name: "sigmoid",
            input: uniform(&[N], -8.0, 8.0, 16),
            secret: |x| x.sigmoid(),
            plain: |x| x.mapv(|v| 1.0 / (1.0 + (-v).exp())),
            note: "sigmoid (default method), 1e4 elements ~U(-8,8)",
        },
        Case {
            name: "tanh",
            input: uniform(&[N], -4.0, 4.0, 17),
            secret: |x| x.tanh(),
            plain: |x| x.mapv(f64::tanh),
            note: "tanh, 1e4 elements ~U(-4,4)",
        },
        Case {
            name: "erf",
            input: uniform(&[N], -3.0, 3.0, 18),
            secret: |x| x.erf(),
            plain: |x| x.mapv(erf),
            note: "erf, 1e4 elements ~U(-3,3)",
        },
        Case {
            name: "gelu",
            input: uniform(&[N], -4.0, 4.0, 19),
            secret: |x| x.gelu(),
            plain: |x| x.mapv(|v| 0.5 * v * (1.0 + erf(v / std::f64::consts::SQRT_2))),
            note: "gelu (erf form), 1e4 elements ~U(-4,4)",
        },
        Case {
            name: "softmax",
            input: normal(&[1000, 10], 2.0, 20),
            secret: |x| x.softmax(1),
            plain: |x| softmax_f64(x, false),
            note: "softmax dim 1, 1000x10 ~2*N(0,1)",
        },
        Case {
            name: "softmax",
            input: normal(&[100, 100], 2.0, 21),
            secret: |x| x.softmax(1),
            plain: |x| softmax_f64(x, false),
            note: "softmax dim 1, 100x100 ~2*N(0,1)",
        },
        Case {
            name: "log_softmax",
            input: normal(&[1000, 10], 2.0, 22),
            secret: |x| x.log_softmax(1),
            plain: |x| softmax_f64(x, true),
            note: "log_softmax dim 1, 1000x10 ~2*N(0,1)",
        },
        Case {
            name: "log_softmax",
            input: normal(&[100, 100], 2.0, 23),
            secret: |x| x.log_softmax(1),
            plain: |x| softmax_f64(x, true),
            note: "log_softmax dim 1, 100x100 ~2*N(0,1)",
        },
    ]
}

/// The largest absolute difference between `got` and `want`.
fn max_abs_error(got: &ArrayD<f64>, want: &ArrayD<f64>) -> f64 {
    got.iter()
        .zip(want.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

/// Runs the function ops selected by `wanted`, appending their records.
///
/// # Errors
/// The ops' own failures.
pub(super) fn run(
    sess: &Session,
    config: &OpsConfig,
    wanted: &dyn Fn(&str) -> bool,
    records: &mut Vec<Record>,
) -> Result<()> {
    let reps = config.reps;
    let enc = sess.encoder();
    let mut push = |op: &str, shape: &[usize], m: crate::Measurement, plain: f64, note: String| {
        records.push(Record::new(sess, op, shape, &m, plain, note));
    };
    for case in cases().into_iter().filter(|c| wanted(c.name)) {
        let x = CrypTensor::from_array(sess, &case.input, 0)?;
        let m = measure(sess, reps, || (case.secret)(&x))?;
        let rounded = enc.decode(&enc.encode(&case.input)?);
        let error = max_abs_error(
            &(case.secret)(&x)?.get_plain_text()?,
            &(case.plain)(&rounded),
        );
        let plain = plain_time(reps, || (case.plain)(&case.input));
        let note = format!("{}; max abs error {error:.2e}", case.note);
        push(case.name, case.input.shape(), m, plain, note);
    }
    if wanted("div") {
        let (xv, yv) = (uniform(&[N], -10.0, 10.0, 24), uniform(&[N], 0.1, 10.0, 25));
        let x = CrypTensor::from_array(sess, &xv, 0)?;
        let y = CrypTensor::from_array(sess, &yv, 1)?;
        let m = measure(sess, reps, || x.div(&y))?;
        let (xr, yr) = (enc.decode(&enc.encode(&xv)?), enc.decode(&enc.encode(&yv)?));
        let error = max_abs_error(&x.div(&y)?.get_plain_text()?, &(&xr / &yr));
        let plain = plain_time(reps, || &xv / &yv);
        let note = format!(
            "x / y both secret, x ~U(-10,10) at P0, y ~U(0.1,10) at P1, 1e4 elements; \
             max abs error {error:.2e}"
        );
        push("div", &[N], m, plain, note);
    }
    Ok(())
}
