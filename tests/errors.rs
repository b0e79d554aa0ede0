//! Every `GmLossError` variant: the `try_` path returns it with a message that names the bad value
//! and what was expected, and the panicking method panics with exactly that message.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::prelude::*;
use burn::tensor::TensorData;
use common::devices;
use gm_loss::{Covariance, GmLoss, GmLossConfig, GmLossError};

/// Runs `f`, which must panic, and returns its panic message.
fn panic_message<T>(f: impl FnOnce() -> T) -> String {
    let payload = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic"),
        Err(payload) => payload,
    };
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else {
        panic!("non-string panic payload")
    }
}

/// `try_init` fails with `want`, and `init` panics with its message.
#[track_caller]
fn assert_config_error(config: GmLossConfig, want: GmLossError, message: &str) {
    let device = Device::flex();
    let err = config
        .try_init(&device)
        .expect_err("invalid config accepted");
    assert_eq!(err, want);
    assert_eq!(err.to_string(), message);
    assert_eq!(panic_message(|| config.init(&device)), message);
}

#[test]
fn too_few_classes() {
    assert_config_error(
        GmLossConfig::new(1, 4),
        GmLossError::TooFewClasses { num_classes: 1 },
        "num_classes must be at least 2, got 1",
    );
}

#[test]
fn zero_feature_dim() {
    assert_config_error(
        GmLossConfig::new(3, 0),
        GmLossError::ZeroFeatureDim,
        "feat_dim must be at least 1, got 0",
    );
}

#[test]
fn negative_or_non_finite_hyper_parameters() {
    let base = || GmLossConfig::new(3, 2);
    for bad in [-0.1, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let cases = [
            ("alpha", base().with_alpha(bad)),
            ("lambda", base().with_lambda(bad)),
            ("variance_floor", base().with_variance_floor(bad)),
        ];
        for (name, config) in cases {
            let err = config.try_init(&Device::flex()).unwrap_err();
            let GmLossError::InvalidHyperParameter {
                name: got, value, ..
            } = &err
            else {
                panic!("{name}={bad}: wrong error {err:?}");
            };
            assert_eq!(*got, name);
            assert!(value.to_bits() == bad.to_bits(), "{name}: value {value}");
            let message = format!("{name} must be finite and >= 0, got {bad}");
            assert_eq!(err.to_string(), message);
            assert_eq!(panic_message(|| config.init(&Device::flex())), message);
        }
    }
}

#[test]
fn zero_variance_floor_with_diagonal_covariance() {
    assert_config_error(
        GmLossConfig::new(3, 2)
            .with_covariance(Covariance::Diagonal)
            .with_variance_floor(0.0),
        GmLossError::InvalidHyperParameter {
            name: "variance_floor",
            value: 0.0,
            expected: "finite and > 0 with Covariance::Diagonal",
        },
        "variance_floor must be finite and > 0 with Covariance::Diagonal, got 0",
    );
    // Unused with the identity covariance, where 0 is fine.
    let config = GmLossConfig::new(3, 2).with_variance_floor(0.0);
    assert!(config.try_init(&Device::flex()).is_ok());
}

#[test]
fn priors_of_wrong_length() {
    assert_config_error(
        GmLossConfig::new(3, 2).with_priors(Some(vec![0.5, 0.5])),
        GmLossError::ClassVectorLength {
            name: "priors",
            expected: 3,
            got: 2,
        },
        "priors must have one entry per class (3), got 2",
    );
}

#[test]
fn non_positive_or_non_finite_priors() {
    for bad in [0.0, -0.2, f64::NAN, f64::INFINITY] {
        let config = GmLossConfig::new(3, 2).with_priors(Some(vec![0.2, bad, 0.3]));
        let err = config.try_init(&Device::flex()).unwrap_err();
        assert!(
            matches!(err, GmLossError::InvalidClassValue { name: "priors", class: 1, value } if value.to_bits() == bad.to_bits()),
            "{err:?}"
        );
        let message = format!("priors must be positive and finite, got {bad} for class 1");
        assert_eq!(err.to_string(), message);
        assert_eq!(panic_message(|| config.init(&Device::flex())), message);
    }
}

#[test]
fn init_with_parameter_shapes() {
    let device = Device::flex();
    let config = GmLossConfig::new(3, 2).with_covariance(Covariance::Diagonal);
    let err = config
        .init_with(
            Tensor::zeros([3, 4], &device),
            Some(Tensor::zeros([3, 2], &device)),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "means must have shape [3, 2] ([num_classes, feat_dim]), got [3, 4]"
    );
    let err = config
        .init_with(
            Tensor::zeros([3, 2], &device),
            Some(Tensor::zeros([2, 2], &device)),
        )
        .unwrap_err();
    assert_eq!(
        err,
        GmLossError::ParameterShape {
            name: "log_variances",
            expected: [3, 2],
            got: [2, 2]
        }
    );
    assert_eq!(
        err.to_string(),
        "log_variances must have shape [3, 2] ([num_classes, feat_dim]), got [2, 2]"
    );
}

#[test]
fn init_with_covariance_mismatch() {
    let device = Device::flex();
    let means = || Tensor::<2>::zeros([3, 2], &device);
    let err = GmLossConfig::new(3, 2)
        .init_with(means(), Some(Tensor::zeros([3, 2], &device)))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "covariance Identity needs log_variances to be None, got Some"
    );
    let err = GmLossConfig::new(3, 2)
        .with_covariance(Covariance::Diagonal)
        .init_with(means(), None)
        .unwrap_err();
    assert_eq!(
        err,
        GmLossError::CovarianceMismatch {
            covariance: Covariance::Diagonal,
            given: false
        }
    );
    assert_eq!(
        err.to_string(),
        "covariance Diagonal needs log_variances to be Some, got None"
    );
    // init_with validates the settings too.
    let err = GmLossConfig::new(3, 2)
        .with_alpha(-1.0)
        .init_with(means(), None)
        .unwrap_err();
    assert_eq!(err.to_string(), "alpha must be finite and >= 0, got -1");
}

fn loss(device: &Device) -> GmLoss {
    GmLossConfig::new(3, 2)
        .with_covariance(Covariance::Diagonal)
        .init(device)
}

fn features(values: Vec<f32>, rows: usize, device: &Device) -> Tensor<2> {
    let cols = values.len() / rows.max(1);
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// Runs `try_forward` (and, without targets, `try_logits`, `try_distances`, `try_predict`) and the
/// panicking twins; all must report `message`.
#[track_caller]
fn assert_input_error(
    device: &Device,
    x: Tensor<2>,
    y: Tensor<1, Int>,
    features_only: bool,
    message: &str,
) {
    let loss = loss(device);
    let err = loss.try_forward(x.clone(), y.clone()).unwrap_err();
    assert_eq!(err.to_string(), message);
    assert_eq!(
        panic_message(|| loss.forward(x.clone(), y.clone())),
        message
    );
    if features_only {
        assert_eq!(loss.try_logits(x.clone()).unwrap_err().to_string(), message);
        assert_eq!(
            loss.try_distances(x.clone()).unwrap_err().to_string(),
            message
        );
        assert_eq!(
            loss.try_predict(x.clone()).unwrap_err().to_string(),
            message
        );
        assert_eq!(panic_message(|| loss.logits(x.clone())), message);
        assert_eq!(panic_message(|| loss.distances(x.clone())), message);
        assert_eq!(panic_message(|| loss.predict(x.clone())), message);
    }
}

#[test]
fn features_of_wrong_width() {
    for (_, device) in devices() {
        let x = features(vec![0.0; 6], 2, &device);
        let y = Tensor::from_ints([0, 1], &device);
        assert_input_error(
            &device,
            x,
            y,
            true,
            "features must have shape [batch, 2], got [2, 3]",
        );
    }
}

#[test]
fn empty_batch() {
    for (_, device) in devices() {
        let x = Tensor::<2>::zeros([0, 2], &device);
        let y = Tensor::<1, Int>::zeros([0], &device);
        assert_input_error(
            &device,
            x,
            y,
            true,
            "the batch is empty (features of shape [0, 2]); at least one sample is needed",
        );
    }
}

#[test]
fn targets_of_wrong_length() {
    for (_, device) in devices() {
        let x = features(vec![0.0; 6], 3, &device);
        let y = Tensor::from_ints([0, 1], &device);
        let err = loss(&device).try_forward(x.clone(), y.clone()).unwrap_err();
        assert_eq!(err, GmLossError::TargetLength { batch: 3, got: 2 });
        assert_input_error(
            &device,
            x,
            y,
            false,
            "targets must have one label per sample (3), got 2",
        );
    }
}

#[test]
fn labels_out_of_range() {
    for (_, device) in devices() {
        for (labels, sample, label) in [([0, 3, 1], 1, 3), ([0, 1, -1], 2, -1), ([7, -2, 0], 0, 7)]
        {
            let x = features(vec![0.5; 6], 3, &device);
            let y = Tensor::from_ints(labels, &device);
            let err = loss(&device).try_forward(x.clone(), y.clone()).unwrap_err();
            assert_eq!(
                err,
                GmLossError::LabelOutOfRange {
                    sample,
                    label,
                    num_classes: 3
                }
            );
            let message =
                format!("label {label} of sample {sample} is out of range: labels must be in 0..3");
            assert_input_error(&device, x, y, false, &message);
        }
    }
}

#[test]
fn non_finite_features() {
    for (_, device) in devices() {
        for (bad, shown) in [
            (f32::NAN, "NaN"),
            (f32::INFINITY, "inf"),
            (f32::NEG_INFINITY, "-inf"),
        ] {
            let mut values = vec![0.25f32; 6];
            values[3] = bad; // sample 1, dimension 1
            let x = features(values, 3, &device);
            let y = Tensor::from_ints([0, 1, 2], &device);
            let message = format!("features must be finite, got {shown} at [1, 1]");
            assert_input_error(&device, x, y, true, &message);
        }
    }
}

/// The only variant no input can trigger on the CPU backends: a failed device read.
#[test]
fn read_back_message() {
    let err = GmLossError::ReadBack {
        reason: "device lost".into(),
    };
    assert_eq!(
        err.to_string(),
        "could not read the input checks back from the device: device lost"
    );
}

/// Non-finite features are reported before bad labels, and a valid batch passes every check.
#[test]
fn valid_input_passes() {
    for (_, device) in devices() {
        let loss = loss(&device);
        let x = features(vec![0.5, -0.5, 1.0, 2.0], 2, &device);
        let y = Tensor::from_ints([2, 0], &device);
        assert!(loss.try_forward(x.clone(), y).is_ok());
        assert!(loss.try_predict(x).is_ok());
        let x = features(vec![0.5, f32::NAN, 1.0, 2.0], 2, &device);
        let y = Tensor::from_ints([2, 9], &device);
        let err = loss.try_forward(x, y).unwrap_err();
        assert!(
            matches!(
                err,
                GmLossError::NonFiniteFeature {
                    sample: 0,
                    dim: 1,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

/// With `check_values = false` the value checks (and their device read) are skipped, as
/// documented, while the free shape checks stay.
#[test]
fn check_values_off_skips_value_checks_only() {
    for (_, device) in devices() {
        let loss = GmLossConfig::new(3, 2)
            .with_check_values(false)
            .init(&device);
        let x = features(vec![0.5, f32::NAN, 1.0, 2.0], 2, &device);
        let y = Tensor::from_ints([2, 0], &device);
        let out = loss.try_forward(x, y).expect("values are not checked");
        assert!(out.loss.into_scalar::<f32>().is_nan());
        let x = features(vec![0.0; 6], 2, &device);
        let err = loss
            .try_forward(x, Tensor::from_ints([0, 1], &device))
            .unwrap_err();
        assert_eq!(
            err,
            GmLossError::FeatureShape {
                feat_dim: 2,
                got: [2, 3]
            }
        );
    }
}

#[test]
fn class_weights_of_wrong_length_or_value() {
    assert_config_error(
        GmLossConfig::new(3, 2).with_weights(Some(vec![1.0; 4])),
        GmLossError::ClassVectorLength {
            name: "weights",
            expected: 3,
            got: 4,
        },
        "weights must have one entry per class (3), got 4",
    );
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let config = GmLossConfig::new(3, 2).with_weights(Some(vec![1.0, 1.0, bad]));
        let err = config.try_init(&Device::flex()).unwrap_err();
        assert!(
            matches!(err, GmLossError::InvalidClassValue { name: "weights", class: 2, value } if value.to_bits() == bad.to_bits()),
            "{err:?}"
        );
        let message = format!("weights must be positive and finite, got {bad} for class 2");
        assert_eq!(panic_message(|| config.init(&Device::flex())), message);
    }
}

#[test]
fn smoothing_outside_zero_one() {
    for bad in [-0.1, 1.5, f64::NAN] {
        let config = GmLossConfig::new(3, 2).with_smoothing(Some(bad));
        let err = config.try_init(&Device::flex()).unwrap_err();
        let message = format!("smoothing must be in [0, 1], got {bad}");
        assert_eq!(err.to_string(), message);
        assert_eq!(panic_message(|| config.init(&Device::flex())), message);
    }
}

/// Padding labels may lie outside `0..K`; every other label is still checked.
#[test]
fn padding_labels_are_exempt_from_the_range_check() {
    for (_, device) in devices() {
        let loss = GmLossConfig::new(3, 2)
            .with_pad_tokens(Some(vec![99]))
            .init(&device);
        let x = features(vec![0.5, -0.5, 1.0, 2.0, 0.0, 1.0], 3, &device);
        assert!(
            loss.try_forward(x.clone(), Tensor::from_ints([2, 99, 0], &device))
                .is_ok()
        );
        let err = loss
            .try_forward(x, Tensor::from_ints([99, 5, 0], &device))
            .unwrap_err();
        assert_eq!(
            err,
            GmLossError::LabelOutOfRange {
                sample: 1,
                label: 5,
                num_classes: 3
            }
        );
    }
}
