//! A model folder the user points at.

use std::path::{Path, PathBuf};

use tracing::info;

use crate::error::{Error, Result};

/// The folder `spec` names, when it is a model folder: one with `config.json`, or a bare
/// checkpoint (`model.safetensors` or a PyTorch `.pth` state dict, as torchvision saves them).
///
/// A spec that is plainly a path (`./x`, `/x`, `../x`) must be a model folder; a directory that
/// merely shares its name with a model (`sentence-transformers/all-MiniLM-L6-v2` in the current
/// directory, without `config.json`) is passed over so the name can be resolved.
pub(crate) fn model_dir(spec: &str) -> Result<Option<PathBuf>> {
    let path = Path::new(spec);
    let explicit = spec.starts_with('.') || path.is_absolute() || spec.starts_with('~');
    if !path.exists() {
        if explicit {
            let source = std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory");
            return Err(Error::io(path, source));
        }
        return Ok(None);
    }
    info!("trying local directory {spec}");
    if path.is_dir() && (path.join("config.json").is_file() || is_bare_checkpoint(path)) {
        return Ok(Some(path.to_path_buf()));
    }
    if explicit || !path.is_dir() {
        return Err(Error::NotAModelDir { path: path.to_path_buf() });
    }
    info!("{spec} has no config.json; resolving it as a model name");
    Ok(None)
}

/// Whether a folder holds weights without a config (a torchvision state dict).
fn is_bare_checkpoint(dir: &Path) -> bool {
    dir.join("model.safetensors").is_file()
        || std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "pth") && e.path().is_file())
}

/// Whether `spec` reads as a Hugging Face repository id, `org/name`.
pub(crate) fn is_hub_id(spec: &str) -> bool {
    let ok = |part: &str| {
        !part.is_empty()
            && !part.starts_with(['.', '-'])
            && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    matches!(spec.split_once('/'), Some((org, name)) if ok(org) && ok(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn folder_with_only_weights_is_a_model() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("resnet50-0676ba61.pth"), b"zip").unwrap();
        let spec = tmp.path().to_str().unwrap();
        assert_eq!(model_dir(spec).unwrap().as_deref(), Some(tmp.path()));
    }

    #[test]
    fn folder_with_config_is_a_model() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("config.json"), "{}").unwrap();
        let spec = tmp.path().to_str().unwrap();
        assert_eq!(model_dir(spec).unwrap().as_deref(), Some(tmp.path()));
    }

    #[test]
    fn explicit_paths_must_be_model_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = tmp.path().to_str().unwrap();
        assert!(matches!(model_dir(spec), Err(Error::NotAModelDir { .. })));
        let missing = tmp.path().join("nope");
        assert!(matches!(model_dir(missing.to_str().unwrap()), Err(Error::Io { .. })));
        assert!(model_dir("all-MiniLM-L6-v2").unwrap().is_none());
    }

    #[test]
    fn hub_ids() {
        assert!(is_hub_id("sentence-transformers/all-MiniLM-L6-v2"));
        assert!(is_hub_id("openai/whisper-tiny.en"));
        assert!(!is_hub_id("./x/y"));
        assert!(!is_hub_id("a/b/c"));
        assert!(!is_hub_id("minilm"));
        assert!(!is_hub_id("openai:text-embedding-3-small"));
    }
}
