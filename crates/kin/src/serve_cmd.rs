//! `kin serve`: the HTTP server over the embedded store.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use kin_server::{ApiKey, ServerConfig};
use kin_store::Backend;

use crate::cli::ServeArgs;

pub fn run(store: Arc<dyn Backend>, data: &Path, args: ServeArgs) -> Result<()> {
    let mut keys = Vec::new();
    for spec in &args.api_keys {
        keys.push(ApiKey::parse(spec)?);
    }
    if let Ok(list) = std::env::var("KIN_API_KEYS") {
        keys.extend(ApiKey::parse_list(&list)?);
    }
    let config = ServerConfig {
        addr: args.addr,
        data: data.to_path_buf(),
        keys,
        cors_origins: args.cors_origins,
        max_body_bytes: args.max_body_mb.saturating_mul(1 << 20),
        queue_inputs: args.queue,
        batch_wait: Duration::from_millis(args.batch_wait_ms),
        models: args.models,
        max_uploads: args.max_uploads,
        max_files_bytes: args.max_files_mb.map(|mb| mb.saturating_mul(1 << 20)),
        header_timeout: Duration::from_secs(args.header_timeout_s),
        body_timeout: Duration::from_secs(args.body_timeout_s),
        ..ServerConfig::default()
    };
    let config = match args.files_from {
        roots if roots.is_empty() => config,
        file_roots => ServerConfig { file_roots, ..config },
    };
    let keyed = if config.keys.is_empty() { "no API key" } else { "API keys required" };
    let place = store.describe();
    kin_server::serve(config, store, |addr| {
        // The one line scripts wait for: the address, once the port is bound.
        println!("kin serve: listening on http://{addr} ({keyed}); collections in the {place}");
        let _ = std::io::stdout().flush();
    })?;
    Ok(())
}
