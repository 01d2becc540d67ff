//! Hugging Face `preprocessor_config.json` → [`PreprocessConfig`], for the processors kin runs:
//! CLIP (`CLIPImageProcessor`, `CLIPFeatureExtractor`) and ConvNeXt (`ConvNextImageProcessor`,
//! `ConvNextFeatureExtractor`, used by `microsoft/resnet-50`). Missing fields take the processor
//! class's defaults in transformers 5, Pillow backend.

use serde_json::{Map, Value};

use crate::config::{invalid, CropRule, Normalize, PreprocessConfig, ResizeTo, CLIP_MEAN, CLIP_STD};
use crate::error::Result;
use crate::resize::Resample;

/// transformers' `IMAGENET_STANDARD_MEAN` / `_STD`, ConvNeXt's defaults.
const HALF: [f32; 3] = [0.5, 0.5, 0.5];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Processor {
    Clip,
    ConvNext,
}

pub(crate) fn parse(obj: &Map<String, Value>) -> Result<PreprocessConfig> {
    let name = ["image_processor_type", "feature_extractor_type"]
        .iter()
        .find_map(|k| get(obj, k).and_then(Value::as_str))
        .ok_or_else(|| invalid("image_processor_type", "missing; kin needs to know the processor".into()))?;
    let processor = if name.starts_with("CLIP") {
        Processor::Clip
    } else if name.starts_with("ConvNext") {
        Processor::ConvNext
    } else {
        return Err(invalid("image_processor_type", format!("{name:?} is not supported (CLIP or ConvNext)")));
    };

    let resample = match get(obj, "resample") {
        None => Resample::Bicubic,
        Some(v) => {
            let code = v.as_u64().ok_or_else(|| invalid("resample", format!("{v} is not a PIL filter code")))?;
            Resample::from_pil(code)
                .ok_or_else(|| invalid("resample", format!("PIL filter {code} is not supported (0, 2 or 3)")))?
        }
    };
    let (default_mean, default_std) = match processor {
        Processor::Clip => (CLIP_MEAN, CLIP_STD),
        Processor::ConvNext => (HALF, HALF),
    };
    let normalize = flag(obj, "do_normalize", true)?
        .then(|| -> Result<Normalize> {
            Ok(Normalize {
                mean: triple(obj, "image_mean", default_mean)?,
                std: triple(obj, "image_std", default_std)?,
            })
        })
        .transpose()?;
    let rescale_factor = flag(obj, "do_rescale", true)?
        .then(|| match get(obj, "rescale_factor") {
            None => Ok(1.0 / 255.0),
            Some(v) => v.as_f64().ok_or_else(|| invalid("rescale_factor", format!("{v} is not a number"))),
        })
        .transpose()?;
    // transformers composites transparent images on white when `do_convert_rgb` is on (CLIP's
    // processors set it by default; ConvNext's do not).
    let composite_alpha = flag(obj, "do_convert_rgb", matches!(processor, Processor::Clip))?;

    let (resize, crop) = match processor {
        Processor::Clip => {
            let resize =
                flag(obj, "do_resize", true)?.then(|| size(obj, "size", ResizeTo::ShortestEdge(224))).transpose()?;
            let crop = flag(obj, "do_center_crop", true)?.then(|| crop_size(obj, (224, 224))).transpose()?;
            (resize, crop)
        }
        Processor::ConvNext => {
            if flag(obj, "do_center_crop", false)? {
                return Err(invalid("do_center_crop", "ConvNext processors crop through crop_pct only".into()));
            }
            if !flag(obj, "do_resize", true)? {
                (None, None)
            } else {
                let ResizeTo::ShortestEdge(edge) = size(obj, "size", ResizeTo::ShortestEdge(384))? else {
                    return Err(invalid("size", "ConvNext processors need a shortest_edge".into()));
                };
                let crop_pct = match get(obj, "crop_pct") {
                    None => 224.0 / 256.0,
                    Some(v) => v.as_f64().ok_or_else(|| invalid("crop_pct", format!("{v} is not a number")))?,
                };
                if edge < 384 {
                    if crop_pct.is_nan() || crop_pct <= 0.0 {
                        return Err(invalid("crop_pct", format!("{crop_pct} is not positive")));
                    }
                    // `int(shortest_edge / crop_pct)`, then a square centre crop of the edge.
                    let resize_edge = (f64::from(edge) / crop_pct) as u32;
                    (Some(ResizeTo::ShortestEdge(resize_edge)), Some((edge, edge)))
                } else {
                    (Some(ResizeTo::Exact { height: edge, width: edge }), None)
                }
            }
        }
    };
    Ok(PreprocessConfig {
        resize,
        resample,
        crop,
        crop_rule: CropRule::Floor,
        rescale_factor,
        normalize,
        composite_alpha,
    })
}

fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn flag(obj: &Map<String, Value>, key: &'static str, default: bool) -> Result<bool> {
    match get(obj, key) {
        None => Ok(default),
        Some(v) => v.as_bool().ok_or_else(|| invalid(key, format!("{v} is not true or false"))),
    }
}

fn dimension(v: &Value, key: &'static str) -> Result<u32> {
    v.as_u64()
        .filter(|&n| n > 0 && n <= u64::from(u16::MAX))
        .map(|n| n as u32)
        .ok_or_else(|| invalid(key, format!("{v} is not a positive pixel count")))
}

/// `size`: an int (shortest edge, as these processors do not default to square),
/// `{"shortest_edge": n}` or `{"height": h, "width": w}`.
fn size(obj: &Map<String, Value>, key: &'static str, default: ResizeTo) -> Result<ResizeTo> {
    let Some(v) = get(obj, key) else { return Ok(default) };
    if let Some(map) = v.as_object() {
        if get(map, "longest_edge").is_some() || get(map, "max_height").is_some() {
            return Err(invalid(key, format!("{v}: longest_edge / max_height sizes are not supported")));
        }
        if let Some(edge) = get(map, "shortest_edge") {
            return Ok(ResizeTo::ShortestEdge(dimension(edge, key)?));
        }
        if let (Some(h), Some(w)) = (get(map, "height"), get(map, "width")) {
            return Ok(ResizeTo::Exact { height: dimension(h, key)?, width: dimension(w, key)? });
        }
        return Err(invalid(key, format!("{v} has neither shortest_edge nor height and width")));
    }
    Ok(ResizeTo::ShortestEdge(dimension(v, key)?))
}

/// `crop_size`: an int (square) or `{"height": h, "width": w}`.
fn crop_size(obj: &Map<String, Value>, default: (u32, u32)) -> Result<(u32, u32)> {
    const KEY: &str = "crop_size";
    let Some(v) = get(obj, KEY) else { return Ok(default) };
    match v.as_object() {
        Some(map) => match (get(map, "height"), get(map, "width")) {
            (Some(h), Some(w)) => Ok((dimension(h, KEY)?, dimension(w, KEY)?)),
            _ => Err(invalid(KEY, format!("{v} needs height and width"))),
        },
        None => dimension(v, KEY).map(|n| (n, n)),
    }
}

/// A per-channel triple; a single number applies to all three channels.
fn triple(obj: &Map<String, Value>, key: &'static str, default: [f32; 3]) -> Result<[f32; 3]> {
    let Some(v) = get(obj, key) else { return Ok(default) };
    if let Some(x) = v.as_f64() {
        return Ok([x as f32; 3]);
    }
    let bad = || invalid(key, format!("{v} is not three numbers"));
    let items = v.as_array().filter(|a| a.len() == 3).ok_or_else(bad)?;
    let mut out = [0.0f32; 3];
    for (o, item) in out.iter_mut().zip(items) {
        *o = item.as_f64().ok_or_else(bad)? as f32;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IMAGENET_MEAN;

    fn parse_str(text: &str) -> Result<PreprocessConfig> {
        PreprocessConfig::from_hf_json(text)
    }

    #[test]
    fn clip_int_and_dict_sizes() {
        let a = parse_str(r#"{"feature_extractor_type": "CLIPFeatureExtractor", "size": 224, "crop_size": 224}"#);
        let b = parse_str(
            r#"{"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 224},
                "crop_size": {"height": 224, "width": 224}, "resample": 3}"#,
        );
        assert_eq!(a.unwrap(), PreprocessConfig::default());
        assert_eq!(b.unwrap(), PreprocessConfig::default());
    }

    #[test]
    fn convnext_crops_through_crop_pct_below_384() {
        let cfg = parse_str(
            r#"{"feature_extractor_type": "ConvNextFeatureExtractor", "size": 224, "crop_pct": 0.875,
                "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], "resample": 3}"#,
        )
        .unwrap();
        assert_eq!(cfg.resize, Some(ResizeTo::ShortestEdge(256)));
        assert_eq!(cfg.crop, Some((224, 224)));
        assert_eq!(cfg.normalize.unwrap().mean, IMAGENET_MEAN);
        let big = parse_str(r#"{"image_processor_type": "ConvNextImageProcessor", "size": {"shortest_edge": 384}}"#);
        let big = big.unwrap();
        assert_eq!((big.resize, big.crop), (Some(ResizeTo::Exact { height: 384, width: 384 }), None));
        assert_eq!(big.normalize.unwrap().mean, HALF);
    }

    #[test]
    fn bad_fields_are_named() {
        let err = parse_str(r#"{"image_processor_type": "CLIPImageProcessor", "resample": 1}"#).unwrap_err();
        assert!(err.to_string().contains("resample"), "{err}");
        let err = parse_str(r#"{"image_processor_type": "ViTImageProcessor"}"#).unwrap_err();
        assert!(err.to_string().contains("ViTImageProcessor"), "{err}");
        let err = parse_str(r#"{"image_processor_type": "CLIPImageProcessor", "image_std": [1, 2]}"#).unwrap_err();
        assert!(err.to_string().contains("image_std"), "{err}");
        assert!(parse_str("[1]").is_err());
    }
}
