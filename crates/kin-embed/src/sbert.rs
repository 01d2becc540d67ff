//! A sentence-transformers folder: `modules.json`, `1_Pooling/config.json`,
//! `sentence_bert_config.json`. Plain Hugging Face folders get mean pooling and no normalisation.

use std::fs;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::pooling::Pooling;
use crate::{Error, Result};

/// How raw transformer outputs become one sentence vector.
#[derive(Debug, Clone, PartialEq)]
pub struct SentencePipeline {
    pub pooling: Vec<Pooling>,
    pub normalize: bool,
    pub max_seq_length: Option<usize>,
    pub lowercase: bool,
}

#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

#[derive(Deserialize, Default)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
}

#[derive(Deserialize, Default)]
struct SbertConfig {
    max_seq_length: Option<usize>,
    #[serde(default)]
    do_lower_case: bool,
}

pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|source| Error::Json { path: path.to_path_buf(), source })
}

impl SentencePipeline {
    pub fn load(dir: &Path) -> Result<Self> {
        let modules_path = dir.join("modules.json");
        if !modules_path.exists() {
            tracing::info!(dir = %dir.display(), "no modules.json: mean pooling, no normalisation");
            return Ok(SentencePipeline {
                pooling: vec![Pooling::Mean],
                normalize: false,
                max_seq_length: None,
                lowercase: false,
            });
        }
        let modules: Vec<Module> = read_json(&modules_path)?;
        let sbert: SbertConfig = match dir.join("sentence_bert_config.json") {
            p if p.exists() => read_json(&p)?,
            _ => SbertConfig::default(),
        };
        let mut pipeline = SentencePipeline {
            pooling: Vec::new(),
            normalize: false,
            max_seq_length: sbert.max_seq_length,
            lowercase: sbert.do_lower_case,
        };
        for (i, module) in modules.iter().enumerate() {
            let kind = module.kind.rsplit('.').next().unwrap_or_default();
            match (i, kind) {
                (0, "Transformer") => {}
                (_, "Pooling") => pipeline.pooling = read_pooling(&dir.join(&module.path).join("config.json"))?,
                (_, "Normalize") => pipeline.normalize = true,
                _ => {
                    return Err(Error::InvalidConfig {
                        path: modules_path,
                        message: format!("module {} ({}) is not supported yet", i, module.kind),
                    })
                }
            }
        }
        if pipeline.pooling.is_empty() {
            return Err(Error::InvalidConfig { path: modules_path, message: "no Pooling module".into() });
        }
        Ok(pipeline)
    }
}

fn read_pooling(path: &Path) -> Result<Vec<Pooling>> {
    let cfg: PoolingConfig = read_json(path)?;
    if cfg.pooling_mode_weightedmean_tokens || cfg.pooling_mode_lasttoken {
        return Err(Error::InvalidConfig {
            path: path.to_path_buf(),
            message: "weighted-mean and last-token pooling are not supported yet".into(),
        });
    }
    // The order sentence-transformers concatenates pooled vectors in.
    let modes = [
        (cfg.pooling_mode_cls_token, Pooling::Cls),
        (cfg.pooling_mode_max_tokens, Pooling::Max),
        (cfg.pooling_mode_mean_tokens, Pooling::Mean),
        (cfg.pooling_mode_mean_sqrt_len_tokens, Pooling::MeanSqrtLen),
    ];
    let pooling: Vec<Pooling> = modes.into_iter().filter(|(on, _)| *on).map(|(_, p)| p).collect();
    if pooling.is_empty() {
        return Err(Error::InvalidConfig { path: path.to_path_buf(), message: "no pooling mode is enabled".into() });
    }
    Ok(pooling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_sentence_transformers_folder() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(
            d.join("modules.json"),
            r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
               {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
               {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]"#,
        )
        .unwrap();
        fs::create_dir(d.join("1_Pooling")).unwrap();
        fs::write(d.join("1_Pooling/config.json"), r#"{"pooling_mode_mean_tokens": true}"#).unwrap();
        fs::write(d.join("sentence_bert_config.json"), r#"{"max_seq_length": 128, "do_lower_case": false}"#).unwrap();
        let p = SentencePipeline::load(d).unwrap();
        assert_eq!(
            p,
            SentencePipeline {
                pooling: vec![Pooling::Mean],
                normalize: true,
                max_seq_length: Some(128),
                lowercase: false
            }
        );

        fs::write(d.join("modules.json"), r#"[{"path":"","type":"sentence_transformers.models.Transformer"},{"path":"2_Dense","type":"sentence_transformers.models.Dense"}]"#).unwrap();
        let err = SentencePipeline::load(d).unwrap_err().to_string();
        assert!(err.contains("Dense") && err.contains("modules.json"), "{err}");
    }
}
