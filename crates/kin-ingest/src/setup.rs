//! What every face of kin does the same way around a collection of a model: resolving a model
//! spec to the settings it implies, and adding files (a collection of one model, or each space of
//! a mixed one taking its share). `kin collection create`, `kin add` and the Python package call
//! these.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kin_core::Modality;
use kin_embed::{Embedder, LoadOptions, Precision};
use kin_models::Registry;
use kin_store::{Backend, CollectionWrite, TextConfig};

use crate::media::{write_videos, VideoParts};
use crate::{merge_summaries, ChunkConfig, Ingest, IngestError, IngestOptions, Result, Summary};

/// What a model spec means for a collection of its vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelChoice {
    /// The name kept in the collection's settings: the card's name (or the folder), with the
    /// precision (`@int8`) where it is not float32.
    pub model: String,
    pub dim: usize,
    /// What the model reads.
    pub modalities: Vec<Modality>,
}

impl ModelChoice {
    /// The model reads text only, so its collection gets a text index unless told otherwise.
    pub fn text_only(&self) -> bool {
        TextConfig::by_default_for(&self.modalities)
    }
}

/// Resolves `spec` (a card name or alias, or a local folder, optionally ending in `@int8`);
/// `precision`, when given, overrides the spec's. A folder is loaded to learn its dimension.
pub fn model_choice(spec: &str, precision: Option<Precision>) -> Result<ModelChoice> {
    let (base, spec_precision) = Precision::split(spec);
    let precision = precision.unwrap_or(spec_precision);
    let registry = Registry::builtin();
    let card = match registry.find(base) {
        None if Path::new(base).is_dir() => None,
        found => Some(found.map_or_else(|| registry.get(base), Ok).map_err(kin_embed::Error::from)?),
    };
    let (name, dim, modalities) = match card {
        Some(card) => {
            let local_text = card.api().is_none() && card.modalities == [Modality::Text];
            if precision == Precision::Int8 && !local_text {
                return Err(kin_embed::Error::UnsupportedPrecision { model: card.name.to_string(), precision }.into());
            }
            (card.name.to_string(), card.dim, card.modalities.to_vec())
        }
        None => {
            // A folder: loading it checks that it takes the precision.
            let model = kin_embed::load_with(&precision.apply(base), &LoadOptions::from_env())?;
            (base.to_string(), model.dim(), model.modalities().to_vec())
        }
    };
    Ok(ModelChoice { model: precision.apply(&name), dim, modalities })
}

/// How an [`Adder`] runs.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// Chunks embedded and written at a time; 0: the pipeline's default.
    pub batch_size: usize,
    /// Chunk size and overlap in tokens, each defaulting to the model card's; only for a
    /// collection of one text model.
    pub chunk_tokens: Option<usize>,
    pub chunk_overlap: Option<usize>,
    /// Largest file read, in MiB; `None`: the parsers' default.
    pub max_file_mb: Option<u64>,
}

/// Told how far an [`Adder`] has got.
pub trait AddProgress: Sync {
    /// The number of steps to come: files, times spaces for a mixed collection.
    fn start(&self, _steps: u64) {}
    /// One file read by one model.
    fn step(&self) {}
}

/// Progress nobody watches.
pub struct Quiet;

impl AddProgress for Quiet {}

/// One model's share of the files: where its items go, the model, and how it ingests.
struct Target {
    /// The space of a mixed collection; `None` for a collection of one model.
    space: Option<String>,
    collection: Arc<dyn CollectionWrite>,
    model: Box<dyn Embedder>,
    options: IngestOptions,
}

/// Adds files to one collection with its models loaded once: a collection of one model embeds
/// every file; each space of a mixed collection takes the content it ingests, one space after
/// the other. Calls may come one after another (a caller that checks for Ctrl-C between groups
/// of files); each ends with the collection checkpointed.
pub struct Adder {
    name: String,
    /// The whole collection: a mixed collection's videos are written through it.
    collection: Arc<dyn CollectionWrite>,
    targets: Vec<Target>,
}

impl Adder {
    /// Loads the models of collection `name`. Refused for a collection without a model, or chunk
    /// settings for a model that reads no text or for a mixed collection.
    pub fn new(store: &dyn Backend, name: &str, options: &AddOptions) -> Result<Self> {
        let collection = store.collection(name)?;
        let config = collection.config().clone();
        let base = |only: Option<Vec<Modality>>| {
            let mut o = IngestOptions { only, ..IngestOptions::default() };
            if options.batch_size > 0 {
                o.batch_chunks = options.batch_size;
            }
            if let Some(mb) = options.max_file_mb {
                o.limits.max_bytes = mb << 20;
            }
            o
        };
        let chunking = options.chunk_tokens.is_some() || options.chunk_overlap.is_some();
        if !config.is_mixed() {
            let Some(model_name) = config.model.clone() else {
                return Err(IngestError::NoModel { collection: name.to_string() });
            };
            let model = kin_embed::load_with(&model_name, &LoadOptions::from_env())?;
            let mut ingest = base(None);
            if chunking {
                let defaults = Ingest::default_chunking(model.as_ref()).ok_or_else(|| {
                    IngestError::Settings(format!("{model_name} takes no text: chunk size and overlap do not apply"))
                })?;
                ingest.chunking = Some(ChunkConfig {
                    target: options.chunk_tokens.unwrap_or(defaults.target),
                    overlap: options.chunk_overlap.unwrap_or(defaults.overlap),
                });
            }
            let targets = vec![Target { space: None, collection: collection.clone(), model, options: ingest }];
            return Ok(Adder { name: name.to_string(), collection, targets });
        }
        if chunking {
            return Err(IngestError::Settings(
                "chunk size and overlap apply to a collection of one model; a mixed collection's text space uses its model card's"
                    .into(),
            ));
        }
        let mut targets = Vec::new();
        for (space, only) in crate::ingest_routes(&config) {
            let handle = store.space(name, &space)?;
            let Some(model_name) = handle.config().model.clone() else {
                return Err(IngestError::Route(format!("space {space} of collection {name:?} names no model")));
            };
            let model = kin_embed::load_with(&model_name, &LoadOptions::from_env())?;
            targets.push(Target { space: Some(space), collection: handle, model, options: base(Some(only)) });
        }
        Ok(Adder { name: name.to_string(), collection, targets })
    }

    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds `files` (in the order given; see [`list_files`]).
    pub fn add(&self, files: &[PathBuf], progress: &dyn AddProgress) -> Result<Summary> {
        progress.start((files.len() * self.targets.len()) as u64);
        let step = || progress.step();
        let mut runs = Vec::with_capacity(self.targets.len());
        // A video's frames and sound track go to two spaces: held until every space has run,
        // then written as one change, so a crash never leaves it in one space only.
        let videos = VideoParts::default();
        for t in &self.targets {
            let ingest = Ingest::new(t.model.as_ref(), &*t.collection, t.options.clone())?;
            let summary = match &t.space {
                None => return ingest.add_files(files, &step),
                Some(space) => ingest.hold_videos(space, &videos).add_files(files, &step)?,
            };
            runs.push((t.space.clone().unwrap_or_default(), summary));
        }
        let videos = videos.into_inner().unwrap_or_else(|e| e.into_inner());
        // Each space's run ended checkpointed; the videos written after them need one more.
        if !videos.is_empty() {
            write_videos(&*self.collection, videos)?;
            self.collection.checkpoint()?;
        }
        Ok(merge_summaries(runs))
    }
}

impl Summary {
    /// Adds a later run's counts, lists and times to this one (the next group of files of the
    /// same collection).
    pub fn absorb(&mut self, other: Summary) {
        self.added += other.added;
        self.items += other.items;
        self.unchanged += other.unchanged;
        self.skipped.extend(other.skipped);
        self.failed.extend(other.failed);
        self.timing.extract += other.timing.extract;
        self.timing.chunk += other.timing.chunk;
        self.timing.embed += other.timing.embed;
        self.timing.store += other.timing.store;
    }
}

/// The files under `paths`, folders walked (links not followed), each folder's entries in name
/// order.
pub fn list_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        walk(p, &mut files)?;
    }
    files.sort();
    Ok(files)
}

fn walk(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = fs::symlink_metadata(path).map_err(|e| IngestError::io(path, e))?;
    if meta.is_dir() {
        let entries = fs::read_dir(path).map_err(|e| IngestError::io(path, e))?;
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            walk(&e, out)?;
        }
    } else if meta.is_file() {
        out.push(path.to_path_buf());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_gives_its_dimension_and_precision() -> Result<()> {
        let minilm = model_choice("all-MiniLM-L6-v2", None)?;
        assert_eq!((minilm.dim, minilm.text_only()), (384, true));
        let int8 = model_choice("all-MiniLM-L6-v2@int8", None)?;
        assert!(int8.model.ends_with("@int8"), "{}", int8.model);
        assert_eq!(model_choice("all-MiniLM-L6-v2@int8", Some(Precision::Float32))?.model, minilm.model);
        let clip = model_choice("clip-vit-base-patch32", None)?;
        assert!(!clip.text_only(), "CLIP's items are mostly pictures");
        assert!(matches!(model_choice("clip-vit-base-patch32@int8", None), Err(IngestError::Embed(_))));
        let unknown = model_choice("no-such-model-xyz", None).unwrap_err().to_string();
        assert!(unknown.contains("no-such-model-xyz"), "{unknown}");
        Ok(())
    }

    #[test]
    fn files_are_listed_in_order_and_a_missing_path_is_named() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| IngestError::io("tempdir", e))?;
        for name in ["b.txt", "a.txt", "sub/c.md"] {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap_or(dir.path())).map_err(|e| IngestError::io(&path, e))?;
            fs::write(&path, "x").map_err(|e| IngestError::io(&path, e))?;
        }
        let files = list_files(&[dir.path().to_path_buf()])?;
        let names: Vec<String> =
            files.iter().map(|p| p.strip_prefix(dir.path()).unwrap_or(p).display().to_string()).collect();
        assert_eq!(names, ["a.txt", "b.txt", "sub/c.md"]);
        let missing = dir.path().join("nope");
        let err = list_files(std::slice::from_ref(&missing)).unwrap_err().to_string();
        assert!(err.contains(&missing.display().to_string()), "{err}");
        Ok(())
    }
}
