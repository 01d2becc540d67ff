//! Load for `kin serve`: N concurrent clients on loopback, each with its own keep-alive
//! connection, sending one request at a time until the inputs run out.
//!
//! ```sh
//! serve_load embed  URL MODEL corpus.txt CLIENTS     # POST /v1/embeddings, one line per request
//! serve_load search URL COLLECTION corpus.txt CLIENTS SECONDS  # POST .../search by text, vectors or ids
//! ```
//! Prints one JSON line: requests, seconds, requests (or inputs) per second, p50 and p99 latency.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: serve_load embed URL MODEL FILE CLIENTS | serve_load search URL COLLECTION FILE CLIENTS SECONDS [vector|text]";
    let [mode, url, target, file, clients, rest @ ..] = args.as_slice() else { panic!("{usage}") };
    let lines: Vec<String> = std::fs::read_to_string(file)
        .expect(usage)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect();
    let clients: usize = clients.parse().expect(usage);
    let seconds: f64 = rest.first().map_or(0.0, |s| s.parse().expect(usage));
    let by_vector = rest.get(1).is_none_or(|k| k == "vector");

    // For vector search: the stored vectors of the first items, fetched once.
    let vectors: Vec<Vec<f32>> = if mode == "search" && by_vector {
        (0..lines.len().min(256))
            .filter_map(|i| {
                let item: Value =
                    ureq::get(&format!("{url}/v1/collections/{target}/items/{i}")).call().ok()?.into_json().ok()?;
                serde_json::from_value(item["vector"].clone()).ok()
            })
            .collect()
    } else {
        Vec::new()
    };
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (next, latencies, lines, vectors) = (next.clone(), latencies.clone(), lines.clone(), vectors.clone());
            let (url, target, mode) = (url.clone(), target.clone(), mode.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(300)).build();
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let (path, body) = if mode == "embed" {
                        let Some(text) = lines.get(i) else { break };
                        ("/v1/embeddings".to_string(), json!({"model": target, "input": text}))
                    } else {
                        if Instant::now() >= deadline {
                            break;
                        }
                        let query = if vectors.is_empty() {
                            json!({"text": lines[i % lines.len()], "k": 10})
                        } else {
                            json!({"vector": vectors[i % vectors.len()], "k": 10})
                        };
                        (format!("/v1/collections/{target}/search"), query)
                    };
                    let t = Instant::now();
                    match agent.post(&format!("{url}{path}")).send_json(body) {
                        Ok(r) => {
                            let _ = r.into_string();
                        }
                        Err(e) => panic!("request {i}: {e}"),
                    }
                    mine.push(t.elapsed().as_secs_f64() * 1e3);
                }
                latencies.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut l = latencies.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    let pct = |p: f64| l.get(((l.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0);
    println!(
        "{}",
        json!({
            "mode": mode, "clients": clients, "requests": l.len(), "seconds": elapsed,
            "per_second": l.len() as f64 / elapsed, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
        })
    );
}
