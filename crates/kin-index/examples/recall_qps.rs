//! Build time, recall@k and queries per second of the HNSW index on an `.npy` float32 matrix, for
//! comparison with other libraries on the same data.
//!
//! ```text
//! cargo run --release -p kin-index --example recall_qps -- --data base.npy --queries q.npy \
//!     --metric l2 --m 16 --ef-construction 200 --ef 10,20,40,80,160 --threads 1,2
//! cargo run --release -p kin-index --example recall_qps -- --synthetic 100000x128 --write-npy base.npy
//! cargo run --release -p kin-index --example recall_qps -- --data base.npy --churn 2 --ef 64 --threads 2
//! ```
//!
//! `--churn R`: after the fresh build's table, R rounds of deleting half the rows and inserting
//! them again, each followed by a compaction; then the same table for the churned index, and its
//! memory against the fresh build's.
//!
//! Without `--queries`, the last `--holdout` rows of the data are the queries. Ground truth is an
//! exact search. `KIN_SIMD=scalar` measures the kernels without SIMD.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use kin_index::{simd_level, FlatIndex, HnswIndex, HnswParams, Metric, Quantization};
use rayon::prelude::*;

#[derive(Parser, Debug)]
#[command(about = "Recall and QPS of kin's HNSW index on an .npy float32 matrix")]
struct Args {
    /// Data matrix, float32 `.npy` of shape (n, dim).
    #[arg(long, conflicts_with = "synthetic")]
    data: Option<PathBuf>,
    /// Query matrix; without it the last `--holdout` data rows are the queries.
    #[arg(long)]
    queries: Option<PathBuf>,
    /// Generate clustered gaussian data instead, as ROWSxDIM (e.g. 100000x128).
    #[arg(long)]
    synthetic: Option<String>,
    /// Write the (synthetic) data matrix to this `.npy` file, queries included.
    #[arg(long)]
    write_npy: Option<PathBuf>,
    #[arg(long, default_value_t = 1000)]
    holdout: usize,
    #[arg(long, default_value = "l2")]
    metric: Metric,
    #[arg(long, default_value_t = 16)]
    m: usize,
    #[arg(long, default_value_t = 200)]
    ef_construction: usize,
    #[arg(long, value_delimiter = ',', default_value = "10,20,40,80,160,320")]
    ef: Vec<usize>,
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Walk int8 codes fitted on this many vectors, re-ranking exactly.
    #[arg(long)]
    int8: Option<usize>,
    /// Rounds of churn (half the rows deleted and inserted again, then a compaction).
    #[arg(long, default_value_t = 0)]
    churn: usize,
    /// Least time spent measuring each QPS figure.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
}

/// A row-major float32 matrix.
struct Matrix {
    rows: usize,
    dim: usize,
    values: Vec<f32>,
}

impl Matrix {
    fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }
}

fn read_npy(path: &Path) -> Result<Matrix> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    ensure!(bytes.len() > 10 && &bytes[..6] == b"\x93NUMPY", "{}: not an .npy file", path.display());
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 => {
            ensure!(bytes.len() > 12, "{}: truncated header", path.display());
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        v => bail!("{}: unsupported .npy version {v}", path.display()),
    };
    let header = std::str::from_utf8(bytes.get(start..start + header_len).context("truncated header")?)?;
    ensure!(header.contains("'descr': '<f4'"), "{}: expected little-endian float32, header {header}", path.display());
    ensure!(header.contains("'fortran_order': False"), "{}: expected C order", path.display());
    let shape = header.split("'shape': (").nth(1).and_then(|s| s.split(')').next()).context("no shape in header")?;
    let dims: Vec<usize> =
        shape.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::parse).collect::<Result<_, _>>()?;
    let [rows, dim] = dims[..] else { bail!("{}: expected a 2-d matrix, shape ({shape})", path.display()) };
    let body = &bytes[start + header_len..];
    ensure!(body.len() == rows * dim * 4, "{}: {} data bytes for shape ({rows}, {dim})", path.display(), body.len());
    let values = body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Ok(Matrix { rows, dim, values })
}

fn write_npy(path: &Path, m: &Matrix) -> Result<()> {
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", m.rows, m.dim);
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(m.values.iter().flat_map(|x| x.to_le_bytes()));
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// Clustered gaussian data: 100 centres ~ N(0, 1), points = centre + N(0, 0.75²) per dimension.
fn synthetic(spec: &str) -> Result<Matrix> {
    let (rows, dim) = spec.split_once('x').context("--synthetic wants ROWSxDIM")?;
    let (rows, dim): (usize, usize) = (rows.parse()?, dim.parse()?);
    let mut state = 0x5EED_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut normal = move || {
        let u = ((next() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        let v = ((next() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    };
    let centres: Vec<f32> = (0..100 * dim).map(|_| normal()).collect();
    let mut values = Vec::with_capacity(rows * dim);
    for i in 0..rows {
        let c = (i * 7919) % 100;
        values.extend(centres[c * dim..(c + 1) * dim].iter().map(|x| x + 0.75 * normal()));
    }
    Ok(Matrix { rows, dim, values })
}

fn main() -> Result<()> {
    let args = Args::parse();
    let data = match (&args.data, &args.synthetic) {
        (Some(path), _) => read_npy(path)?,
        (None, Some(spec)) => synthetic(spec)?,
        (None, None) => bail!("give --data FILE.npy or --synthetic ROWSxDIM"),
    };
    if let Some(path) = &args.write_npy {
        write_npy(path, &data)?;
        println!("wrote {} ({} x {})", path.display(), data.rows, data.dim);
    }
    let (base, queries) = match &args.queries {
        Some(path) => (data, read_npy(path)?),
        None => {
            ensure!(data.rows > args.holdout, "{} rows cannot spare {} queries", data.rows, args.holdout);
            let split = (data.rows - args.holdout) * data.dim;
            let queries = Matrix { rows: args.holdout, dim: data.dim, values: data.values[split..].to_vec() };
            (Matrix { rows: data.rows - args.holdout, dim: data.dim, values: data.values[..split].to_vec() }, queries)
        }
    };
    ensure!(queries.dim == base.dim, "queries have dimension {}, data {}", queries.dim, base.dim);
    println!(
        "data {} x {}, {} queries, metric {}, k {}, simd {:?}, {} build threads",
        base.rows,
        base.dim,
        queries.rows,
        args.metric,
        args.k,
        simd_level(),
        rayon::current_num_threads()
    );

    let mut exact = FlatIndex::new(base.dim, args.metric)?;
    exact.add_batch(&base.values)?;
    let truth: Vec<HashSet<u32>> = (0..queries.rows)
        .into_par_iter()
        .map(|i| Ok(exact.search(queries.row(i), args.k, None)?.into_iter().map(|h| h.0).collect()))
        .collect::<Result<_>>()?;

    let quantization = args.int8.map_or(Quantization::None, |train_size| Quantization::Int8 { train_size });
    let params = HnswParams { m: args.m, ef_construction: args.ef_construction, quantization, ..HnswParams::default() };
    let started = Instant::now();
    let index = HnswIndex::build(base.dim, args.metric, params, &base.values)?;
    let build = started.elapsed();
    println!(
        "build M={} ef_construction={}{}: {:.2} s ({:.0} inserts/s)",
        args.m,
        args.ef_construction,
        args.int8.map_or(String::new(), |n| format!(" int8 (fitted on {n})")),
        build.as_secs_f64(),
        base.rows as f64 / build.as_secs_f64()
    );

    let rows: Vec<u32> = (0..base.rows as u32).collect();
    table(&index, &queries, &truth, &args, &rows)?;
    if args.churn > 0 {
        let fresh_bytes = index.memory_bytes();
        let churned = churn(index, &base, args.churn)?;
        // Ids changed; the truth is in rows.
        let mut row_of = vec![0u32; base.rows];
        for (row, &id) in churned.1.iter().enumerate() {
            row_of[id as usize] = row as u32;
        }
        println!("after {} rounds of churn:", args.churn);
        table(&churned.0, &queries, &truth, &args, &row_of)?;
        let bytes = churned.0.memory_bytes();
        println!(
            "memory: fresh {:.1} MiB, churned {:.1} MiB ({:.3}x)",
            fresh_bytes as f64 / f64::from(1 << 20),
            bytes as f64 / f64::from(1 << 20),
            bytes as f64 / fresh_bytes as f64
        );
    }
    Ok(())
}

/// Recall@k and QPS for each ef; `row_of` maps an index id to its data row.
fn table(index: &HnswIndex, queries: &Matrix, truth: &[HashSet<u32>], args: &Args, row_of: &[u32]) -> Result<()> {
    print!("{:>6} {:>10}", "ef", "recall@k");
    for t in &args.threads {
        print!(" {:>12}", format!("QPS {t}t"));
    }
    println!();
    for &ef in &args.ef {
        let mut hits = 0usize;
        for (i, want) in truth.iter().enumerate() {
            let found = index.search(queries.row(i), args.k, ef, None)?;
            hits += found.iter().filter(|h| want.contains(&row_of[h.0 as usize])).count();
        }
        let recall = hits as f64 / truth.iter().map(HashSet::len).sum::<usize>().max(1) as f64;
        print!("{ef:>6} {recall:>10.4}");
        for &threads in &args.threads {
            print!(" {:>12.0}", qps(index, queries, args.k, ef, threads, Duration::from_secs_f64(args.seconds))?);
        }
        println!();
    }
    Ok(())
}

/// `rounds` times: half the rows deleted and inserted again (alternate halves), then a
/// compaction. Returns the index and each row's id in it.
fn churn(mut index: HnswIndex, base: &Matrix, rounds: usize) -> Result<(HnswIndex, Vec<u32>)> {
    let mut ids: Vec<u32> = (0..base.rows as u32).collect();
    for round in 0..rounds {
        let rows: Vec<usize> = (0..base.rows).filter(|r| (r + round) % 2 == 0).collect();
        let started = Instant::now();
        for &r in &rows {
            index.delete(ids[r])?;
        }
        let flat: Vec<f32> = rows.iter().flat_map(|&r| base.row(r).iter().copied()).collect();
        let range = index.insert_batch(&flat)?;
        for (k, &r) in rows.iter().enumerate() {
            ids[r] = range.start + k as u32;
        }
        let churned = started.elapsed();
        let (nodes, bytes) = (index.nodes(), index.memory_bytes());
        let started = Instant::now();
        let (compact, remap) = index.compacted()?;
        for id in &mut ids {
            *id = remap[*id as usize];
        }
        index = compact;
        println!(
            "churn round {}: {} rows deleted and inserted in {:.2} s; {} nodes ({:.1} MiB) compacted to {} ({:.1} MiB) in {:.2} s",
            round + 1,
            rows.len(),
            churned.as_secs_f64(),
            nodes,
            bytes as f64 / f64::from(1 << 20),
            index.nodes(),
            index.memory_bytes() as f64 / f64::from(1 << 20),
            started.elapsed().as_secs_f64()
        );
    }
    Ok((index, ids))
}

/// Queries per second with `threads` threads sharing the queries, over at least `least` of time.
fn qps(index: &HnswIndex, queries: &Matrix, k: usize, ef: usize, threads: usize, least: Duration) -> Result<f64> {
    let threads = threads.max(1);
    let per_thread = queries.rows.div_ceil(threads);
    let started = Instant::now();
    let mut done = 0usize;
    while started.elapsed() < least {
        done += std::thread::scope(|s| -> Result<usize> {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || -> Result<usize> {
                        let rows = t * per_thread..((t + 1) * per_thread).min(queries.rows);
                        let count = rows.len();
                        for i in rows {
                            std::hint::black_box(index.search(queries.row(i), k, ef, None)?);
                        }
                        Ok(count)
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().map_err(|_| anyhow::anyhow!("a query thread panicked"))?).sum()
        })?;
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}
