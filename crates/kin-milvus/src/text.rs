//! kin's text index in Milvus: an analyzed VarChar field filled from the payload, Milvus's BM25
//! function turning it into a sparse vector, and text and hybrid search over that.
//!
//! What differs from the embedded store's text index:
//!
//! - **One text per item.** Milvus's BM25 function reads one VarChar field into one sparse
//!   field, and a search reads one sparse field. kin's `TextConfig.fields` are therefore joined
//!   (in their order, each string or string of an array on its own line) into one `text` field.
//!   Indexing each field on its own would need a field and a function per payload field and a
//!   multi-request hybrid search for every text query, and Milvus's rankers still could not
//!   express the embedded store's `best_fields` scoring (the best field plus `tie_breaker` times
//!   the others); one joined field keeps a text search one request and a hybrid search two.
//!   `tie_breaker` is not used. The joined text is cut at Milvus's VarChar limit (65,535 bytes).
//! - **The analyzer is Milvus's**: the standard tokenizer, lower-casing, the language's stop
//!   words and stemmer as kin's settings ask. BM25's `k1` and `b` are the sparse index's
//!   `bm25_k1` and `bm25_b`. Terms and scores are Milvus's, close to but not the embedded store's.
//! - **Which side found a hybrid hit** is not in Milvus's `hybrid_search` answer (the fused score
//!   only), so the same dense and text requests are also run on their own, and each hit is marked
//!   with its rank and score in each list, as on the embedded store: three requests per hybrid
//!   query instead of one.

use std::collections::HashMap;

use kin_store::{Error, Fusion, Hit, ItemId, Language, Rank, Result, SearchParams, TextConfig, HYBRID_DEPTH};
use milvus::v2 as sdk;
use milvus::v2::prelude::*;
use serde_json::{json, Map, Value};

use crate::backend::metric_type;
use crate::collection::{hits_of, MilvusCollection, HIT_FIELDS, MAX_WINDOW};
use crate::filter::translate;
use crate::layout::TextFields;

/// The analyzed field holding an item's text.
pub(crate) const TEXT_FIELD: &str = "text";
/// The sparse field Milvus's BM25 function writes from [`TEXT_FIELD`].
pub(crate) const SPARSE_FIELD: &str = "text_sparse";
/// The BM25 function's name in the schema.
pub(crate) const BM25_FUNCTION: &str = "kin_bm25";
/// Milvus's most bytes in a VarChar field.
pub(crate) const MAX_TEXT_BYTES: usize = 65_535;

/// What a server that refuses kin's text index is missing.
pub(crate) const TEXT_FEATURE: &str =
    "full-text search (a BM25 function over an analyzed VarChar field, Milvus 2.5 or later)";
const HYBRID_FEATURE: &str = "hybrid search (Milvus's hybrid_search with an RRF or weighted ranker)";

/// The text Milvus indexes for `payload`: the strings of `config.fields`, one a line, cut at
/// [`MAX_TEXT_BYTES`] on a character boundary.
pub(crate) fn text_of(payload: &Value, config: &TextConfig) -> String {
    let mut out = String::new();
    for field in &config.fields {
        let value = payload.get(field);
        let one = value.and_then(Value::as_str);
        let many = value.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
        for text in one.into_iter().chain(many) {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(text);
        }
    }
    if out.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

/// Milvus's analyzer for kin's settings: the standard tokenizer, lower-casing, then the
/// language's stop words and stemmer where asked (`none`: lower-casing only).
pub(crate) fn analyzer_params(config: &TextConfig) -> Value {
    let mut filters = vec![json!("lowercase")];
    if let Some(language) = language_name(config.language) {
        if config.stop_words {
            filters.push(json!({"type": "stop", "stop_words": [format!("_{language}_")]}));
        }
        if config.stem {
            filters.push(json!({"type": "stemmer", "language": language}));
        }
    }
    json!({"tokenizer": "standard", "filter": filters})
}

/// The name Milvus's stop-word lists and stemmers know the language by.
fn language_name(language: Language) -> Option<&'static str> {
    Some(match language {
        Language::None => return None,
        Language::English => "english",
        Language::French => "french",
        Language::German => "german",
        Language::Spanish => "spanish",
        Language::Italian => "italian",
        Language::Portuguese => "portuguese",
        Language::Dutch => "dutch",
        Language::Russian => "russian",
    })
}

/// The schema's text field, sparse field and BM25 function for a text index.
pub(crate) fn schema_parts(fields: &TextFields) -> (FieldSchema, FieldSchema, Function) {
    let text = FieldSchema::new()
        .name(fields.text.as_str())
        .data_type(DataType::VarChar)
        .max_length(MAX_TEXT_BYTES as u32)
        .enable_analyzer(true)
        .analyzer_params(analyzer_params(&fields.config));
    let sparse = FieldSchema::new().name(fields.sparse.as_str()).data_type(DataType::SparseFloatVector);
    let function = Function::new()
        .name(fields.function.as_str())
        .function_type(FunctionType::Bm25)
        .input_fields([fields.text.as_str()])
        .output_fields([fields.sparse.as_str()]);
    (text, sparse, function)
}

/// The sparse field's index: an inverted index scored by BM25 with kin's `k1` and `b`.
pub(crate) fn sparse_index(fields: &TextFields) -> IndexParam {
    IndexParam::new()
        .index_type(IndexType::SparseInvertedIndex)
        .field_name(fields.sparse.as_str())
        .metric_type(MetricType::Bm25)
        .extra_params(HashMap::from([
            ("bm25_k1".to_string(), fields.config.k1.to_string()),
            ("bm25_b".to_string(), fields.config.b.to_string()),
        ]))
}

/// A server's refusal of `feature` as `Unsupported`, naming what it lacks; other errors as they are.
pub(crate) fn lacking(e: Error, feature: &str) -> Error {
    match e {
        Error::Backend { backend, message } if names_a_missing_feature(&message) => Error::Unsupported {
            backend,
            feature: feature.to_string(),
            reason: format!("the server refused it ({message})"),
        },
        other => other,
    }
}

/// Whether a server's message says it lacks something kin's text index needs (an old Milvus
/// knows no functions, sparse vectors or analyzers; Milvus Lite knows few analyzers).
fn names_a_missing_feature(message: &str) -> bool {
    let lower = message.to_lowercase();
    [
        "unimplemented",
        "not implemented",
        "not support",
        "unsupported",
        "unknown tokenizer",
        "unknown filter",
        "analyzer",
        "function",
        "bm25",
        "sparse",
        "hybrid",
        "rerank",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// The best `k` of a list that may hold rows a wider filter let through.
fn limit_for(k: usize, exact_filter: bool) -> usize {
    if exact_filter {
        k
    } else {
        (k * 8).min(MAX_WINDOW)
    }
}

/// Milvus's ranker for kin's fusion. RRF's `k` must be whole on Milvus (1..16383); weighted
/// fusion asks Milvus to normalise each side's scores (`norm_score`) before weighting them
/// `alpha` and `1 - alpha`. Milvus Lite normalises min-max over each list, as kin does; a full
/// Milvus server maps each metric's scores onto 0..1 by a fixed curve (arctan for BM25 and
/// inner product, `(1 + cos) / 2` for cosine), so the same `alpha` can order hits otherwise.
fn ranker(fusion: Fusion, backend: &str) -> Result<Function> {
    match fusion {
        Fusion::Rrf { k } => {
            if k.fract() != 0.0 || !(1.0..16_384.0).contains(&k) {
                return Err(Error::Unsupported {
                    backend: backend.to_string(),
                    feature: format!("rrf k {k}"),
                    reason: "Milvus's RRF ranker takes a whole k from 1 to 16383".into(),
                });
            }
            Ok(RRFRerank::new().k(k as i64).get_function().clone())
        }
        Fusion::Weighted { alpha } => {
            let weights = vec![alpha, 1.0 - alpha];
            Ok(WeightedRerank::new()
                .weights(weights.clone())
                .get_function()
                .clone()
                .param("norm_score", "true")
                .param("params", json!({"weights": weights, "norm_score": true}).to_string()))
        }
    }
}

/// BM25 scores are never negative; Milvus Lite reports them negated (as distances), a full
/// Milvus server as they are.
fn bm25_score(raw: f64) -> f32 {
    raw.abs() as f32
}

impl MilvusCollection {
    /// The fields of the handle's text index.
    fn text_fields(&self) -> Result<&TextFields> {
        let own = self.layout.fields().ok_or_else(|| self.layout.space_needed())?;
        own.text.as_ref().ok_or_else(|| Error::NoTextIndex { collection: self.config.name.clone() })
    }

    /// Top-k items for `text` by the BM25 function's sparse field, best first, BM25 scores.
    pub(crate) fn text_hits(&self, text: &str, params: &SearchParams) -> Result<Vec<Hit>> {
        let sparse = self.text_fields()?.sparse.clone();
        if text.trim().is_empty() {
            return Err(Error::EmptyTextQuery);
        }
        let k = params.k.clamp(1, MAX_WINDOW);
        let translated = params.filter.map(|f| translate(f.expr()));
        let exact_filter = translated.as_ref().is_none_or(|t| t.exact);
        let limit = limit_for(k, exact_filter);
        let expr = self.layout.scoped(translated.map(|t| t.expr).unwrap_or_default());
        let (name, query) = (self.layout.collection.clone(), text.to_string());
        let rows = self
            .loaded(|| {
                let (name, query, expr, sparse) = (name.clone(), query.clone(), expr.clone(), sparse.clone());
                self.link.call("searching text", move |c| {
                    let (name, query, expr, sparse) = (name.clone(), query.clone(), expr.clone(), sparse.clone());
                    async move {
                        let r = c
                            .search(
                                SearchRequest::builder()
                                    .collection_name(name)
                                    .vector_field(sparse)
                                    .vectors(SearchVectors::EmbeddedText(vec![query]))
                                    .filter(expr)
                                    .output_fields(HIT_FIELDS.iter().copied())
                                    .limit(limit as i64)
                                    .metric_type(MetricType::Bm25)
                                    .consistency_level(sdk::ConsistencyLevel::Strong)
                                    .build()?,
                            )
                            .await?;
                        rows_of(r)
                    }
                })
            })
            .map_err(|e| lacking(e, TEXT_FEATURE))?;
        Ok(hits_of(&rows, &self.layout, params.filter.filter(|_| !exact_filter), k, bm25_score))
    }

    /// Top-k items for a hybrid query, fused by Milvus's `hybrid_search`: a dense and a text
    /// request of at least [`HYBRID_DEPTH`] candidates each, both filtered, and the ranker of
    /// `fusion` (see [`ranker`]). Scores are the fused scores; `found` holds each hit's rank in
    /// the dense and the text list, from the same two requests run on their own.
    pub(crate) fn hybrid_hits(
        &self,
        vector: &[f32],
        text: &str,
        fusion: Fusion,
        params: &SearchParams,
    ) -> Result<Vec<Hit>> {
        let fusion = fusion.validate()?;
        let sparse = self.text_fields()?.sparse.clone();
        let field = self.layout.fields().ok_or_else(|| self.layout.space_needed())?.vector.clone();
        kin_store::validate_query(&self.config, vector)?;
        if text.trim().is_empty() {
            return Err(Error::EmptyTextQuery);
        }
        let rerank = ranker(fusion, &self.backend)?;
        let k = params.k.clamp(1, MAX_WINDOW);
        let translated = params.filter.map(|f| translate(f.expr()));
        let exact_filter = translated.as_ref().is_none_or(|t| t.exact);
        let limit = limit_for(k, exact_filter);
        let depth = limit.clamp(HYBRID_DEPTH, MAX_WINDOW);
        let ef = if params.exact { 4096.max(depth) } else { params.ef.unwrap_or(64).max(depth) };
        let expr = self.layout.scoped(translated.map(|t| t.expr).unwrap_or_default());
        let metric = metric_type(self.config.metric);
        let (name, vector, query) = (self.layout.collection.clone(), vector.to_vec(), text.to_string());
        let fields = (field, sparse);
        let (rows, dense, text) = self
            .loaded(|| {
                let (name, vector, query, expr, rerank, fields) =
                    (name.clone(), vector.clone(), query.clone(), expr.clone(), rerank.clone(), fields.clone());
                self.link.call("searching (hybrid)", move |c| {
                    let (name, vector, query, expr, rerank, (field, sparse)) =
                        (name.clone(), vector.clone(), query.clone(), expr.clone(), rerank.clone(), fields.clone());
                    async move {
                        let dense = SubSearchRequest::builder()
                            .vector_field(field.clone())
                            .vectors(SearchVectors::Float(vec![vector.clone()]))
                            .filter(expr.clone())
                            .limit(depth as i64)
                            .metric_type(metric)
                            .extra_params(HashMap::from([("ef".to_string(), ef.to_string())]))
                            .build()?;
                        let text = SubSearchRequest::builder()
                            .vector_field(sparse.clone())
                            .vectors(SearchVectors::EmbeddedText(vec![query.clone()]))
                            .filter(expr.clone())
                            .limit(depth as i64)
                            .metric_type(MetricType::Bm25)
                            .build()?;
                        let fused = c
                            .hybrid_search(
                                HybridSearchRequest::builder()
                                    .collection_name(name.clone())
                                    .sub_requests(vec![dense, text])
                                    .rerank(rerank)
                                    .limit(limit as i64)
                                    .output_fields(HIT_FIELDS.iter().copied())
                                    .consistency_level(sdk::ConsistencyLevel::Strong)
                                    .build()?,
                            )
                            .await?;
                        // The two lists on their own, for each hit's ranks.
                        let list = |field: String, vectors: SearchVectors, metric: MetricType| {
                            let mut b = SearchRequest::builder()
                                .collection_name(name.clone())
                                .vector_field(field)
                                .vectors(vectors)
                                .filter(expr.clone())
                                .output_fields(HIT_FIELDS.iter().copied())
                                .limit(depth as i64)
                                .metric_type(metric)
                                .consistency_level(sdk::ConsistencyLevel::Strong);
                            if metric != MetricType::Bm25 {
                                b = b.extra_params(HashMap::from([("ef".to_string(), ef.to_string())]));
                            }
                            b.build()
                        };
                        let dense = c.search(list(field, SearchVectors::Float(vec![vector]), metric)?).await?;
                        let text =
                            c.search(list(sparse, SearchVectors::EmbeddedText(vec![query]), MetricType::Bm25)?).await?;
                        Ok((rows_of(fused)?, rows_of(dense)?, rows_of(text)?))
                    }
                })
            })
            .map_err(|e| lacking(e, HYBRID_FEATURE))?;
        let check = params.filter.filter(|_| !exact_filter);
        let ranks = |hits: Vec<Hit>| -> HashMap<ItemId, Rank> {
            let ranked = hits.into_iter().enumerate();
            ranked.map(|(i, h)| (h.id, Rank { rank: i as u32 + 1, score: h.score })).collect()
        };
        let dense = ranks(hits_of(&dense, &self.layout, check, depth, |s| s as f32));
        let text = ranks(hits_of(&text, &self.layout, check, depth, bm25_score));
        let mut hits = hits_of(&rows, &self.layout, check, k, |s| s as f32);
        for h in &mut hits {
            h.found.dense = dense.get(&h.id).copied();
            h.found.text = text.get(&h.id).copied();
        }
        Ok(hits)
    }
}

/// The rows of a search answer (one query's).
#[allow(clippy::result_large_err)] // the SDK's error, as its calls return it
pub(crate) fn rows_of(r: SearchResponse) -> sdk::error::Result<Vec<Map<String, Value>>> {
    let mut rows = Vec::new();
    for result in r.results() {
        for row in result.rows()? {
            rows.push(row.to_entity_row()?);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_fields_are_joined_in_order_and_cut_at_milvus_limit() {
        let config = TextConfig::default();
        let payload = json!({"text": "body", "title": "Head", "tags": ["x"], "other": "no"});
        assert_eq!(text_of(&payload, &config), "Head\nbody");
        let many = TextConfig { fields: vec!["tags".into(), "n".into()], ..TextConfig::default() };
        assert_eq!(text_of(&json!({"tags": ["a", 1, "b"], "n": 3}), &many), "a\nb");
        assert_eq!(text_of(&Value::Null, &config), "");
        let long = "é".repeat(MAX_TEXT_BYTES);
        let cut = text_of(&json!({ "text": long }), &config);
        assert!(cut.len() <= MAX_TEXT_BYTES && cut.len() > MAX_TEXT_BYTES - 2 && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn the_analyzer_follows_the_language_stop_words_and_stemmer() {
        let english = analyzer_params(&TextConfig::default());
        assert_eq!(english["tokenizer"], "standard");
        assert_eq!(english["filter"][1]["stop_words"][0], "_english_");
        assert_eq!(english["filter"][2], json!({"type": "stemmer", "language": "english"}));
        let plain = TextConfig { language: Language::None, ..TextConfig::default() };
        assert_eq!(analyzer_params(&plain)["filter"], json!(["lowercase"]));
        let unstemmed = TextConfig { language: Language::German, stem: false, ..TextConfig::default() };
        assert_eq!(analyzer_params(&unstemmed)["filter"].as_array().map(Vec::len), Some(2));
        for language in Language::ALL {
            assert_eq!(language_name(language).is_none(), language == Language::None);
        }
    }

    #[test]
    fn rankers_match_kin_fusion_where_milvus_can() {
        let rrf = ranker(Fusion::default(), "m").unwrap();
        assert_eq!(rrf.get_params().get("k").map(String::as_str), Some("60"));
        let weighted = ranker(Fusion::Weighted { alpha: 0.25 }, "m").unwrap();
        let params: Value = serde_json::from_str(&weighted.get_params()["params"]).unwrap();
        assert_eq!(params, json!({"weights": [0.25, 0.75], "norm_score": true}));
        for k in [0.0, 2.5, 20_000.0] {
            let e = ranker(Fusion::Rrf { k }, "milvus://m").unwrap_err();
            assert!(matches!(e, Error::Unsupported { .. }) && e.to_string().contains("whole k"), "{e}");
        }
    }

    #[test]
    fn a_server_lacking_bm25_is_named_unsupported() {
        let refused = |message: &str| Error::Backend { backend: "milvus://m".into(), message: message.into() };
        let e = lacking(refused("creating a collection: Unimplemented: unknown method"), TEXT_FEATURE);
        assert!(matches!(e, Error::Unsupported { .. }) && e.to_string().contains("BM25 function"), "{e}");
        let e = lacking(refused("unknown tokenizer type: 'english' (supported: 'standard')"), TEXT_FEATURE);
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        let e = lacking(refused("collection not found"), TEXT_FEATURE);
        assert!(matches!(e, Error::Backend { .. }), "{e}");
    }
}
