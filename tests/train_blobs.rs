//! The swap in a real burn-train program: an MLP whose head is `GmLoss` instead of `Linear` +
//! `CrossEntropyLoss`, trained with `SupervisedTraining` on Gaussian blobs built here, with
//! accuracy, loss and the two GM terms as metrics, and α on the authors' step-up schedule driven
//! from `TrainStep::step(&self)`.

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{InferenceStep, Learner, SupervisedTraining, TrainOutput, TrainStep};
use gm_loss::{GmClassificationOutput, GmLoss, GmLossConfig, GmTermMetric, Schedule};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const INPUT: usize = 10;
const CLASSES: usize = 4;
const FEATURES: usize = 4;
const BATCH: usize = 32;
const EPOCHS: usize = 8;

#[derive(Module, Debug)]
struct Model {
    hidden: Linear,
    activation: Relu,
    features: Linear,
    head: GmLoss,
}

impl Model {
    fn new(device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(INPUT, 32).init(device),
            activation: Relu::new(),
            features: LinearConfig::new(32, FEATURES).init(device),
            head: GmLossConfig::new(CLASSES, FEATURES)
                .with_lambda(0.1)
                .with_alpha_schedule(Some(Schedule::StepUp {
                    initial: 0.1,
                    gamma: 2.0,
                    step: 50,
                    max: 0.3,
                }))
                .init(device),
        }
    }

    fn features(&self, inputs: Tensor<2>) -> Tensor<2> {
        self.features
            .forward(self.activation.forward(self.hidden.forward(inputs)))
    }

    fn forward_classification(&self, batch: BlobBatch) -> GmClassificationOutput {
        let output = self
            .head
            .forward(self.features(batch.inputs), batch.targets.clone());
        GmClassificationOutput::new(output, batch.targets)
    }
}

impl TrainStep for Model {
    type Input = BlobBatch;
    type Output = GmClassificationOutput;

    fn step(&self, batch: BlobBatch) -> TrainOutput<GmClassificationOutput> {
        let item = self.forward_classification(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl InferenceStep for Model {
    type Input = BlobBatch;
    type Output = GmClassificationOutput;

    fn step(&self, batch: BlobBatch) -> GmClassificationOutput {
        self.forward_classification(batch)
    }
}

#[derive(Debug, Clone)]
struct Blob {
    input: Vec<f32>,
    label: usize,
}

#[derive(Debug, Clone)]
struct BlobBatch {
    inputs: Tensor<2>,
    targets: Tensor<1, Int>,
}

#[derive(Clone, Default)]
struct BlobBatcher;

impl Batcher<Blob, BlobBatch> for BlobBatcher {
    fn batch(&self, items: Vec<Blob>, device: &Device) -> BlobBatch {
        let n = items.len();
        let inputs: Vec<f32> = items.iter().flat_map(|b| b.input.clone()).collect();
        let labels: Vec<i64> = items.iter().map(|b| b.label as i64).collect();
        BlobBatch {
            inputs: Tensor::from_data(TensorData::new(inputs, [n, INPUT]), device),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

/// `n` samples per class around random centres in [−3, 3]^INPUT, unit noise.
fn blobs(rng: &mut StdRng, centres: &[Vec<f32>], n: usize) -> Vec<Blob> {
    let mut items = Vec::new();
    for (label, centre) in centres.iter().enumerate() {
        for _ in 0..n {
            // Box–Muller normal noise.
            let input = centre
                .iter()
                .map(|c| {
                    let (u, v): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random());
                    c + (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
                })
                .collect();
            items.push(Blob { input, label });
        }
    }
    items
}

/// Per-class centroids of the model's features on `items`.
fn centroids(model: &Model, items: &[Blob], device: &Device) -> Vec<Vec<f64>> {
    let batch = BlobBatcher.batch(items.to_vec(), device);
    let features = model.features(batch.inputs);
    let f = features.try_to_vec_as::<f64>().unwrap();
    let mut sums = vec![vec![0.0; FEATURES]; CLASSES];
    let mut counts = vec![0.0; CLASSES];
    for (i, item) in items.iter().enumerate() {
        counts[item.label] += 1.0;
        for j in 0..FEATURES {
            sums[item.label][j] += f[i * FEATURES + j];
        }
    }
    sums.iter()
        .zip(&counts)
        .map(|(s, c)| s.iter().map(|v| v / c).collect())
        .collect()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[test]
fn gm_head_trains_with_supervised_training() {
    let device = Device::flex();
    device.seed(42);
    let mut rng = StdRng::seed_from_u64(42);
    let centres: Vec<Vec<f32>> = (0..CLASSES)
        .map(|_| (0..INPUT).map(|_| rng.random_range(-3.0..3.0)).collect())
        .collect();
    let train = blobs(&mut rng, &centres, 200);
    let valid = blobs(&mut rng, &centres, 100);
    let batches_per_epoch = train.len().div_ceil(BATCH);

    let model = Model::new(&device.clone().autodiff());
    let initial = model.clone();
    let loader = |items: Vec<Blob>, shuffle: Option<u64>| {
        let builder = DataLoaderBuilder::new(BlobBatcher)
            .batch_size(BATCH)
            .set_device(device.clone());
        let builder = match shuffle {
            Some(seed) => builder.shuffle(seed),
            None => builder,
        };
        builder.build(InMemDataset::new(items))
    };
    let dir = std::env::temp_dir().join(format!("gm-loss-train-{}", std::process::id()));
    let training =
        SupervisedTraining::new(&dir, loader(train, Some(7)), loader(valid.clone(), None))
            .metrics((AccuracyMetric::new(), LossMetric::new()))
            .metric_train_numeric(GmTermMetric::classification())
            .metric_train_numeric(GmTermMetric::likelihood())
            .metric_valid_numeric(GmTermMetric::classification())
            .metric_valid_numeric(GmTermMetric::likelihood())
            .with_application_logger(None)
            .num_epochs(EPOCHS);
    let result = training.launch(Learner::new(model, AdamConfig::new().init(), 1e-2));
    assert!(result.error.is_none(), "{:?}", result.error);
    let model = result.model;

    // The schedule advanced once per training batch (validation passes do not count), so α
    // stepped up from 0.1 to its maximum 0.3.
    let iterations = (EPOCHS * batches_per_epoch) as u64;
    assert_eq!(model.head.iteration(), iterations);
    assert_eq!(model.head.alpha(), 0.3);

    // Validation accuracy.
    let batch = BlobBatcher.batch(valid.clone(), &device);
    let predictions = model.head.predict(model.features(batch.inputs));
    let correct = predictions
        .equal(batch.targets)
        .int()
        .sum()
        .into_scalar::<i64>();
    let accuracy = correct as f64 / valid.len() as f64;
    eprintln!("validation accuracy {accuracy:.4} after {iterations} iterations");
    assert!(accuracy >= 0.95, "validation accuracy {accuracy}");

    // The means moved toward the class centres of the features: each mean is now nearest its
    // own class centroid, and much nearer than at initialisation.
    let means = |m: &Model| -> Vec<Vec<f64>> {
        let mu = m.head.means.val().try_to_vec_as::<f64>().unwrap();
        mu.chunks(FEATURES).map(<[f64]>::to_vec).collect()
    };
    let before: f64 = {
        let c = centroids(&initial, &valid, &device);
        let mu = means(&initial);
        (0..CLASSES).map(|k| distance(&mu[k], &c[k])).sum::<f64>() / CLASSES as f64
    };
    let c = centroids(&model, &valid, &device);
    let mu = means(&model);
    let after = (0..CLASSES).map(|k| distance(&mu[k], &c[k])).sum::<f64>() / CLASSES as f64;
    eprintln!(
        "mean distance from μ_k to its class centroid: {before:.3} at init, {after:.3} trained"
    );
    assert!(
        after < 0.5 * before,
        "means did not move toward the centroids: {before} -> {after}"
    );
    for (k, mu_k) in mu.iter().enumerate() {
        let nearest = (0..CLASSES)
            .min_by(|&a, &b| distance(mu_k, &c[a]).total_cmp(&distance(mu_k, &c[b])))
            .unwrap();
        assert_eq!(
            nearest, k,
            "μ_{k} is nearest the centroid of class {nearest}"
        );
    }

    // The two terms were logged as metrics, per batch, in both splits; the classification term
    // fell from the first epoch to the last.
    let epoch_mean = |split: &str, epoch: usize, file: &str| -> f64 {
        let path = dir.join(split).join(format!("epoch-{epoch}")).join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let values: Vec<f64> = text
            .lines()
            .map(|line| line.split(',').next().unwrap().parse().unwrap())
            .collect();
        assert!(!values.is_empty(), "{path:?} is empty");
        values.iter().sum::<f64>() / values.len() as f64
    };
    for split in ["train", "valid"] {
        for file in ["GM_Classification_Term.log", "GM_Likelihood_Term.log"] {
            assert!(epoch_mean(split, EPOCHS, file).is_finite());
        }
    }
    let (first, last) = (
        epoch_mean("train", 1, "GM_Classification_Term.log"),
        epoch_mean("train", EPOCHS, "GM_Classification_Term.log"),
    );
    eprintln!("train classification term: epoch 1 {first:.4}, epoch {EPOCHS} {last:.4}");
    assert!(last < first);
    std::fs::remove_dir_all(&dir).ok();
}
