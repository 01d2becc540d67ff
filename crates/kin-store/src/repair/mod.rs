//! Checking a collection's files, and repairing a damaged one (`kin collection check` and
//! `kin collection repair`).
//!
//! The log and the snapshots hold the items; the index files are built from them, and opening
//! builds a stale or damaged one again. So only damage in the log or a snapshot loses items, and
//! a collection whose log is damaged before its last record refuses to open rather than drop
//! the acknowledged writes after the damage. Check reads every file and changes nothing. Repair
//! keeps every intact record of the log and every intact item of each snapshot, copies each file
//! it rewrites into `damaged-SECONDS/` in the collection's directory first (nothing is deleted),
//! writes the clean file aside and renames it into place, reports what the damaged bytes held,
//! and then opens the collection to prove that it opens.

use std::fs::{self, File};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::collection::{space_layout, Collection, CONFIG_FILE, INDEX_FILE, WAL_FILE};
use crate::config::{CollectionConfig, IndexKind};
use crate::item::{Item, ItemId};
use crate::record::Record;
use crate::snapshot::{self, sync_dir};
use crate::state::TEXT_FILE;
use crate::text::TextIndex;
use crate::vectors::saved_graph;
use crate::wal::SyncPolicy;
use crate::{Error, Result};

mod scan;

use scan::{read_damaged, read_file, read_snapshot, scan_log};

/// What a file was found to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Intact,
    /// A file built from the items (an index) that is missing, stale or damaged: opening the
    /// collection builds it again, and nothing is lost.
    Rebuilt,
    /// Items are lost unless the collection is repaired (or it does not open at all).
    Damaged,
}

/// One file of a collection and what reading it found.
#[derive(Debug, Clone)]
pub struct FileCheck {
    /// The file, relative to the collection's directory.
    pub file: PathBuf,
    pub health: Health,
    /// What was found, in words.
    pub detail: String,
}

/// Every file of a collection, checked.
#[derive(Debug, Clone)]
pub struct Check {
    pub collection: String,
    pub files: Vec<FileCheck>,
}

impl Check {
    /// Whether any file holds damage that loses items.
    pub fn damaged(&self) -> bool {
        self.files.iter().any(|f| f.health == Health::Damaged)
    }

    pub fn to_json(&self) -> serde_json::Value {
        let files: Vec<_> = self
            .files
            .iter()
            .map(|f| json!({"file": f.file, "health": f.health.as_str(), "detail": f.detail}))
            .collect();
        json!({"collection": self.collection, "damaged": self.damaged(), "files": files})
    }
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Intact => "intact",
            Health::Rebuilt => "rebuilt on open",
            Health::Damaged => "damaged",
        }
    }
}

/// A damaged stretch of the log or of a snapshot, and what its bytes still read as.
#[derive(Debug, Clone)]
pub struct Lost {
    /// The file, relative to the collection's directory.
    pub file: PathBuf,
    /// Where the damaged bytes lie in the file as it was.
    pub bytes: Range<u64>,
    /// In the log, the sequence numbers of the intact records on either side (`None` at an
    /// end): every record numbered between them is lost.
    pub between: (Option<u64>, Option<u64>),
    /// The records the damaged bytes still read as, unverified since they failed their
    /// checksum: each one's sequence number and the ids it wrote, and whether each id is in the
    /// collection after the repair (from another write of it that survived).
    pub read_as: Vec<(u64, Vec<(ItemId, bool)>)>,
}

/// What a repair did.
#[derive(Debug, Clone)]
pub struct Repair {
    /// The check before the repair.
    pub before: Check,
    pub lost: Vec<Lost>,
    /// Files rewritten with their intact records, relative to the collection's directory.
    pub rewritten: Vec<PathBuf>,
    /// Files removed for opening to build again (indexes of a rewritten snapshot).
    pub rebuilt: Vec<PathBuf>,
    /// Where the files as they were are kept (`None` when nothing needed repair).
    pub aside: Option<PathBuf>,
    /// Items in the collection once it opened after the repair.
    pub items: usize,
}

impl Repair {
    pub fn to_json(&self) -> serde_json::Value {
        let lost: Vec<_> = self
            .lost
            .iter()
            .map(|l| {
                let read_as: Vec<_> = l
                    .read_as
                    .iter()
                    .map(|(lsn, ids)| {
                        let ids: Vec<_> =
                            ids.iter().map(|(id, present)| json!({"id": id, "present": present})).collect();
                        json!({"lsn": lsn, "ids": ids})
                    })
                    .collect();
                json!({
                    "file": l.file,
                    "bytes": [l.bytes.start, l.bytes.end],
                    "after_lsn": l.between.0,
                    "before_lsn": l.between.1,
                    "read_as": read_as,
                })
            })
            .collect();
        json!({
            "collection": self.before.collection,
            "before": self.before.to_json(),
            "lost": lost,
            "rewritten": self.rewritten,
            "rebuilt": self.rebuilt,
            "aside": self.aside,
            "items": self.items,
        })
    }
}

fn relative(dir: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(dir).unwrap_or(path).to_path_buf()
}

fn read_config(dir: &Path) -> Result<CollectionConfig> {
    let path = dir.join(CONFIG_FILE);
    let text = fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let config: CollectionConfig = serde_json::from_slice(&text).map_err(|source| Error::Config { path, source })?;
    config.validate()?;
    Ok(config)
}

/// Checks every file of the collection in `dir`, changing nothing.
pub(crate) fn check(dir: &Path, name: &str) -> Result<Check> {
    let mut files = Vec::new();
    let config = match read_config(dir) {
        Ok(c) => c,
        Err(e @ (Error::Config { .. } | Error::InvalidSettings(_))) => {
            let detail = format!("{e}; the collection's settings cannot be rebuilt from its items");
            files.push(FileCheck { file: CONFIG_FILE.into(), health: Health::Damaged, detail });
            return Ok(Check { collection: name.to_string(), files });
        }
        Err(e) => return Err(e),
    };
    files.push(FileCheck { file: CONFIG_FILE.into(), health: Health::Intact, detail: "settings read".into() });
    let mut floor = 1;
    for (space, space_dir) in space_layout(&config, dir) {
        let Some((path, bytes, snap)) = read_snapshot(&space_dir)? else {
            continue;
        };
        let problems = snap.problems(bytes.len());
        let lsn = snap.lsn().unwrap_or(0);
        floor = floor.max(lsn + 1);
        if !problems.is_empty() {
            let detail = format!("{}; {} intact items", problems.join("; "), snap.scan.frames.len());
            files.push(FileCheck { file: relative(dir, &path), health: Health::Damaged, detail });
            continue;
        }
        let detail = format!("{} items as of log position {lsn}", snap.scan.frames.len());
        files.push(FileCheck { file: relative(dir, &path), health: Health::Intact, detail });
        let items = snap.into_items();
        files.extend(check_indexes(dir, &space, &space_dir, &items, lsn));
    }
    let path = dir.join(WAL_FILE);
    if let Some(bytes) = read_file(&path)? {
        let log = scan_log(&bytes, floor);
        let records = match (log.frames.first(), log.frames.last()) {
            (Some(a), Some(b)) => format!("{} intact records (log positions {}..={})", log.frames.len(), a.1, b.1),
            _ => "no records".to_string(),
        };
        let mut problems: Vec<String> =
            log.damaged.iter().map(|r| format!("bytes {}..{} are damaged", r.start, r.end)).collect();
        let health = if problems.is_empty() { Health::Intact } else { Health::Damaged };
        if let Some(t) = &log.torn {
            problems.push(format!(
                "a last write cut short at byte {} (a crash interrupted it before it was acknowledged; opening drops it)",
                t.start
            ));
        }
        problems.push(records);
        files.push(FileCheck { file: WAL_FILE.into(), health, detail: problems.join("; ") });
    }
    Ok(Check { collection: name.to_string(), files })
}

/// The saved vector and text indexes of one space whose snapshot holds `items` as of `lsn`.
fn check_indexes(dir: &Path, config: &CollectionConfig, space_dir: &Path, items: &[Item], lsn: u64) -> Vec<FileCheck> {
    let mut out = Vec::new();
    if config.index == IndexKind::Hnsw && !items.is_empty() {
        let path = space_dir.join(INDEX_FILE);
        let flat: Vec<f32> = items.iter().flat_map(|i| i.vector.iter().copied()).collect();
        let (health, detail) = match saved_graph(config, &path, &flat, lsn) {
            Ok(_) => (Health::Intact, format!("the graph of the snapshot's {} items", items.len())),
            Err(why) => (Health::Rebuilt, format!("{why}; opening builds it again from the snapshot")),
        };
        out.push(FileCheck { file: relative(dir, &path), health, detail });
    }
    if let Some(text) = &config.text {
        let path = space_dir.join(TEXT_FILE);
        let (health, detail) = match TextIndex::load(&path, lsn, text, items.len()) {
            Ok(Some(_)) => (Health::Intact, format!("the text of the snapshot's {} items", items.len())),
            Ok(None) => (Health::Rebuilt, "missing or stale; the first text search builds it again".to_string()),
            Err(e) => (Health::Rebuilt, format!("{e}; the first text search builds it again")),
        };
        out.push(FileCheck { file: relative(dir, &path), health, detail });
    }
    out
}

/// Writes `bytes` to a file beside `path`, syncs it and renames it over `path`.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let partial = path.with_extension("repaired.partial");
    let mut file = File::create(&partial).map_err(|e| Error::io(&partial, e))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| Error::io(&partial, e))?;
    fs::rename(&partial, path).map_err(|e| Error::io(path, e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Where the files as they were go before any is rewritten.
struct Aside {
    collection_dir: PathBuf,
    dir: PathBuf,
    made: bool,
}

impl Aside {
    /// Copies `path` into the aside directory (at the same place relative to the collection).
    fn keep(&mut self, path: &Path) -> Result<()> {
        let target = self.dir.join(relative(&self.collection_dir, path));
        let parent = target.parent().unwrap_or(&self.dir).to_path_buf();
        fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        fs::copy(path, &target).map_err(|e| Error::io(&target, e))?;
        File::open(&target).and_then(|f| f.sync_all()).map_err(|e| Error::io(&target, e))?;
        sync_dir(&parent)?;
        self.made = true;
        Ok(())
    }
}

/// Repairs the collection in `dir` (which must not be open): see the module's comment.
pub(crate) fn repair(dir: &Path, name: &str) -> Result<Repair> {
    let before = check(dir, name)?;
    if let Some(f) = before.files.iter().find(|f| f.file == Path::new(CONFIG_FILE) && f.health == Health::Damaged) {
        return Err(Error::Corrupt { path: dir.join(CONFIG_FILE), message: f.detail.clone() });
    }
    let config = read_config(dir)?;
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut aside =
        Aside { collection_dir: dir.to_path_buf(), dir: dir.join(format!("damaged-{seconds}")), made: false };
    let mut lost = Vec::new();
    let mut rewritten = Vec::new();
    let mut rebuilt = Vec::new();
    let mut floor = 1;
    for (_, space_dir) in space_layout(&config, dir) {
        let Some((path, bytes, snap)) = read_snapshot(&space_dir)? else {
            continue;
        };
        let lsn = snap.lsn().unwrap_or(0);
        floor = floor.max(lsn + 1);
        if snap.problems(bytes.len()).is_empty() {
            continue;
        }
        aside.keep(&path)?;
        let file = relative(dir, &path);
        let torn = snap.scan.torn.iter().cloned();
        for r in snap.scan.damaged.iter().cloned().chain(torn) {
            let read_as = read_damaged(&bytes[r.clone()]);
            lost.push(lost_stretch(&file, r, (None, None), read_as));
        }
        let items = snap.into_items();
        snapshot::write(&path, lsn, items.len(), items.into_iter())?;
        rewritten.push(file);
        // The saved indexes were built from the snapshot as it was: opening builds them again.
        for derived in [INDEX_FILE, TEXT_FILE].map(|f| space_dir.join(f)) {
            if derived.exists() {
                aside.keep(&derived)?;
                fs::remove_file(&derived).map_err(|e| Error::io(&derived, e))?;
                rebuilt.push(relative(dir, &derived));
            }
        }
    }
    let path = dir.join(WAL_FILE);
    if let Some(bytes) = read_file(&path)? {
        let log = scan_log(&bytes, floor);
        if !log.damaged.is_empty() || log.torn.is_some() {
            aside.keep(&path)?;
            for r in log.damaged.iter().cloned().chain(log.torn.iter().cloned()) {
                let before_lsn = log.frames.iter().rev().find(|f| f.0.end <= r.start).map(|f| f.1);
                let after_lsn = log.frames.iter().find(|f| f.0.start >= r.end).map(|f| f.1);
                let read_as = read_damaged(&bytes[r.clone()]);
                lost.push(lost_stretch(Path::new(WAL_FILE), r, (before_lsn, after_lsn), read_as));
            }
            let mut clean = Vec::with_capacity(bytes.len());
            for (range, _, _) in &log.frames {
                clean.extend_from_slice(&bytes[range.clone()]);
            }
            replace_file(&path, &clean)?;
            rewritten.push(WAL_FILE.into());
        }
    }
    if aside.made {
        let report = Repair {
            before: before.clone(),
            lost: lost.clone(),
            rewritten: rewritten.clone(),
            rebuilt: rebuilt.clone(),
            aside: Some(aside.dir.clone()),
            items: 0,
        };
        let path = aside.dir.join("repair.json");
        let text = serde_json::to_vec_pretty(&report.to_json()).unwrap_or_default();
        fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    let collection = Collection::open(dir, SyncPolicy::Always)?;
    for stretch in &mut lost {
        for (_, ids) in &mut stretch.read_as {
            for (id, present) in ids.iter_mut() {
                *present = collection.spaces().iter().any(|s| s.get(id).is_some());
            }
        }
    }
    Ok(Repair { before, lost, rewritten, rebuilt, aside: aside.made.then_some(aside.dir), items: collection.count() })
}

/// A lost stretch of `file` and the records it still reads as.
fn lost_stretch(
    file: &Path,
    bytes: Range<usize>,
    between: (Option<u64>, Option<u64>),
    read_as: Vec<(u64, Record)>,
) -> Lost {
    let read_as = read_as
        .into_iter()
        .map(|(lsn, record)| (lsn, record.ids().into_iter().map(|id| (id.clone(), false)).collect()))
        .collect();
    Lost { file: file.to_path_buf(), bytes: bytes.start as u64..bytes.end as u64, between, read_as }
}
