//! The four use cases on the digits data set (embedded). Every party loads the same data and
//! keeps only its own part (`mine` below): the other parts are replaced by zeros of the agreed
//! shape before anything is shared, so the computation never touches them. With files, each
//! party holding only its own, `crypten train` does the same (see the README).

use super::data::{Dataset, accuracy, classifier, infer, predictions, train};
use crypten::ndarray::{ArrayD, IxDyn};
use crypten::nn::Module;
use crypten::{CrypTensor, Session, Tensor};

const CLASSES: usize = 10;
const FEATURES: usize = 64;
const EPOCHS: usize = 3;
const BATCH: usize = 32;

/// `value` at its owner, zeros of the same shape elsewhere; then encrypted from the owner.
fn share_from(sess: &Session, owner: usize, value: &ArrayD<f64>) -> anyhow::Result<CrypTensor> {
    let mine = if sess.rank() == owner {
        value.clone()
    } else {
        ArrayD::zeros(IxDyn(value.shape()))
    };
    Ok(CrypTensor::from_array(sess, &mine, owner)?)
}

/// Reveals the test logits to `owner` only, who reports the accuracy.
fn report(owner: usize, logits: &Tensor, test: &Dataset, what: &str) -> anyhow::Result<()> {
    let Tensor::Encrypted(c) = logits else {
        anyhow::bail!("expected encrypted logits")
    };
    if let Some(plain) = c.reveal_to(owner)? {
        let acc = accuracy(&predictions(&plain), &test.labels);
        println!(
            "{what}: test accuracy {acc:.3} on {} held-out samples (only party {owner} saw the predictions)",
            test.labels.len()
        );
    }
    Ok(())
}

/// The same model trained in plaintext on the pooled data: a reference the demo can print
/// only because its data is synthetic.
fn reference(train_set: &Dataset, test: &Dataset) -> anyhow::Result<f64> {
    let model = classifier(train_set.x.shape()[1], CLASSES)?;
    train(
        &model,
        &Tensor::Plain(train_set.x.clone()),
        &Tensor::Plain(train_set.onehot()?),
        EPOCHS,
        BATCH,
    )?;
    let logits = infer(&model, &Tensor::Plain(test.x.clone()))?.to_plain()?;
    Ok(accuracy(&predictions(&logits), &test.labels))
}

/// The digits' training and test splits.
fn split() -> anyhow::Result<(Dataset, Dataset)> {
    Ok((Dataset::digits(false)?, Dataset::digits(true)?))
}

/// The encrypted training data of a use case, and who sees the test predictions.
struct Private<'a> {
    x: CrypTensor,
    y: CrypTensor,
    x_test: CrypTensor,
    train_set: &'a Dataset,
    test: &'a Dataset,
    /// The party that receives the test predictions and reports the accuracy.
    owner: usize,
    name: &'a str,
}

/// Trains the classifier (initial weights from party 0) on encrypted data, reports the test
/// accuracy to the owner, who also prints the plaintext reference.
fn train_and_report(sess: &Session, data: Private<'_>) -> anyhow::Result<()> {
    let model = classifier(data.x.shape()[1], CLASSES)?;
    model.encrypt(sess, 0)?;
    let loss = train(
        &model,
        &Tensor::Encrypted(data.x),
        &Tensor::Encrypted(data.y),
        EPOCHS,
        BATCH,
    )?;
    println!("{}: trained; last epoch's mean loss {loss:.4}", data.name);
    report(
        data.owner,
        &infer(&model, &Tensor::Encrypted(data.x_test))?,
        data.test,
        data.name,
    )?;
    if sess.rank() == data.owner {
        println!(
            "reference (plaintext on pooled data): {:.3}",
            reference(data.train_set, data.test)?
        );
    }
    Ok(())
}

/// Vertical partitioning: party k holds the k-th block of pixel columns; party 0 also the
/// labels.
pub(super) fn feature_aggregation(sess: &Session) -> anyhow::Result<()> {
    let parties = sess.parties();
    let (train_set, test) = split()?;
    let bounds: Vec<usize> = (0..=parties).map(|k| k * FEATURES / parties).collect();
    let mine = bounds[sess.rank()]..bounds[sess.rank() + 1];
    println!(
        "I hold pixel columns {mine:?} of {} training and {} test images",
        train_set.labels.len(),
        test.labels.len()
    );
    let blocks = |data: &Dataset| -> anyhow::Result<CrypTensor> {
        let parts = (0..parties)
            .map(|k| share_from(sess, k, &data.columns(bounds[k], bounds[k + 1])))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(CrypTensor::cat(&parts.iter().collect::<Vec<_>>(), 1)?)
    };
    let (x, x_test) = (blocks(&train_set)?, blocks(&test)?);
    let y = share_from(sess, 0, &train_set.onehot()?)?;
    train_and_report(
        sess,
        Private {
            x,
            y,
            x_test,
            train_set: &train_set,
            test: &test,
            owner: 0,
            name: "feature aggregation",
        },
    )
}

/// Party 0 holds the features, party 1 the labels.
pub(super) fn data_labelling(sess: &Session) -> anyhow::Result<()> {
    let (train_set, test) = split()?;
    match sess.rank() {
        0 => println!(
            "I hold the images of {} training and {} test samples",
            train_set.labels.len(),
            test.labels.len()
        ),
        1 => println!("I hold the labels"),
        _ => println!("I hold no data and help compute"),
    }
    let x = share_from(sess, 0, &train_set.x)?;
    let y = share_from(sess, 1, &train_set.onehot()?)?;
    let x_test = share_from(sess, 0, &test.x)?;
    train_and_report(
        sess,
        Private {
            x,
            y,
            x_test,
            train_set: &train_set,
            test: &test,
            owner: 1,
            name: "data labelling",
        },
    )
}

/// Horizontal partitioning: party k holds a slice of the training samples with their labels;
/// party 0 also holds the test set.
pub(super) fn dataset_augmentation(sess: &Session) -> anyhow::Result<()> {
    let parties = sess.parties();
    let (train_set, test) = split()?;
    let rows = train_set.labels.len();
    let bounds: Vec<usize> = (0..=parties).map(|k| k * rows / parties).collect();
    let rank = sess.rank();
    println!(
        "I hold training samples {}..{}",
        bounds[rank],
        bounds[rank + 1]
    );
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for k in 0..parties {
        let part = train_set.rows(bounds[k], bounds[k + 1]);
        xs.push(share_from(sess, k, &part.x)?);
        ys.push(share_from(sess, k, &part.onehot()?)?);
    }
    let x = CrypTensor::cat(&xs.iter().collect::<Vec<_>>(), 0)?;
    let y = CrypTensor::cat(&ys.iter().collect::<Vec<_>>(), 0)?;
    let x_test = share_from(sess, 0, &test.x)?;
    train_and_report(
        sess,
        Private {
            x,
            y,
            x_test,
            train_set: &train_set,
            test: &test,
            owner: 0,
            name: "dataset augmentation",
        },
    )
}

/// Party 0 trains a model on its own data and keeps it private; party 1 classifies its own
/// samples with it. Neither sees the other's input; only party 1 sees the predictions.
pub(super) fn model_hiding(sess: &Session) -> anyhow::Result<()> {
    let (train_set, test) = split()?;
    let model = classifier(FEATURES, CLASSES)?;
    if sess.rank() == 0 {
        let loss = train(
            &model,
            &Tensor::Plain(train_set.x.clone()),
            &Tensor::Plain(train_set.onehot()?),
            EPOCHS,
            BATCH,
        )?;
        println!(
            "I trained my model locally on my {} samples (last loss {loss:.4}) and share it encrypted",
            train_set.labels.len()
        );
    } else if sess.rank() == 1 {
        println!("I hold {} samples to classify", test.labels.len());
    }
    model.encrypt(sess, 0)?;
    let x = share_from(sess, 1, &test.x)?;
    report(
        1,
        &infer(&model, &Tensor::Encrypted(x))?,
        &test,
        "model hiding (inference)",
    )?;
    Ok(())
}
