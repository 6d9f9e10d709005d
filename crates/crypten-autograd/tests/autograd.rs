//! Autograd: gradients of every recorded op against central finite differences in f64, and
//! the same graph on encrypted leaves (2 and 3 parties) against the plaintext gradients.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_autograd::{Tensor, Variable, no_grad};
use crypten_core::Prg;
use crypten_mpc::simulator::run;
use crypten_mpc::{CrypTensor, ProviderKind};
use ndarray::{ArrayD, IxDyn};

fn data(shape: &[usize], seed: u8) -> ArrayD<f64> {
    let mut prg = Prg::from_seed([seed; 16]);
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|_| prg.uniform_f64() * 2.0 - 1.0).collect(),
    )
    .unwrap()
}

/// The largest absolute difference between two arrays of one shape.
fn max_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// A scalar function of three inputs using every differentiable op, with broadcasting.
fn objective(x: &Variable, w: &Variable, b: &Variable) -> crypten_autograd::Result<Variable> {
    let h = x.matmul(w)?.add(b)?; // [4,3]@[3,2] + [2]
    let t = h
        .transpose(0, 1)?
        .reshape(&[8])?
        .mul_scalar(0.5)?
        .add_scalar(0.25)?;
    let u = t.square()?.sub(&t.neg())?; // t^2 + t
    let v = u.reshape(&[2, 4])?.mul(&b.reshape(&[2, 1])?)?; // broadcast product
    v.sum(&[1], false)?
        .mean_all()?
        .add(&x.mean(&[0], true)?.sum_all()?)
}

fn plain_value(v: &Variable) -> ArrayD<f64> {
    match v.value() {
        Tensor::Plain(a) => a.clone(),
        Tensor::Encrypted(_) => panic!("expected plaintext"),
    }
}

#[test]
fn plaintext_gradients_match_finite_differences() {
    let inputs = [data(&[4, 3], 1), data(&[3, 2], 2), data(&[2], 3)];
    let vars: Vec<Variable> = inputs
        .iter()
        .map(|a| Variable::leaf(a.clone(), true))
        .collect();
    let out = objective(&vars[0], &vars[1], &vars[2]).unwrap();
    out.backward().unwrap();
    let eval = |args: &[ArrayD<f64>]| -> f64 {
        let vs: Vec<Variable> = args.iter().map(|a| Variable::constant(a.clone())).collect();
        plain_value(&objective(&vs[0], &vs[1], &vs[2]).unwrap()).sum()
    };
    let h = 1e-6;
    for (i, var) in vars.iter().enumerate() {
        let grad = match var.grad().unwrap() {
            Tensor::Plain(g) => g,
            Tensor::Encrypted(_) => unreachable!(),
        };
        assert_eq!(grad.shape(), inputs[i].shape());
        for (j, &g) in grad.iter().enumerate() {
            let mut plus = inputs.to_vec();
            let mut minus = inputs.to_vec();
            plus[i].as_slice_mut().unwrap()[j] += h;
            minus[i].as_slice_mut().unwrap()[j] -= h;
            let numeric = (eval(&plus) - eval(&minus)) / (2.0 * h);
            assert!(
                (numeric - g).abs() < 1e-6,
                "input {i} element {j}: {g} vs {numeric}"
            );
        }
    }
}

#[test]
fn no_grad_records_nothing_and_accumulation_adds() {
    let x = Variable::leaf(data(&[3], 4), true);
    let y = no_grad(|| x.square().unwrap());
    assert!(!y.requires_grad());
    let z = x.sum_all().unwrap();
    z.backward().unwrap();
    z.backward().unwrap();
    let g = match x.grad().unwrap() {
        Tensor::Plain(g) => g,
        Tensor::Encrypted(_) => unreachable!(),
    };
    assert!(
        g.iter().all(|&v| v == 2.0),
        "gradients accumulate across backward calls"
    );
    x.zero_grad();
    assert!(x.grad().is_none());
}

#[test]
fn encrypted_gradients_match_plaintext_gradients() {
    let inputs = [data(&[4, 3], 1), data(&[3, 2], 2), data(&[2], 3)];
    let vars: Vec<Variable> = inputs
        .iter()
        .map(|a| Variable::leaf(a.clone(), true))
        .collect();
    objective(&vars[0], &vars[1], &vars[2])
        .unwrap()
        .backward()
        .unwrap();
    let expected: Vec<ArrayD<f64>> = vars
        .iter()
        .map(|v| v.grad().unwrap().to_plain().unwrap())
        .collect();
    for parties in [2, 3] {
        let out = run(parties, ProviderKind::TrustedThirdParty, |sess| {
            // x is party 0's data, w is party 1's model, b is public (mixed plaintext/encrypted).
            let x = Variable::leaf(CrypTensor::from_array(&sess, &inputs[0], 0)?, true);
            let w = Variable::leaf(CrypTensor::from_array(&sess, &inputs[1], 1)?, true);
            let b = Variable::leaf(inputs[2].clone(), true);
            let loss = objective(&x, &w, &b)?;
            assert!(loss.value().is_encrypted());
            loss.backward()?;
            let grads = [&x, &w, &b].map(|v| v.grad().unwrap());
            assert!(grads[0].is_encrypted() && grads[1].is_encrypted());
            grads
                .iter()
                .map(Tensor::to_plain)
                .collect::<crypten_autograd::Result<Vec<_>>>()
        })
        .unwrap();
        for (i, (got, want)) in out[0].iter().zip(&expected).enumerate() {
            let err = max_diff(got, want);
            // A handful of fixed-point products in sequence: each adds about 2^-16 relative.
            assert!(err < 2e-3, "{parties} parties, input {i}: max error {err}");
        }
    }
}

fn conv_objective(x: &Variable, w: &Variable) -> crypten_autograd::Result<Variable> {
    let p = crypten_core::Conv2dParams {
        stride: (2, 1),
        padding: (1, 1),
        dilation: (1, 2),
        groups: 2,
    };
    let y = x.conv2d(w, &p)?; // [2,4,5,6] * [4,2,3,2] -> [2,4,3,4]
    y.square()?.mean_all()
}

#[test]
fn conv2d_gradients_match_finite_differences_and_encrypted_runs() {
    let inputs = [data(&[2, 4, 5, 6], 5), data(&[4, 2, 3, 2], 6)];
    let vars: Vec<Variable> = inputs
        .iter()
        .map(|a| Variable::leaf(a.clone(), true))
        .collect();
    conv_objective(&vars[0], &vars[1])
        .unwrap()
        .backward()
        .unwrap();
    let expected: Vec<ArrayD<f64>> = vars
        .iter()
        .map(|v| v.grad().unwrap().to_plain().unwrap())
        .collect();
    let eval = |args: &[ArrayD<f64>]| {
        let vs: Vec<Variable> = args.iter().map(|a| Variable::constant(a.clone())).collect();
        plain_value(&conv_objective(&vs[0], &vs[1]).unwrap()).sum()
    };
    let h = 1e-6;
    for (i, grad) in expected.iter().enumerate() {
        for j in (0..grad.len()).step_by(7) {
            let (mut plus, mut minus) = (inputs.to_vec(), inputs.to_vec());
            plus[i].as_slice_mut().unwrap()[j] += h;
            minus[i].as_slice_mut().unwrap()[j] -= h;
            let numeric = (eval(&plus) - eval(&minus)) / (2.0 * h);
            let g = grad.as_slice().unwrap()[j];
            assert!(
                (numeric - g).abs() < 1e-6,
                "input {i} element {j}: {g} vs {numeric}"
            );
        }
    }
    for parties in [2, 3] {
        let out = run(parties, ProviderKind::TrustedThirdParty, |sess| {
            let x = Variable::leaf(CrypTensor::from_array(&sess, &inputs[0], 1)?, true);
            let w = Variable::leaf(CrypTensor::from_array(&sess, &inputs[1], 0)?, true);
            conv_objective(&x, &w)?.backward()?;
            Ok([x.grad().unwrap().to_plain()?, w.grad().unwrap().to_plain()?])
        })
        .unwrap();
        for (got, want) in out[0].iter().zip(&expected) {
            let err = max_diff(got, want);
            assert!(err < 2e-3, "{parties} parties: max error {err}");
        }
    }
}

#[test]
fn relu_gradient_is_its_mask_encrypted_and_plain() {
    let x = data(&[5, 7], 8).mapv(|v| if v.abs() < 0.05 { 0.3 } else { v });
    let w = data(&[7, 3], 9);
    let f = |x: &Variable, w: &Variable| x.relu()?.matmul(w)?.relu()?.sum_all();
    let (xv, wv) = (
        Variable::leaf(x.clone(), true),
        Variable::leaf(w.clone(), true),
    );
    f(&xv, &wv).unwrap().backward().unwrap();
    let want = [
        xv.grad().unwrap().to_plain().unwrap(),
        wv.grad().unwrap().to_plain().unwrap(),
    ];
    let mask = x.mapv(|v| if v >= 0.0 { 1.0 } else { 0.0 });
    let hidden = x.mapv(|v| v.max(0.0));
    let pre = plain_value(
        &Variable::constant(hidden)
            .matmul(&Variable::constant(w.clone()))
            .unwrap(),
    );
    let upstream = pre.mapv(|v| if v >= 0.0 { 1.0 } else { 0.0 });
    let wt = w.clone().reversed_axes();
    let dx = upstream
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap()
        .dot(&wt.into_dimensionality::<ndarray::Ix2>().unwrap())
        .into_dyn()
        * &mask;
    assert!(
        dx.iter()
            .zip(want[0].iter())
            .all(|(a, b)| (a - b).abs() < 1e-12)
    );
    for parties in [2, 3] {
        let out = run(parties, ProviderKind::TrustedThirdParty, |sess| {
            let xe = Variable::leaf(CrypTensor::from_array(&sess, &x, 0)?, true);
            let we = Variable::leaf(CrypTensor::from_array(&sess, &w, 1)?, true);
            f(&xe, &we)?.backward()?;
            Ok([
                xe.grad().unwrap().to_plain()?,
                we.grad().unwrap().to_plain()?,
            ])
        })
        .unwrap();
        for (got, want) in out[0].iter().zip(&want) {
            let err = max_diff(got, want);
            assert!(err < 2e-3, "{parties} parties: max error {err}");
        }
    }
}

/// Naive pooling references in f64.
fn pool_ref(
    x: &ArrayD<f64>,
    kernel: (usize, usize),
    stride: (usize, usize),
    max: bool,
) -> ArrayD<f64> {
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (oh, ow) = ((h - kernel.0) / stride.0 + 1, (w - kernel.1) / stride.1 + 1);
    ArrayD::from_shape_fn(IxDyn(&[n, c, oh, ow]), |ix| {
        let vals = (0..kernel.0)
            .flat_map(|i| (0..kernel.1).map(move |j| (i, j)))
            .map(|(i, j)| x[[ix[0], ix[1], ix[2] * stride.0 + i, ix[3] * stride.1 + j]]);
        if max {
            vals.fold(f64::NEG_INFINITY, f64::max)
        } else {
            vals.sum::<f64>() / (kernel.0 * kernel.1) as f64
        }
    })
}

#[test]
fn pooling_values_and_gradients() {
    let x = data(&[2, 3, 6, 5], 10);
    let f = |x: &Variable| -> crypten_autograd::Result<[Variable; 3]> {
        Ok([
            x.max_pool2d((2, 2), (2, 1))?,
            x.avg_pool2d((3, 2), (1, 2), (0, 0))?,
            x.adaptive_avg_pool2d((4, 3))?,
        ])
    };
    let xv = Variable::leaf(x.clone(), true);
    let [mx, avg, adaptive] = f(&xv).unwrap();
    assert_eq!(plain_value(&mx), pool_ref(&x, (2, 2), (2, 1), true));
    let avg_err = max_diff(&plain_value(&avg), &pool_ref(&x, (3, 2), (1, 2), false));
    assert!(avg_err < 1e-12);
    assert_eq!(adaptive.shape(), &[2, 3, 4, 3]);
    // Gradients by finite differences on the sum of all three pools (ties have probability 0).
    let total = |v: &Variable| -> crypten_autograd::Result<Variable> {
        let [a, b, c] = f(v)?;
        a.sum_all()?
            .add(&b.sum_all()?)?
            .add(&c.mul_scalar(2.0)?.sum_all()?)
    };
    total(&xv).unwrap().backward().unwrap();
    let grad = xv.grad().unwrap().to_plain().unwrap();
    let h = 1e-6;
    for j in (0..x.len()).step_by(5) {
        let (mut plus, mut minus) = (x.clone(), x.clone());
        plus.as_slice_mut().unwrap()[j] += h;
        minus.as_slice_mut().unwrap()[j] -= h;
        let numeric = (plain_value(&total(&Variable::constant(plus)).unwrap()).sum()
            - plain_value(&total(&Variable::constant(minus)).unwrap()).sum())
            / (2.0 * h);
        assert!(
            (numeric - grad.as_slice().unwrap()[j]).abs() < 1e-6,
            "element {j}"
        );
    }
    let out = run(2, ProviderKind::TrustedThirdParty, |sess| {
        let xe = Variable::leaf(CrypTensor::from_array(&sess, &x, 0)?, true);
        let [a, b, c] = f(&xe)?;
        total(&xe)?.backward()?;
        Ok([
            a.value().to_plain()?,
            b.value().to_plain()?,
            c.value().to_plain()?,
            xe.grad().unwrap().to_plain()?,
        ])
    })
    .unwrap();
    let want = [
        plain_value(&mx),
        plain_value(&avg),
        plain_value(&adaptive),
        grad,
    ];
    for (got, want) in out[0].iter().zip(&want) {
        let err = max_diff(got, want);
        assert!(err < 1e-3, "max error {err}");
    }
}

type UnaryFn = fn(&Variable) -> crypten_autograd::Result<Variable>;

/// Every smooth function's gradient: against finite differences in f64 and, encrypted with 2
/// and 3 parties, against the plaintext gradient (within the function's approximation error).
#[test]
fn smooth_function_gradients() {
    let cases: [(&str, UnaryFn, f64, f64, f64); 12] = [
        ("exp", |x| x.exp(), -2.0, 2.0, 2e-2),
        ("log", |x| x.log(), 0.5, 4.0, 2e-2),
        ("sqrt", |x| x.sqrt(), 0.5, 4.0, 2e-2),
        ("inv_sqrt", |x| x.inv_sqrt(), 0.5, 4.0, 2e-2),
        ("reciprocal", |x| x.reciprocal(), 0.5, 4.0, 2e-2),
        ("sigmoid", |x| x.sigmoid(), -4.0, 4.0, 1e-2),
        ("tanh", |x| x.tanh(), -2.0, 2.0, 1e-2),
        ("erf", |x| x.erf(), -2.0, 2.0, 1e-2),
        ("gelu", |x| x.gelu(), -3.0, 3.0, 1e-2),
        ("abs", |x| x.abs(), -3.0, 3.0, 1e-2),
        (
            "softmax",
            |x| x.softmax(1)?.mul(&Variable::constant(data(&[4, 5], 21))),
            -3.0,
            3.0,
            1e-2,
        ),
        (
            "log_softmax",
            |x| {
                x.log_softmax(1)?
                    .mul(&Variable::constant(data(&[4, 5], 22)))
            },
            -3.0,
            3.0,
            1e-2,
        ),
    ];
    for (name, f, lo, hi, tol) in cases {
        let x = data(&[4, 5], 20).mapv(|v| lo + (v + 1.0) / 2.0 * (hi - lo));
        let x = if name == "abs" {
            x.mapv(|v| if v.abs() < 0.1 { 0.5 } else { v })
        } else {
            x
        };
        let xv = Variable::leaf(x.clone(), true);
        f(&xv).unwrap().sum_all().unwrap().backward().unwrap();
        let grad = xv.grad().unwrap().to_plain().unwrap();
        let eval = |a: ArrayD<f64>| plain_value(&f(&Variable::constant(a)).unwrap()).sum();
        let h = 1e-6;
        for j in 0..x.len() {
            let (mut plus, mut minus) = (x.clone(), x.clone());
            plus.as_slice_mut().unwrap()[j] += h;
            minus.as_slice_mut().unwrap()[j] -= h;
            let numeric = (eval(plus) - eval(minus)) / (2.0 * h);
            let g = grad.as_slice().unwrap()[j];
            assert!(
                (numeric - g).abs() < 1e-5 * numeric.abs().max(1.0),
                "{name} element {j}: {g} vs {numeric}"
            );
        }
        for parties in [2, 3] {
            let out = run(parties, ProviderKind::InsecureTrustedFirstParty, |sess| {
                let xe = Variable::leaf(CrypTensor::from_array(&sess, &x, 0)?, true);
                f(&xe)?.sum_all()?.backward()?;
                xe.grad().unwrap().to_plain()
            })
            .unwrap();
            let err = out[0]
                .iter()
                .zip(grad.iter())
                .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
                .fold(0.0, f64::max);
            assert!(err < tol, "{name}, {parties} parties: error {err}");
        }
    }
}

/// Shape and indexing ops, with plaintext and encrypted leaves mixed in `cat`.
fn shape_objective(x: &Variable, y: &Variable) -> crypten_autograd::Result<Variable> {
    let a = x.permute(&[2, 0, 1])?.narrow(1, 1, 2)?; // [4,3,2] -> [2,4,3] -> [2,2,3]
    let b = y.unsqueeze(0)?.unsqueeze(3)?.squeeze(3)?.flatten(0, 1)?; // [2,3] -> [1,2,3,1] -> [2,3]
    let c = Variable::cat(&[&a.reshape(&[4, 3])?, &b], 0)?; // [6,3]
    let d = c.index_select(0, &[5, 0, 5, 2])?;
    d.mul(&Variable::constant(data(&[4, 3], 30)))?.sum_all()
}

#[test]
fn shape_and_index_gradients() {
    let (x, y) = (data(&[4, 3, 2], 31), data(&[2, 3], 32));
    let (xv, yv) = (
        Variable::leaf(x.clone(), true),
        Variable::leaf(y.clone(), true),
    );
    shape_objective(&xv, &yv).unwrap().backward().unwrap();
    let want = [
        xv.grad().unwrap().to_plain().unwrap(),
        yv.grad().unwrap().to_plain().unwrap(),
    ];
    // The objective is linear: the gradient is exactly the coefficient of each input.
    let eval = |x: ArrayD<f64>, y: ArrayD<f64>| {
        plain_value(&shape_objective(&Variable::constant(x), &Variable::constant(y)).unwrap()).sum()
    };
    for (which, grad) in want.iter().enumerate() {
        let base = if which == 0 { x.clone() } else { y.clone() };
        for j in 0..base.len() {
            let mut e = base.clone();
            e.as_slice_mut().unwrap()[j] += 1.0;
            let delta = if which == 0 {
                eval(e, y.clone()) - eval(x.clone(), y.clone())
            } else {
                eval(x.clone(), e) - eval(x.clone(), y.clone())
            };
            assert!(
                (delta - grad.as_slice().unwrap()[j]).abs() < 1e-9,
                "input {which} element {j}"
            );
        }
    }
    for parties in [2, 3] {
        let out = run(parties, ProviderKind::TrustedThirdParty, |sess| {
            let xe = Variable::leaf(CrypTensor::from_array(&sess, &x, 0)?, true);
            let yv = Variable::leaf(y.clone(), true); // a plaintext leaf joins encrypted values
            shape_objective(&xe, &yv)?.backward()?;
            Ok([
                xe.grad().unwrap().to_plain()?,
                yv.grad().unwrap().to_plain()?,
            ])
        })
        .unwrap();
        for (got, want) in out[0].iter().zip(&want) {
            let err = max_diff(got, want);
            assert!(err < 1e-3, "{parties} parties: {err}");
        }
    }
}

#[test]
fn pooling_gradients_with_three_parties() {
    let x = data(&[1, 2, 4, 4], 33);
    let f = |v: &Variable| -> crypten_autograd::Result<Variable> {
        v.max_pool2d((2, 2), (2, 2))?.sum_all()?.add(
            &v.avg_pool2d((2, 2), (1, 1), (1, 1))?
                .mul_scalar(3.0)?
                .sum_all()?,
        )
    };
    let xv = Variable::leaf(x.clone(), true);
    f(&xv).unwrap().backward().unwrap();
    let want = xv.grad().unwrap().to_plain().unwrap();
    let out = run(3, ProviderKind::TrustedThirdParty, |sess| {
        let xe = Variable::leaf(CrypTensor::from_array(&sess, &x, 2)?, true);
        f(&xe)?.backward()?;
        xe.grad().unwrap().to_plain()
    })
    .unwrap();
    let err = max_diff(&out[0], &want);
    assert!(err < 1e-3, "{err}");
}

#[test]
fn conv1d_and_max_gradients() {
    let (x, w) = (data(&[2, 2, 9], 40), data(&[3, 2, 3], 41));
    let p = crypten_core::Conv1dParams {
        stride: 2,
        padding: 1,
        dilation: 1,
        groups: 1,
    };
    let f = |x: &Variable, w: &Variable| -> crypten_autograd::Result<Variable> {
        x.conv1d(w, &p)?.max(2, false)?.square()?.sum_all()
    };
    let (xv, wv) = (
        Variable::leaf(x.clone(), true),
        Variable::leaf(w.clone(), true),
    );
    f(&xv, &wv).unwrap().backward().unwrap();
    let want = [
        xv.grad().unwrap().to_plain().unwrap(),
        wv.grad().unwrap().to_plain().unwrap(),
    ];
    let eval = |x: ArrayD<f64>, w: ArrayD<f64>| {
        plain_value(&f(&Variable::constant(x), &Variable::constant(w)).unwrap()).sum()
    };
    let h = 1e-6;
    for (which, grad) in want.iter().enumerate() {
        let base = if which == 0 { x.clone() } else { w.clone() };
        for j in 0..base.len() {
            let (mut plus, mut minus) = (base.clone(), base.clone());
            plus.as_slice_mut().unwrap()[j] += h;
            minus.as_slice_mut().unwrap()[j] -= h;
            let numeric = if which == 0 {
                (eval(plus, w.clone()) - eval(minus, w.clone())) / (2.0 * h)
            } else {
                (eval(x.clone(), plus) - eval(x.clone(), minus)) / (2.0 * h)
            };
            assert!(
                (numeric - grad.as_slice().unwrap()[j]).abs() < 1e-5,
                "input {which} element {j}"
            );
        }
    }
    for parties in [2, 3] {
        let out = run(parties, ProviderKind::TrustedThirdParty, |sess| {
            let xe = Variable::leaf(CrypTensor::from_array(&sess, &x, 0)?, true);
            let we = Variable::leaf(CrypTensor::from_array(&sess, &w, 1)?, true);
            f(&xe, &we)?.backward()?;
            Ok([
                xe.grad().unwrap().to_plain()?,
                we.grad().unwrap().to_plain()?,
            ])
        })
        .unwrap();
        for (got, want) in out[0].iter().zip(&want) {
            let err = max_diff(got, want);
            assert!(err < 5e-3, "{parties} parties: {err}");
        }
    }
}
