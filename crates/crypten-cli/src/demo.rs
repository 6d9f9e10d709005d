//! `crypten demo`: a small computation on embedded data, each input owned by a different party.

use crypten::ndarray::{ArrayD, IxDyn, array};
use crypten::{CrypTensor, Session, StatsSnapshot};

fn show(a: &ArrayD<f64>) -> String {
    let rows: Vec<String> = a
        .outer_iter()
        .map(|row| {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:8.3}")).collect();
            format!("[{}]", cells.join(" "))
        })
        .collect();
    rows.join(" ")
}

/// The demo program every party runs.
pub(crate) fn demo(sess: &Session) -> anyhow::Result<()> {
    let rank = sess.rank();
    let n = sess.parties();
    // Embedded inputs. Each party reads only its own: party 0 the features, party 1 the
    // weights, and the last party a bias (party 1 again with two parties).
    let features = array![
        [1.0, 2.0, -0.5],
        [0.25, -1.5, 3.0],
        [2.5, 0.0, 1.0],
        [-2.0, 1.0, 0.5]
    ]
    .into_dyn();
    let weights = array![[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]].into_dyn();
    let bias = array![[0.1, -0.2]].into_dyn();
    let bias_owner = n - 1;
    let zeros = |shape: &[usize]| ArrayD::<f64>::zeros(IxDyn(shape));
    let mine = |owner: usize, value: &ArrayD<f64>| {
        if rank == owner {
            value.clone()
        } else {
            zeros(value.shape())
        }
    };
    if rank == 0 {
        println!("my input: features X (4x3) = {}", show(&features));
    }
    if rank == 1 {
        println!("my input: weights W (3x2) = {}", show(&weights));
    }
    if rank == bias_owner {
        println!("my input: bias b (1x2) = {}", show(&bias));
    }

    let x = CrypTensor::from_array(sess, &mine(0, &features), 0)?;
    let w = CrypTensor::from_array(sess, &mine(1, &weights), 1)?;
    let b = CrypTensor::from_array(sess, &mine(bias_owner, &bias), bias_owner)?;

    let start = sess.stats();
    // A private matmul of data and model plus a private bias, one round: the product's
    // truncation is deferred to its next opening, and the bias rides in the product
    // (`addmm`).
    let y = b.reshape(&[2])?.addmm(&x, &w)?;
    let after_linear = sess.stats();
    let z = y.mul(&y)?; // elementwise product of two secrets
    let after_mul = sess.stats();
    let s = x.square()?.sum(&[1], false)?; // squared norms of the rows
    let after_square = sess.stats();

    let report = |label: &str, d: &StatsSnapshot| {
        println!(
            "cost of {label:<22} {:>8} bytes sent, {} round(s)",
            d.bytes_sent, d.rounds
        );
    };
    report("Y = X @ W + b", &after_linear.since(&start));
    report("Y * Y", &after_mul.since(&after_linear));
    report("sum(X * X, dim 1)", &after_square.since(&after_mul));

    let y_plain = y.get_plain_text()?;
    let z_plain = z.get_plain_text()?;
    let s_plain = s.get_plain_text()?;
    println!("revealed Y = X @ W + b = {}", show(&y_plain));
    println!("revealed Y * Y         = {}", show(&z_plain));
    println!(
        "revealed |row of X|^2  = {}",
        show(&s_plain.insert_axis(crypten::ndarray::Axis(0)))
    );

    // The demo's data is embedded, so the plaintext answer can be shown next to it.
    use crypten::ndarray::Ix2;
    let product = features
        .view()
        .into_dimensionality::<Ix2>()?
        .dot(&weights.view().into_dimensionality::<Ix2>()?);
    let expected = product + bias.view().into_dimensionality::<Ix2>()?;
    let err = y_plain
        .iter()
        .zip(expected.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!("max |error| of Y against plaintext f64: {err:.2e}");
    let total = sess.stats();
    println!(
        "party {rank} total: {} bytes sent, {} bytes received, {} rounds (set-up included)",
        total.bytes_sent, total.bytes_received, total.rounds
    );
    anyhow::ensure!(err < 1e-2, "the revealed result is wrong (error {err})");
    Ok(())
}
