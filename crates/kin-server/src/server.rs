//! `Server`: binds the address, opens the store, preloads the models named at start, serves
//! until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use kin_embed::{Embedder, LoadOptions};
use tokio::net::TcpListener;

use crate::config::ServerConfig;
use crate::models::Loader;
use crate::state::AppState;
use crate::{Error, Result};

pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
}

impl Server {
    /// Opens the embedded store and binds; models load from kin's sources (`kin_embed::load_with`).
    pub async fn bind(config: ServerConfig) -> Result<Server> {
        let store: Arc<dyn kin_store::Backend> = Arc::new(kin_store::Store::open(&config.data)?);
        Server::bind_to(config, store).await
    }

    /// As `bind`, over `store` (the embedded store or a vector database server).
    pub async fn bind_to(config: ServerConfig, store: Arc<dyn kin_store::Backend>) -> Result<Server> {
        let opts = LoadOptions::from_env();
        let loader: Loader = Arc::new(move |spec: &str| {
            kin_embed::load_with(spec, &opts).map(|m| -> Arc<dyn Embedder> { Arc::from(m) })
        });
        Server::bind_with(config, store, loader).await
    }

    /// As `bind_to`, with models from `loader`.
    pub async fn bind_with(config: ServerConfig, store: Arc<dyn kin_store::Backend>, loader: Loader) -> Result<Server> {
        if !config.is_loopback() && config.keys.is_empty() {
            tracing::warn!(addr = %config.addr, "listening beyond loopback with no API key: anyone who reaches it can change data");
        }
        let addr = config.addr;
        let state = AppState::open_with(config, store, loader)?;
        let listener = TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr, source })?;
        Ok(Server { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM, then finishes the requests in flight.
    pub async fn run(self) -> Result<()> {
        let state = self.state.clone();
        tokio::spawn(async move {
            for name in state.config.models.clone() {
                if let Err(e) = state.models.get(&name).await {
                    tracing::error!("model {name}: {}", e.message);
                }
            }
            state.set_ready();
        });
        let app = crate::routes::router(self.state.clone());
        serve_connections(self.listener, app, self.state.config.header_timeout).await;
        // Fold long logs into snapshots so the next start reads the saved index.
        let store = self.state.store.clone();
        let _ = tokio::task::spawn_blocking(move || checkpoint_all(&*store)).await;
        Ok(())
    }
}

fn checkpoint_all(store: &dyn kin_store::Backend) {
    for name in store.names().unwrap_or_default() {
        if let Err(error) = store.collection(&name).and_then(|c| c.checkpoint()) {
            tracing::warn!(collection = %name, %error, "not checkpointed at shutdown");
        }
    }
}

/// Accepts connections until SIGINT or SIGTERM, then lets each finish its request in flight.
/// A connection must send each request's headers within `header_timeout` (hyper's timer
/// closes it otherwise), so slow or silent clients do not pile up.
async fn serve_connections(listener: TcpListener, app: axum::Router, header_timeout: std::time::Duration) {
    let (closing, closed) = tokio::sync::watch::channel(());
    let mut connections = tokio::task::JoinSet::new();
    let mut stop = std::pin::pin!(shutdown());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, most often: wait for connections to close.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        while connections.try_join_next().is_some() {}
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let mut closed = closed.clone();
        connections.spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = closed.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let _ = closing.send(());
    while connections.join_next().await.is_some() {}
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! { _ = interrupt => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down");
}

/// Runs a server over `store` on its own runtime until SIGINT or SIGTERM; `on_listen` hears the
/// bound address (with port 0, the one the system chose).
pub fn serve(
    config: ServerConfig,
    store: Arc<dyn kin_store::Backend>,
    on_listen: impl FnOnce(SocketAddr),
) -> Result<()> {
    limit_malloc_arenas();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kin-http")
        .build()
        .map_err(Error::Serve)?;
    runtime.block_on(async move {
        let server = Server::bind_to(config, store).await?;
        on_listen(server.local_addr());
        server.run().await
    })
}

/// glibc gives each thread that allocates under contention an arena of its own, up to 8 per
/// core, and a server's many short-lived blocking threads spread its heap over all of them: a
/// 10-minute soak on a bounded collection grew 1.34x with the default, and flattened with 2
/// arenas. A server's allocations are not its bottleneck (the models are), so it keeps 2.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before the runtime's
    // threads start.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
