//! `kin search`: top-k by a text query or by query vectors, with payload filters.

use std::path::Path;

use anyhow::{bail, Context, Result};
use kin_core::filter::Filter;
use kin_embed::LoadOptions;
use kin_store::{Backend, CollectionRead, Hit, ItemId, SearchParams};
use serde_json::{json, Value};

use crate::cli::SearchArgs;
use crate::input::InputError;
use crate::npy;
use kin_media::embed_file;

pub fn run(store: &dyn Backend, args: SearchArgs) -> Result<()> {
    let collection = store.collection(&args.collection)?;
    let filter = args.filter.as_deref().map(Filter::parse).transpose()?;
    let file = args.image.as_ref().or(args.audio.as_ref()).or(args.video.as_ref());
    let queries = match (&args.query, file, &args.vector_file) {
        (Some(text), None, None) => vec![embed_query(&*collection, Query::Text(text))?],
        (None, Some(path), None) => vec![embed_query(&*collection, Query::File(path))?],
        (None, None, Some(path)) => {
            let m = npy::read_f32(path)?;
            (0..m.rows).map(|r| m.row(r).to_vec()).collect()
        }
        _ => bail!("give one query: a text, --image, --audio or --video FILE, or --vector-file FILE"),
    };
    let params = SearchParams { k: args.k, ef: args.ef, filter: filter.as_ref(), exact: args.exact };
    let results: Vec<Vec<Hit>> = queries.iter().map(|q| collection.search(q, &params)).collect::<Result<_, _>>()?;

    if let Some(path) = &args.output {
        let mut ids = Vec::with_capacity(results.len() * args.k);
        for hits in &results {
            for i in 0..args.k {
                ids.push(match hits.get(i).map(|h| &h.id) {
                    Some(ItemId::Int(v)) => *v,
                    Some(ItemId::Str(s)) => bail!("item id {s:?} is not an integer: use --json for string ids"),
                    None => -1,
                });
            }
        }
        npy::write_i64(path, results.len(), args.k, &ids)?;
    } else if args.json {
        let rows: Vec<Value> = results.iter().map(|hits| Value::Array(hits.iter().map(hit_json).collect())).collect();
        let single = args.query.is_some() || file.is_some();
        let out = if single { rows.into_iter().next().unwrap_or(Value::Null) } else { Value::Array(rows) };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for (q, hits) in results.iter().enumerate() {
            if results.len() > 1 {
                println!("query {q}");
            }
            if hits.is_empty() {
                println!("  no results");
            }
            for (rank, h) in hits.iter().enumerate() {
                println!("{:>3}. {:.4}  {}  {}", rank + 1, h.score, h.id, snippet(h));
            }
        }
    }
    Ok(())
}

enum Query<'a> {
    Text(&'a str),
    /// An image, audio or video file, embedded whole.
    File(&'a Path),
}

fn embed_query(collection: &dyn CollectionRead, query: Query<'_>) -> Result<Vec<f32>> {
    let Some(model) = collection.config().model.clone() else {
        bail!("collection {:?} has no model (it holds bare vectors); search it with --vector-file", collection.name());
    };
    let embedder =
        kin_embed::load_with(&model, &LoadOptions::from_env()).with_context(|| format!("loading {model}"))?;
    let mut vectors = match query {
        Query::Text(text) => embedder.embed_text(&[text])?,
        Query::File(path) => {
            let vector = embed_file(embedder.as_ref(), path).map_err(|reason| InputError {
                source_name: path.display().to_string(),
                line: None,
                message: reason,
            })?;
            vec![vector]
        }
    };
    vectors.pop().context("the model returned no vector")
}

fn hit_json(h: &Hit) -> Value {
    json!({ "id": h.id, "score": h.score, "payload": h.payload, "source": h.source })
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
