//! The paper's feature picture: 2-D test features coloured by class, with each class Gaussian
//! drawn as its mean and 1σ / 2σ ellipses.
//!
//! For the GM head the Gaussians are the model's own (learned μ_k and Σ_k). The softmax head has
//! no Gaussians, so for contrast each class gets the Gaussian fitted to its test features
//! (sample mean and full 2×2 covariance); the caption says which.

use std::path::Path;

use burn::prelude::*;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::head::Head;

/// A Gaussian in the plane: mean and 2×2 covariance (row-major).
struct Gaussian2 {
    mean: [f64; 2],
    covariance: [f64; 4],
}

impl Gaussian2 {
    /// Points of the ellipse (x−μ)ᵀ Σ⁻¹ (x−μ) = r², from Σ's eigen-decomposition.
    fn ellipse(&self, r: f64) -> Vec<(f64, f64)> {
        let [a, b, _, c] = self.covariance;
        let half_trace = 0.5 * (a + c);
        let root = (0.25 * (a - c).powi(2) + b * b).sqrt();
        let (l1, l2) = ((half_trace + root).max(0.0), (half_trace - root).max(0.0));
        let angle = 0.5 * (2.0 * b).atan2(a - c);
        let (cos, sin) = (angle.cos(), angle.sin());
        (0..=100)
            .map(|i| {
                let t = std::f64::consts::TAU * i as f64 / 100.0;
                let (u, v) = (r * l1.sqrt() * t.cos(), r * l2.sqrt() * t.sin());
                (
                    self.mean[0] + cos * u - sin * v,
                    self.mean[1] + sin * u + cos * v,
                )
            })
            .collect()
    }
}

/// The class Gaussians to draw: the GM head's, or those fitted to the features per class.
fn gaussians(head: &Head, features: &[f64], labels: &[usize]) -> Result<Vec<Gaussian2>, String> {
    let read = |t: Tensor<2>| {
        t.try_to_vec_as::<f64>()
            .map_err(|e| format!("reading the head back: {e:?}"))
    };
    match head {
        Head::Gm(gm) => {
            let means = read(gm.means.val())?;
            let variances = read(gm.variances())?;
            Ok((0..gm.num_classes())
                .map(|k| Gaussian2 {
                    mean: [means[2 * k], means[2 * k + 1]],
                    covariance: [variances[2 * k], 0.0, 0.0, variances[2 * k + 1]],
                })
                .collect())
        }
        Head::Softmax(_) => {
            let classes = labels.iter().max().map_or(0, |m| m + 1);
            Ok((0..classes)
                .map(|k| {
                    let points: Vec<[f64; 2]> = labels
                        .iter()
                        .zip(features.chunks(2))
                        .filter(|(l, _)| **l == k)
                        .map(|(_, p)| [p[0], p[1]])
                        .collect();
                    let n = points.len().max(2) as f64;
                    let mean = [0, 1].map(|j| points.iter().map(|p| p[j]).sum::<f64>() / n);
                    let cov = |i: usize, j: usize| {
                        points
                            .iter()
                            .map(|p| (p[i] - mean[i]) * (p[j] - mean[j]))
                            .sum::<f64>()
                            / (n - 1.0)
                    };
                    Gaussian2 {
                        mean,
                        covariance: [cov(0, 0), cov(0, 1), cov(1, 0), cov(1, 1)],
                    }
                })
                .collect())
        }
    }
}

/// Registers a system TrueType font for the captions; false when none is found.
fn register_font() -> bool {
    const CANDIDATES: [&str; 3] = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/Library/Fonts/Arial.ttf",
    ];
    CANDIDATES.iter().any(|path| {
        std::fs::read(path).is_ok_and(|bytes| {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
        })
    })
}

/// Draws `features` (`[n, 2]` row-major) coloured by `labels`, with the class Gaussians, into a
/// PNG at `path`.
pub fn features(
    path: &Path,
    features: &[f64],
    labels: &[usize],
    head: &Head,
    title: &str,
) -> Result<(), String> {
    let gaussians = gaussians(head, features, labels)?;
    let text = register_font();
    if !text {
        eprintln!("no TrueType font found (install fonts-dejavu-core): drawing without captions");
    }
    let draw = |e: &dyn std::fmt::Debug| format!("{}: {e:?}", path.display());

    // Axis range: the middle 99.6% of the points on each axis (so that a few outliers do not
    // shrink the picture), widened to hold every class's 2σ ellipse.
    let range = |j: usize| {
        let mut v: Vec<f64> = features.iter().skip(j).step_by(2).copied().collect();
        v.sort_by(f64::total_cmp);
        let (mut lo, mut hi) = (v[v.len() / 500], v[v.len() - 1 - v.len() / 500]);
        for g in &gaussians {
            let spread = 2.0 * g.covariance[3 * j].max(0.0).sqrt();
            lo = lo.min(g.mean[j] - spread);
            hi = hi.max(g.mean[j] + spread);
        }
        let pad = 0.05 * (hi - lo).max(1e-6);
        (lo - pad)..(hi + pad)
    };
    let root = BitMapBackend::new(path, (900, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw(&e))?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(15);
    if text {
        builder
            .caption(title, ("sans-serif", 24))
            .x_label_area_size(35)
            .y_label_area_size(50);
    }
    let mut chart = builder
        .build_cartesian_2d(range(0), range(1))
        .map_err(|e| draw(&e))?;
    if text {
        chart
            .configure_mesh()
            .disable_mesh()
            .draw()
            .map_err(|e| draw(&e))?;
    }
    let colour = |k: usize| {
        // Matplotlib's "tab10", then plotters' palette beyond ten classes.
        const TAB10: [(u8, u8, u8); 10] = [
            (31, 119, 180),
            (255, 127, 14),
            (44, 160, 44),
            (214, 39, 40),
            (148, 103, 189),
            (140, 86, 75),
            (227, 119, 194),
            (127, 127, 127),
            (188, 189, 34),
            (23, 190, 207),
        ];
        match TAB10.get(k) {
            Some(&(r, g, b)) => RGBColor(r, g, b).to_rgba(),
            None => Palette99::pick(k).to_rgba(),
        }
    };
    chart
        .draw_series(
            labels
                .iter()
                .zip(features.chunks(2))
                .map(|(&k, p)| Circle::new((p[0], p[1]), 2, colour(k).mix(0.45).filled())),
        )
        .map_err(|e| draw(&e))?;
    for (k, g) in gaussians.iter().enumerate() {
        for (r, width) in [(1.0, 3), (2.0, 2)] {
            chart
                .draw_series(LineSeries::new(
                    g.ellipse(r),
                    ShapeStyle::from(&BLACK).stroke_width(width),
                ))
                .map_err(|e| draw(&e))?;
        }
        chart
            .draw_series(std::iter::once(Cross::new(
                (g.mean[0], g.mean[1]),
                7,
                ShapeStyle::from(&BLACK).stroke_width(3),
            )))
            .map_err(|e| draw(&e))?;
        if text {
            chart
                .draw_series(std::iter::once(Text::new(
                    k.to_string(),
                    (g.mean[0], g.mean[1]),
                    ("sans-serif", 22).into_font().color(&colour(k)),
                )))
                .map_err(|e| draw(&e))?;
        }
    }
    root.present().map_err(|e| draw(&e))?;
    Ok(())
}
