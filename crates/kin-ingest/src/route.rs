//! Mixed collections: which model each named space holds and what content it takes
//! ([`plan_spaces`]), where each file goes on the way in ([`ingest_routes`], [`merge_summaries`]),
//! which spaces answer a query ([`query_spaces`]), and how their lists become one
//! ([`fuse_spaces`]).

use std::collections::HashMap;

use kin_core::Modality;
use kin_store::{Backend, CollectionConfig, CollectionRead, SearchMode, SpaceConfig, TextConfig};

use crate::pipeline::Summary;
use crate::search::DocumentHit;
use crate::{IngestError, Result};

/// Ready-made sets of spaces: the model kin chooses for each kind of content.
pub const PRESETS: &[(&str, &[(&str, &str)])] = &[
    ("media", &[("text", "all-MiniLM-L6-v2"), ("image", "clip-vit-base-patch32"), ("audio", "whisper-base")]),
    ("documents-and-photos", &[("text", "all-MiniLM-L6-v2"), ("image", "clip-vit-base-patch32")]),
];

/// The spaces of a preset, as `(name, model)`.
pub fn preset(name: &str) -> Result<Vec<(String, String)>> {
    match PRESETS.iter().find(|(n, _)| *n == name) {
        Some((_, spaces)) => Ok(spaces.iter().map(|(s, m)| (s.to_string(), m.to_string())).collect()),
        None => Err(IngestError::Route(format!(
            "unknown preset {name:?}; presets: {}",
            PRESETS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The content a model takes by default in a mixed collection: text for a text model, images
/// for one that reads images (CLIP's text tower still answers text queries), then audio, video.
fn default_ingests(reads: &[Modality]) -> Vec<Modality> {
    if reads == [Modality::Text] {
        return vec![Modality::Text];
    }
    [Modality::Video, Modality::Image, Modality::Audio]
        .into_iter()
        .find(|m| reads.contains(m))
        .map_or_else(|| reads.to_vec(), |m| vec![m])
}

/// What a model reads and its dimension: from its card, or from loading a local folder.
fn model_shape(spec: &str) -> Result<(String, Vec<Modality>, usize)> {
    let choice = crate::model_choice(spec, None)?;
    Ok((choice.model, choice.modalities, choice.dim))
}

/// The spaces of a new mixed collection from `(name, model)` pairs, each taking its model's
/// main kind of content unless `routes` (`(modality, space)`) say which space takes what.
/// Spaces that take text get a full-text index when `text_index` says so.
pub fn plan_spaces(
    spaces: &[(String, String)],
    routes: &[(Modality, String)],
    text_index: Option<&TextConfig>,
) -> Result<Vec<SpaceConfig>> {
    if spaces.is_empty() {
        return Err(IngestError::Route("a mixed collection needs at least one space".into()));
    }
    let mut planned = Vec::with_capacity(spaces.len());
    for (name, spec) in spaces {
        let (model, accepts, dim) =
            model_shape(spec).map_err(|e| IngestError::Route(format!("space {name:?}: model {spec:?}: {e}")))?;
        let settings = CollectionConfig { model: Some(model), ..CollectionConfig::new(name.clone(), dim) };
        planned.push(SpaceConfig { settings, ingests: default_ingests(&accepts), accepts });
    }
    for (modality, target) in routes {
        let Some(space) = planned.iter().position(|s| &s.settings.name == target) else {
            return Err(IngestError::Route(format!("--route {modality}={target}: there is no space {target:?}")));
        };
        if !planned[space].accepts.contains(modality) {
            let model = planned[space].settings.model.clone().unwrap_or_default();
            return Err(IngestError::Route(format!("--route {modality}={target}: {model} does not read {modality}")));
        }
        for s in &mut planned {
            s.ingests.retain(|m| m != modality);
        }
        planned[space].ingests.push(*modality);
    }
    for m in Modality::ALL {
        let takers: Vec<&str> =
            planned.iter().filter(|s| s.ingests.contains(&m)).map(|s| s.settings.name.as_str()).collect();
        if takers.len() > 1 {
            return Err(IngestError::Route(format!(
                "spaces {} all take {m} content; say which one does with --route {m}={}",
                takers.join(", "),
                takers[0]
            )));
        }
    }
    for s in &mut planned {
        if s.ingests.contains(&Modality::Text) {
            s.settings.text = text_index.cloned();
        }
    }
    Ok(planned)
}

/// Each space's share of `kin add`: its name and the content it embeds. A video goes whole to
/// a space that takes video; without one, its frames go to the image space and its sound track
/// to the audio space.
pub fn ingest_routes(config: &CollectionConfig) -> Vec<(String, Vec<Modality>)> {
    let video_whole = config.spaces.iter().any(|s| s.ingests.contains(&Modality::Video));
    config
        .spaces
        .iter()
        .filter(|s| !s.ingests.is_empty())
        .map(|s| {
            let mut only = s.ingests.clone();
            let parts = s.ingests.contains(&Modality::Image) || s.ingests.contains(&Modality::Audio);
            if parts && !video_whole {
                only.push(Modality::Video);
            }
            (s.settings.name.clone(), only)
        })
        .collect()
}

/// One summary for a run over several spaces: counts added up, a file skipped only when every
/// space skipped it (with each space's reason), each failed file listed once.
pub fn merge_summaries(runs: Vec<(String, Summary)>) -> Summary {
    let mut out = Summary::default();
    let spaces = runs.len();
    let mut skipped: Vec<(String, Vec<String>)> = Vec::new();
    let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (space, s) in runs {
        out.added += s.added;
        out.items += s.items;
        out.unchanged += s.unchanged;
        out.timing.extract += s.timing.extract;
        out.timing.chunk += s.timing.chunk;
        out.timing.embed += s.timing.embed;
        out.timing.store += s.timing.store;
        // Content no space can read fails in each of them alike: it is listed once.
        for (path, reason) in s.failed {
            if taken.insert(path.clone()) {
                out.failed.push((path, reason));
            }
        }
        for (path, reason) in s.skipped {
            match skipped.iter_mut().find(|(p, _)| *p == path) {
                Some((_, reasons)) => reasons.push(format!("{space}: {reason}")),
                None => skipped.push((path, vec![format!("{space}: {reason}")])),
            }
        }
    }
    for (path, reasons) in skipped {
        if reasons.len() == spaces && !taken.contains(&path) {
            out.skipped.push((path, format!("no space takes it ({})", reasons.join("; "))));
        }
    }
    out
}

/// The spaces that answer a query of `modality` (those whose model reads it), or the one named.
pub fn query_spaces(config: &CollectionConfig, modality: Modality, only: Option<&str>) -> Result<Vec<String>> {
    let readers = |s: &&SpaceConfig| s.accepts.contains(&modality);
    if let Some(name) = only {
        let Some((_, space)) = config.space(name) else {
            return Err(kin_store::Error::UnknownSpace {
                collection: config.name.clone(),
                space: name.to_string(),
                spaces: config.spaces.iter().map(|s| s.settings.name.clone()).collect(),
            }
            .into());
        };
        if !readers(&space) {
            let model = space.settings.model.as_deref().unwrap_or("its model");
            return Err(IngestError::Route(format!("space {name:?} ({model}) does not read {modality} queries")));
        }
        return Ok(vec![name.to_string()]);
    }
    let names: Vec<String> = config.spaces.iter().filter(readers).map(|s| s.settings.name.clone()).collect();
    if names.is_empty() {
        let read: Vec<String> = config
            .spaces
            .iter()
            .map(|s| {
                let reads: Vec<&str> = s.accepts.iter().map(|m| m.as_str()).collect();
                format!("{} reads {}", s.settings.name, reads.join(" and "))
            })
            .collect();
        return Err(IngestError::Route(format!(
            "no space of collection {:?} reads {modality} queries ({})",
            config.name,
            read.join("; ")
        )));
    }
    Ok(names)
}

/// How [`across_spaces`] asks and fuses: the retrieval mode, the `k` of reciprocal-rank
/// fusion, each space's weight (1 unless given) and the documents kept per query.
pub struct SpaceFusion<'a> {
    pub mode: SearchMode,
    pub rrf_k: f32,
    pub weights: &'a HashMap<String, f32>,
    pub limit: usize,
}

/// Every space of a mixed collection that reads `modality` answers (`each`, told the retrieval
/// that fits the space: text and hybrid where it has a text index, dense elsewhere; text mode
/// skips a space without one), and each query's lists are fused into one. Refused when no space
/// can answer in the mode asked.
pub fn across_spaces<E: From<IngestError>>(
    store: &dyn Backend,
    config: &CollectionConfig,
    modality: Modality,
    how: &SpaceFusion<'_>,
    each: &mut dyn FnMut(&dyn CollectionRead, SearchMode) -> std::result::Result<Vec<Vec<DocumentHit>>, E>,
) -> std::result::Result<Vec<Vec<DocumentHit>>, E> {
    let mut lists: Vec<(String, Vec<Vec<DocumentHit>>)> = Vec::new();
    for name in query_spaces(config, modality, None)? {
        let has_text = config.space(&name).is_some_and(|(_, s)| s.settings.text.is_some());
        let fitted = match how.mode {
            SearchMode::Text if !has_text => continue,
            SearchMode::Hybrid if !has_text => SearchMode::Dense,
            mode => mode,
        };
        let space = store.space(&config.name, &name).map_err(IngestError::from)?;
        lists.push((name, each(&*space, fitted)?));
    }
    if lists.is_empty() {
        return Err(IngestError::Route(format!(
            "no space of collection {:?} has a text index for {} search",
            config.name,
            how.mode.as_str()
        ))
        .into());
    }
    let queries = lists[0].1.len();
    let mut per_space: Vec<(String, std::vec::IntoIter<Vec<DocumentHit>>)> =
        lists.into_iter().map(|(name, results)| (name, results.into_iter())).collect();
    Ok((0..queries)
        .map(|_| {
            let one: Vec<(String, Vec<DocumentHit>)> =
                per_space.iter_mut().map(|(name, it)| (name.clone(), it.next().unwrap_or_default())).collect();
            fuse_spaces(one, how.weights, how.rrf_k, how.limit)
        })
        .collect())
}

/// One ranking from each space's: reciprocal-rank fusion, `Σ weight / (k + rank)` over the
/// spaces that found a document, best first, at most `limit`. Each document keeps the hit of
/// the space that ranked it highest (its `space` says which), with the fused score.
pub fn fuse_spaces(
    lists: Vec<(String, Vec<DocumentHit>)>,
    weights: &HashMap<String, f32>,
    k: f32,
    limit: usize,
) -> Vec<DocumentHit> {
    if lists.len() == 1 {
        let (space, hits) = lists.into_iter().next().unwrap_or_default();
        return hits.into_iter().map(|h| in_space(h, &space)).take(limit).collect();
    }
    let mut fused: HashMap<String, (f32, f32, DocumentHit)> = HashMap::new();
    for (space, hits) in lists {
        let weight = weights.get(&space).copied().unwrap_or(1.0);
        for (rank, hit) in hits.into_iter().enumerate() {
            let share = weight / (k + rank as f32 + 1.0);
            match fused.get_mut(&hit.doc) {
                Some((score, best, kept)) => {
                    *score += share;
                    if share > *best {
                        *best = share;
                        *kept = in_space(hit, &space);
                    }
                }
                None => {
                    fused.insert(hit.doc.clone(), (share, share, in_space(hit, &space)));
                }
            }
        }
    }
    let mut out: Vec<(f32, DocumentHit)> = fused.into_values().map(|(score, _, hit)| (score, hit)).collect();
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.doc.cmp(&b.1.doc)));
    out.into_iter()
        .take(limit)
        .map(|(score, mut hit)| {
            hit.best.score = score;
            hit
        })
        .collect()
}

fn in_space(mut hit: DocumentHit, space: &str) -> DocumentHit {
    hit.best.space.get_or_insert_with(|| space.to_string());
    hit
}

#[cfg(test)]
mod tests {
    use super::*;
    use kin_store::{Hit, ItemId};

    fn hits(docs: &[&str]) -> Vec<DocumentHit> {
        docs.iter()
            .map(|d| DocumentHit {
                doc: d.to_string(),
                best: Hit {
                    id: ItemId::from(*d),
                    space: None,
                    score: 0.0,
                    payload: serde_json::Value::Null,
                    source: None,
                    found: Default::default(),
                },
                matched_chunks: 1,
            })
            .collect()
    }

    #[test]
    fn spaces_are_planned_from_cards_and_routes() {
        let spaces = preset("media").unwrap();
        let planned = plan_spaces(&spaces, &[], Some(&TextConfig::default())).unwrap();
        let ingests: Vec<(&str, &[Modality])> =
            planned.iter().map(|s| (s.settings.name.as_str(), s.ingests.as_slice())).collect();
        assert_eq!(
            ingests,
            [("text", &[Modality::Text][..]), ("image", &[Modality::Image][..]), ("audio", &[Modality::Audio][..])]
        );
        assert_eq!(planned[1].accepts, [Modality::Text, Modality::Image]);
        assert_eq!((planned[0].settings.dim, planned[1].settings.dim), (384, 512));
        assert!(planned[0].settings.text.is_some() && planned[1].settings.text.is_none());
        let config = CollectionConfig::mixed("m", planned.clone());
        config.validate().unwrap();
        assert_eq!(query_spaces(&config, Modality::Text, None).unwrap(), ["text", "image"]);
        assert_eq!(query_spaces(&config, Modality::Audio, None).unwrap(), ["audio"]);
        let err = query_spaces(&config, Modality::Video, None).unwrap_err().to_string();
        assert!(err.contains("no space") && err.contains("image reads text and image"), "{err}");
        let err = query_spaces(&config, Modality::Image, Some("text")).unwrap_err().to_string();
        assert!(err.contains("does not read image"), "{err}");
        let routes = ingest_routes(&config);
        assert_eq!(routes[1], ("image".to_string(), vec![Modality::Image, Modality::Video]));
        assert_eq!(routes[0], ("text".to_string(), vec![Modality::Text]));

        // Two image models: the user says which one takes pictures.
        let two =
            vec![("a".to_string(), "resnet-50".to_string()), ("b".to_string(), "clip-vit-base-patch32".to_string())];
        let err = plan_spaces(&two, &[], None).unwrap_err().to_string();
        assert!(err.contains("--route image=a"), "{err}");
        let planned = plan_spaces(&two, &[(Modality::Image, "b".into())], None).unwrap();
        assert_eq!((planned[0].ingests.len(), planned[1].ingests.as_slice()), (0, &[Modality::Image][..]));
        let err = plan_spaces(&two, &[(Modality::Audio, "b".into())], None).unwrap_err().to_string();
        assert!(err.contains("does not read audio"), "{err}");
        let bad = vec![("t".to_string(), "no-such-model".to_string())];
        let err = plan_spaces(&bad, &[], None).unwrap_err().to_string();
        assert!(err.contains("space \"t\"") && err.contains("no-such-model"), "{err}");
    }

    #[test]
    fn lists_of_spaces_fuse_by_reciprocal_rank() {
        let lists = vec![("text".to_string(), hits(&["a", "b", "c"])), ("image".to_string(), hits(&["c", "d"]))];
        let fused = fuse_spaces(lists.clone(), &HashMap::new(), 60.0, 10);
        let order: Vec<&str> = fused.iter().map(|h| h.doc.as_str()).collect();
        assert_eq!(order, ["c", "a", "b", "d"]);
        assert_eq!(fused[0].best.space.as_deref(), Some("image"));
        assert_eq!(fused[1].best.space.as_deref(), Some("text"));
        let weights = HashMap::from([("image".to_string(), 0.01)]);
        let fused = fuse_spaces(lists, &weights, 60.0, 2);
        assert_eq!(fused.iter().map(|h| h.doc.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn a_file_is_skipped_only_when_no_space_takes_it() {
        let mut text = Summary { added: 1, ..Summary::default() };
        text.skipped = vec![("p.jpg".into(), "image content; m embeds text".into()), ("x.bin".into(), "r1".into())];
        let mut image = Summary { added: 1, ..Summary::default() };
        image.skipped =
            vec![("a.txt".into(), "text content goes to another space".into()), ("x.bin".into(), "r2".into())];
        text.failed = vec![("blob".into(), "unrecognised".into())];
        image.failed = vec![("blob".into(), "unrecognised".into())];
        let merged = merge_summaries(vec![("text".into(), text), ("image".into(), image)]);
        assert_eq!(merged.added, 2);
        assert_eq!(merged.failed.len(), 1);
        assert_eq!(merged.skipped, [("x.bin".to_string(), "no space takes it (text: r1; image: r2)".to_string())]);
    }
}
