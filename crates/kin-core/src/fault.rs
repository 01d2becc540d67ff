//! Fault injection for kin's crash and I/O-fault tests, after SQLite's: named points on the
//! write path of the store and its index where a test has the process killed, or an I/O call
//! fail, chosen by the `KIN_FAULTS` environment variable when the process starts.
//!
//! ```text
//! KIN_FAULTS=crash@snapshot.renamed#3,eio@wal.sync#2-4,enospc@index.write
//! ```
//!
//! - `crash@POINT[#N]`: the N-th time (default: the first) the process reaches POINT, it sends
//!   itself SIGKILL: no destructor runs and no buffer is flushed, as with `kill -9`.
//! - `eio@POINT[#N[-M]]`, `enospc@POINT[#N[-M]]`: the N-th call there (to the M-th) fails with
//!   EIO (a failing disk or fsync) or ENOSPC (a full disk); the calls after it succeed again.
//!
//! Unset, as it is outside tests, a point costs one atomic load. A rule that cannot be read is
//! reported and ignored. [`CRASH_POINTS`] and [`IO_POINTS`] list every point, so a test can
//! reach each one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Where a process can be killed, in the order a write and a snapshot pass them: a write is
/// appended to the log and synced; a snapshot compacts each space, writes its index, text index
/// and snapshot aside and renames each over the old one, then empties the log.
pub const CRASH_POINTS: &[&str] = &[
    "wal.write",
    "wal.synced",
    "compaction.done",
    "index.partial",
    "index.renamed",
    "text.partial",
    "text.renamed",
    "snapshot.partial",
    "snapshot.renamed",
    "snapshot.saved",
    "snapshot.log_cleared",
];

/// Where an I/O call can fail: writing and syncing the log, each file of a snapshot, and
/// emptying the log.
pub const IO_POINTS: &[&str] = &[
    "wal.write",
    "wal.sync",
    "index.write",
    "index.sync",
    "text.write",
    "text.sync",
    "snapshot.write",
    "snapshot.sync",
    "wal.clear",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Crash,
    Eio,
    Enospc,
}

#[derive(Debug)]
struct Rule {
    action: Action,
    point: String,
    first: u64,
    last: u64,
    reached: AtomicU64,
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| std::env::var("KIN_FAULTS").map(|spec| parse(&spec)).unwrap_or_default())
}

/// The rules of a `KIN_FAULTS` value; those that cannot be read are reported and left out.
fn parse(spec: &str) -> Vec<Rule> {
    spec.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .filter_map(|text| {
            let rule = parse_rule(text);
            if rule.is_none() {
                tracing::warn!("KIN_FAULTS: cannot read {text:?} (expected ACTION@POINT[#N[-M]], ACTION crash, eio or enospc); ignored");
            }
            rule
        })
        .collect()
}

fn parse_rule(text: &str) -> Option<Rule> {
    let (action, rest) = text.split_once('@')?;
    let action = match action {
        "crash" => Action::Crash,
        "eio" => Action::Eio,
        "enospc" => Action::Enospc,
        _ => return None,
    };
    let (point, range) = rest.split_once('#').unwrap_or((rest, "1"));
    let (first, last) = match range.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let n = range.parse().ok()?;
            (n, n)
        }
    };
    let points = if action == Action::Crash { CRASH_POINTS } else { IO_POINTS };
    if !points.contains(&point) || first == 0 || last < first || (action == Action::Crash && first != last) {
        return None;
    }
    Some(Rule { action, point: point.to_string(), first, last, reached: AtomicU64::new(0) })
}

impl Rule {
    /// Counts a call at the rule's point; whether the rule fires on it.
    fn turn(&self) -> bool {
        let n = self.reached.fetch_add(1, Ordering::Relaxed) + 1;
        (self.first..=self.last).contains(&n)
    }
}

/// The action of the rule of `point` whose turn this call is, counting the call.
fn fires(point: &str, io: bool) -> Option<Action> {
    rules()
        .iter()
        .filter(|r| r.point == point && (r.action != Action::Crash) == io)
        .find_map(|r| r.turn().then_some(r.action))
}

/// A point where a test may have the process killed.
pub fn crash_point(point: &str) {
    debug_assert!(CRASH_POINTS.contains(&point), "unknown crash point {point}");
    if rules().is_empty() || fires(point, false).is_none() {
        return;
    }
    tracing::warn!("KIN_FAULTS: killed at {point}");
    kill_self();
}

/// An I/O call where a test may have an error returned instead; `Ok` when none is due.
pub fn io_point(point: &str) -> std::io::Result<()> {
    debug_assert!(IO_POINTS.contains(&point), "unknown I/O point {point}");
    if rules().is_empty() {
        return Ok(());
    }
    match fires(point, true) {
        Some(Action::Eio) => Err(injected(5, "input/output error", point)),
        Some(Action::Enospc) => Err(injected(28, "no space left on device", point)),
        _ => Ok(()),
    }
}

fn injected(errno: i32, what: &str, point: &str) -> std::io::Error {
    let kind = std::io::Error::from_raw_os_error(errno).kind();
    std::io::Error::new(kind, format!("{what} (injected by KIN_FAULTS at {point})"))
}

fn kill_self() -> ! {
    #[cfg(unix)]
    // SAFETY: kill(2) on our own pid with a valid signal number has no memory effects.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_read_and_bad_ones_left_out() {
        let rules = parse("crash@snapshot.renamed#3, eio@wal.sync#2-4,enospc@index.write,nope@wal.sync,eio@nowhere,crash@wal.sync,crash@wal.write#1-2,eio@wal.sync#0");
        let read: Vec<(Action, &str, u64, u64)> =
            rules.iter().map(|r| (r.action, r.point.as_str(), r.first, r.last)).collect();
        assert_eq!(
            read,
            [
                (Action::Crash, "snapshot.renamed", 3, 3),
                (Action::Eio, "wal.sync", 2, 4),
                (Action::Enospc, "index.write", 1, 1)
            ]
        );
    }

    #[test]
    fn an_io_rule_fires_on_its_calls_only() {
        let rules = parse("eio@wal.sync#2-3");
        let rule = &rules[0];
        let calls: Vec<bool> = (0..5).map(|_| rule.turn()).collect();
        assert_eq!(calls, [false, true, true, false, false]);
        let error = injected(28, "no space left on device", "index.write");
        assert_eq!(error.kind(), std::io::ErrorKind::StorageFull);
        assert!(error.to_string().contains("index.write"));
    }
}
