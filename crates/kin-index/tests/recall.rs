//! The HNSW index measured against exact search: recall under every metric, filters, tombstones,
//! int8 traversal, concurrent inserts and searches, and persistence.

use std::collections::HashSet;
use std::sync::OnceLock;

use anyhow::{ensure, Result};
use kin_index::{Error, FlatIndex, HnswIndex, HnswParams, Metric, Quantization, SearchParams};

const DIM: usize = 64;
const POINTS: usize = 20_000;
const QUERIES: usize = 200;
const K: usize = 10;
const EF: usize = 64;
const CLUSTERS: usize = 50;

/// splitmix64, with Box–Muller for normal deviates.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

/// `n` points around `CLUSTERS` random centres; the centres depend on `seed` only.
fn clustered(n: usize, seed: u64, point_seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    let centres: Vec<f32> = (0..CLUSTERS * DIM).map(|_| rng.normal()).collect();
    let mut rng = Rng(point_seed);
    let mut out = Vec::with_capacity(n * DIM);
    for _ in 0..n {
        let c = (rng.next_u64() % CLUSTERS as u64) as usize;
        out.extend(centres[c * DIM..(c + 1) * DIM].iter().map(|x| x + 0.5 * rng.normal()));
    }
    out
}

fn test_params() -> HnswParams {
    HnswParams { m: 16, ef_construction: 64, ..HnswParams::default() }
}

struct Fixture {
    queries: Vec<f32>,
    index: HnswIndex,
    exact: FlatIndex,
}

fn build_fixture(metric: Metric, params: HnswParams) -> Fixture {
    let data = clustered(POINTS, 1, 2);
    let queries = clustered(QUERIES, 1, 3);
    let index = HnswIndex::build(DIM, metric, params, &data).expect("build the index");
    let mut exact = FlatIndex::new(DIM, metric).expect("flat index");
    exact.add_batch(&data).expect("fill the flat index");
    Fixture { queries, index, exact }
}

/// One fixture per metric, built once and shared by the tests that read it.
fn fixture(metric: Metric) -> &'static Fixture {
    static COSINE: OnceLock<Fixture> = OnceLock::new();
    static DOT: OnceLock<Fixture> = OnceLock::new();
    static L2: OnceLock<Fixture> = OnceLock::new();
    let cell = match metric {
        Metric::Cosine => &COSINE,
        Metric::Dot => &DOT,
        Metric::L2 => &L2,
    };
    cell.get_or_init(|| build_fixture(metric, test_params()))
}

fn queries(f: &Fixture) -> impl Iterator<Item = &[f32]> {
    f.queries.chunks_exact(DIM)
}

/// Mean fraction of the exact top `k` found.
fn recall_of(found: &[Vec<(u32, f32)>], truth: &[Vec<(u32, f32)>]) -> f64 {
    let mut hits = 0usize;
    let mut wanted = 0usize;
    for (got, want) in found.iter().zip(truth) {
        let want: HashSet<u32> = want.iter().map(|h| h.0).collect();
        hits += got.iter().filter(|h| want.contains(&h.0)).count();
        wanted += want.len();
    }
    hits as f64 / wanted.max(1) as f64
}

fn check_recall(metric: Metric) -> Result<()> {
    let f = fixture(metric);
    let truth: Vec<_> = queries(f).map(|q| f.exact.search(q, K, None)).collect::<Result<_, _>>()?;
    let found: Vec<_> = queries(f).map(|q| f.index.search(q, K, EF, None)).collect::<Result<_, _>>()?;
    ensure!(found.iter().all(|r| r.len() == K && r.windows(2).all(|w| w[0].1 <= w[1].1)));
    let recall = recall_of(&found, &truth);
    ensure!(recall >= 0.95, "{metric}: recall@10 {recall:.4}");
    Ok(())
}

#[test]
fn recall_at_10_cosine() -> Result<()> {
    check_recall(Metric::Cosine)
}

#[test]
fn recall_at_10_dot() -> Result<()> {
    check_recall(Metric::Dot)
}

#[test]
fn recall_at_10_l2() -> Result<()> {
    check_recall(Metric::L2)
}

/// Keeps about `percent` % of ids, scattered.
fn keeps(percent: u64) -> impl Fn(u32) -> bool {
    move |id| Rng(u64::from(id) ^ 0xF11E).next_u64() % 100 < percent
}

#[test]
fn filtered_search_keeps_recall_and_returns_k() -> Result<()> {
    let f = fixture(Metric::Cosine);
    for percent in [50, 10, 1] {
        let filter = keeps(percent);
        let matching = (0..POINTS as u32).filter(|&id| filter(id)).count();
        ensure!(matching >= K);
        for estimate in [None, Some(matching)] {
            let params = SearchParams { k: K, ef: EF, filter: Some(&filter), matches_estimate: estimate };
            let mut found = Vec::new();
            let mut truth = Vec::new();
            for q in queries(f) {
                let hits = f.index.search_with(q, &params)?;
                ensure!(hits.len() == K, "{percent}%: {} results", hits.len());
                ensure!(hits.iter().all(|h| filter(h.0)), "{percent}%: a filtered-out id came back");
                found.push(hits);
                truth.push(f.exact.search(q, K, Some(&filter))?);
            }
            let recall = recall_of(&found, &truth);
            ensure!(recall >= 0.95, "{percent}% (estimate {estimate:?}): filtered recall@10 {recall:.4}");
        }
    }
    Ok(())
}

#[test]
fn int8_traversal_keeps_recall_after_rerank() -> Result<()> {
    for metric in [Metric::Cosine, Metric::L2] {
        let params = HnswParams { quantization: Quantization::Int8 { train_size: 5_000 }, ..test_params() };
        let f = build_fixture(metric, params);
        ensure!(f.index.quantizer().is_some(), "the quantizer is fitted once 5,000 vectors are in");
        let truth: Vec<_> = queries(&f).map(|q| f.exact.search(q, K, None)).collect::<Result<_, _>>()?;
        let found: Vec<_> = queries(&f).map(|q| f.index.search(q, K, EF, None)).collect::<Result<_, _>>()?;
        let recall = recall_of(&found, &truth);
        ensure!(recall >= 0.95, "{metric} int8: recall@10 {recall:.4}");
        // Re-ranked distances are exact.
        for (got, q) in found.iter().zip(queries(&f)) {
            let exact = f.exact.search(q, 1, Some(&|id| id == got[0].0))?;
            ensure!((exact[0].1 - got[0].1).abs() <= 1e-4 * (1.0 + exact[0].1.abs()));
        }
    }
    Ok(())
}

#[test]
fn deleted_ids_are_never_returned() -> Result<()> {
    let data = clustered(5_000, 1, 4);
    let index = HnswIndex::build(DIM, Metric::L2, test_params(), &data)?;
    let mut exact = FlatIndex::new(DIM, Metric::L2)?;
    exact.add_batch(&data)?;
    let qs = clustered(100, 1, 5);
    let mut deleted = HashSet::new();
    for id in (0..5_000u32).filter(|id| id.is_multiple_of(4)) {
        ensure!(index.delete(id)?);
        deleted.insert(id);
    }
    // Also delete every query's nearest live neighbour, the likeliest to come back.
    for q in qs.chunks_exact(DIM) {
        let top = exact.search(q, 1, Some(&|id| !deleted.contains(&id)))?;
        if index.delete(top[0].0)? {
            deleted.insert(top[0].0);
        }
    }
    ensure!(index.len() == 5_000 - deleted.len());
    let live = |id: u32| !deleted.contains(&id);
    let mut found = Vec::new();
    let mut truth = Vec::new();
    for q in qs.chunks_exact(DIM) {
        let hits = index.search(q, K, EF, None)?;
        ensure!(hits.len() == K && hits.iter().all(|h| live(h.0)), "a deleted id came back");
        found.push(hits);
        truth.push(exact.search(q, K, Some(&live))?);
    }
    let recall = recall_of(&found, &truth);
    ensure!(recall >= 0.95, "recall@10 with 25 % deleted: {recall:.4}");
    Ok(())
}

#[test]
fn concurrent_inserts_and_searches() -> Result<()> {
    let data = clustered(6_000, 1, 6);
    let rows: Vec<&[f32]> = data.chunks_exact(DIM).collect();
    let index = HnswIndex::new(DIM, Metric::Cosine, test_params())?;
    index.insert_batch(&data[..2_000 * DIM])?;
    let qs = clustered(50, 1, 7);
    let ids = std::thread::scope(|s| -> Result<Vec<u32>> {
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let (index, rows) = (&index, &rows);
                s.spawn(move || -> Result<Vec<u32>> {
                    (2_000 + w * 2_000..4_000 + w * 2_000).map(|i| Ok(index.insert(rows[i])?)).collect()
                })
            })
            .collect();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (index, qs) = (&index, &qs);
                s.spawn(move || -> Result<()> {
                    for _ in 0..10 {
                        for q in qs.chunks_exact(DIM) {
                            let bound = index.id_bound();
                            let hits = index.search(q, K, EF, None)?;
                            ensure!(hits.len() == K, "{} results while inserting", hits.len());
                            ensure!(hits.windows(2).all(|w| w[0].1 <= w[1].1));
                            ensure!(hits.iter().all(|h| h.0 < index.id_bound().max(bound)));
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for r in readers {
            r.join().map_err(|_| anyhow::anyhow!("a search thread panicked"))??;
        }
        let mut ids = Vec::new();
        for w in writers {
            ids.extend(w.join().map_err(|_| anyhow::anyhow!("an insert thread panicked"))??);
        }
        Ok(ids)
    })?;
    let unique: HashSet<u32> = ids.iter().copied().collect();
    ensure!(unique.len() == 4_000 && ids.iter().all(|&id| (2_000..6_000).contains(&id)));
    ensure!(index.len() == 6_000);

    // Inserted concurrently or not, the graph answers as well as a sequential one.
    let mut exact = FlatIndex::new(DIM, Metric::Cosine)?;
    for id in 0..6_000u32 {
        exact.add(&index.vector(id).ok_or_else(|| anyhow::anyhow!("vector {id} is missing"))?)?;
    }
    let found: Vec<_> = qs.chunks_exact(DIM).map(|q| index.search(q, K, EF, None)).collect::<Result<_, _>>()?;
    let truth: Vec<_> = qs.chunks_exact(DIM).map(|q| exact.search(q, K, None)).collect::<Result<_, _>>()?;
    let recall = recall_of(&found, &truth);
    ensure!(recall >= 0.95, "recall@10 after concurrent inserts: {recall:.4}");
    Ok(())
}

#[test]
fn save_and_load_round_trip() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("index.hnsw");
    let data = clustered(3_000, 1, 8);
    let params = HnswParams { quantization: Quantization::Int8 { train_size: 1_000 }, ..test_params() };
    let index = HnswIndex::build(DIM, Metric::Dot, params, &data)?;
    for id in (0..3_000).step_by(7) {
        index.delete(id)?;
    }
    index.save(&path)?;
    let loaded = HnswIndex::load(&path)?;
    ensure!(loaded.len() == index.len() && loaded.params() == index.params());
    let even = |id: u32| id.is_multiple_of(2);
    for q in clustered(50, 1, 9).chunks_exact(DIM) {
        ensure!(loaded.search(q, K, EF, None)? == index.search(q, K, EF, None)?);
        ensure!(loaded.search(q, K, EF, Some(&even))? == index.search(q, K, EF, Some(&even))?);
    }

    let good = std::fs::read(&path)?;
    let flipped_at = [3, 20, good.len() / 2, good.len() - 2];
    for at in flipped_at {
        let mut bad = good.clone();
        bad[at] ^= 0x04;
        std::fs::write(&path, &bad)?;
        match HnswIndex::load(&path) {
            Err(Error::Corrupt { path: named, .. }) => ensure!(named == path),
            other => anyhow::bail!("byte {at} flipped: expected a corrupt-file error, got {other:?}"),
        }
    }
    for len in [0, 10, 100, good.len() / 3, good.len() - 1] {
        std::fs::write(&path, &good[..len])?;
        let result = HnswIndex::load(&path);
        ensure!(matches!(result, Err(Error::Corrupt { .. })), "truncated to {len}: {result:?}");
    }
    let missing = HnswIndex::load(dir.path().join("missing.hnsw"));
    ensure!(matches!(missing, Err(Error::Io { .. })));
    Ok(())
}

#[test]
fn churn_then_compaction_keeps_recall_and_memory_of_a_fresh_build() -> Result<()> {
    // 10,000 points; twice, half of them deleted and inserted again with new vectors, the index
    // compacted after each round. The live set ends as a fresh build's input.
    let n = 10_000;
    let mut current = clustered(n, 1, 6);
    let mut index = HnswIndex::build(DIM, Metric::L2, test_params(), &current)?;
    let mut ids: Vec<u32> = (0..n as u32).collect();
    for round in 0..2u64 {
        let fresh = clustered(n / 2, 1, 7 + round);
        for (k, row) in (0..n).filter(|i| (*i as u64 + round).is_multiple_of(2)).enumerate() {
            index.delete(ids[row])?;
            current[row * DIM..(row + 1) * DIM].copy_from_slice(&fresh[k * DIM..(k + 1) * DIM]);
        }
        for row in (0..n).filter(|i| (*i as u64 + round).is_multiple_of(2)) {
            ids[row] = index.insert(&current[row * DIM..(row + 1) * DIM])?;
        }
        let (compact, remap) = index.compacted()?;
        for id in &mut ids {
            *id = remap[*id as usize];
        }
        index = compact;
    }
    ensure!(index.len() == n && index.id_bound() as usize == n && index.nodes() == n, "deleted nodes are gone");
    let fresh = HnswIndex::build(DIM, Metric::L2, test_params(), &current)?;
    let mut exact = FlatIndex::new(DIM, Metric::L2)?;
    exact.add_batch(&current)?;
    let qs = clustered(200, 1, 9);
    let truth: Vec<Vec<(u32, f32)>> =
        qs.chunks_exact(DIM).map(|q| exact.search(q, K, None)).collect::<Result<_, _>>()?;
    // Row numbers, for the churned index, whose ids were handed out in another order.
    let row_of: std::collections::HashMap<u32, u32> =
        ids.iter().enumerate().map(|(row, &id)| (id, row as u32)).collect();
    let churned: Vec<Vec<(u32, f32)>> = qs
        .chunks_exact(DIM)
        .map(|q| index.search(q, K, EF, None).map(|hits| hits.into_iter().map(|(id, d)| (row_of[&id], d)).collect()))
        .collect::<Result<_, _>>()?;
    let built: Vec<Vec<(u32, f32)>> =
        qs.chunks_exact(DIM).map(|q| fresh.search(q, K, EF, None)).collect::<Result<_, _>>()?;
    let (after_churn, fresh_recall) = (recall_of(&churned, &truth), recall_of(&built, &truth));
    eprintln!("recall@10 at ef {EF}: after churn {after_churn:.4}, fresh build {fresh_recall:.4}");
    ensure!(
        after_churn >= fresh_recall - 0.01,
        "recall@10 after churn {after_churn:.4}, fresh build {fresh_recall:.4}"
    );
    let (churn_bytes, fresh_bytes) = (index.memory_bytes(), fresh.memory_bytes());
    ensure!(
        churn_bytes as f64 <= 1.2 * fresh_bytes as f64,
        "memory after churn {churn_bytes}, fresh build {fresh_bytes}"
    );
    Ok(())
}
