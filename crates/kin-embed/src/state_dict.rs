//! Named tensors from either checkpoint format kin reads: safetensors (`Weights`) or a PyTorch
//! state dict saved by `torch.save` (a zip of `*/data.pkl` and one `*/data/N` file per storage).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::pickle::{unpickle, TensorRef, Value};
use crate::weights::Weights;
use crate::{Error, Result};

/// A source of named `f32` tensors, looked up with and without the architecture's prefix.
pub trait Checkpoint {
    fn path(&self) -> &Path;
    /// The shape of a tensor, or `None` when the checkpoint lacks it.
    fn shape(&self, name: &str) -> Option<Vec<usize>>;
    /// Reads a tensor as `f32` and checks its shape.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>>;
}

impl Checkpoint for Weights {
    fn path(&self) -> &Path {
        Weights::path(self)
    }

    fn shape(&self, name: &str) -> Option<Vec<usize>> {
        Weights::shape(self, name)
    }

    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        Weights::get(self, name, shape)
    }
}

/// One tensor of a state dict, read into memory: floats, or the dtype that kept it from being one.
enum Tensor {
    Float { shape: Vec<usize>, data: Vec<f32> },
    Other { shape: Vec<usize>, dtype: String },
}

/// A `torch.save`d state dict of tensors, read whole into memory.
pub struct StateDict {
    path: PathBuf,
    tensors: HashMap<String, Tensor>,
    prefixes: Vec<String>,
}

impl StateDict {
    pub fn open(path: &Path, prefixes: &[&str]) -> Result<Self> {
        let corrupt = |message: String| Error::CorruptWeights { path: path.to_path_buf(), message };
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| corrupt(format!("not a torch.save zip: {e}")))?;
        let pickle_name = zip.file_names().find(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1);
        let pickle_name = pickle_name.ok_or_else(|| corrupt("no data.pkl: not a torch.save file".into()))?.to_string();
        let root = pickle_name.trim_end_matches("data.pkl").to_string();
        let mut read = |name: &str| -> Result<Vec<u8>> {
            let mut entry = zip.by_name(name).map_err(|e| corrupt(format!("{name}: {e}")))?;
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
            Ok(bytes)
        };
        if let Ok(order) = read(&format!("{root}byteorder")) {
            if order != b"little" {
                return Err(corrupt(format!(
                    "byte order {:?}; kin reads little-endian tensors",
                    String::from_utf8_lossy(&order)
                )));
            }
        }
        let value =
            unpickle(&read(&pickle_name)?).map_err(|source| Error::Pickle { path: path.to_path_buf(), source })?;
        let Value::Dict(entries) = value else {
            return Err(corrupt("the pickle is not a state dict (a dict of tensors)".into()));
        };
        let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
        let mut tensors = HashMap::new();
        for (key, value) in entries {
            let (Value::Str(name), Value::Tensor(t)) = (key, value) else {
                return Err(corrupt("the state dict holds something other than named tensors".into()));
            };
            let Some(size) = element_size(&t.storage.dtype) else {
                tensors.insert(name, Tensor::Other { shape: t.shape, dtype: t.storage.dtype });
                continue;
            };
            if !storages.contains_key(&t.storage.key) {
                let bytes = read(&format!("{root}data/{}", t.storage.key))?;
                storages.insert(t.storage.key.clone(), bytes);
            }
            let storage = &storages[&t.storage.key];
            let data = gather(&t, storage, size).ok_or_else(|| corrupt(format!("{name}: view outside its storage")))?;
            tensors.insert(name, Tensor::Float { shape: t.shape, data });
        }
        let mut all = vec![String::new()];
        all.extend(prefixes.iter().map(|p| p.to_string()));
        Ok(StateDict { path: path.to_path_buf(), tensors, prefixes: all })
    }

    fn find(&self, name: &str) -> Option<&Tensor> {
        self.prefixes.iter().find_map(|p| self.tensors.get(&format!("{p}{name}")))
    }
}

impl Checkpoint for StateDict {
    fn path(&self) -> &Path {
        &self.path
    }

    fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.find(name).map(|t| match t {
            Tensor::Float { shape, .. } | Tensor::Other { shape, .. } => shape.clone(),
        })
    }

    fn get(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>> {
        let (path, name_s) = (self.path.clone(), name.to_string());
        match self.find(name) {
            None => Err(Error::MissingTensor { path, name: name_s }),
            Some(Tensor::Other { dtype, .. }) => Err(Error::TensorDtype { path, name: name_s, dtype: dtype.clone() }),
            Some(Tensor::Float { shape, .. }) if shape != expected => {
                Err(Error::TensorShape { path, name: name_s, expected: expected.to_vec(), got: shape.clone() })
            }
            Some(Tensor::Float { data, .. }) => Ok(data.clone()),
        }
    }
}

/// Bytes per element of the float storages kin reads.
fn element_size(dtype: &str) -> Option<usize> {
    match dtype {
        "FloatStorage" => Some(4),
        "HalfStorage" | "BFloat16Storage" => Some(2),
        "DoubleStorage" => Some(8),
        _ => None,
    }
}

fn decode(dtype: &str, b: &[u8]) -> f32 {
    match dtype {
        "FloatStorage" => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        "HalfStorage" => half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
        "BFloat16Storage" => half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
        _ => f64::from_le_bytes(b[..8].try_into().expect("8 bytes")) as f32,
    }
}

/// The tensor's elements in row-major order, read through its strides; `None` when the view
/// reaches outside the storage.
fn gather(t: &TensorRef, storage: &[u8], size: usize) -> Option<Vec<f32>> {
    if t.stride.len() != t.shape.len() {
        return None;
    }
    let count: usize = t.shape.iter().product();
    let mut out = Vec::with_capacity(count);
    if count == 0 {
        return Some(out);
    }
    let last = t.offset + t.shape.iter().zip(&t.stride).map(|(d, s)| (d - 1) * s).sum::<usize>();
    if (last + 1) * size > storage.len() {
        return None;
    }
    let mut index = vec![0usize; t.shape.len()];
    for _ in 0..count {
        let at = t.offset + index.iter().zip(&t.stride).map(|(i, s)| i * s).sum::<usize>();
        out.push(decode(&t.storage.dtype, &storage[at * size..(at + 1) * size]));
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < t.shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Some(out)
}
