//! `crypten example <name>`: the four ways parties combine private data and models, each a
//! party program for `crypten launch -n N -- example <name>` on synthetic data that every
//! party generates from the same seed and then keeps only its own part of, as if it had loaded
//! its own file. Each trains (or infers) without any party seeing another's data, and reports
//! accuracy on held-out samples.

mod data;
mod scenarios;

use crypten::Session;

/// The use cases.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub(crate) enum Example {
    /// Parties hold different feature columns of the same samples; party 0 holds the labels.
    FeatureAggregation,
    /// Party 0 holds the features, party 1 the labels.
    DataLabelling,
    /// Parties hold different samples of the same features (with their labels).
    DatasetAugmentation,
    /// Party 0 holds a trained model, party 1 the data: private inference only.
    ModelHiding,
}

/// Runs `example` as this party.
pub(crate) fn run(example: Example, sess: &Session) -> anyhow::Result<()> {
    match example {
        Example::FeatureAggregation => scenarios::feature_aggregation(sess),
        Example::DataLabelling => scenarios::data_labelling(sess),
        Example::DatasetAugmentation => scenarios::dataset_augmentation(sess),
        Example::ModelHiding => scenarios::model_hiding(sess),
    }
}
