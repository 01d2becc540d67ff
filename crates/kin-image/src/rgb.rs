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
    fn sixteen_bit_keeps_the_high_byte() {
        let img = ImageBuffer::<Rgb<u16>, _>::from_raw(1, 1, vec![0x12ff, 0xff00, 0x00ff]).unwrap();
        assert_eq!(to_rgb8(DynamicImage::ImageRgb16(img)).2, vec![0x12, 0xff, 0x00]);
        let img = ImageBuffer::<Luma<u16>, _>::from_raw(2, 1, vec![0x8081, 0x0100]).unwrap();
        assert_eq!(to_rgb8(DynamicImage::ImageLuma16(img)), (2, 1, vec![0x80, 0x80, 0x80, 1, 1, 1]));
    }
}
