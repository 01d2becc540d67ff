//! Property-based fuzzing of every document parser and both record readers: valid files of each
//! format, mutated at random (`kin_core::mutate`), must come back as a document or a clear error,
//! within the time limit, and never as a caught panic or a lost thread. `KIN_FUZZ_RUNS`
//! mutations per format (default 60; `scripts/fuzz.sh` runs more).

use std::io::BufReader;
use std::time::{Duration, Instant};

use kin_core::mutate::Mutator;

use crate::{extract, records, testdata, ExtractError, Format, Limits};

fn runs() -> usize {
    std::env::var("KIN_FUZZ_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(60)
}

/// A valid file of each format, with the name it would have on disk.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let sections: &[(&str, &[&str])] =
        &[("Lava", &["Magma rises and erupts.", "Basalt forms fast."]), ("Tides", &["The moon pulls the sea."])];
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend("Plain words in UTF-16, with accents: é à ü.".encode_utf16().flat_map(u16::to_le_bytes));
    vec![
        ("a.pdf", testdata::pdf(&["First page words.", "Second page words."], Some("A title"))),
        ("a.docx", testdata::docx(&[(Some("Heading1"), "A heading"), (None, "Body words here.")], Some("Doc"))),
        ("a.html", testdata::html("Page", sections).into_bytes()),
        ("a.md", testdata::markdown("Notes", sections).into_bytes()),
        ("a.txt", testdata::prose(200, 3).into_bytes()),
        ("b.txt", utf16),
        ("a.jsonl", b"{\"_id\": \"1\", \"title\": \"One\", \"text\": \"first\"}\n{\"_id\": \"2\", \"text\": \"second\", \"metadata\": {\"k\": [1, 2]}}\n".to_vec()),
        ("a.csv", b"_id,title,text\n1,One,\"first, quoted\"\n2,Two,second\n".to_vec()),
    ]
}

/// What went wrong with one input, if anything.
fn judge(name: &str, bytes: Vec<u8>, limits: &Limits) -> Option<String> {
    let format = if name.ends_with(".jsonl") {
        Some(Format::Jsonl)
    } else if name.ends_with(".csv") {
        Some(Format::Csv)
    } else {
        None
    };
    let started = Instant::now();
    let outcome = match format {
        Some(format) => {
            let mut last = None;
            for record in records(BufReader::new(&bytes[..]), format).take(10_000) {
                if let Err(e) = record {
                    last = Some(e);
                }
            }
            last.map_or(Ok(()), Err)
        }
        None => extract(bytes, Some(name), limits).map(|_| ()),
    };
    let took = started.elapsed();
    if took > limits.timeout + Duration::from_secs(2) {
        return Some(format!("took {took:?}, past the {:?} limit", limits.timeout));
    }
    match outcome {
        Err(e @ (ExtractError::Panicked { .. } | ExtractError::Thread { .. })) => Some(e.to_string()),
        _ => None,
    }
}

#[test]
fn mutated_documents_and_records_never_panic_or_hang() {
    let limits = Limits { timeout: Duration::from_secs(5), ..Limits::default() };
    let mut rng = Mutator::new(0xD0C5);
    let mut findings = Vec::new();
    let mut executions = 0;
    for (name, seed) in seeds() {
        assert_eq!(judge(name, seed.clone(), &limits), None, "{name} as written");
        for run in 0..runs() {
            let mut bytes = seed.clone();
            for _ in 0..1 + rng.below(3) {
                rng.mutate(&mut bytes);
            }
            executions += 1;
            if let Some(problem) = judge(name, bytes, &limits) {
                findings.push(format!("{name} run {run}: {problem}"));
            }
        }
    }
    eprintln!("{executions} mutated documents and record files, {} findings", findings.len());
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}
