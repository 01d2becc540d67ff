//! Any decoded pixel layout → RGB8, the way Pillow's `convert("RGB")` does it.
//!
//! - alpha is dropped, not composited onto a background;
//! - gray is replicated into R, G and B;
//! - 16-bit channels keep their high byte (`v >> 8`), which is what Pillow does for 16-bit RGB.
//!   Pillow opens 16-bit grayscale as mode `I;16` and its RGB conversion clips every value above
//!   255 to white; kin takes the high byte there too, and the golden fixtures are made the same way;
//! - floating-point samples (TIFF) are clamped to 0..1 and scaled to 0..255.

use image::DynamicImage;

/// Converts a decoded image to `(width, height, rgb)`.
pub(crate) fn to_rgb8(img: DynamicImage) -> (u32, u32, Vec<u8>) {
    let (width, height) = (img.width(), img.height());
    let rgb = match img {
        DynamicImage::ImageRgb8(buf) => buf.into_raw(),
        DynamicImage::ImageRgba8(buf) => take_rgb(buf.as_raw(), 4, |v: u8| v),
        DynamicImage::ImageLuma8(buf) => gray(buf.as_raw(), 1, |v: u8| v),
        DynamicImage::ImageLumaA8(buf) => gray(buf.as_raw(), 2, |v: u8| v),
        DynamicImage::ImageRgb16(buf) => take_rgb(buf.as_raw(), 3, high_byte),
        DynamicImage::ImageRgba16(buf) => take_rgb(buf.as_raw(), 4, high_byte),
        DynamicImage::ImageLuma16(buf) => gray(buf.as_raw(), 1, high_byte),
        DynamicImage::ImageLumaA16(buf) => gray(buf.as_raw(), 2, high_byte),
        DynamicImage::ImageRgb32F(buf) => take_rgb(buf.as_raw(), 3, unit_float),
        DynamicImage::ImageRgba32F(buf) => take_rgb(buf.as_raw(), 4, unit_float),
        other => take_rgb(other.to_rgba8().as_raw(), 4, |v: u8| v),
    };
    (width, height, rgb)
}

/// The image's opacities (8-bit, 16-bit by the high byte), or `None` when it has no alpha
/// channel or every pixel is opaque.
pub(crate) fn alpha8(img: &DynamicImage) -> Option<Vec<u8>> {
    let alpha: Vec<u8> = match img {
        DynamicImage::ImageRgba8(b) => b.as_raw().chunks_exact(4).map(|p| p[3]).collect(),
        DynamicImage::ImageLumaA8(b) => b.as_raw().chunks_exact(2).map(|p| p[1]).collect(),
        DynamicImage::ImageRgba16(b) => b.as_raw().chunks_exact(4).map(|p| high_byte(p[3])).collect(),
        DynamicImage::ImageLumaA16(b) => b.as_raw().chunks_exact(2).map(|p| high_byte(p[1])).collect(),
        DynamicImage::ImageRgba32F(b) => b.as_raw().chunks_exact(4).map(|p| unit_float(p[3])).collect(),
        _ => return None,
    };
    alpha.iter().any(|&a| a < 255).then_some(alpha)
}

/// Lays RGB pixels with opacities over an opaque white background with Pillow's
/// `alpha_composite` arithmetic (7 fractional bits, division by 255 by shifts), bit for bit.
pub(crate) fn composite_on_white(rgb: &mut [u8], alpha: &[u8]) {
    const BITS: u32 = 7;
    let div255 = |x: u32| ((x >> 8) + x) >> 8;
    for (px, &a) in rgb.chunks_exact_mut(3).zip(alpha) {
        let a = u32::from(a);
        if a == 0 {
            px.fill(255);
            continue;
        }
        let coef1 = a * 255 * 255 * (1 << BITS) / (a * 255 + 255 * (255 - a));
        let coef2 = 255 * (1 << BITS) - coef1;
        for c in px.iter_mut() {
            let v = u32::from(*c) * coef1 + 255 * coef2;
            *c = (div255(v + (0x80 << BITS)) >> BITS) as u8;
        }
    }
}

fn high_byte(v: u16) -> u8 {
    (v >> 8) as u8
}

fn unit_float(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Keeps the first three of every `stride` samples.
fn take_rgb<T: Copy>(samples: &[T], stride: usize, to_u8: impl Fn(T) -> u8) -> Vec<u8> {
    samples.chunks_exact(stride).flat_map(|px| [to_u8(px[0]), to_u8(px[1]), to_u8(px[2])]).collect()
}

/// Replicates the first of every `stride` samples three times.
fn gray<T: Copy>(samples: &[T], stride: usize, to_u8: impl Fn(T) -> u8) -> Vec<u8> {
    samples.chunks_exact(stride).flat_map(|px| [to_u8(px[0]); 3]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};

    #[test]
    fn alpha_is_dropped_not_composited() {
        let img = ImageBuffer::<Rgba<u8>, _>::from_raw(1, 1, vec![10, 20, 30, 0]).unwrap();
        assert_eq!(to_rgb8(DynamicImage::ImageRgba8(img)).2, vec![10, 20, 30]);
        let img = ImageBuffer::<LumaA<u8>, _>::from_raw(1, 1, vec![99, 0]).unwrap();
        assert_eq!(to_rgb8(DynamicImage::ImageLumaA8(img)).2, vec![99, 99, 99]);
    }

    #[test]
    fn compositing_matches_pillow_alpha_composite_on_white() {
        // Values from Pillow: Image.alpha_composite(white, RGBA(c, c, c, a)).
        let cases = [(0u8, 0u8, 255u8), (0, 255, 0), (200, 255, 200), (0, 128, 127), (100, 1, 254), (10, 200, 63)];
        for (c, a, want) in cases {
            let mut px = [c, c, c];
            composite_on_white(&mut px, &[a]);
            assert_eq!(px, [want; 3], "c={c} a={a}");
        }
    }

    #[test]
    fn sixteen_bit_keeps_the_high_byte() {
        let img = ImageBuffer::<Rgb<u16>, _>::from_raw(1, 1, vec![0x12ff, 0xff00, 0x00ff]).unwrap();
        assert_eq!(to_rgb8(DynamicImage::ImageRgb16(img)).2, vec![0x12, 0xff, 0x00]);
        let img = ImageBuffer::<Luma<u16>, _>::from_raw(2, 1, vec![0x8081, 0x0100]).unwrap();
        assert_eq!(to_rgb8(DynamicImage::ImageLuma16(img)), (2, 1, vec![0x80, 0x80, 0x80, 1, 1, 1]));
    }
}
