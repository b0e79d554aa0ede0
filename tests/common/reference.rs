//! An explicit-loop f64 implementation of the GM loss, written from the spec
//! (`gm-loss-spec.md` §2 for the values, §3 for the hand-derived gradients) without any crate
//! code.
// Index loops on purpose: each line mirrors a subscripted formula of the spec.
#![allow(clippy::needless_range_loop)]

/// One problem: features, labels, parameters and settings.
#[derive(Debug, Clone)]
pub struct Problem {
    /// x, `[B][D]`.
    pub x: Vec<Vec<f64>>,
    /// y, `[B]`.
    pub y: Vec<usize>,
    /// μ, `[K][D]`.
    pub mu: Vec<Vec<f64>>,
    /// s = log v, `[K][D]`; `None` for the identity covariance.
    pub log_var: Option<Vec<Vec<f64>>>,
    pub alpha: f64,
    pub lambda: f64,
    /// Unnormalised priors; `None` for uniform.
    pub priors: Option<Vec<f64>>,
    pub floor: f64,
    /// The options of the training-integration issue; default: none of them.
    pub options: Options,
}

/// Class weights, padding labels, label smoothing and the reduction.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// w_k; `None` for all 1.
    pub weights: Option<Vec<f64>>,
    /// Labels of samples that count nowhere.
    pub pad_tokens: Option<Vec<usize>>,
    /// ε of the smoothed target q_ik = (1 − ε)[k = y_i] + ε/K.
    pub smoothing: f64,
    /// Sum instead of the (weighted) mean.
    pub sum: bool,
}

/// Per-sample terms, weighted, 0 for padding.
#[derive(Debug, Clone)]
pub struct PerSample {
    pub classification: Vec<f64>,
    pub likelihood: Vec<f64>,
    pub weights: Vec<f64>,
}

/// Everything the crate computes, in f64.
#[derive(Debug, Clone)]
pub struct Reference {
    /// d_ik, `[B][K]`.
    pub d: Vec<Vec<f64>>,
    /// Inference logits log π_k − ½Λ_k − d_ik, `[B][K]`.
    pub logits: Vec<Vec<f64>>,
    /// argmax of the logits.
    pub predictions: Vec<usize>,
    pub classification: f64,
    pub likelihood: f64,
    pub loss: f64,
    /// ∂L/∂x, `[B][D]`.
    pub grad_x: Vec<Vec<f64>>,
    /// ∂L/∂μ, `[K][D]`.
    pub grad_mu: Vec<Vec<f64>>,
    /// ∂L/∂s, `[K][D]` (zero where the floor is active); `None` for the identity covariance.
    pub grad_log_var: Option<Vec<Vec<f64>>>,
}

impl Problem {
    pub fn batch(&self) -> usize {
        self.x.len()
    }
    pub fn classes(&self) -> usize {
        self.mu.len()
    }
    pub fn dim(&self) -> usize {
        self.mu[0].len()
    }

    /// v_kj = max(exp(s_kj), floor), or 1.
    pub fn variances(&self) -> Vec<Vec<f64>> {
        match &self.log_var {
            None => vec![vec![1.0; self.dim()]; self.classes()],
            Some(s) => s
                .iter()
                .map(|row| row.iter().map(|&s| s.exp().max(self.floor)).collect())
                .collect(),
        }
    }

    /// log π_k, normalised.
    pub fn log_priors(&self) -> Vec<f64> {
        let k = self.classes();
        match &self.priors {
            None => vec![-(k as f64).ln(); k],
            Some(p) => {
                let total: f64 = p.iter().sum();
                p.iter().map(|p| (p / total).ln()).collect()
            }
        }
    }

    /// The loss value only: L_cls, L_lkd, L. Used for finite differences.
    pub fn loss_terms(&self) -> (f64, f64, f64) {
        let r = self.evaluate_values();
        (r.0, r.1, r.0 + self.lambda * r.1)
    }

    fn is_padding(&self, i: usize) -> bool {
        self.options
            .pad_tokens
            .as_ref()
            .is_some_and(|pads| pads.contains(&self.y[i]))
    }

    fn class_weight(&self, k: usize) -> f64 {
        self.options.weights.as_ref().map_or(1.0, |w| w[k])
    }

    /// The per-sample terms with all options.
    pub fn per_sample(&self) -> PerSample {
        let (b, k) = (self.batch(), self.classes());
        let (d, logits) = self.distances_and_logits();
        let half_log_det = self.half_log_det();
        let eps = self.options.smoothing;
        let mut out = PerSample {
            classification: vec![0.0; b],
            likelihood: vec![0.0; b],
            weights: vec![0.0; b],
        };
        for i in 0..b {
            if self.is_padding(i) {
                continue;
            }
            let y = self.y[i];
            let train: Vec<f64> = (0..k)
                .map(|c| logits[i][c] - if c == y { self.alpha * d[i][c] } else { 0.0 })
                .collect();
            let max = train.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + train.iter().map(|t| (t - max).exp()).sum::<f64>().ln();
            // −Σ_c w_c q_ic log p_ic.
            let mut cls = 0.0;
            for c in 0..k {
                let q = (1.0 - eps) * if c == y { 1.0 } else { 0.0 } + eps / k as f64;
                cls -= self.class_weight(c) * q * (train[c] - lse);
            }
            out.classification[i] = cls;
            out.likelihood[i] = self.class_weight(y) * (d[i][y] + half_log_det[y]);
            out.weights[i] = self.class_weight(y);
        }
        out
    }

    fn half_log_det(&self) -> Vec<f64> {
        self.variances()
            .iter()
            .map(|row| 0.5 * row.iter().map(|v| v.ln()).sum::<f64>())
            .collect()
    }

    fn distances_and_logits(&self) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let (b, k, dim) = (self.batch(), self.classes(), self.dim());
        let v = self.variances();
        let half_log_det = self.half_log_det();
        let log_pi = self.log_priors();
        let mut d = vec![vec![0.0; k]; b];
        let mut logits = vec![vec![0.0; k]; b];
        for i in 0..b {
            for c in 0..k {
                let mut q = 0.0;
                for j in 0..dim {
                    let r = self.x[i][j] - self.mu[c][j];
                    q += r * r / v[c][j];
                }
                d[i][c] = 0.5 * q;
                logits[i][c] = log_pi[c] - half_log_det[c] - d[i][c];
            }
        }
        (d, logits)
    }

    fn evaluate_values(&self) -> (f64, f64, Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let (d, logits) = self.distances_and_logits();
        let terms = self.per_sample();
        let reduce = |values: &[f64]| {
            let total: f64 = values.iter().sum();
            let count: f64 = terms.weights.iter().sum();
            if self.options.sum {
                total
            } else if count == 0.0 {
                0.0
            } else {
                total / count
            }
        };
        (
            reduce(&terms.classification),
            reduce(&terms.likelihood),
            d,
            logits,
        )
    }

    /// Values and the closed-form gradients of spec §3 (which cover the loss without weights,
    /// padding, smoothing or sum; use [`Self::finite_difference_gradients`] with those).
    pub fn evaluate(&self) -> Reference {
        let o = &self.options;
        assert!(
            o.weights.is_none() && o.pad_tokens.is_none() && o.smoothing == 0.0 && !o.sum,
            "the closed-form gradients cover the plain loss only"
        );
        let (b, k, dim) = (self.batch(), self.classes(), self.dim());
        let (classification, likelihood, d, logits) = self.evaluate_values();
        let v = self.variances();
        let bf = b as f64;
        let mut grad_x = vec![vec![0.0; dim]; b];
        let mut grad_mu = vec![vec![0.0; dim]; k];
        let mut grad_v = vec![vec![0.0; dim]; k];
        for i in 0..b {
            let y = self.y[i];
            let c: Vec<f64> = (0..k)
                .map(|c| 1.0 + if c == y { self.alpha } else { 0.0 })
                .collect();
            // p = softmax of the training logits (with margin).
            let train: Vec<f64> = (0..k)
                .map(|q| logits[i][q] - (c[q] - 1.0) * d[i][q])
                .collect();
            let max = train.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = train.iter().map(|t| (t - max).exp()).collect();
            let z: f64 = e.iter().sum();
            for q in 0..k {
                let g = e[q] / z - if q == y { 1.0 } else { 0.0 };
                // Likelihood weight on the true class.
                let l = if q == y { self.lambda } else { 0.0 };
                for j in 0..dim {
                    let r = self.x[i][j] - self.mu[q][j];
                    let vj = v[q][j];
                    // ∂L_i/∂x = Σ_k (−g_k c_k + λ[k=y]) r_k / v_k
                    grad_x[i][j] += (-g * c[q] + l) * r / vj / bf;
                    grad_mu[q][j] += (g * c[q] - l) * r / vj / bf;
                    // ∂/∂v: g_k(½ c_k r²/v² − ½/v) + λ[k=y](½/v − ½ r²/v²)
                    grad_v[q][j] += (g * (0.5 * c[q] * r * r / (vj * vj) - 0.5 / vj)
                        + l * (0.5 / vj - 0.5 * r * r / (vj * vj)))
                        / bf;
                }
            }
        }
        let grad_log_var = self.log_var.as_ref().map(|s| {
            (0..k)
                .map(|q| {
                    (0..dim)
                        .map(|j| {
                            // ∂L/∂s = v ∂L/∂v where exp(s) is above the floor, 0 where floored.
                            if s[q][j].exp() > self.floor {
                                v[q][j] * grad_v[q][j]
                            } else {
                                0.0
                            }
                        })
                        .collect()
                })
                .collect()
        });
        let predictions = logits
            .iter()
            .map(|row| {
                (0..k)
                    .max_by(|&a, &b| row[a].partial_cmp(&row[b]).unwrap())
                    .unwrap()
            })
            .collect();
        Reference {
            d,
            logits,
            predictions,
            classification,
            likelihood,
            loss: classification + self.lambda * likelihood,
            grad_x,
            grad_mu,
            grad_log_var,
        }
    }
}

impl Problem {
    /// Central finite differences of the reference loss L with respect to x, μ and s (when
    /// diagonal), step `h`.
    pub fn finite_difference_gradients(&self, h: f64) -> [Vec<f64>; 3] {
        let loss = |p: &Problem| p.loss_terms().2;
        type Block = fn(&mut Problem) -> Option<&mut Vec<Vec<f64>>>;
        let blocks: [Block; 3] = [
            |p| Some(&mut p.x),
            |p| Some(&mut p.mu),
            |p| p.log_var.as_mut(),
        ];
        blocks.map(|block| {
            let mut p = self.clone();
            let Some(rows) = block(&mut p).map(|m| (m.len(), m[0].len())) else {
                return Vec::new();
            };
            let mut grads = Vec::new();
            for i in 0..rows.0 {
                for j in 0..rows.1 {
                    let orig = block(&mut p).unwrap()[i][j];
                    block(&mut p).unwrap()[i][j] = orig + h;
                    let plus = loss(&p);
                    block(&mut p).unwrap()[i][j] = orig - h;
                    let minus = loss(&p);
                    block(&mut p).unwrap()[i][j] = orig;
                    grads.push((plus - minus) / (2.0 * h));
                }
            }
            grads
        })
    }
}

/// A fixed, asymmetric problem with B = 6, K = 4, D = 3 (no two classes tie), priors
/// [0.1, 0.4, 0.3, 0.2], α = 0.3, λ = 0.1, for gradient and option tests.
pub fn small_problem(diagonal: bool, y: Vec<usize>) -> Problem {
    let x = vec![
        vec![0.3, -1.2, 0.8],
        vec![1.1, 0.4, -0.5],
        vec![-0.7, 0.9, 1.6],
        vec![0.2, 0.1, -1.3],
        vec![-1.5, -0.6, 0.35],
        vec![0.9, -0.2, 0.1],
    ];
    let mu = vec![
        vec![0.5, -0.9, 0.2],
        vec![1.0, 0.7, -0.8],
        vec![-0.4, 1.2, 1.1],
        vec![-1.1, -0.3, -0.6],
    ];
    let log_var = vec![
        vec![0.2, -0.4, 0.1],
        vec![-0.3, 0.5, 0.0],
        vec![0.6, -0.1, -0.7],
        vec![0.05, 0.3, -0.2],
    ];
    Problem {
        x,
        y,
        mu,
        log_var: diagonal.then_some(log_var),
        alpha: 0.3,
        lambda: 0.1,
        priors: Some(vec![0.1, 0.4, 0.3, 0.2]),
        floor: 1e-4,
        options: Options::default(),
    }
}
