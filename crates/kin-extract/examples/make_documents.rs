//! Writes N documents of mixed formats and sizes (plain text, Markdown, HTML, PDF, DOCX; 300 to
//! 3,000 words each) into a folder, for `scripts/bench/bench_ingest.sh`.
//!
//! `cargo run --release -p kin-extract --features testdata --example make_documents -- DIR N`

use std::path::PathBuf;

use kin_extract::testdata;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "bench-docs".into()));
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    std::fs::create_dir_all(&dir).expect("creating the folder");
    let mut words_total = 0;
    for i in 0..n {
        let words = 300 + (i * 7919) % 2700;
        words_total += words;
        let paragraphs: Vec<String> =
            (0..words.div_ceil(120)).map(|p| testdata::prose(120, (i * 1000 + p) as u64)).collect();
        let refs: Vec<&str> = paragraphs.iter().map(String::as_str).collect();
        let sections: Vec<(String, &[&str])> =
            refs.chunks(4).enumerate().map(|(s, p)| (format!("Section {s}"), p)).collect();
        let sections: Vec<(&str, &[&str])> = sections.iter().map(|(h, p)| (h.as_str(), *p)).collect();
        let title = format!("Document {i}");
        let (ext, bytes) = match i % 5 {
            0 => ("txt", refs.join("\n\n").into_bytes()),
            1 => ("md", testdata::markdown(&title, &sections).into_bytes()),
            2 => ("html", testdata::html(&title, &sections).into_bytes()),
            3 => {
                let pages: Vec<String> = refs.chunks(4).map(|p| p.join("\n")).collect();
                let pages: Vec<&str> = pages.iter().map(String::as_str).collect();
                ("pdf", testdata::pdf(&pages, Some(&title)))
            }
            _ => {
                let ps: Vec<(Option<&str>, &str)> = refs.iter().map(|p| (None, *p)).collect();
                ("docx", testdata::docx(&ps, Some(&title)))
            }
        };
        std::fs::write(dir.join(format!("doc-{i:05}.{ext}")), bytes).expect("writing a document");
    }
    println!("{n} documents, {words_total} words, in {}", dir.display());
}
