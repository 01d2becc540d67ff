//! `kin eval`: a collection's retrieval quality on BEIR queries and qrels, scored as BEIR
//! scores it (nDCG@k, MRR@k, recall@100).

use anyhow::Result;
use kin_core::Modality;
use kin_ingest::{search_many, DocumentHit};
use kin_store::{Backend, CollectionRead, SearchParams};
use serde_json::json;

use crate::cli::{EvalArgs, RetrievalArgs};
use crate::search_cmd::{across_spaces, space_weights, to_run, write_run, QuerySet};

/// Recall is measured this deep (BEIR's recall@100), or at k when k is deeper.
const RECALL_AT: usize = 100;

pub fn run(store: &dyn Backend, args: EvalArgs) -> Result<()> {
    let collection = store.collection(&args.collection)?;
    let qrels = kin_eval::read_qrels(&args.qrels)?;
    // Only judged queries are searched (BEIR evaluates the queries of its qrels split).
    let queries: Vec<_> =
        kin_eval::read_queries(&args.queries)?.into_iter().filter(|q| qrels.contains_key(&q.id)).collect();
    if queries.is_empty() {
        anyhow::bail!("no query of {} has judgements in {}", args.queries.display(), args.qrels.display());
    }
    let texts: Vec<String> = queries.iter().map(|q| q.text.clone()).collect();
    let depth = RECALL_AT.max(args.k);
    let params = SearchParams { k: depth, ef: args.ef, filter: None, exact: args.exact };
    let mut answer = |target: &dyn CollectionRead, retrieval: &RetrievalArgs| -> Result<Vec<Vec<DocumentHit>>> {
        let set = QuerySet::of_texts(target, texts.clone(), retrieval.mode)?;
        Ok(search_many(target, &set.queries(retrieval)?, &params, !args.chunks)?)
    };
    let config = collection.config();
    let results = match (&args.space, config.is_mixed()) {
        (None, false) => answer(&*collection, &args.retrieval)?,
        (Some(_), false) => anyhow::bail!(
            "collection {:?} holds one model's vectors: --space is for mixed collections",
            args.collection
        ),
        (Some(space), true) => {
            kin_ingest::query_spaces(config, Modality::Text, Some(space))?;
            answer(&*store.space(&args.collection, space)?, &args.retrieval)?
        }
        (None, true) => {
            let weights = space_weights(config, &args.space_weights)?;
            across_spaces(store, config, Modality::Text, &args.retrieval, &weights, depth, &mut answer)?
        }
    };
    let names: Vec<String> = queries.iter().map(|q| q.id.clone()).collect();
    if let Some(path) = &args.output {
        write_run(path, &names, &results)?;
    }
    let run = to_run(&names, &results);
    let scores = kin_eval::evaluate(&qrels, &run, args.k, depth);
    if args.json {
        let out = json!({
            format!("ndcg@{}", args.k): scores.ndcg,
            format!("mrr@{}", args.k): scores.mrr,
            format!("recall@{depth}"): scores.recall,
            "queries": scores.queries,
            "collection": args.collection,
            "unit": if args.chunks { "chunk" } else { "document" },
            "mode": args.retrieval.mode.as_str(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{} on {} queries ({}, {} search):",
            args.collection,
            scores.queries,
            if args.chunks { "chunks" } else { "documents" },
            args.retrieval.mode.as_str()
        );
        println!("  nDCG@{:<4} {:.5}", args.k, scores.ndcg);
        println!("  MRR@{:<5} {:.5}", args.k, scores.mrr);
        println!("  recall@{depth:<3} {:.5}", scores.recall);
    }
    Ok(())
}
