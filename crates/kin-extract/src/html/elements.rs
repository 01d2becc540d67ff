//! What each HTML element means for the text: dropped, void, a heading, a block.

use super::collect::Break;

/// Elements whose content is not the page's text.
pub(super) fn is_dropped(name: &str) -> bool {
    matches!(name, "template" | "svg" | "math" | "nav" | "header" | "footer" | "aside" | "form" | "select" | "button")
}

pub(super) fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "source"
            | "track"
            | "wbr"
    )
}

pub(super) fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

/// What a block element's start or end puts between texts.
pub(super) fn block_break(name: &str) -> Option<Break> {
    match name {
        "br" | "li" | "tr" | "dt" | "dd" | "option" => Some(Break::Line),
        "p" | "div" | "section" | "blockquote" | "table" | "thead" | "tbody" | "tfoot" | "ul" | "ol" | "dl"
        | "figure" | "figcaption" | "address" | "hr" | "details" | "summary" | "caption" | "fieldset" | "legend"
        | "center" | "body" => Some(Break::Paragraph),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_kinds() {
        assert!(is_dropped("nav") && is_dropped("svg") && !is_dropped("main"));
        assert!(is_void("br") && !is_void("div"));
        assert_eq!(heading_level("h4"), Some(4));
        assert_eq!(heading_level("hr"), None);
        assert_eq!(block_break("li"), Some(Break::Line));
        assert_eq!(block_break("p"), Some(Break::Paragraph));
        assert_eq!(block_break("span"), None);
    }
}
