//! `kin search`: top-k documents (or chunks, or items) by a text, a file, query vectors or a
//! file of BEIR queries, with payload filters.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use kin_core::filter::Filter;
use kin_embed::LoadOptions;
use std::io::Write;

use kin_core::Modality;
use kin_ingest::{search_many, DocumentHit};
use kin_store::{
    Backend, CollectionConfig, CollectionRead, CollectionWrite, Found, Hit, ItemId, SearchMode, SearchParams,
};
use serde_json::{json, Value};

use crate::cli::{RetrievalArgs, SearchArgs};
use crate::input::InputError;
use crate::npy;
use kin_media::embed_file;

pub fn run(store: &dyn Backend, args: SearchArgs) -> Result<()> {
    let collection = store.collection(&args.collection)?;
    let filter = args.filter.as_deref().map(Filter::parse).transpose()?;
    let params = SearchParams { k: args.k, ef: args.ef, filter: filter.as_ref(), exact: args.exact };
    let mode = args.retrieval.mode;
    if let (Some(file), Some(ids_path)) = (&args.vector_file, &args.output) {
        if let Some(target) = vector_target(store, &collection, &args)? {
            return write_ids(&*target, file, &args, &params, ids_path);
        }
    }
    let (results, names) = match (&args.space, collection.config().is_mixed()) {
        (Some(space), true) => {
            if let Some(modality) = query_modality(&args) {
                kin_ingest::query_spaces(collection.config(), modality, Some(space))?;
            }
            answer(&*store.space(&args.collection, space)?, &args, &args.retrieval, &params)?
        }
        (None, true) => answer_mixed(store, collection.config(), &args, &params)?,
        (Some(_), false) => {
            bail!("collection {:?} holds one model's vectors: --space is for mixed collections", args.collection)
        }
        (None, false) => answer(&*collection, &args, &args.retrieval, &params)?,
    };
    let file = args.image.as_ref().or(args.audio.as_ref()).or(args.video.as_ref());
    // Query vectors search items as they are; texts and files find documents unless --chunks.
    let by_document = !args.chunks && args.vector_file.is_none();
    if let (Some(path), Some(names)) = (&args.output, &names) {
        write_run(path, names, &results)?;
    } else if let Some(path) = &args.output {
        let mut ids = id_table(results.len(), args.k)?;
        for (row, hits) in ids.chunks_mut(args.k.max(1)).zip(&results) {
            for (cell, hit) in row.iter_mut().zip(hits) {
                *cell = npy_id(&hit.best.id)?;
            }
        }
        npy::write_i64(path, results.len(), args.k, &ids)?;
    } else if let (true, Some(names)) = (args.json, &names) {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for (name, hits) in names.iter().zip(&results) {
            let row =
                json!({ "query": name, "results": hits.iter().map(|h| hit_json(h, by_document)).collect::<Vec<_>>() });
            writeln!(out, "{row}")?;
        }
        out.flush()?;
    } else if args.json {
        let rows: Vec<Value> =
            results.iter().map(|hits| Value::Array(hits.iter().map(|h| hit_json(h, by_document)).collect())).collect();
        let single = args.query.is_some() || file.is_some();
        let out = if single { rows.into_iter().next().unwrap_or(Value::Null) } else { Value::Array(rows) };
        writeln!(std::io::stdout().lock(), "{}", serde_json::to_string_pretty(&out)?)?;
    } else {
        // One write per buffer, not per line: a file of 10,000 queries prints 110,000 lines.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for (q, hits) in results.iter().enumerate() {
            if results.len() > 1 {
                match &names {
                    Some(names) => writeln!(out, "query {}", names[q])?,
                    None => writeln!(out, "query {q}")?,
                }
            }
            if hits.is_empty() {
                writeln!(out, "  no results")?;
            }
            for (rank, h) in hits.iter().enumerate() {
                let mut note = if mode == SearchMode::Hybrid { found_by_note(&h.best.found) } else { String::new() };
                if let Some(space) = &h.best.space {
                    note.push_str(&format!("  (space {space})"));
                }
                writeln!(
                    out,
                    "{:>3}. {:.4}  {}{}  {}{note}",
                    rank + 1,
                    h.best.score,
                    h.doc,
                    place(&h.best),
                    snippet(&h.best)
                )?;
            }
        }
        out.flush()?;
    }
    Ok(())
}

/// The collection (or the space of a mixed one) that query vectors search; `None` for the
/// combinations that [`answer`] and [`answer_mixed`] refuse with their own messages.
fn vector_target(
    store: &dyn Backend,
    collection: &Arc<dyn CollectionWrite>,
    args: &SearchArgs,
) -> Result<Option<Arc<dyn CollectionWrite>>> {
    Ok(match (&args.space, collection.config().is_mixed()) {
        (Some(space), true) => Some(store.space(&args.collection, space)?),
        (None, false) => Some(collection.clone()),
        _ => None,
    })
}

/// `--vector-file` with `--output ids.npy`: each query's ids go straight into its row of the
/// output, so no hit outlives its query (a file of 100,000 queries holds only their ids).
fn write_ids(
    collection: &dyn CollectionRead,
    file: &Path,
    args: &SearchArgs,
    params: &SearchParams,
    path: &Path,
) -> Result<()> {
    use rayon::prelude::*;
    let set = QuerySet::of_matrix(npy::read_f32(file)?);
    let queries = set.queries(&args.retrieval)?;
    let mut ids = id_table(queries.len(), args.k)?;
    // With k 0 the table is empty and no query is searched.
    ids.par_chunks_mut(args.k.max(1)).zip(&queries).try_for_each(|(row, query)| -> Result<()> {
        for (cell, hit) in row.iter_mut().zip(collection.find(query, params)?) {
            *cell = npy_id(&hit.id)?;
        }
        Ok(())
    })?;
    npy::write_i64(path, queries.len(), args.k, &ids)
}

/// The cells of an int64 `.npy` file of results, `rows × k`, each -1 until a hit fills it; an
/// error, not an abort, when they cannot be held (`-k` is not bounded by the collection's size).
fn id_table(rows: usize, k: usize) -> Result<Vec<i64>> {
    let cells = rows.checked_mul(k).filter(|cells| cells.checked_mul(8).is_some());
    let mut ids = Vec::new();
    match cells {
        Some(cells) if ids.try_reserve_exact(cells).is_ok() => {
            ids.resize(cells, -1);
            Ok(ids)
        }
        _ => bail!("-k {k} for {rows} queries: a table of {rows} × {k} result ids does not fit in memory"),
    }
}

/// An item id as a cell of an int64 `.npy` file of results.
fn npy_id(id: &ItemId) -> Result<i64> {
    match id {
        ItemId::Int(v) => Ok(*v),
        ItemId::Str(s) => bail!("item id {s:?} is not an integer: use --json for string ids"),
    }
}

/// Each query's results from one collection (or one space), and the queries' names when they
/// came from a BEIR file.
type Answers = (Vec<Vec<DocumentHit>>, Option<Vec<String>>);

fn answer(
    collection: &dyn CollectionRead,
    args: &SearchArgs,
    retrieval: &RetrievalArgs,
    params: &SearchParams,
) -> Result<Answers> {
    let file = args.image.as_ref().or(args.audio.as_ref()).or(args.video.as_ref());
    let mode = retrieval.mode;
    let mut names: Option<Vec<String>> = None;
    let set = match (&args.query, file, &args.vector_file, &args.queries) {
        (Some(text), None, None, None) => QuerySet::of_texts(collection, vec![text.clone()], mode)?,
        (None, Some(path), None, None) => QuerySet::of_vectors(vec![embed_file_query(collection, path)?])?,
        (None, None, Some(path), None) => QuerySet::of_matrix(npy::read_f32(path)?),
        (None, None, None, Some(path)) => {
            let queries = kin_eval::read_queries(path)?;
            let texts: Vec<String> = queries.iter().map(|q| q.text.clone()).collect();
            names = Some(queries.into_iter().map(|q| q.id).collect());
            QuerySet::of_texts(collection, texts, mode)?
        }
        _ => bail!("give one query: a text, --image, --audio or --video FILE, --vector-file FILE or --queries FILE"),
    };
    let by_document = !args.chunks && args.vector_file.is_none();
    Ok((search_many(collection, &set.queries(retrieval)?, params, by_document)?, names))
}

/// What kind of query was given; `None` for query vectors, which belong to no kind.
fn query_modality(args: &SearchArgs) -> Option<Modality> {
    match (&args.image, &args.audio, &args.video, &args.vector_file) {
        (Some(_), _, _, _) => Some(Modality::Image),
        (_, Some(_), _, _) => Some(Modality::Audio),
        (_, _, Some(_), _) => Some(Modality::Video),
        (_, _, _, Some(_)) => None,
        _ => Some(Modality::Text),
    }
}

/// A mixed collection: the query goes to every space whose model reads it (a text query to the
/// text space and to CLIP's text tower in the image space), and each query's lists are fused.
/// Text and hybrid modes apply to the spaces with a text index; the others answer by vectors.
fn answer_mixed(
    store: &dyn Backend,
    config: &CollectionConfig,
    args: &SearchArgs,
    params: &SearchParams,
) -> Result<Answers> {
    let Some(modality) = query_modality(args) else {
        bail!(
            "query vectors belong to one space's model: name it with --space ({})",
            config.spaces.iter().map(|s| s.settings.name.as_str()).collect::<Vec<_>>().join(", ")
        );
    };
    let weights = space_weights(config, &args.space_weights)?;
    let mut names = None;
    let fused = across_spaces(store, config, modality, &args.retrieval, &weights, args.k, &mut |space, retrieval| {
        let (results, queries) = answer(space, args, retrieval, params)?;
        names = queries;
        Ok(results)
    })?;
    Ok((fused, names))
}

/// `--space-weight NAME=WEIGHT` settings, checked against the collection's spaces.
pub fn space_weights(config: &CollectionConfig, specs: &[String]) -> Result<HashMap<String, f32>> {
    let mut weights = HashMap::new();
    for spec in specs {
        let parsed = spec.split_once('=').and_then(|(n, w)| Some((n, w.parse::<f32>().ok()?)));
        let Some((name, weight)) = parsed.filter(|(_, w)| w.is_finite() && *w >= 0.0) else {
            bail!("--space-weight {spec:?}: expected NAME=WEIGHT with a weight of at least 0");
        };
        if config.space(name).is_none() {
            bail!("--space-weight {name}: collection {:?} has no such space", config.name);
        }
        weights.insert(name.to_string(), weight);
    }
    Ok(weights)
}

/// Every space of a mixed collection that reads `modality` answers (`each`, with the retrieval
/// that fits it: see [`kin_ingest::across_spaces`]), and each query's lists are fused, `k`
/// documents kept.
pub fn across_spaces(
    store: &dyn Backend,
    config: &CollectionConfig,
    modality: Modality,
    retrieval: &RetrievalArgs,
    weights: &HashMap<String, f32>,
    k: usize,
    each: &mut dyn FnMut(&dyn CollectionRead, &RetrievalArgs) -> Result<Vec<Vec<DocumentHit>>>,
) -> Result<Vec<Vec<DocumentHit>>> {
    let how = kin_ingest::SpaceFusion { mode: retrieval.mode, rrf_k: retrieval.rrf_k, weights, limit: k };
    kin_ingest::across_spaces(store, config, modality, &how, &mut |space, mode| {
        each(space, &RetrievalArgs { mode, ..*retrieval })
    })
}

/// A TREC run file: `qid Q0 docid rank score kin`, documents (or chunks) in rank order.
pub fn write_run(path: &Path, names: &[String], results: &[Vec<DocumentHit>]) -> Result<()> {
    let run = to_run(names, results);
    let partial = path.with_extension("partial");
    let file = std::fs::File::create(&partial).with_context(|| format!("{}", partial.display()))?;
    let mut out = std::io::BufWriter::new(file);
    kin_eval::write_trec(&run, "kin", &mut out)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&partial, path).with_context(|| format!("{}", path.display()))?;
    Ok(())
}

/// Results as a run: each query's documents (or chunks) with their scores.
pub fn to_run(names: &[String], results: &[Vec<DocumentHit>]) -> kin_eval::Run {
    let mut run = kin_eval::Run::new();
    for (q, hits) in names.iter().zip(results) {
        // A query with no hits still counts (it scores 0), as in BEIR.
        run.insert(q.as_str(), Vec::new());
        for h in hits {
            run.push(q.as_str(), h.doc.as_str(), f64::from(h.best.score));
        }
    }
    run
}

/// The queries of one search command: their texts (for text and hybrid search) and vectors
/// (for dense and hybrid), made once for every query.
pub struct QuerySet {
    texts: Vec<String>,
    /// One row per query (none in text mode): a file of query vectors is searched from the rows
    /// it was read into, not from a copy of each.
    vectors: npy::Matrix,
}

impl QuerySet {
    /// Text queries: embedded with the collection's model unless only the text index is asked.
    pub fn of_texts(collection: &dyn CollectionRead, texts: Vec<String>, mode: SearchMode) -> Result<Self> {
        let vectors = if mode == SearchMode::Text {
            Vec::new()
        } else {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            embed_texts(collection, &refs)?
        };
        Ok(QuerySet { texts, ..QuerySet::of_vectors(vectors)? })
    }

    /// Queries that are vectors only (files, `.npy` rows): dense search.
    /// Vectors of one model, so of one length: rows of different lengths are an error.
    pub fn of_vectors(vectors: Vec<Vec<f32>>) -> Result<Self> {
        let cols = vectors.first().map_or(0, Vec::len);
        if let Some(other) = vectors.iter().find(|v| v.len() != cols) {
            bail!("query vectors of {cols} and {} dimensions: one model's vectors have one length", other.len());
        }
        Ok(QuerySet::of_matrix(npy::Matrix { rows: vectors.len(), cols, data: vectors.concat() }))
    }

    /// The rows of a `.npy` file of query vectors.
    pub fn of_matrix(vectors: npy::Matrix) -> Self {
        QuerySet { texts: Vec::new(), vectors }
    }

    pub fn queries(&self, retrieval: &RetrievalArgs) -> Result<Vec<kin_store::Query<'_>>> {
        let mode = retrieval.mode;
        if mode != SearchMode::Dense && self.texts.is_empty() {
            return Err(InputError {
                source_name: format!("--mode {}", mode.as_str()),
                line: None,
                message: "searches the text index, so it needs text queries (a query text or --queries FILE)".into(),
            }
            .into());
        }
        // Text mode embeds nothing; the other modes have one vector per query.
        let n = if mode == SearchMode::Text { self.texts.len() } else { self.vectors.rows };
        let vector = |i: usize| if i < self.vectors.rows { self.vectors.row(i) } else { &[] };
        let text = |i: usize| self.texts.get(i).map_or("", String::as_str);
        Ok((0..n).map(|i| kin_store::Query::of(mode, vector(i), text(i), retrieval.fusion())).collect())
    }
}

/// Embeds query texts with the collection's model, in one batch.
pub fn embed_texts(collection: &dyn CollectionRead, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
    let embedder = load_model(collection)?;
    Ok(embedder.embed_text(texts)?)
}

fn load_model(collection: &dyn CollectionRead) -> Result<Box<dyn kin_embed::Embedder>> {
    let Some(model) = collection.config().model.clone() else {
        bail!("collection {:?} has no model (it holds bare vectors); search it with --vector-file", collection.name());
    };
    kin_embed::load_with(&model, &LoadOptions::from_env()).with_context(|| format!("loading {model}"))
}

/// An image, audio or video query file, embedded whole with the collection's model.
fn embed_file_query(collection: &dyn CollectionRead, path: &Path) -> Result<Vec<f32>> {
    let embedder = load_model(collection)?;
    Ok(embed_file(embedder.as_ref(), path).map_err(|reason| InputError {
        source_name: path.display().to_string(),
        line: None,
        message: reason,
    })?)
}

fn hit_json(h: &DocumentHit, by_document: bool) -> Value {
    let b = &h.best;
    let found_by = b.found.to_json();
    let mut row = hit_row(h, by_document, found_by);
    if let (Some(space), Some(obj)) = (&b.space, row.as_object_mut()) {
        obj.insert("space".into(), json!(space));
    }
    row
}

fn hit_row(h: &DocumentHit, by_document: bool, found_by: Value) -> Value {
    let b = &h.best;
    if by_document {
        json!({ "id": h.doc, "score": b.score, "chunk": b.id, "matched_chunks": h.matched_chunks, "payload": b.payload, "source": b.source, "found_by": found_by })
    } else {
        json!({ "id": b.id, "score": b.score, "payload": b.payload, "source": b.source, "found_by": found_by })
    }
}

/// `  [dense 1, text 4]`: where each retriever of a hybrid search ranked the hit.
fn found_by_note(found: &Found) -> String {
    let parts: Vec<String> = [("dense", found.dense), ("text", found.text)]
        .into_iter()
        .filter_map(|(name, r)| r.map(|r| format!("{name} {}", r.rank)))
        .collect();
    format!("  [{}]", parts.join(", "))
}

/// Where a passage stands: ` p. 3` for a PDF page, ` [chunk 4]` otherwise.
fn place(h: &Hit) -> String {
    let p = &h.payload;
    match (p.get("page").and_then(Value::as_u64), p.get("chunk").and_then(Value::as_u64)) {
        (Some(page), _) => format!(" (p. {page})"),
        (None, Some(chunk)) if p.get("doc").is_some() => format!(" (chunk {chunk})"),
        _ => String::new(),
    }
}

/// `m:ss.s` for a time in seconds.
fn clock(seconds: f64) -> String {
    let minutes = (seconds / 60.0).floor();
    format!("{}:{:04.1}", minutes as u64, seconds - minutes * 60.0)
}

fn snippet(h: &Hit) -> String {
    if let Some(kind @ ("image" | "audio" | "video")) = h.payload.get("kind").and_then(Value::as_str) {
        let time = |k: &str| h.payload.get(k).and_then(Value::as_f64);
        return match (time("start"), time("end")) {
            (Some(start), Some(end)) => format!("[{kind} {}–{}]", clock(start), clock(end)),
            _ => format!("[{kind}]"),
        };
    }
    let text = h.payload.get("text").and_then(Value::as_str).map(str::to_string);
    let shown = text.or_else(|| h.source.clone()).unwrap_or_else(|| {
        if h.payload.is_null() {
            String::new()
        } else {
            h.payload.to_string()
        }
    });
    let one_line: String = shown.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = one_line.chars().take(100).collect();
    if one_line.chars().count() > 100 {
        cut.push('…');
    }
    cut
}
