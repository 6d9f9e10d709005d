//! The four use cases. Every party builds the same synthetic dataset and keeps only its own
//! part (`mine` below): the other parts are replaced by zeros of the agreed shape before
//! anything is shared, so the computation never touches them.

use super::data::{Dataset, accuracy, classifier, infer, predictions, train};
use crypten::ndarray::{ArrayD, IxDyn};
use crypten::nn::Module;
use crypten::{CrypTensor, Session, Tensor};

const TRAIN: usize = 240;
const TEST: usize = 120;
const CLASSES: usize = 3;
const EPOCHS: usize = 6;
const BATCH: usize = 40;

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

fn split(features: usize) -> (Dataset, Dataset) {
    let all = Dataset::blobs(TRAIN + TEST, features, CLASSES, 5);
    (all.rows(0, TRAIN), all.rows(TRAIN, TRAIN + TEST))
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
    println!("{}: trained; last batch loss {loss:.4}", data.name);
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

/// Vertical partitioning: party k holds feature columns 2k, 2k+1; party 0 also the labels.
pub(super) fn feature_aggregation(sess: &Session) -> anyhow::Result<()> {
    let parties = sess.parties();
    let features = 2 * parties;
    let (train_set, test) = split(features);
    let mine = 2 * sess.rank()..2 * sess.rank() + 2;
    println!("I hold feature columns {mine:?} of {TRAIN} training and {TEST} test samples");
    let blocks = |data: &Dataset| -> anyhow::Result<CrypTensor> {
        let parts = (0..parties)
            .map(|k| share_from(sess, k, &data.columns(2 * k, 2 * k + 2)))
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
    let (train_set, test) = split(6);
    match sess.rank() {
        0 => println!("I hold the features of {TRAIN} training and {TEST} test samples"),
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
    let (train_set, test) = split(6);
    let bounds: Vec<usize> = (0..=parties).map(|k| k * TRAIN / parties).collect();
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
    let (train_set, test) = split(6);
    let model = classifier(6, CLASSES)?;
    if sess.rank() == 0 {
        let loss = train(
            &model,
            &Tensor::Plain(train_set.x.clone()),
            &Tensor::Plain(train_set.onehot()?),
            EPOCHS,
            BATCH,
        )?;
        println!(
            "I trained my model locally on my {TRAIN} samples (last loss {loss:.4}) and share it encrypted"
        );
    } else if sess.rank() == 1 {
        println!("I hold {TEST} samples to classify");
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
