//! The FGSM and PGD attacks (crate feature `autodiff`): the analytic FGSM step on a linear
//! model, PGD's ε-ball and range, and the errors.

mod common;

use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::log_softmax;
use common::{devices, rows, values};
use gm_loss::attack::{AttackError, Goal, PgdConfig, fgsm, pgd};

/// On a linear model, FGSM is x ± ε·sign(∇ₓ CE) with the gradient (softmax(xW + b) − onehot)·Wᵀ,
/// computed here in f64.
#[test]
fn fgsm_on_a_linear_model_is_the_analytic_step() {
    for (name, device) in devices() {
        device.seed(5);
        let linear = LinearConfig::new(6, 4).init(&device);
        let x = Tensor::<2>::random([5, 6], Distribution::Uniform(0.2, 0.8), &device);
        let labels = [0usize, 1, 2, 3, 1];
        let y = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 1], &device);
        let w = rows(&linear.weight.val()); // [6, 4]
        let b = values(&linear.bias.as_ref().unwrap().val());
        let xs = rows(&x);
        for targeted in [false, true] {
            let goal = if targeted {
                Goal::Targeted(y.clone())
            } else {
                Goal::Untargeted(y.clone())
            };
            let eps = 0.05;
            let got = rows(&fgsm(|x| linear.forward(x), x.clone(), &goal, eps, None).unwrap());
            for (i, xi) in xs.iter().enumerate() {
                let logits: Vec<f64> = (0..4)
                    .map(|k| b[k] + (0..6).map(|j| xi[j] * w[j][k]).sum::<f64>())
                    .collect();
                let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = logits.iter().map(|l| (l - max).exp()).sum();
                for j in 0..6 {
                    let g: f64 = (0..4)
                        .map(|k| {
                            ((logits[k] - max).exp() / z - if k == labels[i] { 1.0 } else { 0.0 })
                                * w[j][k]
                        })
                        .sum();
                    let direction = if targeted { -g.signum() } else { g.signum() };
                    let want = xi[j] + eps * direction;
                    assert!(
                        (got[i][j] - want).abs() < 1e-6,
                        "{name} targeted={targeted} [{i},{j}]: {} vs {want}",
                        got[i][j]
                    );
                }
            }
        }
    }
}

#[derive(Module, Debug)]
struct Mlp {
    a: Linear,
    relu: Relu,
    b: Linear,
}

#[test]
fn pgd_stays_in_the_ball_and_the_range_and_raises_the_loss() {
    for (name, device) in devices() {
        device.seed(6);
        let model = Mlp {
            a: LinearConfig::new(10, 16).init(&device),
            relu: Relu::new(),
            b: LinearConfig::new(16, 3).init(&device),
        };
        let forward = |x: Tensor<2>| model.b.forward(model.relu.forward(model.a.forward(x)));
        let x = Tensor::<2>::random([16, 10], Distribution::Uniform(0.0, 1.0), &device);
        let y =
            Tensor::<1, Int>::from_ints([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], &device);
        let eps = 0.1;
        let adversarial = pgd(
            forward,
            x.clone(),
            &Goal::Untargeted(y.clone()),
            &PgdConfig::new(eps, 10).with_clip(0.0, 1.0),
        )
        .unwrap();
        let (a, o) = (values(&adversarial), values(&x));
        for (a, o) in a.iter().zip(&o) {
            assert!(
                (a - o).abs() <= eps + 1e-6,
                "{name}: left the ε-ball: {a} vs {o}"
            );
            assert!((0.0..=1.0).contains(a), "{name}: left [0, 1]: {a}");
        }
        let ce = |x: Tensor<2>| {
            -values(
                &log_softmax(forward(x), 1)
                    .gather(1, y.clone().reshape([16, 1]))
                    .mean(),
            )[0]
        };
        let (before, after) = (ce(x.clone()), ce(adversarial));
        assert!(after > before, "{name}: CE {before} -> {after}");
    }
}

#[test]
fn attack_errors() {
    let device = Device::flex().autodiff();
    let linear = LinearConfig::new(2, 2).init(&device);
    let model = |x: Tensor<2>| linear.forward(x);
    let x = Tensor::<2>::zeros([2, 2], &device);
    let goal = Goal::Untargeted(Tensor::from_ints([0, 1], &device));
    let err = |config: PgdConfig| {
        pgd(model, x.clone(), &goal, &config)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(PgdConfig::new(-0.1, 3)),
        "epsilon must be finite and >= 0, got -0.1"
    );
    assert_eq!(
        err(PgdConfig::new(f64::NAN, 3)),
        "epsilon must be finite and >= 0, got NaN"
    );
    assert_eq!(
        err(PgdConfig {
            step_size: 0.0,
            ..PgdConfig::new(0.1, 3)
        }),
        "step_size must be finite and > 0, got 0"
    );
    assert_eq!(
        err(PgdConfig::new(0.1, 3).with_clip(1.0, 0.0)),
        "clip range must be finite with min <= max, got [1, 0]"
    );
    assert_eq!(
        fgsm(model, x.clone().without_autodiff(), &goal, 0.1, None).unwrap_err(),
        AttackError::NoAutodiff
    );
    let short = Goal::Untargeted(Tensor::from_ints([0], &device));
    assert_eq!(
        fgsm(model, x.clone(), &short, 0.1, None).unwrap_err(),
        AttackError::LabelLength { batch: 2, got: 1 }
    );
}
