//! `kin delete`: items by id, or whole documents (all their chunks) with `--doc`.

use anyhow::Result;
use kin_store::{Backend, ItemId};

use crate::cli::DeleteArgs;

pub fn run(store: &dyn Backend, args: DeleteArgs) -> Result<()> {
    let collection = store.collection(&args.collection)?;
    let mut deleted = 0;
    if !args.ids.is_empty() {
        let ids: Vec<ItemId> = args.ids.iter().map(|s| parse_id(s)).collect();
        deleted += collection.delete(&ids)?;
    }
    // A mixed collection's document (a video's frames and sound track) may be in several spaces,
    // each with its own count of segments.
    let mut holders = Vec::new();
    for space in &collection.config().spaces {
        holders.push(store.space(&args.collection, &space.settings.name)?);
    }
    if holders.is_empty() {
        holders.push(collection.clone());
    }
    for doc in &args.doc {
        let mut n = 0;
        for holder in &holders {
            n += kin_ingest::delete_document(&**holder, doc)?;
        }
        if n == 0 {
            eprintln!("no document {doc:?} in {}", args.collection);
        }
        deleted += n;
    }
    collection.checkpoint()?;
    println!("{}: {deleted} items deleted ({} items)", args.collection, collection.count()?);
    Ok(())
}

/// An id as typed: an integer id when it is one and no string id of that spelling is meant.
fn parse_id(s: &str) -> ItemId {
    match s.parse::<i64>() {
        Ok(i) if i.to_string() == s => ItemId::Int(i),
        _ => ItemId::Str(s.to_string()),
    }
}
