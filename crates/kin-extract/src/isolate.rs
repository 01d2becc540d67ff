//! One parser run, isolated: on its own thread, its panics caught, its time bounded.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

use crate::{ExtractError, Format, Result};

/// Stack for a parser thread. Our own parsers do not recurse; the PDF parser does (content
/// streams within form XObjects), which `pdf::guard` bounds, and this leaves it room.
const STACK_BYTES: usize = 16 << 20;

/// Runs `job` on a thread of its own and waits at most `timeout` for it. A panic comes back as
/// [`ExtractError::Panicked`]; past the timeout the caller gets [`ExtractError::Timeout`] and the
/// thread is left to finish on its own (Rust threads cannot be killed), its result dropped.
pub(crate) fn isolated<T, F>(format: Format, timeout: Duration, job: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let (sender, receiver) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(format!("kin-extract-{format}"))
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(job));
            // The receiver is gone when the caller timed out; nobody wants the result then.
            let _ = sender.send(outcome);
        })
        .map_err(|source| ExtractError::Thread { source })?;
    match receiver.recv_timeout(timeout) {
        Ok(Ok(result)) => result,
        Ok(Err(payload)) => {
            let message = panic_message(payload.as_ref());
            tracing::warn!(%format, %message, "parser panicked");
            Err(ExtractError::Panicked { format, message })
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            tracing::warn!(%format, ?timeout, "parser timed out; its thread is left to finish");
            Err(ExtractError::Timeout { seconds: timeout.as_secs_f64() })
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(ExtractError::Panicked { format, message: "the parser thread ended without an answer".into() })
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn result_comes_back() {
        let got = isolated(Format::Text, Duration::from_secs(10), || Ok(41 + 1));
        assert_eq!(got.ok(), Some(42));
        let err = isolated::<(), _>(Format::Text, Duration::from_secs(10), || Err(ExtractError::Empty));
        assert!(matches!(err, Err(ExtractError::Empty)));
    }

    #[test]
    fn panic_is_caught_with_its_message() {
        let got = isolated::<(), _>(Format::Pdf, Duration::from_secs(10), || panic!("boom at {}", 7));
        match got {
            Err(ExtractError::Panicked { format: Format::Pdf, message }) => assert_eq!(message, "boom at 7"),
            other => panic!("expected Panicked, got {other:?}"),
        }
        let got = isolated::<(), _>(Format::Docx, Duration::from_secs(10), || std::panic::panic_any(3u8));
        assert!(matches!(got, Err(ExtractError::Panicked { format: Format::Docx, .. })));
    }

    #[test]
    fn a_loop_past_the_timeout_is_abandoned() {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let got = isolated::<(), _>(Format::Html, Duration::from_millis(50), move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(())
        });
        // Let the abandoned thread end rather than spin for the rest of the test run.
        stop.store(true, Ordering::Relaxed);
        match got {
            Err(ExtractError::Timeout { seconds }) => assert!((seconds - 0.05).abs() < 1e-9),
            other => panic!("expected Timeout, got {other:?}"),
        }
    }
}
