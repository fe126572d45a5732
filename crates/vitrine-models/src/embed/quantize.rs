//! int8 scalar quantization of stored vectors: 4× smaller, with a measured (small) effect on
//! nearest-neighbour recall (see `vitrine bench embed`).

/// A vector stored as int8 with one scale: `value ≈ q * scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedVector {
    /// Quantized components.
    pub values: Vec<i8>,
    /// Multiplier back to floats.
    pub scale: f32,
}

/// Symmetric per-vector quantization: the largest |component| maps to 127.
pub fn quantize(v: &[f32]) -> QuantizedVector {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max == 0.0 { 1.0 } else { max / 127.0 };
    QuantizedVector {
        values: v
            .iter()
            .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
            .collect(),
        scale,
    }
}

/// Back to floats (approximately).
pub fn dequantize(q: &QuantizedVector) -> Vec<f32> {
    q.values.iter().map(|&x| f32::from(x) * q.scale).collect()
}

/// Dot product of a float query with a quantized vector, without dequantizing it.
pub fn dot(query: &[f32], q: &QuantizedVector) -> f32 {
    query
        .iter()
        .zip(&q.values)
        .map(|(a, &b)| a * f32::from(b))
        .sum::<f32>()
        * q.scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_error_is_small() {
        let v: Vec<f32> = (0..384).map(|i| ((i as f32) * 0.37).sin() / 10.0).collect();
        let q = quantize(&v);
        let back = dequantize(&q);
        let err = v
            .iter()
            .zip(&back)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err <= q.scale / 2.0 + 1e-6, "{err}");
        let exact: f32 = v.iter().map(|x| x * x).sum();
        assert!((dot(&v, &q) - exact).abs() / exact < 0.01);
    }
}
