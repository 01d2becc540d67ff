//! Build time, recall@k and queries per second of kin's HNSW on `.npy` data, for the side-by-side
//! benchmark in `scripts/bench/bench_ann.py` (one JSON object per line on stdout).
//!
//! `ann_bench BASE.npy QUERIES.npy GROUND_TRUTH.npy METRIC M EF_CONSTRUCTION EF,EF,… THREADS,THREADS,… [f32|int8] [REPEAT]`
//!
//! The last argument picks the walk: exact f32 distances (the default), or int8 codes with the
//! results re-ranked exactly. Each setting's queries run REPEAT times (default 1) and the fastest
//! run is reported, as `bench_ann.py` does for every engine. The first line names the CPU and the
//! distance kernels in use.
//!
//! Also reports filtered search (filters keeping 50 %, 10 % and 1 % of the ids, scattered):
//! recall@10 against exact filtered search and whether every query got 10 results.

use std::time::Instant;

use kin_index::{simd_level, simd_level_i8, FlatIndex, HnswIndex, HnswParams, Metric, Quantization, SearchParams};
use rayon::prelude::*;

fn read_npy(path: &str) -> (Vec<u8>, Vec<usize>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    let shape = &header[header.find("'shape': (").unwrap() + 10..];
    let shape = shape[..shape.find(')').unwrap()].split(',').filter_map(|s| s.trim().parse().ok()).collect();
    (bytes[10 + header_len..].to_vec(), shape)
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (base, bshape) = read_npy(&a[1]);
    let (queries, qshape) = read_npy(&a[2]);
    let (gt, gshape) = read_npy(&a[3]);
    let metric: Metric = a[4].parse().unwrap();
    let (m, efc): (usize, usize) = (a[5].parse().unwrap(), a[6].parse().unwrap());
    let efs: Vec<usize> = a[7].split(',').map(|s| s.parse().unwrap()).collect();
    let threads: Vec<usize> = a[8].split(',').map(|s| s.parse().unwrap()).collect();
    let (base, queries) = (f32s(&base), f32s(&queries));
    let gt: Vec<i64> = gt.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
    let (dim, nq, gk) = (bshape[1], qshape[0], gshape[1]);
    let k = 10;

    let quantization = match a.get(9).map(String::as_str) {
        Some("int8") => Quantization::Int8 { train_size: bshape[0].min(20_000) },
        _ => Quantization::None,
    };
    println!(
        "{{\"cpu\": \"{}\", \"kernels\": \"f32 {:?}, int8 {:?}\", \"walk\": \"{}\"}}",
        cpu_model(),
        simd_level(),
        simd_level_i8(),
        if quantization == Quantization::None { "f32" } else { "int8" }
    );
    let repeat: usize = a.get(10).map_or(1, |r| r.parse().unwrap());
    let params = HnswParams { m, ef_construction: efc, quantization, ..HnswParams::default() };
    let build_threads = *threads.iter().max().unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(build_threads).build().unwrap();
    let t = Instant::now();
    let index = pool.install(|| HnswIndex::build(dim, metric, params, &base)).unwrap();
    println!("{{\"build_s\": {:.3}, \"threads\": {build_threads}, \"n\": {}}}", t.elapsed().as_secs_f64(), bshape[0]);

    for &th in &threads {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(th).build().unwrap();
        for &ef in &efs {
            let search = |q: usize| {
                let p = SearchParams::new(k).with_ef(ef);
                index.search_with(&queries[q * dim..(q + 1) * dim], &p).unwrap()
            };
            let _warm: Vec<_> = (0..nq.min(100)).map(search).collect();
            let mut secs = f64::INFINITY;
            let mut results: Vec<Vec<(u32, f32)>> = Vec::new();
            for _ in 0..repeat {
                let t = Instant::now();
                results = if th == 1 {
                    (0..nq).map(search).collect()
                } else {
                    pool.install(|| (0..nq).into_par_iter().map(search).collect())
                };
                secs = secs.min(t.elapsed().as_secs_f64());
            }
            let mut hits = 0;
            for (q, r) in results.iter().enumerate() {
                let truth = &gt[q * gk..q * gk + k];
                hits += r.iter().filter(|(id, _)| truth.contains(&(*id as i64))).count();
            }
            println!(
                "{{\"threads\": {th}, \"ef\": {ef}, \"recall\": {:.4}, \"qps\": {:.1}}}",
                hits as f64 / (nq * k) as f64,
                nq as f64 / secs
            );
        }
    }

    filtered(&index, &base, &queries, dim, metric);
}

/// The CPU's model name, from `/proc/cpuinfo` where there is one.
fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let name = info.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1));
    name.map_or_else(|| std::env::consts::ARCH.to_string(), |n| n.trim().to_string())
}

/// Keeps about `percent` % of ids, scattered by a hash of the id.
fn keeps(percent: u64) -> impl Fn(u32) -> bool {
    move |id| {
        let mut z = u64::from(id).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % 100 < percent
    }
}

fn filtered(index: &HnswIndex, base: &[f32], queries: &[f32], dim: usize, metric: Metric) {
    let mut exact = FlatIndex::new(dim, metric).unwrap();
    exact.add_batch(base).unwrap();
    let nq = queries.len() / dim;
    for percent in [50, 10, 1] {
        let filter = keeps(percent);
        let matching = (0..(base.len() / dim) as u32).filter(|&id| filter(id)).count();
        let params = SearchParams { k: 10, ef: 64, filter: Some(&filter), matches_estimate: Some(matching) };
        let t = Instant::now();
        let found: Vec<Vec<(u32, f32)>> =
            (0..nq).map(|q| index.search_with(&queries[q * dim..(q + 1) * dim], &params).unwrap()).collect();
        let secs = t.elapsed().as_secs_f64();
        let (mut hits, mut full) = (0, 0);
        for (q, r) in found.iter().enumerate() {
            let truth = exact.search(&queries[q * dim..(q + 1) * dim], 10, Some(&filter)).unwrap();
            hits += r.iter().filter(|(id, _)| truth.iter().any(|(t, _)| t == id)).count();
            full += usize::from(r.len() == 10);
        }
        println!(
            "{{\"filter_percent\": {percent}, \"matching\": {matching}, \"recall\": {:.4}, \"full_k\": {:.4}, \"qps\": {:.1}}}",
            hits as f64 / (nq * 10) as f64,
            full as f64 / nq as f64,
            nq as f64 / secs
        );
    }
}
