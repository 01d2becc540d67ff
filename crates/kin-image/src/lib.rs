//! kin's image input: decoding by content with EXIF orientation ([`decode`]), and preprocessing
//! into the CHW float tensors vision encoders take ([`preprocess`]), equal to the reference Python
//! pipelines (Hugging Face's Pillow-backend processors, torchvision on PIL images).
//!
//! `Image` (RGB8) → [`resize_and_crop`] (Pillow-exact resampling) → [`preprocess`] → [`Pixels`].

mod config;
mod decode;
mod error;
mod hf_config;
mod preprocess;
mod resize;
mod rgb;

pub use config::{CropRule, Normalize, PreprocessConfig, ResizeTo, CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD};
pub use decode::{decode, Image, Limits};
pub use error::{ImageError, Result};
pub use preprocess::{preprocess, resize_and_crop, Pixels};
pub use resize::{resize, Resample};
