//! What a paragraph style means (a heading of some level, the title), from `word/styles.xml`
//! or, without it, from the style id itself; and the title in `docProps/core.xml`.

use std::collections::HashMap;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::xml::{attr, reference};

/// What a paragraph style makes of its paragraphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Heading(u8),
    Title,
}

/// Paragraph style ids and their roles.
#[derive(Debug, Default)]
pub(super) struct Styles {
    roles: HashMap<String, Role>,
}

impl Styles {
    /// Reads `word/styles.xml`: a style named "heading N" or "Title", or with an outline level,
    /// whatever its id (ids are localised: "berschrift1" in a German Word). A damaged file
    /// gives what was read before the damage.
    pub(super) fn parse(xml: &str) -> Styles {
        let mut roles = HashMap::new();
        let mut reader = Reader::from_str(xml);
        let mut current: Option<(String, Option<Role>)> = None;
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) if e.name().as_ref() == "w:style" => {
                    current = attr(&e, "w:styleId").map(|id| (id, None));
                }
                Ok(Event::Empty(e)) => match (e.name().as_ref(), current.as_mut()) {
                    ("w:name", Some((_, role))) => {
                        *role = role.or(attr(&e, "w:val").and_then(|name| role_of_name(&name)));
                    }
                    ("w:outlineLvl", Some((_, role))) => {
                        let level = attr(&e, "w:val").and_then(|v| v.parse::<u8>().ok());
                        *role = role.or(level.filter(|l| *l < 9).map(|l| Role::Heading(l + 1)));
                    }
                    _ => {}
                },
                Ok(Event::End(e)) if e.name().as_ref() == "w:style" => {
                    if let Some((id, Some(role))) = current.take() {
                        roles.insert(id, role);
                    }
                }
                Ok(Event::Eof) | Err(_) => break,
                _ => {}
            }
        }
        Styles { roles }
    }

    /// The role of style `id`: from styles.xml, else from the id ("Heading2", "Title").
    pub(super) fn role(&self, id: &str) -> Option<Role> {
        self.roles.get(id).copied().or_else(|| role_of_name(id))
    }
}

/// "heading 2", "Heading2", "Title" → their roles.
fn role_of_name(name: &str) -> Option<Role> {
    let squeezed: String = name.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    if squeezed == "title" {
        return Some(Role::Title);
    }
    let level: u8 = squeezed.strip_prefix("heading")?.parse().ok()?;
    (1..=9).contains(&level).then_some(Role::Heading(level))
}

/// The `dc:title` of `docProps/core.xml`, when it has words.
pub(super) fn core_title(xml: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    let mut inside = false;
    let mut title = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.name().as_ref() == "dc:title" => inside = true,
            Ok(Event::End(e)) if e.name().as_ref() == "dc:title" => break,
            Ok(Event::Text(t)) if inside => title.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) if inside => title.extend(reference(&r)),
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    let title = title.trim();
    (!title.is_empty()).then(|| title.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_from_names_ids_and_outline_levels() {
        let xml = r#"<w:styles xmlns:w="x">
            <w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/></w:style>
            <w:style w:type="paragraph" w:styleId="Custom"><w:name w:val="Custom"/><w:pPr><w:outlineLvl w:val="2"/></w:pPr></w:style>
            <w:style w:type="paragraph" w:styleId="Normal"><w:name w:val="Normal"/></w:style>
        </w:styles>"#;
        let styles = Styles::parse(xml);
        assert_eq!(styles.role("berschrift1"), Some(Role::Heading(1)));
        assert_eq!(styles.role("Custom"), Some(Role::Heading(3)));
        assert_eq!(styles.role("Normal"), None);
        // Ids Word writes in English work without styles.xml.
        let none = Styles::default();
        assert_eq!(none.role("Heading4"), Some(Role::Heading(4)));
        assert_eq!(none.role("Title"), Some(Role::Title));
        assert_eq!(none.role("Heading10"), None);
    }

    #[test]
    fn title_from_core_properties() {
        let xml =
            r#"<cp:coreProperties xmlns:cp="a" xmlns:dc="b"><dc:title>Q3 &amp; Q4 Plan</dc:title></cp:coreProperties>"#;
        assert_eq!(core_title(xml).as_deref(), Some("Q3 & Q4 Plan"));
        assert_eq!(core_title("<cp:coreProperties><dc:title>  </dc:title></cp:coreProperties>"), None);
    }
}
