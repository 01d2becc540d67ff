//! The `kin` command line: a thin layer over kin's library crates.

mod add_cmd;
mod backend;
mod cli;
mod delete_cmd;
mod embed_cmd;
mod eval_cmd;
mod input;
mod migrate_cmd;
mod models_cmd;
mod npy;
mod output;
mod search_cmd;
mod serve_cmd;
mod store_cmd;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Model sources are reported (one line each) where a model is the point of the command.
    let sources = matches!(cli.command, Command::Models(_) | Command::Embed(_) | Command::Serve(_));
    init_tracing(cli.verbose, cli.quiet, sources);
    let (backend_url, data) = (cli.backend.clone(), cli.data.clone());
    let open = || backend::open(backend_url.as_deref(), &data);
    let result = match cli.command {
        Command::Models(cmd) => models_cmd::run(cmd),
        Command::Embed(args) => embed_cmd::run(args),
        Command::Collection(cmd) => open().and_then(|s| store_cmd::run(&*s, cmd)),
        Command::Add(args) => open().and_then(|s| add_cmd::run(&*s, args)),
        Command::Import(args) => open().and_then(|s| store_cmd::import(&*s, args)),
        Command::Search(args) => open().and_then(|s| search_cmd::run(&*s, args)),
        Command::Delete(args) => open().and_then(|s| delete_cmd::run(&*s, args)),
        Command::Eval(args) => open().and_then(|s| eval_cmd::run(&*s, args)),
        Command::Serve(args) => open().and_then(|s| serve_cmd::run(s, &data, args)),
        Command::Migrate(args) => migrate_cmd::run(open, &data, args),
        Command::Version { json } => version(cli.verbose > 0, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {e:#}");
            if let Some(name) = damaged_collection(&e) {
                eprintln!("`kin collection check {name}` tells what is damaged; `kin collection repair {name}` keeps every intact record and leaves a collection that opens");
            }
            ExitCode::from(exit_code(&e))
        }
    }
}

/// Logs go to stderr: warnings, plus the model sources tried (`kin_models` at info).
fn init_tracing(verbose: u8, quiet: bool, sources: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) if sources => "warn,kin_models=info",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_env("KIN_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .init();
}

/// `kin version [--verbose]`: the version, and the CPU with the kernels chosen for it.
fn version(verbose: bool, json: bool) -> anyhow::Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let cpu = kin_core::cpu::model_name();
    let level = kin_core::cpu::level();
    let requested = kin_core::cpu::requested_level().map(|l| l.as_str());
    let features = kin_core::cpu::features();
    let (embed, gemm, int8) = (kin_embed::kernel_level(), kin_embed::gemm_level(), kin_embed::int8_kernel_level());
    let (f32_level, i8_level) = (kin_index::simd_level(), kin_index::simd_level_i8());
    if json {
        let out = serde_json::json!({
            "version": version, "cpu": cpu, "features": features, "level": level.as_str(),
            "kin_cpu": requested, "kernels": {
                "matrix_products": format!("gemm {gemm}"), "int8_products": int8, "transformer_rows": embed,
                "distances_f32": format!("{f32_level:?}").to_lowercase(),
                "distances_int8": format!("{i8_level:?}").to_lowercase(),
            },
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("kin {version}");
    if verbose {
        println!("cpu               {cpu}");
        println!("features          {}", features.join(" "));
        let forced = requested.map_or(String::new(), |r| format!(" (KIN_CPU={r})"));
        println!("kernel level      {level}{forced}");
        println!("matrix products   gemm {gemm} (gemm picks its own kernels at run time)");
        println!("int8 products     {int8} (--precision int8)");
        println!("transformer rows  {embed} (GELU, softmax, layer norm)");
        println!("distances         f32 {f32_level:?}, int8 {i8_level:?}");
    }
    Ok(())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().filter_map(|c| c.downcast_ref::<std::io::Error>()).any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// The one place errors become exit codes: 2 for bad input or usage, 3 for a model that cannot
/// be found or loaded, 4 for a data directory in use by another process, 5 for a backend server
/// that cannot be reached or refuses the credentials, 1 otherwise.
fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.downcast_ref::<input::InputError>().is_some() {
            return 2;
        }
        if let Some(err) = cause.downcast_ref::<kin_embed::Error>() {
            return embed_code(err);
        }
        if let Some(err) = cause.downcast_ref::<kin_ingest::IngestError>() {
            use kin_ingest::IngestError as E;
            return match err {
                E::Settings(_) | E::NoModel { .. } => 2,
                E::Embed(e) => embed_code(e),
                E::Store(e) => store_code(e),
                _ => 1,
            };
        }
        if cause.downcast_ref::<kin_eval::EvalError>().is_some() {
            return 2;
        }
        if cause.downcast_ref::<kin_models::Error>().is_some() {
            return 3;
        }
        if let Some(err) = cause.downcast_ref::<kin_server::Error>() {
            return match err {
                kin_server::Error::Config(_) | kin_server::Error::Bind { .. } => 2,
                kin_server::Error::Store(kin_store::Error::Locked { .. }) => 4,
                kin_server::Error::Store(
                    kin_store::Error::Unreachable { .. } | kin_store::Error::Unauthorized { .. },
                ) => 5,
                _ => 1,
            };
        }
        if cause.downcast_ref::<kin_core::filter::FilterError>().is_some() {
            return 2;
        }
        if let Some(err) = cause.downcast_ref::<kin_store::Error>() {
            return store_code(err);
        }
    }
    1
}

fn embed_code(err: &kin_embed::Error) -> u8 {
    match err {
        kin_embed::Error::Model(_) => 3,
        kin_embed::Error::Tokenize { .. }
        | kin_embed::Error::UnsupportedModality { .. }
        | kin_embed::Error::UnsupportedPrecision { .. } => 2,
        _ => 1,
    }
}

/// The collection whose files an error found damaged (its directory is `…/collections/NAME/`).
fn damaged_collection(err: &anyhow::Error) -> Option<String> {
    let kin_store::Error::Corrupt { path, .. } = err.chain().find_map(|e| e.downcast_ref::<kin_store::Error>())? else {
        return None;
    };
    let parts: Vec<_> = path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let at = parts.iter().rposition(|p| p == "collections")?;
    parts.get(at + 1).cloned()
}

fn store_code(err: &kin_store::Error) -> u8 {
    use kin_store::Error as E;
    match err {
        E::DimensionMismatch { .. }
        | E::NonFinite { .. }
        | E::ZeroVector { .. }
        | E::QueryDimension { .. }
        | E::UnknownCollection { .. }
        | E::CollectionExists(_)
        | E::InvalidName { .. }
        | E::InvalidSettings(_)
        | E::StaleCursor { .. }
        | E::NoTextIndex { .. }
        | E::EmptyTextQuery
        | E::InvalidSearch(_)
        | E::TextQueryTooLong { .. }
        | E::Unsupported { .. }
        | E::ModelMismatch { .. } => 2,
        E::Locked { .. } => 4,
        E::IncompatibleSchema { .. } => 2,
        E::Unreachable { .. } | E::Unauthorized { .. } => 5,
        _ => 1,
    }
}
