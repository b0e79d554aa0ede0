//! α and λ schedules, the iteration counter that drives them, and per-parameter learning rates
//! for the means and log-variances through Burn's parameter groups.

mod common;

use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use common::{devices, values};
use gm_loss::{Covariance, GmLossConfig, GmLossError, Schedule};

#[test]
fn step_up_is_the_authors_cifar100_recipe() {
    // α₀ = 0.1, ×2 every 5000 iterations, at most 0.3 (spec §2.6).
    let s = Schedule::StepUp {
        initial: 0.1,
        gamma: 2.0,
        step: 5000,
        max: 0.3,
    };
    for (t, want) in [
        (0, 0.1),
        (4999, 0.1),
        (5000, 0.2),
        (9999, 0.2),
        (10000, 0.3),
        (1_000_000_000, 0.3),
    ] {
        assert!((s.value(t) - want).abs() < 1e-15, "t={t}: {}", s.value(t));
    }
}

#[test]
fn linear_warmup_and_constant() {
    let s = Schedule::LinearWarmup {
        start: 0.0,
        end: 0.1,
        steps: 100,
    };
    for (t, want) in [(0, 0.0), (25, 0.025), (50, 0.05), (100, 0.1), (5000, 0.1)] {
        assert!((s.value(t) - want).abs() < 1e-15, "t={t}: {}", s.value(t));
    }
    assert_eq!(Schedule::Constant { value: 0.3 }.value(12345), 0.3);
}

#[test]
fn invalid_schedules_are_rejected() {
    let cases = [
        (
            Schedule::StepUp {
                initial: 0.1,
                gamma: 0.0,
                step: 10,
                max: 1.0,
            },
            "alpha must be a schedule with a finite gamma > 0, got 0",
        ),
        (
            Schedule::StepUp {
                initial: 0.1,
                gamma: 2.0,
                step: 0,
                max: 1.0,
            },
            "alpha must be a schedule with step / steps >= 1, got 0",
        ),
        (
            Schedule::LinearWarmup {
                start: -0.1,
                end: 0.1,
                steps: 10,
            },
            "alpha must be finite and >= 0, got -0.1",
        ),
        (
            Schedule::Constant { value: f64::NAN },
            "alpha must be finite and >= 0, got NaN",
        ),
    ];
    for (schedule, message) in cases {
        let config = GmLossConfig::new(3, 2).with_alpha_schedule(Some(schedule));
        let err = config.try_init(&Device::flex()).unwrap_err();
        assert!(matches!(
            err,
            GmLossError::InvalidHyperParameter { name: "alpha", .. }
        ));
        assert_eq!(err.to_string(), message);
    }
    let config = GmLossConfig::new(3, 2).with_lambda_schedule(Some(Schedule::LinearWarmup {
        start: 0.0,
        end: 0.1,
        steps: 0,
    }));
    let err = config.try_init(&Device::flex()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lambda must be a schedule with step / steps >= 1, got 0"
    );
}

/// Training passes (features on an autodiff device) advance t; passes on a plain device, as in
/// validation, do not. Each pass uses α(t) and λ(t) of its own t: its loss equals that of a
/// module with those constants.
#[test]
fn forward_passes_advance_the_schedule() {
    for (name, device) in devices() {
        let alpha = Schedule::StepUp {
            initial: 0.1,
            gamma: 2.0,
            step: 2,
            max: 0.3,
        };
        let lambda = Schedule::LinearWarmup {
            start: 0.0,
            end: 0.1,
            steps: 4,
        };
        let config = GmLossConfig::new(3, 4)
            .with_alpha_schedule(Some(alpha.clone()))
            .with_lambda_schedule(Some(lambda.clone()));
        device.seed(1);
        let loss = config.init(&device);
        let x = Tensor::<2>::random([6, 4], Distribution::Normal(0.0, 1.0), &device);
        let y = Tensor::<1, Int>::from_ints([0, 1, 2, 0, 1, 2], &device);
        for t in 0..6u64 {
            assert_eq!(loss.iteration(), t, "{name}");
            let got = loss.forward(x.clone(), y.clone()).loss;
            let constant = GmLossConfig::new(3, 4)
                .with_alpha(alpha.value(t))
                .with_lambda(lambda.value(t))
                .init_with(loss.means.val(), None)
                .unwrap();
            let want = constant.forward(x.clone(), y.clone()).loss;
            assert_eq!(values(&got), values(&want), "{name} t={t}");
        }
        assert_eq!(loss.iteration(), 6);
        assert_eq!(loss.alpha(), 0.3);
        assert!((loss.lambda() - 0.1).abs() < 1e-15);

        // Validation: a valid() module on plain features leaves t alone.
        let valid = loss.valid();
        let plain = x.clone().without_autodiff();
        let _ = valid.forward(plain, y.clone().without_autodiff());
        assert_eq!(loss.iteration(), 6, "{name}: validation advanced t");
        // Clones share the counter; set_iteration resumes.
        loss.clone().set_iteration(100);
        assert_eq!(loss.iteration(), 100);
        assert_eq!(valid.iteration(), 100);
    }
}

/// The authors' recipe of parameter learning rates (means at their own rate, variances slower)
/// in Burn 0.22 terms: `ModuleLrScheduler` groups from `means_group()` and
/// `log_variances_group()`. One SGD step moves each parameter by exactly −lr_group · gradient.
#[test]
fn means_and_variances_get_their_own_learning_rates() {
    for (name, device) in devices() {
        device.seed(4);
        let loss = GmLossConfig::new(4, 3)
            .with_covariance(Covariance::Diagonal)
            .init(&device);
        let x = Tensor::<2>::random([8, 3], Distribution::Normal(0.0, 1.0), &device);
        let y = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 0, 1, 2, 3], &device);
        let mut lr = ModuleLrScheduler::new(0.1)
            .with_group(loss.means_group(), 0.2)
            .with_group(loss.log_variances_group(), 0.01);
        let mut optim = SgdConfig::new().init();

        let grads = loss.forward(x, y).loss.backward();
        let g_mu = values(&loss.means.grad(&grads).unwrap());
        let s = loss.log_variances.as_ref().unwrap();
        let g_s = values(&s.grad(&grads).unwrap());
        let (mu0, s0) = (values(&loss.means.val()), values(&s.val()));
        let grads = GradientsParams::from_grads(grads, &loss);
        let loss = optim.step(lr.step(), loss, grads);
        let (mu1, s1) = (
            values(&loss.means.val()),
            values(&loss.log_variances.as_ref().unwrap().val()),
        );
        for i in 0..mu0.len() {
            let want = mu0[i] - 0.2 * g_mu[i];
            assert!(
                (mu1[i] - want).abs() < 1e-6,
                "{name}: μ[{i}] {} vs {want}",
                mu1[i]
            );
            let want = s0[i] - 0.01 * g_s[i];
            assert!(
                (s1[i] - want).abs() < 1e-6,
                "{name}: s[{i}] {} vs {want}",
                s1[i]
            );
        }
    }
}
