//! Writers of test documents in every format kin reads, for this crate's tests and (behind the
//! `testdata` feature) other crates' integration tests.

mod docx;
mod pdf;

pub use self::docx::{docx, docx_bomb};
pub use self::pdf::{encrypted_pdf, pdf};

/// An HTML page: `<title>` and `<h1>` are `title`; each section an `<h2>` and its paragraphs,
/// inside `<main>`, with a script, a style, a nav bar and a footer around it to be dropped.
pub fn html(title: &str, sections: &[(&str, &[&str])]) -> String {
    let title = escape(title);
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         <style>body {{ font-family: serif; }}</style>\n\
         <script>var noise = \"<p>not text</p>\";</script>\n</head>\n<body>\n\
         <nav><a href=\"/\">Home</a> | <a href=\"/about\">About</a></nav>\n<main>\n<h1>{title}</h1>\n"
    );
    for (heading, paragraphs) in sections {
        page.push_str(&format!("<h2>{}</h2>\n", escape(heading)));
        for paragraph in *paragraphs {
            page.push_str(&format!("<p>{}</p>\n", escape(paragraph)));
        }
    }
    page.push_str("</main>\n<footer>Copyright kin testdata</footer>\n</body>\n</html>\n");
    page
}

/// A Markdown file: `# title`, then each section a `## heading` and its paragraphs.
pub fn markdown(title: &str, sections: &[(&str, &[&str])]) -> String {
    let mut text = format!("# {title}\n\n");
    for (heading, paragraphs) in sections {
        text.push_str(&format!("## {heading}\n\n"));
        for paragraph in *paragraphs {
            text.push_str(paragraph);
            text.push_str("\n\n");
        }
    }
    text
}

/// `words` words of deterministic pseudo-English prose (sentences of 8 to 19 words), the same
/// for the same `seed`: filler for documents of a given length.
pub fn prose(words: usize, seed: u64) -> String {
    const VOCABULARY: &[&str] = &[
        "the",
        "index",
        "search",
        "vector",
        "query",
        "model",
        "document",
        "river",
        "mountain",
        "quietly",
        "returns",
        "embedding",
        "segment",
        "latency",
        "cosine",
        "storage",
        "reader",
        "writer",
        "batch",
        "token",
        "page",
        "heading",
        "signal",
        "measure",
        "between",
        "across",
        "under",
        "green",
        "ancient",
        "system",
        "builds",
        "carries",
        "light",
        "harbor",
        "lattice",
        "matrix",
        "orchard",
        "planet",
        "record",
        "summary",
    ];
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = String::new();
    let mut in_sentence = 0;
    let mut sentence_len = 8 + (next() % 12) as usize;
    for i in 0..words {
        let word = VOCABULARY[(next() % VOCABULARY.len() as u64) as usize];
        if i > 0 {
            out.push(' ');
        }
        if in_sentence == 0 {
            let mut chars = word.chars();
            out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
            out.push_str(chars.as_str());
        } else {
            out.push_str(word);
        }
        in_sentence += 1;
        if in_sentence == sentence_len || i + 1 == words {
            out.push('.');
            in_sentence = 0;
            sentence_len = 8 + (next() % 12) as usize;
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_is_deterministic_and_sized() {
        let a = prose(500, 7);
        assert_eq!(a, prose(500, 7));
        assert_ne!(a, prose(500, 8));
        assert_eq!(a.split_whitespace().count(), 500);
        assert!(a.ends_with('.'));
    }

    #[test]
    fn markdown_layout() {
        let md = markdown("T", &[("A", &["one", "two"])]);
        assert_eq!(md, "# T\n\n## A\n\none\n\ntwo\n\n");
    }

    #[test]
    fn html_escapes_text() {
        let page = html("Fish & <Chips>", &[]);
        assert!(page.contains("<title>Fish &amp; &lt;Chips&gt;</title>"));
    }
}
