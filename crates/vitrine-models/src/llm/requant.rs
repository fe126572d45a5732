//! Re-encodes the GGUF's Q4_1 tensors as Q8_0 at load time.
//!
//! Why: candle has SIMD (AVX2/NEON) dot products for Q4_0, Q8_0 and the k-quants but only a scalar one for
//! Q4_1, which made decoding ~6× slower than llama.cpp on the same file. Q8_0 keeps every Q4_1 value almost
//! exactly (8 bits per weight instead of 4, per-32 block scale), costs ~2× the weight memory (≈150 MB for
//! SmolLM2-135M) and runs on the fast kernels. The file on disk is never changed, so its sha256 still
//! verifies.

use crate::ModelError;
use candle_core::{
    quantized::{gguf_file, GgmlDType, QTensor},
    Device,
};
use std::io::{Cursor, Read, Seek};

/// Block size of Q8_0: a tensor's last dimension must be a multiple of it to be re-encoded.
const Q8_0_BLOCK: usize = 32;

fn runtime(what: &str) -> impl Fn(candle_core::Error) -> ModelError + '_ {
    move |e| ModelError::Runtime(format!("{what}: {e}"))
}

/// Whether a tensor of this type should be re-encoded: only types without a SIMD dot product in candle.
fn needs_requant(dtype: GgmlDType) -> bool {
    matches!(
        dtype,
        GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1 | GgmlDType::Q8_1
    )
}

/// A GGUF held in memory: its parsed header and a reader over its bytes.
pub type InMemoryGguf = (gguf_file::Content, Cursor<Vec<u8>>);

/// Reads every tensor of `content` from `reader`, re-encodes the slow types as Q8_0, and returns an
/// in-memory GGUF (same metadata) that `ModelWeights::from_gguf` can load. Returns `None` when nothing
/// needed re-encoding, so the caller loads the original file directly.
pub fn requantized_gguf<R: Read + Seek>(
    content: &gguf_file::Content,
    reader: &mut R,
) -> Result<Option<InMemoryGguf>, ModelError> {
    if !content
        .tensor_infos
        .values()
        .any(|t| needs_requant(t.ggml_dtype))
    {
        return Ok(None);
    }
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors: Vec<(&str, QTensor)> = Vec::with_capacity(names.len());
    for name in names {
        let t = content
            .tensor(reader, name, &Device::Cpu)
            .map_err(runtime("reading GGUF tensor"))?;
        let last = t.shape().dims().last().copied().unwrap_or(0);
        let t = if needs_requant(t.dtype()) && last % Q8_0_BLOCK == 0 {
            let dense = t
                .dequantize(&Device::Cpu)
                .map_err(runtime("dequantizing"))?;
            QTensor::quantize(&dense, GgmlDType::Q8_0).map_err(runtime("re-quantizing"))?
        } else {
            t
        };
        tensors.push((name.as_str(), t));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut buffer = Cursor::new(Vec::new());
    gguf_file::write(&mut buffer, &metadata, &tensor_refs).map_err(runtime("writing GGUF"))?;
    buffer.set_position(0);
    let requantized = gguf_file::Content::read(&mut buffer).map_err(runtime("re-reading GGUF"))?;
    Ok(Some((requantized, buffer)))
}
