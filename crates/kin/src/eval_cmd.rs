//! `kin eval`: a collection's retrieval quality on BEIR queries and qrels, scored as BEIR
//! scores it (nDCG@k, MRR@k, recall@100).

use anyhow::Result;
use kin_ingest::search_many;
use kin_store::{Backend, SearchParams};
use serde_json::json;

use crate::cli::EvalArgs;
use crate::search_cmd::{to_run, write_run, QuerySet};

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
    let set = QuerySet::of_texts(&*collection, texts, args.retrieval.mode)?;
    let depth = RECALL_AT.max(args.k);
    let params = SearchParams { k: depth, ef: args.ef, filter: None, exact: args.exact };
    let results = search_many(&*collection, &set.queries(&args.retrieval)?, &params, !args.chunks)?;
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
