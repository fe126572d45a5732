//! A learned linear map on query embeddings: the shop's own search outcomes adapt a general-purpose
//! sentence encoder to its vocabulary without re-embedding the catalog.
//!
//! Product vectors stay as the encoder made them (the index is untouched); only the query side moves:
//! `u = W·q`, and retrieval ranks products by `cos(u, p)`. `W` starts at the identity (the adapter is
//! then a no-op) and is trained with a full softmax over the whole catalog: for each training query,
//! the products it led to (weighted by their grade) should out-score every other product. That is the
//! retrieval task itself, with every product as a negative, so no negative sampling can bias it.
//!
//! Overfitting is held off three ways: the pull of weight decay towards the identity, a validation
//! split that keeps the best epoch, and the fact that a 384×384 map has far fewer degrees of freedom
//! than the encoder.

use crate::SearchError;
use std::path::Path;

/// One training query: its embedding and the catalog rows it should retrieve, with positive weights.
pub struct AdapterExample {
    /// The query's embedding, as the encoder made it.
    pub query: Vec<f32>,
    /// Catalog rows (indexes into the catalog matrix) and how much each counts.
    pub targets: Vec<(usize, f32)>,
}

/// Training settings; the defaults are what `vitrine eval search` uses.
#[derive(Debug, Clone)]
pub struct AdapterOptions {
    /// Passes over the training queries.
    pub epochs: usize,
    /// Queries per gradient step.
    pub batch: usize,
    /// Adam learning rate.
    pub learning_rate: f32,
    /// Pull of every step towards the identity map.
    pub decay: f32,
    /// Softmax temperature (scores are `temperature · cosine`).
    pub temperature: f32,
    /// Share of the examples held out to choose the best epoch.
    pub validation_share: f64,
}

impl Default for AdapterOptions {
    fn default() -> Self {
        Self {
            epochs: 4,
            batch: 32,
            learning_rate: 5e-4,
            decay: 2e-4,
            temperature: 20.0,
            validation_share: 0.1,
        }
    }
}

/// What training achieved, for the log and the docs.
#[derive(Debug, Clone)]
pub struct AdapterReport {
    /// Validation loss of the identity map (the encoder alone).
    pub identity_loss: f64,
    /// Validation loss after each epoch.
    pub epoch_losses: Vec<f64>,
    /// The epoch kept (0 = the identity was best and nothing changed).
    pub kept_epoch: usize,
}

/// A square map applied to query embeddings before vector search.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryAdapter {
    dim: usize,
    /// Row-major `dim × dim`.
    weights: Vec<f32>,
}

const MAGIC: &[u8; 8] = b"VTRQAD01";

/// Dot product in 16 independent lanes, so the compiler vectorises it (also the word vectors' cosine).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 16];
    let (ac, bc) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..16 {
            lanes[l] += x[l] * y[l];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = dot(&v, &v).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

impl QueryAdapter {
    /// The map that changes nothing.
    pub fn identity(dim: usize) -> Self {
        let mut weights = vec![0.0; dim * dim];
        (0..dim).for_each(|i| weights[i * dim + i] = 1.0);
        Self { dim, weights }
    }

    /// Dimension of the vectors it maps.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The adapted, unit-length query vector. A vector of another dimension (a different encoder)
    /// passes through unchanged rather than being mangled.
    pub fn apply(&self, query: &[f32]) -> Vec<f32> {
        if query.len() != self.dim {
            return query.to_vec();
        }
        normalized(self.raw(query))
    }

    fn raw(&self, query: &[f32]) -> Vec<f32> {
        self.weights
            .chunks_exact(self.dim)
            .map(|row| dot(row, query))
            .collect()
    }

    /// Softmax cross-entropy of one example over the whole catalog; with `grad`, adds `∂loss/∂W`.
    fn example_loss(
        &self,
        example: &AdapterExample,
        catalog: &[f32],
        temperature: f32,
        grad: Option<&mut [f32]>,
    ) -> f64 {
        let dim = self.dim;
        let u = self.raw(&example.query);
        let scores: Vec<f32> = catalog
            .chunks_exact(dim)
            .map(|p| temperature * dot(p, &u))
            .collect();
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let total: f64 = scores.iter().map(|s| f64::from(s - max).exp()).sum();
        let log_total = total.ln() + f64::from(max);
        let weight_sum: f32 = example.targets.iter().map(|t| t.1).sum();
        if weight_sum <= 0.0 {
            return 0.0;
        }
        let loss = example
            .targets
            .iter()
            .map(|&(row, w)| f64::from(w / weight_sum) * (log_total - f64::from(scores[row])))
            .sum();
        if let Some(grad) = grad {
            // ∂loss/∂u = T · Σ_j (softmax_j − y_j) · p_j, then ∂loss/∂W = (∂loss/∂u) · qᵀ.
            let mut du = vec![0f32; dim];
            for (p, s) in catalog.chunks_exact(dim).zip(&scores) {
                let soft = (f64::from(*s) - log_total).exp() as f32;
                if soft > 1e-7 {
                    du.iter_mut().zip(p).for_each(|(d, x)| *d += soft * x);
                }
            }
            for &(row, w) in &example.targets {
                let p = &catalog[row * dim..(row + 1) * dim];
                let y = w / weight_sum;
                du.iter_mut().zip(p).for_each(|(d, x)| *d -= y * x);
            }
            for (i, d) in du.iter().enumerate() {
                let row = &mut grad[i * dim..(i + 1) * dim];
                row.iter_mut()
                    .zip(&example.query)
                    .for_each(|(g, q)| *g += temperature * d * q);
            }
        }
        loss
    }

    /// Mean loss over examples, computed on two threads.
    fn mean_loss(&self, examples: &[AdapterExample], catalog: &[f32], temperature: f32) -> f64 {
        if examples.is_empty() {
            return 0.0;
        }
        let half = examples.len().div_ceil(2);
        let sum: f64 = std::thread::scope(|s| {
            let parts: Vec<_> = examples
                .chunks(half)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|e| self.example_loss(e, catalog, temperature, None))
                            .sum::<f64>()
                    })
                })
                .collect();
            parts.into_iter().map(|p| p.join().unwrap_or(0.0)).sum()
        });
        sum / examples.len() as f64
    }

    /// Trains a map on `examples` against `catalog` (row-major, one unit-length product vector per
    /// row). `progress` is called after each epoch with (epoch, validation loss).
    pub fn train(
        examples: &[AdapterExample],
        catalog: &[f32],
        dim: usize,
        options: &AdapterOptions,
        progress: &dyn Fn(usize, f64),
    ) -> Result<(Self, AdapterReport), SearchError> {
        if dim == 0 || !catalog.len().is_multiple_of(dim) {
            return Err(SearchError::Config(format!(
                "query adapter: catalog of {} values is not a whole number of {dim}-dimensional rows",
                catalog.len()
            )));
        }
        let rows = catalog.len() / dim;
        let usable: Vec<&AdapterExample> = examples
            .iter()
            .filter(|e| {
                e.query.len() == dim
                    && !e.targets.is_empty()
                    && e.targets.iter().all(|t| t.0 < rows)
            })
            .collect();
        if usable.len() < 10 {
            return Err(SearchError::Config(format!(
                "query adapter: {} usable training queries; at least 10 are needed",
                usable.len()
            )));
        }
        let n_valid = ((usable.len() as f64 * options.validation_share) as usize).max(1);
        let (valid, train) = usable.split_at(n_valid);
        let valid: Vec<AdapterExample> = valid.iter().map(|e| clone_example(e)).collect();
        let train: Vec<AdapterExample> = train.iter().map(|e| clone_example(e)).collect();

        let mut model = Self::identity(dim);
        let identity_loss = model.mean_loss(&valid, catalog, options.temperature);
        let mut best = (identity_loss, model.clone(), 0);
        let mut adam = Adam::new(dim * dim);
        let mut epoch_losses = Vec::new();
        for epoch in 1..=options.epochs {
            for batch in train.chunks(options.batch.max(1)) {
                let grad = model.batch_gradient(batch, catalog, options.temperature);
                let scale = 1.0 / batch.len() as f32;
                adam.step(&mut model.weights, &grad, scale, options.learning_rate);
                // Decay towards the identity, not towards zero: the encoder is the prior.
                for i in 0..dim {
                    for j in 0..dim {
                        let target = if i == j { 1.0 } else { 0.0 };
                        let w = &mut model.weights[i * dim + j];
                        *w -= options.decay * (*w - target);
                    }
                }
            }
            let loss = model.mean_loss(&valid, catalog, options.temperature);
            progress(epoch, loss);
            epoch_losses.push(loss);
            if loss < best.0 {
                best = (loss, model.clone(), epoch);
            }
        }
        let (_, model, kept_epoch) = best;
        Ok((
            model,
            AdapterReport {
                identity_loss,
                epoch_losses,
                kept_epoch,
            },
        ))
    }

    /// Summed gradient of a batch, split over two threads.
    fn batch_gradient(
        &self,
        batch: &[AdapterExample],
        catalog: &[f32],
        temperature: f32,
    ) -> Vec<f32> {
        let size = self.dim * self.dim;
        let half = batch.len().div_ceil(2).max(1);
        std::thread::scope(|s| {
            let parts: Vec<_> = batch
                .chunks(half)
                .map(|part| {
                    s.spawn(move || {
                        let mut grad = vec![0f32; size];
                        for e in part {
                            self.example_loss(e, catalog, temperature, Some(&mut grad));
                        }
                        grad
                    })
                })
                .collect();
            let mut total = vec![0f32; size];
            for p in parts {
                if let Ok(g) = p.join() {
                    total.iter_mut().zip(g).for_each(|(t, x)| *t += x);
                }
            }
            total
        })
    }

    /// Saves the map (a small header and little-endian f32s).
    pub fn save(&self, path: &Path) -> Result<(), SearchError> {
        let mut bytes = Vec::with_capacity(16 + self.weights.len() * 4);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(self.dim as u64).to_le_bytes());
        for w in &self.weights {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        std::fs::write(path, bytes)
            .map_err(|e| SearchError::Config(format!("saving {}: {e}", path.display())))
    }

    /// Loads a map saved by [`Self::save`]; a truncated or foreign file is refused with the reason.
    pub fn load(path: &Path) -> Result<Self, SearchError> {
        let bad =
            |why: &str| SearchError::Config(format!("query adapter {}: {why}", path.display()));
        let bytes = std::fs::read(path).map_err(|e| bad(&e.to_string()))?;
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(bad("not a Vitrine query adapter file"));
        }
        let mut dim_bytes = [0u8; 8];
        dim_bytes.copy_from_slice(&bytes[8..16]);
        let dim = usize::try_from(u64::from_le_bytes(dim_bytes)).map_err(|_| bad("bad size"))?;
        if dim == 0 || dim > 8192 || bytes.len() != 16 + dim * dim * 4 {
            return Err(bad("size does not match its header"));
        }
        let weights = bytes[16..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Self { dim, weights })
    }
}

fn clone_example(e: &AdapterExample) -> AdapterExample {
    AdapterExample {
        query: e.query.clone(),
        targets: e.targets.clone(),
    }
}

/// Adam's moment estimates for one parameter vector.
struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Adam {
    fn new(n: usize) -> Self {
        Self {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    fn step(&mut self, params: &mut [f32], grad: &[f32], scale: f32, lr: f32) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        self.t += 1;
        let (c1, c2) = (1.0 - B1.powi(self.t), 1.0 - B2.powi(self.t));
        for (((p, g), m), v) in params
            .iter_mut()
            .zip(grad)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            let g = g * scale;
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            *p -= lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::unit;

    #[test]
    fn identity_changes_nothing_and_foreign_dimensions_pass_through() {
        let a = QueryAdapter::identity(3);
        let q = unit(&[1.0, 2.0, 2.0]);
        assert_eq!(a.apply(&q), q);
        assert_eq!(a.apply(&[1.0, 0.0]), vec![1.0, 0.0]);
    }

    #[test]
    fn training_learns_a_vocabulary_the_encoder_got_wrong() {
        // Four products on the axes of a 4-d space. The "encoder" puts each query next to the wrong
        // product (query i lands on product (i+1) mod 4); the judged target is product i.
        let dim = 4;
        let mut catalog = Vec::new();
        for i in 0..dim {
            let mut p = vec![0.0; dim];
            p[i] = 1.0;
            catalog.extend(p);
        }
        let examples: Vec<AdapterExample> = (0..200)
            .map(|n| {
                let i = n % dim;
                let mut q = vec![0.05; dim];
                q[(i + 1) % dim] = 1.0;
                AdapterExample {
                    query: unit(&q),
                    targets: vec![(i, 1.0)],
                }
            })
            .collect();
        let options = AdapterOptions {
            epochs: 30,
            batch: 8,
            learning_rate: 0.05,
            decay: 0.0,
            ..Default::default()
        };
        let (adapter, report) =
            QueryAdapter::train(&examples, &catalog, dim, &options, &|_, _| {}).expect("trains");
        assert!(report.kept_epoch > 0, "{report:?}");
        assert!(report.epoch_losses[report.kept_epoch - 1] < report.identity_loss / 2.0);
        for i in 0..dim {
            let mut q = vec![0.05; dim];
            q[(i + 1) % dim] = 1.0;
            let u = adapter.apply(&unit(&q));
            let best = (0..dim)
                .max_by(|&a, &b| u[a].total_cmp(&u[b]))
                .expect("non-empty");
            assert_eq!(best, i, "query {i} now retrieves its judged product");
        }
    }

    #[test]
    fn saved_maps_round_trip_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("adapter.bin");
        let mut a = QueryAdapter::identity(5);
        a.weights[7] = 0.25;
        a.save(&path).expect("save");
        assert_eq!(QueryAdapter::load(&path).expect("load"), a);
        std::fs::write(&path, b"VTRQAD01\x05\0\0\0\0\0\0\0short").expect("write");
        assert!(QueryAdapter::load(&path).is_err());
        std::fs::write(&path, b"not an adapter at all").expect("write");
        assert!(QueryAdapter::load(&path).is_err());
    }

    #[test]
    fn too_few_examples_is_a_clear_error() {
        let err = QueryAdapter::train(&[], &[1.0, 0.0], 2, &AdapterOptions::default(), &|_, _| {})
            .expect_err("refused");
        assert!(err.to_string().contains("at least 10"), "{err}");
    }
}
