//! `Link`: the SDK client, the runtime its calls run on, and retries with backoff; failures
//! classified into kin's errors (unreachable, unauthorized, anything else).

use std::future::Future;
use std::time::{Duration, Instant};

use kin_store::{Error, Result};
use milvus::v2 as sdk;
use milvus::v2::prelude::*;

/// The client and the runtime its calls run on; kin's seam is synchronous.
pub(crate) struct Link {
    pub(crate) client: ClientV2,
    /// The older client, for listing collections: the newer one insists on fields that some
    /// servers (Milvus Lite) leave out of that answer.
    pub(crate) lister: milvus::client::Client,
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) target: String,
    pub(crate) retry_for: Duration,
}

impl Link {
    /// Loads a collection into the server's memory, as searches and queries need.
    pub(crate) fn load(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        self.call("loading a collection", move |c| {
            let name = name.clone();
            async move {
                c.load_collection(
                    sdk::request::collection::LoadCollectionRequest::builder().collection_name(name).build()?,
                )
                .await
            }
        })
    }

    /// Runs `call` (made afresh for each attempt), retrying transient failures with backoff.
    pub(crate) fn call<T, F, Fut>(&self, what: &str, call: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(ClientV2) -> Fut,
        Fut: Future<Output = sdk::error::Result<T>> + Send + 'static,
    {
        self.call_with(what, || call(self.client.clone()))
    }

    pub(crate) fn call_with<T, E, F, Fut>(&self, what: &str, call: F) -> Result<T>
    where
        T: Send + 'static,
        E: Into<Failure> + Send + 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
    {
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            let fut = call();
            self.runtime.spawn(async move {
                let _ = tx.send(fut.await.map_err(Into::into));
            });
            let outcome = rx.recv().map_err(|_| self.failure(what, "the client's runtime stopped".into()))?;
            match outcome {
                Ok(v) => {
                    if attempt > 1 {
                        tracing::warn!(
                            target: "kin_milvus",
                            "{what}: succeeded on attempt {attempt}, after {:.1}s",
                            started.elapsed().as_secs_f64()
                        );
                    }
                    return Ok(v);
                }
                Err(e) if e.transient && started.elapsed() + delay < self.retry_for => {
                    tracing::warn!(
                        target: "kin_milvus",
                        "{what}: {} unreachable ({}); retrying in {:.1}s",
                        self.target,
                        e.message,
                        delay.as_secs_f64()
                    );
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                Err(e) => return Err(self.classify(what, &e)),
            }
        }
    }

    fn failure(&self, what: &str, message: String) -> Error {
        Error::Backend { backend: self.target.clone(), message: format!("{what}: {message}") }
    }

    fn classify(&self, what: &str, e: &Failure) -> Error {
        classify(&self.target, what, e)
    }
}

/// A failure as kin's error: the server unreachable, the credentials refused, or anything else.
fn classify(target: &str, what: &str, e: &Failure) -> Error {
    let message = format!("{what}: {}", e.message);
    if e.transient {
        return Error::Unreachable { backend: target.to_string(), message };
    }
    let lower = message.to_lowercase();
    if ["unauthenticated", "permissiondenied", "auth", "credential", "password", "token"]
        .iter()
        .any(|w| lower.contains(w))
    {
        return Error::Unauthorized { backend: target.to_string(), message };
    }
    Error::Backend { backend: target.to_string(), message }
}

/// A failed call: its message, and whether another attempt may succeed.
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) transient: bool,
}

impl From<sdk::error::Error> for Failure {
    fn from(e: sdk::error::Error) -> Self {
        Failure { transient: transient(&e), message: short(&e) }
    }
}

impl From<milvus::error::Error> for Failure {
    fn from(e: milvus::error::Error) -> Self {
        let message = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
        let lower = message.to_lowercase();
        let transient =
            ["unavailable", "transport", "connect", "timed out", "deadline"].iter().any(|w| lower.contains(w))
                && !lower.contains("auth");
        Failure { message, transient }
    }
}

/// A failure that another attempt may not have: the server is down, restarting or overloaded.
fn transient(e: &sdk::error::Error) -> bool {
    match e {
        sdk::error::Error::Grpc(status) => {
            let code = format!("{:?}", status.code());
            matches!(code.as_str(), "Unavailable" | "DeadlineExceeded" | "Unknown" | "Aborted" | "ResourceExhausted")
                && !status.message().to_lowercase().contains("auth")
        }
        sdk::error::Error::Timeout(_) => true,
        sdk::error::Error::RetryExhausted { source, .. } => transient(source),
        _ => false,
    }
}

/// The error's message, on one line.
fn short(e: &sdk::error::Error) -> String {
    let text = match e {
        sdk::error::Error::Grpc(status) => format!("{:?}: {}", status.code(), status.message()),
        other => other.to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grpc(status: tonic::Status) -> Error {
        classify("milvus://db:19530", "listing collections", &Failure::from(sdk::error::Error::Grpc(status)))
    }

    #[test]
    fn failures_are_told_apart_for_the_caller() {
        // What Milvus answers for a wrong user, password or token (it has no such check in Milvus Lite).
        let e = grpc(tonic::Status::unauthenticated("auth check failure, please check username, password or token"));
        assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
        assert!(e.to_string().contains("milvus://db:19530"), "{e}");
        let e = grpc(tonic::Status::unknown("auth check failure, please check username and password are correct"));
        assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
        let e = grpc(tonic::Status::permission_denied("PrivilegeLoad: permission deny to user"));
        assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
        // A server that is down or restarting is worth retrying; a refused request is not.
        let e = grpc(tonic::Status::unavailable("connection refused"));
        assert!(matches!(e, Error::Unreachable { .. }), "{e}");
        let e = grpc(tonic::Status::invalid_argument("collection schema mismatch"));
        assert!(matches!(e, Error::Backend { .. }), "{e}");
    }
}
