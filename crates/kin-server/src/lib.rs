//! kin's HTTP server: collections, items and search over REST, OpenAI-compatible embeddings,
//! batching across requests, API keys, health and Prometheus metrics, and a search page.
//!
//! The HTTP layer is thin: handlers parse and check input, the [`Batcher`] of each model owns
//! batching and backpressure on its own thread, and the embedded store does the rest.
//!
//! ```no_run
//! # async fn run() -> kin_server::Result<()> {
//! let server = kin_server::Server::bind(kin_server::ServerConfig::default()).await?;
//! println!("listening on http://{}", server.local_addr());
//! server.run().await
//! # }
//! ```

mod auth;
mod batcher;
mod config;
mod content;
mod error;
mod files;
mod metrics;
mod models;
mod routes;
mod server;
mod state;
#[doc(hidden)]
pub mod testing;

pub use batcher::{BatchConfig, Batcher, QueueFull, Work};
pub use config::{ApiKey, Role, ServerConfig};
pub use error::{ApiError, Error, Result};
pub use metrics::Metrics;
pub use models::{Loader, ModelPool};
pub use routes::router;
pub use server::{serve, Server};
pub use state::AppState;
