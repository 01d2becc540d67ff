//! What the PDF parser is not trusted with: decompression without bound, and recursion that a
//! crafted file makes endless (a page tree whose `/Parent`s loop, form XObjects that draw each
//! other). A stack overflow aborts the process, which `catch_unwind` cannot stop, so loops are
//! cut before the parser sees the document.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;

use pdf_extract::{Dictionary, Document, Object, ObjectId};

use crate::{ExtractError, Format, Result};

/// Form XObjects drawn within form XObjects deeper than this are blanked.
const MAX_FORM_DEPTH: usize = 32;
/// `/Parent` chains longer than this are cut.
const MAX_TREE_DEPTH: usize = 256;

/// Refuses a file whose Flate streams unpack to more than `limit` bytes in all, counted by
/// inflating every stream in the raw bytes (object streams included) into nothing, before the
/// parser inflates any of them into memory.
pub(crate) fn check_unpacked(bytes: &[u8], limit: u64) -> Result<()> {
    let mut total = 0u64;
    let mut sink = vec![0u8; 64 << 10];
    for at in memchr::memmem::find_iter(bytes, b"stream") {
        if at >= 3 && &bytes[at - 3..at] == b"end" {
            continue;
        }
        let after = &bytes[at + b"stream".len()..];
        let Some(data) = after.strip_prefix(b"\r\n").or_else(|| after.strip_prefix(b"\n")) else {
            continue;
        };
        let mut inflater = flate2::read::ZlibDecoder::new(data).take((limit - total).saturating_add(1));
        // A stream that is not Flate fails at its first bytes; a damaged one counts what it gave.
        while let Ok(n @ 1..) = inflater.read(&mut sink) {
            total += n as u64;
        }
        if total > limit {
            return Err(ExtractError::ZipBomb { format: Format::Pdf, entry: "streams".into(), limit });
        }
    }
    Ok(())
}

/// Cuts what would make the text parser recurse without end, and blanks XObjects that are not
/// forms (the parser would otherwise read image data as drawing operators).
pub(crate) fn defuse(doc: &mut Document) {
    cut_parent_loops(doc);
    blank_non_forms(doc);
    let blanked = forms_to_blank(doc);
    if !blanked.is_empty() {
        tracing::debug!(count = blanked.len(), "PDF form XObjects loop or nest too deep; blanked");
    }
    for id in blanked {
        if let Some(Object::Stream(stream)) = doc.objects.get_mut(&id) {
            blank(&mut stream.dict, &mut stream.content);
        }
    }
}

fn blank(dict: &mut Dictionary, content: &mut Vec<u8>) {
    dict.remove(b"Filter");
    dict.remove(b"DecodeParms");
    dict.set("Subtype", Object::Name(b"Form".to_vec()));
    dict.set("Length", Object::Integer(0));
    content.clear();
}

fn resolve<'a>(doc: &'a Document, obj: &'a Object) -> Option<&'a Object> {
    match obj {
        Object::Reference(id) => doc.objects.get(id),
        other => Some(other),
    }
}

fn subtype(dict: &Dictionary) -> Option<&[u8]> {
    dict.get(b"Subtype").and_then(Object::as_name).ok()
}

/// Every page's `/Parent` chain ends, and within [`MAX_TREE_DEPTH`].
fn cut_parent_loops(doc: &mut Document) {
    let mut cuts = Vec::new();
    for page in doc.page_iter() {
        let mut seen = BTreeSet::from([page]);
        let mut node = page;
        while let Some(parent) = doc
            .objects
            .get(&node)
            .and_then(|o| o.as_dict().ok())
            .and_then(|d| d.get(b"Parent").and_then(Object::as_reference).ok())
        {
            if !seen.insert(parent) || seen.len() > MAX_TREE_DEPTH {
                cuts.push(node);
                break;
            }
            node = parent;
        }
    }
    for node in cuts {
        if let Some(Object::Dictionary(dict)) = doc.objects.get_mut(&node) {
            dict.remove(b"Parent");
        }
    }
}

fn blank_non_forms(doc: &mut Document) {
    for object in doc.objects.values_mut() {
        if let Object::Stream(stream) = object {
            let is_xobject = stream.dict.get(b"Type").and_then(Object::as_name).is_ok_and(|t| t == b"XObject");
            if matches!(subtype(&stream.dict), Some(b"Image" | b"PS"))
                || (is_xobject && subtype(&stream.dict).is_none())
            {
                blank(&mut stream.dict, &mut stream.content);
            }
        }
    }
}

/// The XObjects a resource dictionary names.
fn xobjects_of(doc: &Document, resources: &Object) -> Vec<ObjectId> {
    let Some(Object::Dictionary(resources)) = resolve(doc, resources) else { return Vec::new() };
    let Some(Object::Dictionary(xobjects)) = resources.get(b"XObject").ok().and_then(|x| resolve(doc, x)) else {
        return Vec::new();
    };
    xobjects.iter().filter_map(|(_, v)| v.as_reference().ok()).collect()
}

/// The form XObjects on a loop of forms drawing forms, or past [`MAX_FORM_DEPTH`].
fn forms_to_blank(doc: &Document) -> Vec<ObjectId> {
    let forms: BTreeSet<ObjectId> = doc
        .objects
        .iter()
        .filter(|(_, o)| matches!(o, Object::Stream(s) if subtype(&s.dict) == Some(b"Form")))
        .map(|(id, _)| *id)
        .collect();
    // Which resource dictionaries list each form: a form without resources of its own draws
    // with its caller's, so it may reach whatever those list.
    let mut listed_in: HashMap<ObjectId, Vec<Vec<ObjectId>>> = HashMap::new();
    let mut edges: BTreeMap<ObjectId, Vec<ObjectId>> = BTreeMap::new();
    for object in doc.objects.values() {
        let dict = match object {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            _ => continue,
        };
        let Ok(resources) = dict.get(b"Resources") else { continue };
        let named: Vec<ObjectId> = xobjects_of(doc, resources).into_iter().filter(|id| forms.contains(id)).collect();
        for id in &named {
            listed_in.entry(*id).or_default().push(named.clone());
        }
    }
    for &form in &forms {
        let own = match doc.objects.get(&form) {
            Some(Object::Stream(s)) => s.dict.get(b"Resources").ok(),
            _ => None,
        };
        let targets = match own {
            Some(resources) => xobjects_of(doc, resources).into_iter().filter(|id| forms.contains(id)).collect(),
            None => listed_in.get(&form).map(|lists| lists.concat()).unwrap_or_default(),
        };
        edges.insert(form, targets);
    }
    deep_or_looping(&edges)
}

/// Nodes to cut so that no path loops or runs longer than [`MAX_FORM_DEPTH`]: an iterative
/// depth-first walk that cuts the node an edge loops back to, and any node whose height (the
/// longest path below it) passes the bound.
fn deep_or_looping(edges: &BTreeMap<ObjectId, Vec<ObjectId>>) -> Vec<ObjectId> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done(usize),
    }
    let mut marks: HashMap<ObjectId, Mark> = HashMap::new();
    let mut cut: BTreeSet<ObjectId> = BTreeSet::new();
    for &root in edges.keys() {
        if marks.contains_key(&root) {
            continue;
        }
        // (node, index of the next child to visit, tallest child so far)
        let mut stack = vec![(root, 0usize, 0usize)];
        marks.insert(root, Mark::Open);
        while let Some(top) = stack.last_mut() {
            let (node, next, tallest) = *top;
            let children = edges.get(&node).map_or(&[][..], Vec::as_slice);
            if let Some(&child) = children.get(next) {
                top.1 += 1;
                match marks.get(&child) {
                    None => {
                        marks.insert(child, Mark::Open);
                        stack.push((child, 0, 0));
                    }
                    Some(Mark::Open) => {
                        cut.insert(child);
                    }
                    Some(Mark::Done(height)) => top.2 = tallest.max(*height),
                }
                continue;
            }
            stack.pop();
            let mut height = if cut.contains(&node) { 1 } else { tallest + 1 };
            if height > MAX_FORM_DEPTH {
                cut.insert(node);
                height = 1;
            }
            marks.insert(node, Mark::Done(height));
            if let Some(parent) = stack.last_mut() {
                parent.2 = parent.2.max(height);
            }
        }
    }
    cut.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).expect("compress");
        enc.finish().expect("finish")
    }

    #[test]
    fn flate_streams_are_counted_before_parsing() {
        let mut pdf = b"%PDF-1.4\n1 0 obj\n<< /Filter /FlateDecode >>\nstream\n".to_vec();
        pdf.extend(zlib(&vec![0u8; 1 << 20]));
        pdf.extend(b"\nendstream\nendobj\n");
        assert!(check_unpacked(&pdf, 2 << 20).is_ok());
        match check_unpacked(&pdf, 512 << 10) {
            Err(ExtractError::ZipBomb { format: Format::Pdf, limit, .. }) => assert_eq!(limit, 512 << 10),
            other => panic!("expected ZipBomb, got {other:?}"),
        }
        // Streams that are not Flate count for nothing.
        assert!(check_unpacked(b"1 0 obj\n<<>>\nstream\nBT (x) Tj ET\nendstream", 1).is_ok());
    }

    fn id(n: u32) -> ObjectId {
        (n, 0)
    }

    #[test]
    fn loops_and_deep_chains_are_cut() {
        // 1 -> 2 -> 3 -> 1 loops; 10 -> 11 -> ... -> 60 is too deep; 70 -> 70 draws itself.
        let mut edges = BTreeMap::from([(id(1), vec![id(2)]), (id(2), vec![id(3)]), (id(3), vec![id(1)])]);
        for n in 10..60 {
            edges.insert(id(n), vec![id(n + 1)]);
        }
        edges.insert(id(60), vec![]);
        edges.insert(id(70), vec![id(70)]);
        let cut = deep_or_looping(&edges);
        assert!(cut.contains(&id(1)), "{cut:?}");
        assert!(cut.contains(&id(70)));
        assert!(!cut.contains(&id(2)) && !cut.contains(&id(3)));
        let chain_cuts = cut.iter().filter(|c| (10..=60).contains(&c.0)).count();
        assert_eq!(chain_cuts, 1, "one cut brings a 51-long chain under {MAX_FORM_DEPTH}: {cut:?}");
    }

    #[test]
    fn a_fine_tree_is_left_alone() {
        let edges = BTreeMap::from([(id(1), vec![id(2), id(3)]), (id(2), vec![id(3)]), (id(3), vec![])]);
        assert!(deep_or_looping(&edges).is_empty());
    }
}
