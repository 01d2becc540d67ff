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
    /// Skip inputs that are not valid UTF-8 or valid records (with a warning) instead of stopping.
    #[arg(long)]
    pub skip_invalid: bool,
}
