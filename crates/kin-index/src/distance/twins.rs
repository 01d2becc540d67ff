//! Shared material for the tests that hold each SIMD kernel to its scalar twin.

/// Lengths around every lane width and unroll factor (4, 8, 16, 32, 64), plus a few large ones.
pub(crate) const LENGTHS: &[usize] = &[
    0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 23, 24, 31, 32, 33, 47, 48, 63, 64, 65, 95, 96, 127, 128, 129, 191, 255,
    256, 257, 384, 511, 767, 768, 1000, 1023, 1024, 1536, 4099,
];

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Values uniform in [-2, 2).
pub(crate) fn random_f32(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..n).map(|_| ((splitmix(&mut state) >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0).collect()
}

/// Codes over the whole i8 range, extremes included.
pub(crate) fn random_i8(n: usize, seed: u64) -> Vec<i8> {
    let mut state = seed ^ 0xA5A5;
    (0..n).map(|_| (splitmix(&mut state) >> 56) as u8 as i8).collect()
}

/// Float sums in a different order agree to a tolerance scaled by the magnitude summed.
pub(crate) fn assert_close(simd: f32, scalar: f32, a: &[f32], b: &[f32]) {
    let magnitude: f32 = a.iter().zip(b).map(|(x, y)| (x * y).abs() + (x - y) * (x - y)).sum();
    let tolerance = 1e-5 * magnitude + 1e-5;
    assert!((simd - scalar).abs() <= tolerance, "len {}: simd {simd} vs scalar {scalar}", a.len());
}
