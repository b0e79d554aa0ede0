//! Abnormal-input detection from scores (higher = more normal), such as
//! [`GmLoss::predicted_log_likelihood`](crate::GmLoss::predicted_log_likelihood): a threshold
//! fitted on clean data, and the AUROC of two score sets.

/// Why a detector could not be fitted or evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DetectionError {
    /// A score set is empty.
    #[error("the {which} scores are empty; at least one score is needed")]
    EmptyScores {
        /// `"clean"` or `"abnormal"`.
        which: &'static str,
    },
    /// A score is NaN.
    #[error("the {which} scores contain NaN at index {index}")]
    NanScore {
        /// `"clean"` or `"abnormal"`.
        which: &'static str,
        /// Where.
        index: usize,
    },
    /// The clean retention is not in (0, 1].
    #[error("retention must be in (0, 1], got {value}")]
    InvalidRetention {
        /// The value given.
        value: f64,
    },
}

fn check(scores: &[f64], which: &'static str) -> Result<(), DetectionError> {
    if scores.is_empty() {
        return Err(DetectionError::EmptyScores { which });
    }
    match scores.iter().position(|s| s.is_nan()) {
        Some(index) => Err(DetectionError::NanScore { which, index }),
        None => Ok(()),
    }
}

/// Flags inputs whose score falls below a threshold fitted so that at least a chosen fraction of
/// clean inputs passes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detector {
    threshold: f64,
}

impl Detector {
    /// Fits the threshold on clean scores: with the scores sorted, s₍₁₎ ≤ … ≤ s₍ₙ₎, the threshold
    /// is s₍ₖ₊₁₎ with k = ⌊(1 − retention)·n⌋, so that at most k clean scores fall below it and
    /// at least `retention` of them pass (more when scores tie at the threshold).
    pub fn fit(clean: &[f64], retention: f64) -> Result<Self, DetectionError> {
        check(clean, "clean")?;
        if !(retention > 0.0 && retention <= 1.0) {
            return Err(DetectionError::InvalidRetention { value: retention });
        }
        let mut sorted = clean.to_vec();
        sorted.sort_by(f64::total_cmp);
        let k = ((1.0 - retention) * sorted.len() as f64 + 1e-9).floor() as usize;
        Ok(Self {
            threshold: sorted[k.min(sorted.len() - 1)],
        })
    }

    /// Scores below this are flagged.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Whether `score` is flagged as abnormal (NaN is flagged).
    pub fn is_abnormal(&self, score: f64) -> bool {
        score.is_nan() || score < self.threshold
    }

    /// The fraction of `scores` that is flagged: the detection rate on abnormal inputs, the
    /// false-alarm rate on clean ones.
    pub fn flagged_fraction(&self, scores: &[f64]) -> Result<f64, DetectionError> {
        check(scores, "abnormal")?;
        let flagged = scores.iter().filter(|&&s| self.is_abnormal(s)).count();
        Ok(flagged as f64 / scores.len() as f64)
    }
}

/// The area under the ROC curve of telling clean from abnormal inputs by their scores (higher =
/// more normal): the probability that a random clean score exceeds a random abnormal one, ties
/// counting ½ (the Mann–Whitney statistic). 1 separates perfectly, 0.5 is chance.
pub fn auroc(clean: &[f64], abnormal: &[f64]) -> Result<f64, DetectionError> {
    check(clean, "clean")?;
    check(abnormal, "abnormal")?;
    // Rank all scores together, giving tied scores their average rank.
    let mut all: Vec<(f64, bool)> = clean
        .iter()
        .map(|&s| (s, true))
        .chain(abnormal.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut clean_rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        clean_rank_sum += average_rank * all[i..=j].iter().filter(|e| e.1).count() as f64;
        i = j + 1;
    }
    let (n, m) = (clean.len() as f64, abnormal.len() as f64);
    Ok((clean_rank_sum - n * (n + 1.0) / 2.0) / (n * m))
}
