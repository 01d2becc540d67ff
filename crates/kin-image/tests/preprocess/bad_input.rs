//! Inputs that are not good images: each gives the right error, none panics.

use kin_image::{decode, ImageError, Limits};

use super::{golden, read};

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A PNG signature and IHDR chunk claiming `width` × `height` RGB8, then an empty IDAT.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (&b"IHDR"[..], [&width.to_be_bytes()[..], &height.to_be_bytes(), &[8, 2, 0, 0, 0]].concat()),
        (b"IDAT", vec![]),
    ] {
        out.extend((data.len() as u32).to_be_bytes());
        let body = [kind, &data].concat();
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    }
    out
}

fn gif_header(width: u16, height: u16) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend(width.to_le_bytes());
    out.extend(height.to_le_bytes());
    out.extend([0x80, 0, 0, 0, 0, 0, 255, 255, 255, 0x2c, 0, 0, 0, 0]);
    out.extend(width.to_le_bytes());
    out.extend(height.to_le_bytes());
    out.extend([0, 2, 2, 0x4c, 0x01, 0, 0x3b]);
    out
}

fn bmp_header(width: i32, height: i32) -> Vec<u8> {
    let mut out = b"BM".to_vec();
    out.extend(&(54u32 + 16).to_le_bytes());
    out.extend([0, 0, 0, 0]);
    out.extend(54u32.to_le_bytes());
    out.extend(40u32.to_le_bytes());
    out.extend(width.to_le_bytes());
    out.extend(height.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(24u16.to_le_bytes());
    out.extend([0u8; 24]);
    out.extend([0u8; 16]);
    out
}

#[test]
fn a_decompression_bomb_is_refused_from_its_header() {
    for (what, bytes) in
        [("PNG", png_header(30_000, 30_000)), ("GIF", gif_header(30_000, 30_000)), ("BMP", bmp_header(30_000, 30_000))]
    {
        let err = decode(&bytes, &Limits::default()).unwrap_err();
        assert!(
            matches!(err, ImageError::TooLarge { width: 30_000, height: 30_000, .. }),
            "{what}: {err:?} instead of TooLarge"
        );
        assert!(err.to_string().contains("30000x30000"), "{err}");
    }
}

#[test]
fn zero_sizes_and_empty_input_are_refused() {
    assert!(matches!(decode(&[], &Limits::default()), Err(ImageError::Empty)));
    let err = decode(&gif_header(0, 5), &Limits::default()).unwrap_err();
    assert!(matches!(err, ImageError::ZeroSize { .. } | ImageError::Corrupt { .. }), "{err:?}");
}

#[test]
fn text_and_json_are_not_images() {
    for (bytes, expect) in [
        (&br#"{"id": 1, "text": "a cat"}"#[..], "JSON text"),
        (b"hello, this is a plain text file\n", "text"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "markup"),
        (b"%PDF-1.7\n", "PDF"),
    ] {
        let err = decode(bytes, &Limits::default()).unwrap_err();
        assert!(matches!(err, ImageError::NotAnImage { .. }), "{err:?}");
        assert!(err.to_string().contains(expect), "{err}");
    }
}

#[test]
fn the_extension_is_ignored() {
    let dir = std::env::temp_dir().join(format!("kin-image-ext-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("really_a_png.jpg");
    std::fs::copy(golden().join("images/rgb_300x300.png"), &path).unwrap();
    let img = decode(&std::fs::read(&path).unwrap(), &Limits::default()).unwrap();
    assert_eq!((img.width, img.height), (300, 300));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_truncated_png_says_so() {
    let bytes = read("images/photo_500x375.png");
    let err = decode(&bytes[..bytes.len() / 2], &Limits::default()).unwrap_err();
    assert!(matches!(err, ImageError::Truncated { format: "PNG", .. }), "{err:?}");
    assert!(err.to_string().contains("truncated"), "{err}");
}

/// A small deterministic generator for the fuzz-style test.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn prefixes_and_random_bytes_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for entry in std::fs::read_dir(golden().join("images")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let step = bytes.len() / 23 + 1;
        inputs.extend((0..bytes.len()).step_by(step).map(|n| bytes[..n].to_vec()));
        // The same file with a run of bytes overwritten.
        let mut damaged = bytes.clone();
        let at = (rng.next() as usize) % damaged.len();
        for b in damaged[at..].iter_mut().take(64) {
            *b = rng.next() as u8;
        }
        inputs.push(damaged);
    }
    let magics: [&[u8]; 7] =
        [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"II*\0", b"RIFF\0\0\0\0WEBPVP8 ", b""];
    for i in 0..200 {
        let mut bytes = magics[i % magics.len()].to_vec();
        bytes.extend((0..(rng.next() % 300)).map(|_| rng.next() as u8));
        inputs.push(bytes);
    }
    let limits = Limits { max_pixels: 1 << 22, ..Limits::default() };
    let mut failures = 0;
    for bytes in &inputs {
        if decode(bytes, &limits).is_err() {
            failures += 1;
        }
    }
    assert!(failures > inputs.len() / 2, "{failures} of {} inputs were refused", inputs.len());
}
