//! The same BERT as [`super::super::bert`], written with candle tensor operations so that gradients flow
//! through it. Serving never uses this: it is padded, allocates per operation and is several times slower
//! than the packed forward pass. It exists to be trained, and its weights are written back under the
//! checkpoint's own names so the fast forward pass loads them unchanged.

use crate::ModelError;
use candle_core::{DType, Device, Tensor, Var, D};
use std::collections::HashMap;
use std::path::Path;

use super::super::bert::BertConfig;

/// A tensor that is either trained or frozen; both are saved.
struct Param {
    name: String,
    value: Tensor,
    var: Option<Var>,
}

impl Param {
    fn tensor(&self) -> &Tensor {
        match &self.var {
            Some(v) => v.as_tensor(),
            None => &self.value,
        }
    }
}

struct Linear {
    weight: usize,
    bias: usize,
}

struct Norm {
    weight: usize,
    bias: usize,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
}

/// A trainable BERT: every parameter by name, and the layer structure as indexes into them.
pub struct TrainableBert {
    config: BertConfig,
    params: Vec<Param>,
    word: usize,
    position: usize,
    token_type: usize,
    embedding_norm: Norm,
    layers: Vec<Layer>,
}

impl TrainableBert {
    /// Loads a checkpoint. The word-embedding table (two thirds of the parameters, and mostly rows no
    /// training query touches) and the lowest `frozen_layers` layers stay fixed; the rest are trained.
    pub fn load(
        weights: &Path,
        config: BertConfig,
        frozen_layers: usize,
    ) -> Result<Self, ModelError> {
        let tensors: HashMap<String, Tensor> =
            candle_core::safetensors::load(weights, &Device::Cpu)?;
        let mut params: Vec<Param> = Vec::new();
        let mut take = |name: &str, trained: bool| -> Result<usize, ModelError> {
            let value = tensors
                .get(name)
                .or_else(|| tensors.get(&format!("bert.{name}")))
                .ok_or_else(|| ModelError::Runtime(format!("model.safetensors lacks {name}")))?
                .to_dtype(DType::F32)?;
            let var = if trained {
                Some(Var::from_tensor(&value)?)
            } else {
                None
            };
            params.push(Param {
                name: name.to_string(),
                value,
                var,
            });
            Ok(params.len() - 1)
        };
        let word = take("embeddings.word_embeddings.weight", false)?;
        let position = take("embeddings.position_embeddings.weight", false)?;
        let token_type = take("embeddings.token_type_embeddings.weight", false)?;
        let embedding_norm = Norm {
            weight: take("embeddings.LayerNorm.weight", false)?,
            bias: take("embeddings.LayerNorm.bias", false)?,
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let trained = i >= frozen_layers;
            let p = format!("encoder.layer.{i}");
            let mut linear = |n: &str| -> Result<Linear, ModelError> {
                Ok(Linear {
                    weight: take(&format!("{p}.{n}.weight"), trained)?,
                    bias: take(&format!("{p}.{n}.bias"), trained)?,
                })
            };
            let query = linear("attention.self.query")?;
            let key = linear("attention.self.key")?;
            let value = linear("attention.self.value")?;
            let attention_out = linear("attention.output.dense")?;
            let intermediate = linear("intermediate.dense")?;
            let output = linear("output.dense")?;
            let mut norm = |n: &str| -> Result<Norm, ModelError> {
                Ok(Norm {
                    weight: take(&format!("{p}.{n}.weight"), trained)?,
                    bias: take(&format!("{p}.{n}.bias"), trained)?,
                })
            };
            let attention_norm = norm("attention.output.LayerNorm")?;
            let output_norm = norm("output.LayerNorm")?;
            layers.push(Layer {
                query,
                key,
                value,
                attention_out,
                attention_norm,
                intermediate,
                output,
                output_norm,
            });
        }
        Ok(Self {
            config,
            params,
            word,
            position,
            token_type,
            embedding_norm,
            layers,
        })
    }

    /// Width of the pooled vector (what a head on top of it takes).
    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }

    /// The parameters the optimiser updates.
    pub fn trainable(&self) -> Vec<Var> {
        self.params.iter().filter_map(|p| p.var.clone()).collect()
    }

    /// Writes every parameter, trained or not, under the checkpoint's names (f32 safetensors).
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        self.save_with(path, &[])
    }

    /// [`Self::save`] plus `extra` tensors beside the encoder's (a scoring head); loaders that know
    /// only the encoder's names ignore them.
    pub fn save_with(&self, path: &Path, extra: &[(&str, &Tensor)]) -> Result<(), ModelError> {
        let map: HashMap<String, Tensor> = self
            .params
            .iter()
            .map(|p| (p.name.clone(), p.tensor().clone()))
            .chain(extra.iter().map(|(n, t)| (n.to_string(), (*t).clone())))
            .collect();
        candle_core::safetensors::save(&map, path)?;
        Ok(())
    }

    fn p(&self, i: usize) -> &Tensor {
        self.params[i].tensor()
    }

    fn linear(&self, l: &Linear, x: &Tensor) -> Result<Tensor, ModelError> {
        Ok(x.matmul(&self.p(l.weight).t()?)?
            .broadcast_add(self.p(l.bias))?)
    }

    fn norm(&self, n: &Norm, x: &Tensor) -> Result<Tensor, ModelError> {
        let eps = self.config.layer_norm_eps;
        let mean = x.mean_keepdim(D::Minus1)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centred.broadcast_div(&(var + eps)?.sqrt()?)?;
        Ok(normed
            .broadcast_mul(self.p(n.weight))?
            .broadcast_add(self.p(n.bias))?)
    }

    /// Mean-pooled, L2-normalised vectors `[batch, hidden]` for padded token ids `[batch, len]` and their
    /// mask (1 for a real token, 0 for padding).
    pub fn embed(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor, ModelError> {
        let (batch, len) = ids.dims2()?;
        let c = &self.config;
        let h = c.hidden_size;
        let heads = c.num_attention_heads;
        let head = h / heads;
        if len > c.max_position_embeddings {
            return Err(ModelError::InvalidInput(format!(
                "{len} tokens; at most {} are supported",
                c.max_position_embeddings
            )));
        }
        let words = self.p(self.word).index_select(&ids.flatten_all()?, 0)?;
        let positions = self.p(self.position).narrow(0, 0, len)?;
        let token_type = self.p(self.token_type).narrow(0, 0, 1)?;
        let x = words
            .reshape((batch, len, h))?
            .broadcast_add(&positions)?
            .broadcast_add(&token_type)?;
        let mut x = self
            .norm(&self.embedding_norm, &x)?
            .reshape((batch * len, h))?;
        // Padding keys get a large negative score, so softmax gives them no weight.
        let key_bias = ((mask - 1.0)? * 10_000.0)?.reshape((batch, 1, 1, len))?;
        let scale = 1.0 / (head as f64).sqrt();
        for layer in &self.layers {
            let split = |t: Tensor| -> Result<Tensor, ModelError> {
                Ok(t.reshape((batch, len, heads, head))?
                    .transpose(1, 2)?
                    .contiguous()?)
            };
            let q = split(self.linear(&layer.query, &x)?)?;
            let k = split(self.linear(&layer.key, &x)?)?;
            let v = split(self.linear(&layer.value, &x)?)?;
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&key_bias)?;
            let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
            let context = weights
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((batch * len, h))?;
            let attended = (self.linear(&layer.attention_out, &context)? + &x)?;
            let attended = self.norm(&layer.attention_norm, &attended)?;
            let inner = self.linear(&layer.intermediate, &attended)?.gelu_erf()?;
            let out = (self.linear(&layer.output, &inner)? + &attended)?;
            x = self.norm(&layer.output_norm, &out)?;
        }
        let x = x.reshape((batch, len, h))?;
        let m = mask.unsqueeze(2)?;
        let summed = x.broadcast_mul(&m)?.sum(1)?;
        let counts = mask.sum_keepdim(1)?;
        let pooled = summed.broadcast_div(&counts)?;
        let norm = pooled.sqr()?.sum_keepdim(1)?.sqrt()?;
        Ok(pooled.broadcast_div(&(norm + 1e-12)?)?)
    }
}
