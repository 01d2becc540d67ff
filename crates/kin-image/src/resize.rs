//! Pillow's `Image.resize` for RGB8, reproduced bit for bit.
//!
//! Convolution filters (bilinear, bicubic) follow Pillow's two-pass resampler: per output pixel a
//! window of source pixels and its normalised weights, turned into fixed point with 22 fractional
//! bits; the horizontal pass writes an 8-bit intermediate holding only the rows the vertical pass
//! reads; a pass is skipped when its dimension does not change. Nearest neighbour follows Pillow's
//! affine scaling, which walks the source in steps of the scale factor.

use crate::decode::Image;

/// Fractional bits of the fixed-point weights: 32 bits, minus 8 for the sample, minus 2 of
/// headroom for filters whose partial sums overshoot.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// A resampling filter, by its Pillow code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resample {
    /// Pillow code 0.
    Nearest,
    /// Pillow code 2: the triangle filter, support 1 (scaled when shrinking).
    Bilinear,
    /// Pillow code 3: Keys' cubic with a = -0.5, support 2 (scaled when shrinking).
    Bicubic,
}

impl Resample {
    /// The filter with Pillow's numeric code (`resample` in Hugging Face configs).
    pub fn from_pil(code: u64) -> Option<Resample> {
        match code {
            0 => Some(Resample::Nearest),
            2 => Some(Resample::Bilinear),
            3 => Some(Resample::Bicubic),
            _ => None,
        }
    }

    fn support(self) -> f64 {
        match self {
            Resample::Nearest => 0.0,
            Resample::Bilinear => 1.0,
            Resample::Bicubic => 2.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Resample::Nearest => 0.0,
            Resample::Bilinear if x < 1.0 => 1.0 - x,
            Resample::Bicubic if x < 1.0 => (1.5 * x - 2.5) * x * x + 1.0,
            Resample::Bicubic if x < 2.0 => (((x - 5.0) * x + 8.0) * x - 4.0) * -0.5,
            _ => 0.0,
        }
    }
}

/// Resizes `img` to `width` × `height` (both at least 1) as Pillow's `Image.resize` does.
pub fn resize(img: &Image, width: u32, height: u32, filter: Resample) -> Image {
    assert!(width > 0 && height > 0, "resize to an empty image");
    if (width, height) == (img.width, img.height) {
        return img.clone();
    }
    if filter == Resample::Nearest {
        return nearest(img, width, height);
    }
    let (w, h) = (img.width as usize, img.height as usize);
    let vertical = Window::new(h, height as usize, filter);
    let first_row = vertical.starts[0];
    let last = vertical.starts.len() - 1;
    let end_row = vertical.starts[last] + vertical.lens[last];

    let mut current: Option<(usize, Vec<u8>)> = None;
    if width != img.width {
        let horizontal = Window::new(w, width as usize, filter);
        let rows = &img.rgb[first_row * w * 3..end_row * w * 3];
        current = Some((end_row - first_row, horizontal_pass(rows, w, &horizontal)));
    }
    let out = if height != img.height {
        let (src, src_width, row0) = match &current {
            Some((_, rgb)) => (rgb.as_slice(), width as usize, first_row),
            None => (img.rgb.as_slice(), w, 0),
        };
        vertical_pass(src, src_width, row0, &vertical)
    } else {
        current.map(|(_, rgb)| rgb).unwrap_or_else(|| img.rgb.clone())
    };
    Image { width, height, rgb: out, alpha: None }
}

/// Per output pixel: the first source index, how many source pixels, and their fixed-point weights.
struct Window {
    starts: Vec<usize>,
    lens: Vec<usize>,
    /// `ksize` weights per output pixel, the unused tail zero.
    weights: Vec<i32>,
    ksize: usize,
}

impl Window {
    fn new(in_size: usize, out_size: usize, filter: Resample) -> Window {
        // Pillow takes the source extent as a float box; exact for any size kin accepts.
        let scale = f64::from(in_size as f32) / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filter.support() * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let inv_filterscale = 1.0 / filterscale;
        let mut window = Window {
            starts: Vec::with_capacity(out_size),
            lens: Vec::with_capacity(out_size),
            weights: vec![0; out_size * ksize],
            ksize,
        };
        let mut raw = vec![0.0f64; ksize];
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            // `as` truncates toward zero, like the C cast it mirrors.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let len = xmax.saturating_sub(xmin);
            let mut total = 0.0;
            for (x, w) in raw.iter_mut().enumerate().take(len) {
                *w = filter.weight(((x + xmin) as f64 - center + 0.5) * inv_filterscale);
                total += *w;
            }
            let fixed = &mut window.weights[xx * ksize..xx * ksize + len];
            for (k, &w) in fixed.iter_mut().zip(&raw) {
                let w = if total != 0.0 { w / total } else { w };
                *k = to_fixed(w);
            }
            window.starts.push(xmin);
            window.lens.push(len);
        }
        window
    }

    fn taps(&self, i: usize) -> (usize, &[i32]) {
        (self.starts[i], &self.weights[i * self.ksize..i * self.ksize + self.lens[i]])
    }
}

/// A weight in fixed point, rounded half away from zero.
fn to_fixed(w: f64) -> i32 {
    let scaled = w * f64::from(1u32 << PRECISION_BITS);
    if w < 0.0 {
        (scaled - 0.5) as i32
    } else {
        (scaled + 0.5) as i32
    }
}

/// Drops the fractional bits of an accumulator (it starts at one half) and clips to 0..=255.
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

const HALF: i32 = 1 << (PRECISION_BITS - 1);

fn horizontal_pass(rows: &[u8], in_width: usize, window: &Window) -> Vec<u8> {
    let out_width = window.starts.len();
    let mut out = Vec::with_capacity(rows.len() / in_width * out_width);
    for row in rows.chunks_exact(in_width * 3) {
        for xx in 0..out_width {
            let (start, taps) = window.taps(xx);
            let mut acc = [HALF; 3];
            for (px, &k) in row[start * 3..].chunks_exact(3).zip(taps) {
                acc[0] += i32::from(px[0]) * k;
                acc[1] += i32::from(px[1]) * k;
                acc[2] += i32::from(px[2]) * k;
            }
            out.extend(acc.map(clip8));
        }
    }
    out
}

/// `src` holds rows `row0..` of the source, `width` pixels each.
fn vertical_pass(src: &[u8], width: usize, row0: usize, window: &Window) -> Vec<u8> {
    let stride = width * 3;
    let mut out = Vec::with_capacity(window.starts.len() * stride);
    let mut acc = vec![0i32; stride];
    for yy in 0..window.starts.len() {
        let (start, taps) = window.taps(yy);
        acc.fill(HALF);
        for (j, &k) in taps.iter().enumerate() {
            let row = &src[(start - row0 + j) * stride..][..stride];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += i32::from(v) * k;
            }
        }
        out.extend(acc.iter().map(|&a| clip8(a)));
    }
    out
}

/// Pillow's nearest-neighbour scaling: positions accumulate `scale` from `scale / 2`, truncated.
fn nearest(img: &Image, width: u32, height: u32) -> Image {
    let positions = |in_size: u32, out_size: u32| -> Vec<usize> {
        let step = f64::from(in_size as f32) / f64::from(out_size);
        let mut pos = step * 0.5;
        (0..out_size)
            .map(|_| {
                let i = (pos as usize).min(in_size as usize - 1);
                pos += step;
                i
            })
            .collect()
    };
    let xs = positions(img.width, width);
    let ys = positions(img.height, height);
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for &y in &ys {
        let row = &img.rgb[y * img.width as usize * 3..];
        for &x in &xs {
            rgb.extend_from_slice(&row[x * 3..x * 3 + 3]);
        }
    }
    Image { width, height, rgb, alpha: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: u32, height: u32) -> Image {
        let rgb = (0..height)
            .flat_map(|y| (0..width).flat_map(move |x| [(x * 255 / width) as u8, (y * 255 / height) as u8, 128]))
            .collect();
        Image { width, height, rgb, alpha: None }
    }

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (n_in, n_out) in [(500, 224), (7, 224), (224, 224), (3, 1)] {
            let w = Window::new(n_in, n_out, Resample::Bicubic);
            for i in 0..n_out {
                let sum: i32 = w.taps(i).1.iter().sum();
                assert!((sum - (1 << PRECISION_BITS)).abs() <= w.ksize as i32, "{n_in}->{n_out} at {i}: {sum}");
            }
        }
    }

    #[test]
    fn a_constant_image_stays_constant() {
        let img = Image { width: 37, height: 11, rgb: [9u8, 200, 77].repeat(37 * 11), alpha: None };
        for filter in [Resample::Nearest, Resample::Bilinear, Resample::Bicubic] {
            let out = resize(&img, 224, 5, filter);
            assert!(out.rgb.chunks(3).all(|p| p == [9, 200, 77]), "{filter:?}");
        }
    }

    #[test]
    fn same_size_is_a_copy_and_one_pass_can_be_skipped() {
        let img = gradient(40, 30);
        assert_eq!(resize(&img, 40, 30, Resample::Bicubic), img);
        let wide = resize(&img, 80, 30, Resample::Bilinear);
        assert_eq!((wide.width, wide.height, wide.rgb.len()), (80, 30, 80 * 30 * 3));
        let tall = resize(&img, 40, 7, Resample::Bilinear);
        assert_eq!(tall.rgb.len(), 40 * 7 * 3);
    }

    #[test]
    fn nearest_picks_source_pixels() {
        let img = gradient(4, 1);
        let out = resize(&img, 2, 1, Resample::Nearest);
        assert_eq!(out.pixel(0, 0), img.pixel(1, 0));
        assert_eq!(out.pixel(1, 0), img.pixel(3, 0));
    }

    #[test]
    fn fixed_point_rounds_half_away_from_zero() {
        assert_eq!(to_fixed(1.0), 1 << 22);
        assert_eq!(to_fixed(-0.5 / f64::from(1 << 22)), -1);
        assert_eq!(to_fixed(0.5 / f64::from(1 << 22)), 1);
        assert_eq!(clip8(-5 << 22), 0);
        assert_eq!(clip8(300 << 22), 255);
    }
}
