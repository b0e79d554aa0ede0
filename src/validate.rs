//! Input checks for [`GmLoss`](crate::GmLoss): shapes on the host, values on the device.
//!
//! Shape checks are free (they read dimensions only). Value checks — features finite, labels in
//! `0..K` — run as reductions on the device (all finite, min and max label) and read back **one**
//! tensor of three integers: a single device-to-host synchronisation per call. Only when a check
//! fails is the offending tensor read back in full, to name the first bad value in the error.

use burn::tensor::{Int, Tensor};

use crate::GmLossError;

/// Checks that `features` is `[B, feat_dim]` with B ≥ 1; returns B.
pub(crate) fn feature_shape(features: &Tensor<2>, feat_dim: usize) -> Result<usize, GmLossError> {
    let got = features.dims();
    if got[1] != feat_dim {
        return Err(GmLossError::FeatureShape { feat_dim, got });
    }
    if got[0] == 0 {
        return Err(GmLossError::EmptyBatch { feat_dim });
    }
    Ok(got[0])
}

/// Checks that there is one target per sample.
pub(crate) fn target_shape(targets: &Tensor<1, Int>, batch: usize) -> Result<(), GmLossError> {
    let [got] = targets.dims();
    if got == batch {
        Ok(())
    } else {
        Err(GmLossError::TargetLength { batch, got })
    }
}

/// Checks on the device that every feature is finite and, when `targets` are given, that every
/// label is in `0..num_classes`. One host read of at most three integers.
pub(crate) fn values(
    features: &Tensor<2>,
    targets: Option<&Tensor<1, Int>>,
    num_classes: usize,
) -> Result<(), GmLossError> {
    let mut summary = vec![features.clone().is_finite().all().int()];
    if let Some(targets) = targets {
        // One dtype for the concatenation, whatever int dtype the labels use.
        summary[0] = summary[0].clone().cast(targets.dtype());
        summary.push(targets.clone().min());
        summary.push(targets.clone().max());
    }
    let summary = Tensor::cat(summary, 0)
        .try_to_vec_as::<i64>()
        .map_err(read_back)?;
    if summary[0] == 0 {
        return Err(first_non_finite(features)?);
    }
    if let (Some(targets), [_, min, max]) = (targets, summary.as_slice())
        && (*min < 0 || *max >= num_classes as i64)
    {
        return Err(first_bad_label(targets, num_classes)?);
    }
    Ok(())
}

fn first_non_finite(features: &Tensor<2>) -> Result<GmLossError, GmLossError> {
    let [_, feat_dim] = features.dims();
    let values = features.try_to_vec_as::<f64>().map_err(read_back)?;
    let index = values
        .iter()
        .position(|v| !v.is_finite())
        .expect("the device reported a non-finite feature");
    Ok(GmLossError::NonFiniteFeature {
        sample: index / feat_dim,
        dim: index % feat_dim,
        value: values[index],
    })
}

fn first_bad_label(
    targets: &Tensor<1, Int>,
    num_classes: usize,
) -> Result<GmLossError, GmLossError> {
    let labels = targets.try_to_vec_as::<i64>().map_err(read_back)?;
    let (sample, &label) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| l < 0 || l >= num_classes as i64)
        .expect("the device reported a label out of range");
    Ok(GmLossError::LabelOutOfRange {
        sample,
        label,
        num_classes,
    })
}

/// The error for a failed device read.
fn read_back(err: impl std::fmt::Display) -> GmLossError {
    GmLossError::ReadBack {
        reason: err.to_string(),
    }
}
