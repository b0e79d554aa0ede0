//! A compact burn-train renderer for terminals and CI logs: a progress line every tenth of an
//! epoch, and the epoch's metrics when each split ends. (Burn's own `CliMetricsRenderer` prints
//! one debug line per batch and no metric values; its TUI needs a terminal.)

use std::collections::HashMap;
use std::time::Instant;

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};

/// Prints progress and per-split metric summaries to stdout.
pub struct CompactRenderer {
    names: HashMap<MetricId, String>,
    latest: Vec<(String, String)>,
    split: String,
    epoch: usize,
    epochs: usize,
    items: usize,
    next_report: usize,
    started: Instant,
}

impl CompactRenderer {
    /// A renderer with no metrics registered yet.
    pub fn new() -> Self {
        Self {
            names: HashMap::new(),
            latest: Vec::new(),
            split: String::new(),
            epoch: 1,
            epochs: 0,
            items: 0,
            next_report: 0,
            started: Instant::now(),
        }
    }

    fn record(&mut self, state: MetricState) {
        let entry = match state {
            MetricState::Generic(entry) | MetricState::Numeric(entry, _) => entry,
        };
        let name = self
            .names
            .get(&entry.metric_id)
            .cloned()
            .unwrap_or_else(|| format!("{:?}", entry.metric_id));
        let text = entry.serialized_entry.formatted;
        match self.latest.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = text,
            None => self.latest.push((name, text)),
        }
    }

    fn start(&mut self, split: &str, items: usize) {
        self.split = split.to_string();
        self.items = items;
        self.next_report = items.div_ceil(10);
        self.latest.clear();
    }

    fn progress(&mut self, done: usize) {
        if done >= self.next_report && done < self.items {
            println!(
                "  epoch {}/{} {:<5} {:>6}/{} items  [{:.0} s]",
                self.epoch,
                self.epochs,
                self.split,
                done,
                self.items,
                self.started.elapsed().as_secs_f64()
            );
            self.next_report += self.items.div_ceil(10);
        }
    }

    fn finish(&mut self) {
        let metrics: Vec<String> = self
            .latest
            .iter()
            .map(|(name, text)| format!("{name}: {text}"))
            .collect();
        println!(
            "epoch {}/{} {:<5} | {}  [{:.0} s]",
            self.epoch,
            self.epochs,
            self.split,
            metrics.join(" | "),
            self.started.elapsed().as_secs_f64()
        );
    }
}

impl MetricsRendererTraining for CompactRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.record(state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(state);
    }

    fn on_train_end(
        &mut self,
        _summary: Option<burn::train::LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        Ok(())
    }
}

impl MetricsRendererEvaluation for CompactRenderer {
    fn update_test(&mut self, _name: EvaluationName, state: MetricState) {
        self.record(state);
    }

    fn on_test_end(
        &mut self,
        _summary: Option<burn::train::LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        Ok(())
    }
}

impl TrainingProgressLogger for CompactRenderer {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _total_items: Option<usize>,
        _label: Option<&str>,
    ) {
        self.epochs = total_epochs;
        self.epoch = starting_epoch.max(1);
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.epoch = epoch + 1;
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        CompactRenderer::start(self, split, total_items);
    }

    fn update_split(&mut self, items_processed: usize) {
        self.progress(items_processed);
    }

    fn end_split(&mut self) {
        self.finish();
    }

    fn end(&mut self) {}

    // burn-train reports every iteration as an event; the progress lines already cover it.
    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for CompactRenderer {
    fn start_global_progress(&mut self, _total_tests: usize) {}

    fn start_test(&mut self, name: &str, total_items: usize) {
        CompactRenderer::start(self, name, total_items);
    }

    fn update_test_progress(&mut self, items_processed: usize) {
        self.progress(items_processed);
    }

    fn end_test(&mut self) {
        self.finish();
    }

    fn end_global_progress(&mut self) {}

    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for CompactRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id, definition.name.to_string());
    }
}
