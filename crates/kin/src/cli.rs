//! Command-line syntax (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "kin", version, about = "The right embeddings for any data, stored and searched.")]
pub struct Cli {
    /// More log output (-v info, -vv debug); `KIN_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The embedded store's data directory.
    #[arg(long, global = true, env = "KIN_DATA", default_value = "./kin-data")]
    pub data: PathBuf,
    /// Keep collections in a vector database server instead of the embedded store:
    /// `milvus://[USER:PASSWORD@]HOST[:PORT][/DATABASE]` (a token: `KIN_MILVUS_TOKEN`).
    #[arg(long, global = true, env = "KIN_BACKEND", hide_env_values = true)]
    pub backend: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// The model registry: list, inspect and download models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Turn inputs into vectors.
    Embed(EmbedArgs),
    /// Collections of the embedded store: create, list, info, drop.
    #[command(subcommand)]
    Collection(CollectionCommand),
    /// Embed files (recursively) into a collection; unchanged files are skipped.
    Add(AddArgs),
    /// Load precomputed vectors into a collection.
    Import(ImportArgs),
    /// Find the items nearest a query.
    Search(SearchArgs),
    /// Delete items, or whole documents with --doc.
    Delete(DeleteArgs),
    /// Score retrieval on BEIR queries and qrels: nDCG@10, MRR@10, recall@100.
    Eval(EvalArgs),
    /// Serve the store over HTTP: REST, OpenAI-compatible embeddings, a search page.
    Serve(ServeArgs),
    /// Copy a collection to another backend (the embedded store to Milvus, or back): streamed,
    /// resumable, verified by counts and sampled vectors.
    Migrate(MigrateArgs),
    /// kin's version; with --verbose (-v), the CPU and the kernels each part of kin runs on it.
    Version {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct MigrateArgs {
    pub collection: String,
    /// Where to copy it: `milvus://HOST[:PORT]`, or a data directory for the embedded store.
    #[arg(long)]
    pub to: String,
    /// Where it is (default: `--backend`, else the embedded store in `--data`).
    #[arg(long)]
    pub from: Option<String>,
    /// Items per page read and written.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Stop after this many pages (run again to go on from the checkpoint).
    #[arg(long)]
    pub max_batches: Option<usize>,
    /// Ignore a checkpoint of an earlier, interrupted run and start over.
    #[arg(long)]
    pub fresh: bool,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:7700")]
    pub addr: std::net::SocketAddr,
    /// An API key: `SECRET` or `admin:SECRET` (may change data), `read:SECRET` (search and embed
    /// only). Repeatable; `KIN_API_KEYS` takes a comma-separated list. No key: no check.
    #[arg(long = "api-key", value_name = "KEY", hide_env_values = true)]
    pub api_keys: Vec<String>,
    /// Load this model at start (`/readyz` waits for it); also allows a local folder. Repeatable.
    #[arg(long = "model", value_name = "MODEL")]
    pub models: Vec<String>,
    /// Allow browser calls from this origin (CORS; `*` for any). Repeatable; off by default.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Largest request body, in MiB.
    #[arg(long, default_value_t = 64)]
    pub max_body_mb: usize,
    /// Most inputs waiting for a model before requests are answered 429.
    #[arg(long, default_value_t = 8192)]
    pub queue: usize,
    /// How long a batch waits for other requests to join it, in milliseconds.
    #[arg(long, default_value_t = 2)]
    pub batch_wait_ms: u64,
    /// A folder whose files items may name for the page's previews (`kin add` keeps each file's
    /// path); repeatable; default: the folder `kin serve` starts in. Nothing outside is read.
    #[arg(long = "files-from", value_name = "DIR")]
    pub files_from: Vec<std::path::PathBuf>,
    /// Multipart uploads handled at once (429 beyond).
    #[arg(long, default_value_t = 4)]
    pub max_uploads: usize,
    /// Most MiB the uploaded files kept for previews may take on disk (507 beyond; default:
    /// what the disk holds).
    #[arg(long)]
    pub max_files_mb: Option<u64>,
    /// Seconds a client may take to send a request's headers before its connection is closed.
    #[arg(long, default_value_t = 10)]
    pub header_timeout_s: u64,
    /// Seconds a client may take to send a request's body (408 beyond).
    #[arg(long, default_value_t = 60)]
    pub body_timeout_s: u64,
}

#[derive(Subcommand)]
pub enum CollectionCommand {
    /// Create a collection bound to a model (its dimension and metric follow) or to a bare dimension.
    Create(CreateArgs),
    /// Every collection with its model, dimension and size.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One collection's settings and size.
    Info {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a collection and everything in it.
    Drop { name: String },
    /// Read every file of a collection (log, snapshots, index files) and say what is damaged;
    /// changes nothing. Exits 1 when items would be lost.
    Check {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Keep every intact record of a damaged collection and leave one that opens: the files as
    /// they were go to `damaged-SECONDS/` in its directory, and the report names what was lost.
    Repair {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Add, change (`--text` with settings) or remove (`--no-text`) a collection's full-text
    /// index, built from the stored items; nothing is embedded again.
    Reindex {
        name: String,
        #[command(flatten)]
        text: TextIndexArgs,
    },
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("kind").required(true).args(["model", "dim", "spaces", "preset"])))]
pub struct CreateArgs {
    pub name: String,
    /// The model whose vectors the collection holds.
    #[arg(long)]
    pub model: Option<String>,
    /// A bare vector dimension (for `kin import`).
    #[arg(long)]
    pub dim: Option<usize>,
    /// cosine, dot or l2 (default: cosine).
    #[arg(long)]
    pub metric: Option<String>,
    /// hnsw (approximate, default) or flat (exact).
    #[arg(long, default_value = "hnsw")]
    pub index: String,
    /// HNSW links per node.
    #[arg(long, default_value_t = 16)]
    pub m: usize,
    #[arg(long, default_value_t = 200)]
    pub ef_construction: usize,
    /// none or int8 (int8 graph walk, exact re-ranking).
    #[arg(long, default_value = "none")]
    pub quantize: String,
    /// The model's arithmetic: float32 (the reference's vectors) or int8 (local text encoders;
    /// faster, cosine ≥ 0.99 to float32). The collection keeps it: its vectors never mix.
    #[arg(long)]
    pub precision: Option<kin_embed::Precision>,
    #[command(flatten)]
    pub text: TextIndexArgs,
    /// A named vector space of a mixed collection, `NAME=MODEL` (repeat: one per space), e.g.
    /// `--space text=all-MiniLM-L6-v2 --space image=clip-vit-base-patch32`. Each file that
    /// `kin add` meets goes to the space whose model takes its kind of content.
    #[arg(long = "space", value_name = "NAME=MODEL")]
    pub spaces: Vec<String>,
    /// The spaces of a preset: `media` (text, image, audio) or `documents-and-photos`.
    #[arg(long)]
    pub preset: Option<String>,
    /// Which space takes a kind of content, `MODALITY=SPACE`, where two spaces' models read it.
    #[arg(long = "route", value_name = "MODALITY=SPACE")]
    pub routes: Vec<String>,
}

/// A full-text (BM25) index: on by default for text models, `--text` for others.
#[derive(Args, Clone)]
pub struct TextIndexArgs {
    /// Keep a full-text (BM25) index beside the vectors (default for text models).
    #[arg(long, conflicts_with = "no_text")]
    pub text: bool,
    /// No full-text index.
    #[arg(long)]
    pub no_text: bool,
    /// Payload fields the text index reads, each scored on its own (default: title, text).
    #[arg(long = "text-field")]
    pub text_fields: Vec<String>,
    /// Stop words and stemmer: english (default), french, german, spanish, italian,
    /// portuguese, dutch, russian, or none (lower-casing only).
    #[arg(long)]
    pub language: Option<kin_store::Language>,
    /// Keep stop words.
    #[arg(long)]
    pub keep_stop_words: bool,
    /// Do not stem.
    #[arg(long)]
    pub no_stem: bool,
    /// BM25 k1 (default 1.2).
    #[arg(long)]
    pub k1: Option<f32>,
    /// BM25 b (default 0.75).
    #[arg(long)]
    pub b: Option<f32>,
}

impl TextIndexArgs {
    /// The text index these flags ask for; `default_on`: whether one is made without `--text`.
    pub fn config(&self, default_on: bool) -> Option<kin_store::TextConfig> {
        if self.no_text || !(self.text || default_on) {
            return None;
        }
        let mut cfg = kin_store::TextConfig::default();
        if !self.text_fields.is_empty() {
            cfg.fields = self.text_fields.clone();
        }
        if let Some(language) = self.language {
            cfg.language = language;
        }
        cfg.stop_words = !self.keep_stop_words;
        cfg.stem = !self.no_stem;
        cfg.k1 = self.k1.unwrap_or(cfg.k1);
        cfg.b = self.b.unwrap_or(cfg.b);
        Some(cfg)
    }
}

#[derive(Args)]
pub struct AddArgs {
    pub collection: String,
    /// Files or directories (walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Most chunks embedded (and written as one atomic change) in one batch.
    #[arg(long, default_value_t = 512)]
    pub batch_size: usize,
    /// Tokens per chunk, special tokens included (default: the model card's; at most what the
    /// model reads).
    #[arg(long)]
    pub chunk_tokens: Option<usize>,
    /// Tokens shared by neighbouring chunks (default: the model card's).
    #[arg(long)]
    pub chunk_overlap: Option<usize>,
    /// Documents larger than this are refused before they are read (default 64).
    #[arg(long)]
    pub max_file_mb: Option<u64>,
    /// Print where the time went (extraction, chunking, embedding, writing).
    #[arg(long)]
    pub timing: bool,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["ids", "doc"])))]
pub struct DeleteArgs {
    pub collection: String,
    /// Item ids (a chunk is `DOC#N`).
    pub ids: Vec<String>,
    /// Delete every chunk of these documents (a path as given to `kin add`, or a record id).
    #[arg(long, num_args = 1..)]
    pub doc: Vec<String>,
}

#[derive(Args)]
pub struct EvalArgs {
    pub collection: String,
    /// BEIR queries (`{"_id", "text"}` per line).
    #[arg(long)]
    pub queries: PathBuf,
    /// BEIR qrels (`query-id corpus-id score`, tab-separated, with a header) or TREC qrels.
    #[arg(long)]
    pub qrels: PathBuf,
    /// Cut-off of nDCG and MRR (recall is at 100, or at k when k is larger).
    #[arg(short, default_value_t = 10)]
    pub k: usize,
    /// Rank chunks instead of documents.
    #[arg(long)]
    pub chunks: bool,
    #[arg(long)]
    pub ef: Option<usize>,
    #[arg(long)]
    pub exact: bool,
    #[command(flatten)]
    pub retrieval: RetrievalArgs,
    /// A mixed collection: score this space alone (default: every space that reads text, fused).
    #[arg(long)]
    pub space: Option<String>,
    /// A mixed collection: a space's weight in the fusion, `NAME=WEIGHT` (default 1).
    #[arg(long = "space-weight", value_name = "NAME=WEIGHT")]
    pub space_weights: Vec<String>,
    /// Also write the run (TREC format) here.
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ImportArgs {
    pub collection: String,
    /// float32 (or float64) `.npy`, one row per item.
    #[arg(long)]
    pub vectors: PathBuf,
    /// One id per line (default: 0..n-1); integers stay integers.
    #[arg(long)]
    pub ids: Option<PathBuf>,
    /// One JSON object per line, the payload of the item on the same row.
    #[arg(long)]
    pub payloads: Option<PathBuf>,
    /// Items per write. Each batch is one atomic, durable change: a run cut short by a crash
    /// leaves the batches before it whole and none of the rest.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("query_kind").required(true).args(["query", "image", "audio", "video", "vector_file", "queries"])))]
pub struct SearchArgs {
    pub collection: String,
    /// A text query, embedded with the collection's model.
    pub query: Option<String>,
    /// An image query, embedded with the collection's model (CLIP finds pictures like it, or
    /// texts that describe it).
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// An audio query, embedded whole with the collection's model: spoken search.
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// A video query, embedded whole (its frames, sound or clips, as the model takes them).
    #[arg(long)]
    pub video: Option<PathBuf>,
    /// Query vectors (`.npy`, one row per query).
    #[arg(long)]
    pub vector_file: Option<PathBuf>,
    /// BEIR queries (`{"_id", "text"}` per line), each answered; with --output, a TREC run file.
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// Return passages (chunks) instead of documents (each document's best chunk).
    #[arg(long)]
    pub chunks: bool,
    #[arg(short, default_value_t = 10)]
    pub k: usize,
    /// Candidate list size of the graph walk (higher: better recall, slower).
    #[arg(long)]
    pub ef: Option<usize>,
    /// Payload filter, e.g. `year >= 2020 and lang in ["en", "fr"]`.
    #[arg(long)]
    pub filter: Option<String>,
    /// Exact search (scan every vector).
    #[arg(long)]
    pub exact: bool,
    #[command(flatten)]
    pub retrieval: RetrievalArgs,
    /// A mixed collection: search this space only (default: every space whose model reads the
    /// query, their lists fused by reciprocal rank).
    #[arg(long)]
    pub space: Option<String>,
    /// A mixed collection: the weight of a space's list in the fusion, `NAME=WEIGHT` (default 1).
    #[arg(long = "space-weight", value_name = "NAME=WEIGHT")]
    pub space_weights: Vec<String>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    /// Write result ids (int64, queries × k, -1 where fewer than k) to this `.npy`; with
    /// --queries, a TREC run file (`qid Q0 docid rank score kin`).
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// Which retrievers answer a text query, and how their lists are fused.
#[derive(Args, Clone, Copy)]
pub struct RetrievalArgs {
    /// dense (vectors), text (the BM25 index) or hybrid (both, fused).
    #[arg(long, default_value = "dense")]
    pub mode: kin_store::SearchMode,
    /// Hybrid: fuse by weighted, min-max normalised scores, this much dense (0..=1), instead
    /// of by reciprocal rank.
    #[arg(long)]
    pub alpha: Option<f32>,
    /// Hybrid: k of reciprocal-rank fusion, `1 / (k + rank)`.
    #[arg(long, default_value_t = 60.0)]
    pub rrf_k: f32,
}

impl RetrievalArgs {
    pub fn fusion(&self) -> kin_store::Fusion {
        match self.alpha {
            Some(alpha) => kin_store::Fusion::Weighted { alpha },
            None => kin_store::Fusion::Rrf { k: self.rrf_k },
        }
    }
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Every model kin knows, with modality, dimension and whether it runs yet.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Everything the model card says about one model.
    Info {
        model: String,
        #[arg(long)]
        json: bool,
    },
    /// Download a model into kin's cache (`KIN_HOME`) and check every file.
    Pull { model: String },
}

#[derive(Args)]
pub struct EmbedArgs {
    /// Texts to embed (when neither --input nor stdin is used).
    pub texts: Vec<String>,
    /// Model name, alias, Hugging Face id, local folder, or `openai:MODEL`.
    #[arg(short, long, default_value = "all-MiniLM-L6-v2", env = "KIN_MODEL")]
    pub model: String,
    /// Read inputs from a file: `.txt` (one per line) or `.jsonl` (`{"id": …, "text": …}`); `-` is stdin.
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Write vectors here; the extension picks `.jsonl` (id, vector) or `.npy` (float32, input order).
    /// Default: JSON lines on stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Most inputs in one forward pass (or one API request).
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Most tokens in one forward pass.
    #[arg(long, default_value_t = kin_embed::DEFAULT_TOKEN_BUDGET)]
    pub token_budget: usize,
    /// float32 (the reference's vectors) or int8 (local text encoders: weights and activations
    /// in int8, faster, cosine ≥ 0.99 to float32). Same as a model spec ending in `@int8`.
    #[arg(long)]
    pub precision: Option<kin_embed::Precision>,
    /// Skip inputs that are not valid UTF-8 or valid records (with a warning) instead of stopping.
    #[arg(long)]
    pub skip_invalid: bool,
}
