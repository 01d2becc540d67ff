//! Small helpers over quick-xml shared by the DOCX parts.

use quick_xml::events::{BytesRef, BytesStart};

/// The value of attribute `name` (e.g. `w:val`), as written.
pub(super) fn attr(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element.try_get_attribute(name).ok().flatten().map(|a| a.value.into_owned())
}

/// The character an entity or character reference stands for (`&amp;`, `&#x41;`).
pub(super) fn reference(r: &BytesRef<'_>) -> Option<String> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Some(c.to_string());
    }
    let name: &str = &r.clone().into_inner();
    quick_xml::escape::resolve_predefined_entity(name).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve() {
        assert_eq!(reference(&BytesRef::new("amp")).as_deref(), Some("&"));
        assert_eq!(reference(&BytesRef::new("#x41")).as_deref(), Some("A"));
        assert_eq!(reference(&BytesRef::new("#233")).as_deref(), Some("é"));
        assert_eq!(reference(&BytesRef::new("nbsp")), None);
    }

    #[test]
    fn attributes_read() {
        let e = BytesStart::from_content(r#"w:pStyle w:val="Heading2""#, 8);
        assert_eq!(attr(&e, "w:val").as_deref(), Some("Heading2"));
        assert_eq!(attr(&e, "w:other"), None);
    }
}
