//! `Metrics`: counters, gauges and histograms, rendered in Prometheus's text format at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
/// Upper bounds of the batch size buckets, in inputs.
const BATCH_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];
/// The window over which embeddings per second are averaged.
const RATE_WINDOW: Duration = Duration::from_secs(10);

#[derive(Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        for (c, b) in self.counts.iter_mut().zip(bounds) {
            if value <= *b {
                *c += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in bounds.iter().enumerate() {
            let c = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Default)]
struct Requests {
    /// (method, route, status) → count.
    counts: BTreeMap<(String, String, u16), u64>,
    /// route → latency histogram.
    latency: BTreeMap<String, Histogram>,
}

/// The server's measurements; cheap to update from any thread.
pub struct Metrics {
    requests: Mutex<Requests>,
    batches: Mutex<Histogram>,
    /// (time, embeddings) of recent batches, for the rate.
    recent: Mutex<Vec<(Instant, u64)>>,
    embeddings: AtomicU64,
    queue_depth: AtomicI64,
    rejected: AtomicU64,
    dropped: AtomicU64,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Mutex::default(),
            batches: Mutex::default(),
            recent: Mutex::default(),
            embeddings: AtomicU64::new(0),
            queue_depth: AtomicI64::new(0),
            rejected: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut r = self.requests.lock();
        *r.counts.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        r.latency.entry(route.to_string()).or_default().observe(&LATENCY_BUCKETS, elapsed.as_secs_f64());
    }

    /// One forward pass of `inputs` inputs.
    pub fn batch(&self, inputs: usize) {
        self.batches.lock().observe(&BATCH_BUCKETS, inputs as f64);
        self.embeddings_done(inputs);
    }

    /// Embeddings made outside a batch (images, audio, video).
    pub fn embeddings_done(&self, n: usize) {
        self.embeddings.fetch_add(n as u64, Ordering::Relaxed);
        let now = Instant::now();
        let mut recent = self.recent.lock();
        recent.retain(|(t, _)| now.duration_since(*t) <= RATE_WINDOW);
        recent.push((now, n as u64));
    }

    pub fn queue_depth_add(&self, n: i64) {
        self.queue_depth.fetch_add(n, Ordering::Relaxed);
    }

    pub fn request_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn request_dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Embeddings per second over the last ten seconds (or since start, if sooner).
    pub fn embeddings_per_second(&self) -> f64 {
        let now = Instant::now();
        let recent = self.recent.lock();
        let n: u64 = recent.iter().filter(|(t, _)| now.duration_since(*t) <= RATE_WINDOW).map(|(_, n)| n).sum();
        let span = RATE_WINDOW.min(now.duration_since(self.started)).as_secs_f64().max(1e-3);
        n as f64 / span
    }

    /// Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            std::mem::take(&mut out)
        };
        let mut text = family("kin_http_requests_total", "counter", "HTTP requests by method, route and status.");
        let requests = self.requests.lock();
        for ((method, route, status), n) in &requests.counts {
            let _ = writeln!(
                text,
                "kin_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        text += &family("kin_http_request_duration_seconds", "histogram", "Time to answer a request, by route.");
        for (route, h) in &requests.latency {
            h.render(&mut text, "kin_http_request_duration_seconds", &format!("route=\"{route}\""), &LATENCY_BUCKETS);
        }
        drop(requests);
        text += &family("kin_batch_size", "histogram", "Inputs per forward pass, across requests.");
        self.batches.lock().render(&mut text, "kin_batch_size", "", &BATCH_BUCKETS);
        let gauges = [
            (
                "kin_queue_depth",
                "gauge",
                "Inputs waiting for a model.",
                self.queue_depth.load(Ordering::Relaxed) as f64,
            ),
            ("kin_embeddings_total", "counter", "Embeddings made.", self.embeddings.load(Ordering::Relaxed) as f64),
            (
                "kin_embeddings_per_second",
                "gauge",
                "Embeddings per second over the last 10 s.",
                self.embeddings_per_second(),
            ),
            (
                "kin_requests_rejected_total",
                "counter",
                "Requests answered 429 (queue full).",
                self.rejected.load(Ordering::Relaxed) as f64,
            ),
            (
                "kin_requests_dropped_total",
                "counter",
                "Queued requests dropped because their client went away.",
                self.dropped.load(Ordering::Relaxed) as f64,
            ),
        ];
        for (name, kind, help, value) in gauges {
            text += &family(name, kind, help);
            let _ = writeln!(text, "{name} {value}");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.request("POST", "/v1/embeddings", 200, Duration::from_millis(3));
        m.batch(12);
        m.queue_depth_add(5);
        let text = m.render();
        assert!(
            text.contains("kin_http_requests_total{method=\"POST\",route=\"/v1/embeddings\",status=\"200\"} 1"),
            "{text}"
        );
        assert!(text.contains("kin_http_request_duration_seconds_bucket{route=\"/v1/embeddings\",le=\"0.005\"} 1"));
        assert!(text.contains("kin_http_request_duration_seconds_bucket{route=\"/v1/embeddings\",le=\"0.0025\"} 0"));
        assert!(text.contains("kin_batch_size_bucket{le=\"16\"} 1") && text.contains("kin_batch_size_sum 12"));
        assert!(text.contains("kin_queue_depth 5") && text.contains("kin_embeddings_total 12"));
        assert!(text.contains("# TYPE kin_batch_size histogram"));
    }
}
