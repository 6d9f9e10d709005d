//! Progress of a training run on standard error: a bar per epoch (indicatif) on a terminal,
//! one plain line per epoch otherwise (under `crypten launch`, whose output goes through
//! pipes). Only public figures are shown: the step count and the per-epoch revealed values.

use crypten::nn::train::{EpochRecord, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

pub(super) struct Display {
    /// Whether this party shows anything.
    shown: bool,
    epochs: usize,
    bar: Option<ProgressBar>,
    terminal: bool,
}

impl Display {
    pub(super) fn new(shown: bool, epochs: usize) -> Self {
        Self {
            shown,
            epochs,
            bar: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    pub(super) fn update(&mut self, progress: &Progress<'_>) {
        if !self.shown {
            return;
        }
        match *progress {
            Progress::Step { epoch, step, steps } if self.terminal => {
                let bar = self.bar.get_or_insert_with(|| {
                    let bar = ProgressBar::new(steps as u64);
                    if let Ok(style) = ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {pos}/{len} steps, {elapsed} (eta {eta})",
                    ) {
                        bar.set_style(style.progress_chars("=> "));
                    }
                    bar
                });
                bar.set_prefix(format!("epoch {epoch}/{}", self.epochs));
                bar.set_position(step as u64);
            }
            Progress::Step { .. } => {}
            Progress::Epoch(record) => {
                let line = epoch_line(record, self.epochs);
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                eprintln!("{line}");
            }
        }
    }

    pub(super) fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

fn epoch_line(r: &EpochRecord, epochs: usize) -> String {
    let mut line = format!("epoch {}/{epochs}: loss {:.4}", r.epoch, r.loss);
    if let Some(l) = r.validation_loss {
        line.push_str(&format!(", validation loss {l:.4}"));
    }
    if let Some(a) = r.validation_accuracy {
        line.push_str(&format!(", validation accuracy {:.2}%", 100.0 * a));
    }
    line.push_str(&format!(
        ", {:.1} s, {} steps, {} rounds, {:.1} MB sent",
        r.seconds,
        r.steps,
        r.rounds,
        r.bytes_sent as f64 / 1e6
    ));
    line
}
