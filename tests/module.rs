//! The module as a Burn citizen: defaults, equivalence with `CrossEntropyLoss`, training with
//! Burn's optimizers, saving and loading, `Display`.

mod common;

use burn::module::Module;
use burn::nn::Initializer;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, SgdConfig};
use burn::prelude::*;
use burn::tensor::{Distribution, Tolerance};
use common::{devices, values};
use gm_loss::{Covariance, GmLoss, GmLossConfig};

fn batch(device: &Device, b: usize, d: usize, k: usize) -> (Tensor<2>, Tensor<1, Int>) {
    let x = Tensor::<2>::random([b, d], Distribution::Normal(0.0, 1.0), device);
    let y = Tensor::<1, Int>::from_ints(
        (0..b)
            .map(|i| (i * 7 % k) as i32)
            .collect::<Vec<_>>()
            .as_slice(),
        device,
    );
    (x, y)
}

#[test]
fn defaults_match_the_documented_values() {
    let config = GmLossConfig::new(10, 64);
    assert_eq!(config.alpha, 0.1);
    assert_eq!(config.lambda, 0.01);
    assert_eq!(config.covariance, Covariance::Identity);
    assert_eq!(config.priors, None);
    assert_eq!(config.variance_floor, 1e-4);
    assert!(config.check_values);
    assert_eq!(
        config.initializer,
        Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: false
        }
    );
}

/// The default initialiser draws μ ~ N(0, 2/D): check the sample mean and standard deviation of
/// 20,000 draws (standard errors ≈ 0.0018 and 0.0013 for D = 50).
#[test]
fn default_means_are_normal_with_variance_two_over_d() {
    let device = Device::flex();
    device.seed(7);
    let (k, d) = (400, 50);
    let loss = GmLossConfig::new(k, d).init(&device);
    let mu = values(&loss.means.val());
    let n = mu.len() as f64;
    let mean = mu.iter().sum::<f64>() / n;
    let std = (mu.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let want = (2.0 / d as f64).sqrt();
    assert!(mean.abs() < 0.01, "mean {mean}");
    assert!((std / want - 1.0).abs() < 0.02, "std {std}, want {want}");
    assert!(loss.log_variances.is_none());
}

#[test]
fn diagonal_starts_at_unit_variances() {
    let loss = GmLossConfig::new(4, 3)
        .with_covariance(Covariance::Diagonal)
        .init(&Device::flex());
    let s = loss.log_variances.as_ref().expect("log-variances");
    assert_eq!(s.dims(), [4, 3]);
    assert!(values(&s.val()).iter().all(|&v| v == 0.0));
    assert_eq!(loss.covariance(), Covariance::Diagonal);
}

#[test]
fn variances_apply_the_floor_and_are_ones_for_identity() {
    for (name, device) in devices() {
        let means = Tensor::<2>::zeros([2, 3], &device);
        // s = ln v for v = 4, 1e-6 (below the floor 1e-3), 0.5 / 1, 2, 1e-3.
        let v = [4.0f64, 1e-6, 0.5, 1.0, 2.0, 1e-3];
        let s = Tensor::<2>::from_data(
            TensorData::new(v.iter().map(|v| v.ln() as f32).collect::<Vec<_>>(), [2, 3]),
            &device,
        );
        let loss = GmLossConfig::new(2, 3)
            .with_covariance(Covariance::Diagonal)
            .with_variance_floor(1e-3)
            .init_with(means.clone(), Some(s))
            .unwrap();
        let got = values(&loss.variances());
        for (j, (&g, &want)) in got.iter().zip(&v).enumerate() {
            let want = want.max(1e-3);
            assert!(
                (g - want).abs() <= 1e-6 * want.max(1.0),
                "{name} [{j}]: {g} vs {want}"
            );
        }
        let identity = GmLossConfig::new(2, 3).init_with(means, None).unwrap();
        assert_eq!(values(&identity.variances()), vec![1.0; 6], "{name}");
    }
}

#[test]
fn priors_are_normalised() {
    let loss = GmLossConfig::new(3, 2)
        .with_priors(Some(vec![2.0, 1.0, 1.0]))
        .init(&Device::flex());
    assert_eq!(loss.priors(), Some(&[0.5, 0.25, 0.25][..]));
}

/// With α = 0, λ = 0, identity covariance and uniform priors, the GM loss is plain cross-entropy
/// on the logits −d: same value, same gradients.
#[test]
fn reduces_to_cross_entropy_on_negative_distances() {
    for (name, device) in devices() {
        device.seed(3);
        let loss = GmLossConfig::new(7, 5)
            .with_alpha(0.0)
            .with_lambda(0.0)
            .init(&device);
        let (x, y) = batch(&device, 16, 5, 7);
        let x = x.require_grad();
        let gm = loss.forward(x.clone(), y.clone()).loss;
        let gm_grads = gm.backward();

        let ce = CrossEntropyLossConfig::new()
            .init(&device)
            .forward(-loss.distances(x.clone()), y);
        let ce_grads = ce.backward();

        let tol = Tolerance::<f32>::absolute(1e-6);
        gm.to_data().assert_approx_eq::<f32>(&ce.to_data(), tol);
        let gx = x.grad(&gm_grads).unwrap().to_data();
        gx.assert_approx_eq::<f32>(&x.grad(&ce_grads).unwrap().to_data(), tol);
        let gm_mu = loss.means.grad(&gm_grads).unwrap().to_data();
        gm_mu.assert_approx_eq::<f32>(&loss.means.grad(&ce_grads).unwrap().to_data(), tol);
        eprintln!("{name}: GM {} = CE {}", values(&gm)[0], values(&ce)[0]);
    }
}

/// The logits returned by `forward` carry no margin: they equal `logits()`, whatever α is (to
/// f32 rounding: the training path forms them in one augmented matrix product; a margin of
/// α = 1 would move them by d_{i,y} ≈ 1).
#[test]
fn forward_logits_have_no_margin() {
    for (_, device) in devices() {
        let (x, y) = batch(&device, 9, 4, 3);
        let loss = GmLossConfig::new(3, 4).with_alpha(1.0).init(&device);
        let from_forward = loss.forward(x.clone(), y).logits;
        let plain = loss.logits(x);
        from_forward
            .to_data()
            .assert_approx_eq::<f32>(&plain.to_data(), Tolerance::rel_abs(1e-6, 1e-6));
    }
}

fn train_steps(mut loss: GmLoss, device: &Device, steps: usize, adam: bool) -> (GmLoss, Vec<f64>) {
    let (x, y) = batch(device, 32, 6, 4);
    let mut history = Vec::new();
    let mut sgd = SgdConfig::new().init();
    let mut adam_optim = AdamConfig::new().init();
    for _ in 0..steps {
        let out = loss.forward(x.clone(), y.clone());
        history.push(values(&out.loss)[0]);
        let grads = GradientsParams::from_grads(out.loss.backward(), &loss);
        loss = if adam {
            adam_optim.step(0.05, loss, grads)
        } else {
            sgd.step(0.5, loss, grads)
        };
    }
    (loss, history)
}

/// One optimizer step through `GradientsParams` moves both parameter tensors (the Burn 0.21
/// "silent no-op step" bug, #5014, would leave them byte-identical), and training lowers the loss.
#[test]
fn optimizer_steps_change_means_and_log_variances() {
    for (name, device) in devices() {
        for adam in [false, true] {
            device.seed(11);
            let loss = GmLossConfig::new(4, 6)
                .with_covariance(Covariance::Diagonal)
                .init(&device);
            let mu0 = values(&loss.means.val());
            let s0 = values(&loss.log_variances.as_ref().unwrap().val());
            let (one, _) = train_steps(loss.clone(), &device, 1, adam);
            assert_ne!(
                values(&one.means.val()),
                mu0,
                "{name} adam={adam}: means unchanged"
            );
            let s1 = values(&one.log_variances.as_ref().unwrap().val());
            assert_ne!(s1, s0, "{name} adam={adam}: log-variances unchanged");

            let (_, history) = train_steps(loss, &device, 30, adam);
            let (first, last) = (history[0], *history.last().unwrap());
            assert!(
                last < 0.75 * first,
                "{name} adam={adam}: loss {first} -> {last}"
            );
        }
    }
}

/// A trained module saved with `save_file` and loaded into a freshly initialised one (built from
/// the same config, different random means) gives bit-identical outputs.
#[test]
fn save_and_load_round_trip() {
    let dir = std::env::temp_dir().join(format!("gm-loss-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, device) in devices() {
        let config = GmLossConfig::new(4, 6)
            .with_covariance(Covariance::Diagonal)
            .with_priors(Some(vec![1.0, 2.0, 3.0, 4.0]));
        device.seed(5);
        let (trained, _) = train_steps(config.init(&device), &device, 3, true);
        let path = dir.join(format!("gm-{name}"));
        trained.clone().save_file(&path).expect("save");

        device.seed(6);
        let fresh = config.init(&device);
        let loaded = fresh.clone().load_file(&path);
        let (x, y) = batch(&device, 8, 6, 4);
        let want = trained.forward(x.clone(), y.clone());
        let got = loaded.forward(x.clone(), y.clone());
        assert_eq!(values(&got.loss), values(&want.loss), "{name}");
        assert_eq!(values(&got.logits), values(&want.logits), "{name}");
        assert_ne!(
            values(&fresh.forward(x, y).loss),
            values(&want.loss),
            "{name}: the fresh module must differ, or the test proves nothing"
        );
        // The loaded parameters still train.
        let (after, _) = train_steps(loaded.clone(), &device, 1, false);
        assert_ne!(values(&after.means.val()), values(&loaded.means.val()));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn display_shows_the_settings() {
    let loss = GmLossConfig::new(10, 3)
        .with_alpha(0.3)
        .with_lambda(0.05)
        .with_covariance(Covariance::Diagonal)
        .with_priors(Some(vec![1.0; 10]))
        .with_variance_floor(0.001)
        .init(&Device::flex());
    let shown = loss.to_string();
    for part in [
        "GmLoss",
        "num_classes: 10",
        "feat_dim: 3",
        "covariance: Diagonal",
        "alpha: 0.3",
        "lambda: 0.05",
        "priors: [0.1, 0.1",
        "variance_floor: 0.001",
        "reduction: Mean",
        "smoothing: None",
        "check_values: true",
    ] {
        assert!(shown.contains(part), "{part:?} missing from {shown}");
    }
    let uniform = GmLossConfig::new(2, 1).init(&Device::flex()).to_string();
    assert!(uniform.contains("priors: uniform"), "{uniform}");
    assert!(uniform.contains("covariance: Identity"), "{uniform}");
}

/// `init_with` keeps the given values and the device of the means.
#[test]
fn init_with_uses_the_given_parameters() {
    for (_, device) in devices() {
        let means = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], &device);
        let loss = GmLossConfig::new(3, 2).init_with(means, None).unwrap();
        assert_eq!(
            values(&loss.means.val()),
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        );
        assert_eq!(loss.devices(), vec![device.clone()]);
        // Nearest mean.
        let x = Tensor::<2>::from_floats([[4.9, 6.2], [0.0, 0.0], [3.2, 3.9]], &device);
        let p = loss.predict(x).try_to_vec_as::<i64>().unwrap();
        assert_eq!(p, vec![2, 0, 1]);
    }
}
