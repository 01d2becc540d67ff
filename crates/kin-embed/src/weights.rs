//! Reading checkpoint tensors (safetensors) into `f32` buffers.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};

use crate::{Error, Result};

/// The folder's `model.safetensors`, or a `MissingWeights` error naming it.
pub(crate) fn model_weights_path(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("model.safetensors");
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::MissingWeights { path })
    }
}

/// A memory-mapped safetensors checkpoint. Tensor names are looked up with and without the
/// architecture prefix (`bert.`, `mpnet.`), so base-model and task-head checkpoints both load.
pub struct Weights {
    path: PathBuf,
    mmap: Mmap,
    prefixes: Vec<String>,
}

impl Weights {
    pub fn open(path: &Path, prefixes: &[&str]) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: the map is read-only and lives as long as `Weights`; kin never writes to a
        // checkpoint while it is loaded, and a file truncated underneath is caught by the
        // length checks safetensors performs on every access.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        SafeTensors::deserialize(&mmap)
            .map_err(|e| Error::CorruptWeights { path: path.to_path_buf(), message: e.to_string() })?;
        let mut all = vec![String::new()];
        all.extend(prefixes.iter().map(|p| p.to_string()));
        Ok(Weights { path: path.to_path_buf(), mmap, prefixes: all })
    }

    fn tensors(&self) -> SafeTensors<'_> {
        // Validated in `open`; the mapping does not change afterwards.
        SafeTensors::deserialize(&self.mmap).expect("checkpoint header validated in Weights::open")
    }

    /// The shape of a tensor, or `None` when the checkpoint lacks it.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        let tensors = self.tensors();
        self.prefixes.iter().find_map(|p| tensors.tensor(&format!("{p}{name}")).ok()).map(|v| v.shape().to_vec())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads a tensor as `f32` and checks its shape.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let tensors = self.tensors();
        let view = self
            .prefixes
            .iter()
            .find_map(|p| tensors.tensor(&format!("{p}{name}")).ok())
            .ok_or_else(|| Error::MissingTensor { path: self.path.clone(), name: name.to_string() })?;
        if view.shape() != shape {
            return Err(Error::TensorShape {
                path: self.path.clone(),
                name: name.to_string(),
                expected: shape.to_vec(),
                got: view.shape().to_vec(),
            });
        }
        let bytes = view.data();
        let out = match view.dtype() {
            Dtype::F32 => bytes.as_chunks::<4>().0.iter().map(|&b| f32::from_le_bytes(b)).collect(),
            Dtype::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            other => {
                return Err(Error::TensorDtype {
                    path: self.path.clone(),
                    name: name.to_string(),
                    dtype: format!("{other:?}"),
                })
            }
        };
        Ok(out)
    }
}
