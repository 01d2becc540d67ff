//! CTranslate2 Whisper checkpoints (`model.bin`, as faster-whisper ships them) converted into
//! the Hugging Face layout: `model.safetensors` with transformers' tensor names, `config.json`,
//! `preprocessor_config.json`, and the tokenizer copied over.
//!
//! CTranslate2 fuses attention projections: self-attention's query, key and value are one
//! `[3d, d]` matrix, cross-attention's key and value one `[2d, d]`. They are split back. Whisper's
//! key projections have no bias; the fused bias holds zeros there, and dropping a key bias never
//! changes attention (it adds the same amount to every score of a query), so nothing is lost.
//! Tensors keep their stored precision (float16 in the published checkpoints).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};

use crate::cache::PartialFile;
use crate::error::{Error, Result};

/// One stored tensor: its shape, its safetensors dtype and its little-endian bytes.
struct Tensor {
    shape: Vec<usize>,
    dtype: &'static str,
    bytes: Vec<u8>,
}

impl Tensor {
    /// Rows `from..to` of the first dimension.
    fn rows(&self, from: usize, to: usize) -> Tensor {
        let row = self.bytes.len() / self.shape[0].max(1);
        let mut shape = self.shape.clone();
        shape[0] = to - from;
        Tensor { shape, dtype: self.dtype, bytes: self.bytes[from * row..to * row].to_vec() }
    }
}

/// A parsed `model.bin`.
struct Model {
    spec: String,
    tensors: BTreeMap<String, Tensor>,
    scalars: BTreeMap<String, i64>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| Error::Corrupt {
            path: self.path.to_path_buf(),
            message: format!("CTranslate2 model ends at byte {} while {n} more were expected", self.bytes.len()),
        })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length-prefixed, NUL-terminated string.
    fn string(&mut self) -> Result<String> {
        let n = self.u16()? as usize;
        let raw = self.take(n)?;
        Ok(String::from_utf8_lossy(raw.strip_suffix(&[0]).unwrap_or(raw)).into_owned())
    }
}

fn parse(bytes: &[u8], path: &Path) -> Result<Model> {
    let corrupt = |message: String| Error::Corrupt { path: path.to_path_buf(), message };
    let mut r = Reader { bytes, pos: 0, path };
    let version = r.u32()?;
    if !(5..=6).contains(&version) {
        return Err(corrupt(format!("CTranslate2 binary version {version} is not supported (kin reads 5 and 6)")));
    }
    let spec = r.string()?;
    let _revision = r.u32()?;
    let count = r.u32()?;
    let mut model = Model { spec, tensors: BTreeMap::new(), scalars: BTreeMap::new() };
    for _ in 0..count {
        let name = r.string()?;
        let rank = r.u8()? as usize;
        let shape = (0..rank).map(|_| r.u32().map(|d| d as usize)).collect::<Result<Vec<_>>>()?;
        let dtype = r.u8()?;
        let len = r.u32()? as usize;
        let data = r.take(len)?;
        let (safetensors_dtype, width) = match dtype {
            0 => ("F32", 4),
            4 => ("F16", 2),
            5 => ("BF16", 2),
            1..=3 if rank == 0 => {
                let value = match dtype {
                    1 => data[0] as i8 as i64,
                    2 => i16::from_le_bytes([data[0], data[1]]) as i64,
                    _ => i32::from_le_bytes([data[0], data[1], data[2], data[3]]) as i64,
                };
                model.scalars.insert(name, value);
                continue;
            }
            other => {
                return Err(corrupt(format!(
                    "tensor {name} has CTranslate2 type {other} (quantized weights are not supported; use a float16 or float32 conversion)"
                )))
            }
        };
        if shape.iter().product::<usize>() * width != len {
            return Err(corrupt(format!("tensor {name}: {len} bytes do not fit shape {shape:?}")));
        }
        model.tensors.insert(name, Tensor { shape, dtype: safetensors_dtype, bytes: data.to_vec() });
    }
    Ok(model)
}

/// transformers' names for the tensors of `model`, fused projections split.
fn to_transformers(mut m: Model, path: &Path) -> Result<BTreeMap<String, Tensor>> {
    let mut out = BTreeMap::new();
    let mut take = |name: &str| {
        m.tensors.remove(name).ok_or_else(|| Error::Corrupt {
            path: path.to_path_buf(),
            message: format!("CTranslate2 Whisper model has no tensor {name}"),
        })
    };
    let mut put = |name: String, t: Tensor| {
        out.insert(name, t);
    };
    for side in ["encoder", "decoder"] {
        let hf = format!("model.{side}");
        if side == "encoder" {
            for conv in ["conv1", "conv2"] {
                put(format!("{hf}.{conv}.weight"), take(&format!("encoder/{conv}/weight"))?);
                put(format!("{hf}.{conv}.bias"), take(&format!("encoder/{conv}/bias"))?);
            }
        } else {
            put(format!("{hf}.embed_tokens.weight"), take("decoder/embeddings/weight")?);
        }
        put(format!("{hf}.embed_positions.weight"), take(&format!("{side}/position_encodings/encodings"))?);
        put(format!("{hf}.layer_norm.weight"), take(&format!("{side}/layer_norm/gamma"))?);
        put(format!("{hf}.layer_norm.bias"), take(&format!("{side}/layer_norm/beta"))?);
        for i in 0.. {
            let ct = format!("{side}/layer_{i}");
            let Ok(fused) = take(&format!("{ct}/self_attention/linear_0/weight")) else { break };
            let layer = format!("{hf}.layers.{i}");
            let d = fused.shape[0] / 3;
            let fused_bias = take(&format!("{ct}/self_attention/linear_0/bias"))?;
            for (j, p) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
                put(format!("{layer}.self_attn.{p}.weight"), fused.rows(j * d, (j + 1) * d));
                if *p != "k_proj" {
                    put(format!("{layer}.self_attn.{p}.bias"), fused_bias.rows(j * d, (j + 1) * d));
                }
            }
            let mut linear = |ct_name: &str, hf_name: &str| -> Result<()> {
                put(format!("{layer}.{hf_name}.weight"), take(&format!("{ct}/{ct_name}/weight"))?);
                put(format!("{layer}.{hf_name}.bias"), take(&format!("{ct}/{ct_name}/bias"))?);
                Ok(())
            };
            linear("self_attention/linear_1", "self_attn.out_proj")?;
            linear("ffn/linear_0", "fc1")?;
            linear("ffn/linear_1", "fc2")?;
            let mut norm = |ct_name: &str, hf_name: &str| -> Result<()> {
                put(format!("{layer}.{hf_name}.weight"), take(&format!("{ct}/{ct_name}/gamma"))?);
                put(format!("{layer}.{hf_name}.bias"), take(&format!("{ct}/{ct_name}/beta"))?);
                Ok(())
            };
            norm("self_attention/layer_norm", "self_attn_layer_norm")?;
            norm("ffn/layer_norm", "final_layer_norm")?;
            if side == "decoder" {
                norm("attention/layer_norm", "encoder_attn_layer_norm")?;
                put(format!("{layer}.encoder_attn.q_proj.weight"), take(&format!("{ct}/attention/linear_0/weight"))?);
                put(format!("{layer}.encoder_attn.q_proj.bias"), take(&format!("{ct}/attention/linear_0/bias"))?);
                let kv = take(&format!("{ct}/attention/linear_1/weight"))?;
                let kv_bias = take(&format!("{ct}/attention/linear_1/bias"))?;
                let d = kv.shape[0] / 2;
                put(format!("{layer}.encoder_attn.k_proj.weight"), kv.rows(0, d));
                put(format!("{layer}.encoder_attn.v_proj.weight"), kv.rows(d, 2 * d));
                put(format!("{layer}.encoder_attn.v_proj.bias"), kv_bias.rows(d, 2 * d));
                put(format!("{layer}.encoder_attn.out_proj.weight"), take(&format!("{ct}/attention/linear_2/weight"))?);
                put(format!("{layer}.encoder_attn.out_proj.bias"), take(&format!("{ct}/attention/linear_2/bias"))?);
            }
        }
    }
    Ok(out)
}

/// Writes tensors in the safetensors format: an 8-byte header length, a JSON header of names,
/// dtypes, shapes and offsets, then the data.
fn write_safetensors(tensors: &BTreeMap<String, Tensor>, dest: &Path) -> Result<()> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), json!({ "format": "pt" }));
    let mut offset = 0usize;
    for (name, t) in tensors {
        let end = offset + t.bytes.len();
        header.insert(name.clone(), json!({ "dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, end] }));
        offset = end;
    }
    let mut head = serde_json::to_vec(&Value::Object(header)).map_err(|e| Error::Corrupt {
        path: dest.to_path_buf(),
        message: format!("cannot encode the safetensors header: {e}"),
    })?;
    while head.len() % 8 != 0 {
        head.push(b' ');
    }
    let mut out = PartialFile::create(dest)?;
    let write = |out: &mut PartialFile, bytes: &[u8]| out.write_all(bytes).map_err(|e| Error::io(dest, e));
    write(&mut out, &(head.len() as u64).to_le_bytes())?;
    write(&mut out, &head)?;
    for t in tensors.values() {
        write(&mut out, &t.bytes)?;
    }
    out.finish(None)?;
    Ok(())
}

/// The id of a special token in `tokenizer.json`, if it lists it.
fn special_token(tokenizer: &Value, content: &str) -> Option<u64> {
    tokenizer["added_tokens"].as_array()?.iter().find(|t| t["content"] == content).and_then(|t| t["id"].as_u64())
}

/// Converts the CTranslate2 Whisper checkpoint in `src` (`model.bin`, or `model.bin.part1`,
/// `.part2`, … joined in order) into a Hugging Face Whisper folder `dest`.
pub(crate) fn convert_whisper(src: &Path, dest: &Path) -> Result<()> {
    let whole = src.join("model.bin");
    let bytes = if whole.is_file() {
        fs::read(&whole).map_err(|e| Error::io(&whole, e))?
    } else {
        let mut bytes = Vec::new();
        for i in 1.. {
            let part = src.join(format!("model.bin.part{i}"));
            if !part.is_file() {
                break;
            }
            bytes.extend(fs::read(&part).map_err(|e| Error::io(&part, e))?);
        }
        bytes
    };
    if bytes.is_empty() {
        return Err(Error::Corrupt {
            path: whole,
            message: "no CTranslate2 model.bin (or model.bin.partN) found".into(),
        });
    }
    let model = parse(&bytes, &whole)?;
    drop(bytes);
    if model.spec != "WhisperSpec" {
        return Err(Error::Corrupt { path: whole, message: format!("a {} checkpoint, not Whisper", model.spec) });
    }
    let heads = |side: &str| model.scalars.get(&format!("{side}/num_heads")).copied().unwrap_or(0).max(1) as usize;
    let (encoder_heads, decoder_heads) = (heads("encoder"), heads("decoder"));
    let tensors = to_transformers(model, &whole)?;
    let shape = |name: &str| tensors.get(name).map(|t| t.shape.clone()).unwrap_or_default();
    let count = |side: &str| {
        tensors.keys().filter(|k| k.starts_with(&format!("model.{side}.layers.")) && k.ends_with("fc1.weight")).count()
    };
    let (vocab, d_model) =
        (shape("model.decoder.embed_tokens.weight")[0], shape("model.decoder.embed_tokens.weight")[1]);
    let tokenizer_path = src.join("tokenizer.json");
    let tokenizer: Value =
        fs::read(&tokenizer_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
    let eos = special_token(&tokenizer, "<|endoftext|>").unwrap_or(50257);
    let start = special_token(&tokenizer, "<|startoftranscript|>").unwrap_or(eos + 1);
    let config = json!({
        "architectures": ["WhisperForConditionalGeneration"],
        "model_type": "whisper",
        "activation_function": "gelu",
        "d_model": d_model,
        "vocab_size": vocab,
        "num_mel_bins": shape("model.encoder.conv1.weight")[1],
        "encoder_layers": count("encoder"),
        "decoder_layers": count("decoder"),
        "encoder_attention_heads": encoder_heads,
        "decoder_attention_heads": decoder_heads,
        "encoder_ffn_dim": shape("model.encoder.layers.0.fc1.weight")[0],
        "decoder_ffn_dim": shape("model.decoder.layers.0.fc1.weight")[0],
        "max_source_positions": shape("model.encoder.embed_positions.weight")[0],
        "max_target_positions": shape("model.decoder.embed_positions.weight")[0],
        "scale_embedding": false,
        "tie_word_embeddings": true,
        "bos_token_id": eos, "eos_token_id": eos, "pad_token_id": eos,
        "decoder_start_token_id": start,
        "torch_dtype": "float32",
    });
    let preprocessor = json!({
        "feature_extractor_type": "WhisperFeatureExtractor",
        "feature_size": shape("model.encoder.conv1.weight")[1],
        "sampling_rate": 16000, "hop_length": 160, "chunk_length": 30, "n_fft": 400,
        "n_samples": 480000, "nb_max_frames": 3000, "padding_side": "right", "padding_value": 0.0,
        "return_attention_mask": false,
    });
    write_safetensors(&tensors, &dest.join("model.safetensors"))?;
    for (name, value) in [("config.json", &config), ("preprocessor_config.json", &preprocessor)] {
        let path = dest.join(name);
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))?;
    }
    if tokenizer_path.is_file() {
        let to = dest.join("tokenizer.json");
        fs::copy(&tokenizer_path, &to).map_err(|e| Error::io(&to, e))?;
    }
    Ok(())
}
