//! Chunks of real documents in every format, cut with the real tokenizers of both text models
//! and CLIP's 77-token text tower: every span slices the extracted text to the chunk's text,
//! every chunk fits the model, no chunk starts or ends inside a word, and the document is
//! covered from its first token to its last.

use std::path::PathBuf;

use kin_embed::TextTokenizer;
use kin_extract::{testdata, Document, Limits};
use kin_ingest::{document_items, ChunkConfig, Chunker, DocumentChunks, Tokens};

fn model_dir(name: &str) -> PathBuf {
    let cfg = kin_models::FetchConfig::from_env();
    match kin_models::locate(name, &cfg) {
        Ok(loc) => loc.dir,
        Err(e) => panic!("{name} is needed for the chunking tests and could not be found: {e}"),
    }
}

fn tokenizers() -> Vec<(&'static str, TextTokenizer)> {
    let clip =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kin-embed/tests/golden/clip/tiny-gelu/tokenizer.json");
    vec![
        (
            "all-MiniLM-L6-v2",
            TextTokenizer::load(&model_dir("all-MiniLM-L6-v2").join("tokenizer.json"), 256, false).unwrap(),
        ),
        (
            "all-mpnet-base-v2",
            TextTokenizer::load(&model_dir("all-mpnet-base-v2").join("tokenizer.json"), 384, false).unwrap(),
        ),
        ("clip", TextTokenizer::load(&clip, 77, false).unwrap()),
    ]
}

/// One ~6,000-token document in each format, extracted.
fn documents() -> Vec<(&'static str, Document)> {
    let limits = Limits::default();
    let paragraphs: Vec<String> = (0..40).map(|i| testdata::prose(110, i)).collect();
    let refs: Vec<&str> = paragraphs.iter().map(String::as_str).collect();
    let sections: Vec<(String, &[&str])> = refs.chunks(5).enumerate().map(|(i, p)| (format!("Part {i}"), p)).collect();
    let sections: Vec<(&str, &[&str])> = sections.iter().map(|(h, p)| (h.as_str(), *p)).collect();
    let mut text = refs.join("\n\n");
    text.push_str("\n\nÉmile’s café served crème brûlée — 東京 and naïve façades… ");
    let pages: Vec<String> = refs.chunks(8).map(|p| p.join("\n")).collect();
    let pages: Vec<&str> = pages.iter().map(String::as_str).collect();
    let docx_paragraphs: Vec<(Option<&str>, &str)> = refs
        .iter()
        .enumerate()
        .flat_map(|(i, p)| [(None, *p)].into_iter().chain((i % 5 == 0).then_some((Some("Heading1"), "A heading"))))
        .collect();
    let files: Vec<(&str, &str, Vec<u8>)> = vec![
        ("txt", "report.txt", text.into_bytes()),
        ("md", "report.md", testdata::markdown("Report", &sections).into_bytes()),
        ("html", "report.html", testdata::html("Report", &sections).into_bytes()),
        ("pdf", "report.pdf", testdata::pdf(&pages, Some("Report"))),
        ("docx", "report.docx", testdata::docx(&docx_paragraphs, Some("Report"))),
    ];
    files
        .into_iter()
        .map(|(kind, name, bytes)| (kind, kin_extract::extract(bytes, Some(name), &limits).unwrap()))
        .collect()
}

#[test]
fn every_span_slices_to_its_text_and_every_chunk_fits() {
    let documents = documents();
    for (model, tokenizer) in tokenizers() {
        let limit = tokenizer.max_tokens();
        let config = ChunkConfig { target: limit, overlap: limit / 8 };
        let chunker = Chunker::new(Tokens::Model(&tokenizer), config).unwrap();
        for (kind, doc) in &documents {
            let chunks = chunker.chunks(doc, 0).unwrap();
            assert!(chunks.len() > 5, "{model} {kind}: {} chunks", chunks.len());
            let items = document_items(
                &DocumentChunks { doc: "d", document: doc, chunks: &chunks, hash: "h", source: None },
                vec![vec![1.0]; chunks.len()],
            );
            let text = doc.text.as_str();
            for (c, item) in chunks.iter().zip(&items) {
                let slice = &text[c.start..c.end];
                assert_eq!(item.payload["text"], slice, "{model} {kind}");
                let by_chars: String = text.chars().skip(c.char_start).take(c.char_end - c.char_start).collect();
                assert_eq!(by_chars, slice, "{model} {kind}: character span");
                assert_eq!(tokenizer.count(slice).unwrap(), c.tokens, "{model} {kind}");
                assert!(c.tokens <= limit, "{model} {kind}: {} tokens > {limit}", c.tokens);
                let before = text[..c.start].chars().next_back();
                let after = text[c.end..].chars().next();
                let first = slice.chars().next();
                let last = slice.chars().next_back();
                let glued = |a: Option<char>, b: Option<char>| {
                    a.is_some_and(char::is_alphanumeric) && b.is_some_and(char::is_alphanumeric)
                };
                assert!(!glued(before, first) && !glued(last, after), "{model} {kind}: cut inside a word: {slice:?}");
            }
            // Nothing lost: the first chunk starts at the first word, the last ends at the end.
            assert_eq!(chunks[0].start, text.len() - text.trim_start().len(), "{model} {kind}");
            assert_eq!(chunks.last().unwrap().end, text.trim_end().len(), "{model} {kind}");
            for w in chunks.windows(2) {
                assert!(w[1].start > w[0].start, "{model} {kind}: no progress");
                let gap = text.get(w[0].end..w[1].start).unwrap_or("");
                assert!(gap.trim().is_empty(), "{model} {kind}: text between chunks lost: {gap:?}");
            }
            if *kind == "pdf" {
                let last = items.last().unwrap();
                assert_eq!(last.payload["pages"][1], doc.pages.len(), "{model}: the last chunk is on the last page");
            }
            if *kind == "md" || *kind == "html" {
                assert!(
                    items.iter().any(|i| i.payload["headings"].as_array().is_some_and(|h| h.len() == 2)),
                    "{model} {kind}"
                );
            }
        }
    }
}
