//! [`PreprocessConfig`] applied to an [`Image`]: resize, centre crop, then rescale and normalise
//! into a CHW `f32` tensor.

use crate::config::{PreprocessConfig, ResizeTo};
use crate::decode::Image;
use crate::resize::resize;

/// A preprocessed image, channels first: `data[c * height * width + y * width + x]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pixels {
    /// Always 3 (R, G, B).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `channels * height * width` values.
    pub data: Vec<f32>,
}

/// The geometric half of preprocessing: the resized and cropped RGB8 image, before any arithmetic
/// on the samples. Equal, byte for byte, to what the reference pipelines feed their normalisation.
pub fn resize_and_crop(img: &Image, cfg: &PreprocessConfig) -> Image {
    let composited;
    let img = match (&img.alpha, cfg.composite_alpha) {
        (Some(alpha), true) => {
            let mut rgb = img.rgb.clone();
            crate::rgb::composite_on_white(&mut rgb, alpha);
            composited = Image { width: img.width, height: img.height, rgb, alpha: None };
            &composited
        }
        _ => img,
    };
    let resized = cfg.resize.map(|to: ResizeTo| {
        let (height, width) = to.output_size(img.height, img.width);
        resize(img, width, height, cfg.resample)
    });
    let current = resized.as_ref().unwrap_or(img);
    match cfg.crop {
        Some((height, width)) if (height, width) != (current.height, current.width) => {
            let top = cfg.crop_rule.offset(current.height, height);
            let left = cfg.crop_rule.offset(current.width, width);
            crop(current, top, left, height, width)
        }
        _ => resized.unwrap_or_else(|| img.clone()),
    }
}

/// Turns an image into the tensor a model takes, as `cfg` describes.
///
/// Each sample becomes `(f32(x * rescale_factor) - mean) / std`: the product is taken in `f64`
/// and rounded to `f32`, the subtraction and division in `f32`, as transformers does; torchvision's
/// `x / 255` in `f32` agrees to within one unit in the last place.
pub fn preprocess(img: &Image, cfg: &PreprocessConfig) -> Pixels {
    let img = resize_and_crop(img, cfg);
    let (height, width) = (img.height as usize, img.width as usize);
    let plane = height * width;
    let mut data = vec![0.0f32; 3 * plane];
    for c in 0..3 {
        let (mean, std) = cfg.normalize.map_or((0.0, 1.0), |n| (n.mean[c], n.std[c]));
        let out = &mut data[c * plane..(c + 1) * plane];
        for (o, px) in out.iter_mut().zip(img.rgb.chunks_exact(3)) {
            let x = match cfg.rescale_factor {
                Some(factor) => (f64::from(px[c]) * factor) as f32,
                None => f32::from(px[c]),
            };
            *o = if cfg.normalize.is_some() { (x - mean) / std } else { x };
        }
    }
    Pixels { channels: 3, height, width, data }
}

/// The `height` × `width` window whose top-left source pixel is (`left`, `top`); zeros outside.
fn crop(img: &Image, top: i64, left: i64, height: u32, width: u32) -> Image {
    let mut rgb = vec![0u8; height as usize * width as usize * 3];
    let src_w = i64::from(img.width);
    // Columns of the output that fall inside the source.
    let x0 = (-left).clamp(0, i64::from(width));
    let x1 = (src_w - left).clamp(x0, i64::from(width));
    for y in 0..i64::from(height) {
        let sy = y + top;
        if sy < 0 || sy >= i64::from(img.height) || x0 == x1 {
            continue;
        }
        let src = ((sy * src_w + x0 + left) * 3) as usize;
        let dst = ((y * i64::from(width) + x0) * 3) as usize;
        let n = ((x1 - x0) * 3) as usize;
        rgb[dst..dst + n].copy_from_slice(&img.rgb[src..src + n]);
    }
    Image { width, height, rgb, alpha: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CropRule, Normalize};
    use crate::resize::Resample;

    fn ramp(width: u32, height: u32) -> Image {
        let rgb = (0..width * height).flat_map(|i| [i as u8, 0, 255]).collect();
        Image { width, height, rgb, alpha: None }
    }

    #[test]
    fn crop_pads_with_zeros_outside_the_image() {
        let img = ramp(3, 2);
        let out = crop(&img, -1, 1, 3, 3);
        assert_eq!(out.pixel(0, 0), [0, 0, 0]);
        assert_eq!(out.pixel(0, 1), [1, 0, 255]);
        assert_eq!(out.pixel(1, 2), [5, 0, 255]);
        assert_eq!(out.pixel(2, 1), [0, 0, 0]);
    }

    #[test]
    fn output_is_channels_first_and_normalised() {
        let cfg = PreprocessConfig {
            resize: None,
            resample: Resample::Bicubic,
            crop: None,
            crop_rule: CropRule::Floor,
            rescale_factor: Some(1.0 / 255.0),
            normalize: Some(Normalize { mean: [0.5; 3], std: [0.5; 3] }),
            composite_alpha: false,
        };
        let px = preprocess(&ramp(2, 1), &cfg);
        assert_eq!((px.channels, px.height, px.width), (3, 1, 2));
        assert_eq!(px.data, vec![-1.0, (1.0 / 255.0 - 0.5) / 0.5, -1.0, -1.0, 1.0, 1.0]);
    }

    #[test]
    fn default_config_gives_224_square() {
        let px = preprocess(&ramp(50, 20), &PreprocessConfig::default());
        assert_eq!((px.height, px.width, px.data.len()), (224, 224, 3 * 224 * 224));
    }
}
