//! The binary form of one write: an upsert or a delete, with its log sequence number.
//!
//! ```text
//! frame  = len: u32 | crc32(body): u32 | body            (little endian; len = body length)
//! body   = lsn: u64 | op: u8 | payload
//! upsert = id | dim: u32 | dim × f32 | json: u32-len bytes (payload, source, content_hash)
//! delete = id
//! batch  = count: u32 | count × (op: u8 | upsert, delete or space)   (applied whole or not at all)
//! space  = space: u8 | op: u8 | upsert or delete            (op 4: a write to one space of a mixed
//!                                                            collection; ops 1 and 2 write space 0)
//! id     = 0u8 | i64   or   1u8 | u32-len utf-8 bytes
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::item::{Item, ItemId};

/// Largest frame body accepted when reading (a length past this is a torn or corrupt frame).
pub const MAX_BODY: usize = 1 << 30;

/// The fewest bytes a frame takes: its header, a sequence number and an op.
pub const MIN_FRAME: usize = 17;

#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Upsert(Item),
    Delete(ItemId),
    /// Writes that take effect together: one frame, so a crash keeps all of them or none.
    /// Never nested.
    Batch(Vec<Record>),
    /// An upsert or delete in one vector space of a mixed collection (by its place).
    Space(u8, Box<Record>),
}

impl Record {
    /// The writes this record makes, each with its space (0 outside a `Space` record), in order.
    pub fn by_space(self, out: &mut Vec<(usize, Record)>) {
        match self {
            Record::Batch(records) => records.into_iter().for_each(|r| r.by_space(out)),
            Record::Space(space, inner) => out.push((space as usize, *inner)),
            other => out.push((0, other)),
        }
    }

    /// The ids this record writes or deletes, in order.
    pub fn ids(&self) -> Vec<&ItemId> {
        match self {
            Record::Upsert(item) => vec![&item.id],
            Record::Delete(id) => vec![id],
            Record::Batch(records) => records.iter().flat_map(Record::ids).collect(),
            Record::Space(_, inner) => inner.ids(),
        }
    }
}

#[derive(Serialize, Deserialize, Default)]
struct Extras {
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    content_hash: Option<String>,
}

/// What [`encode`] writes for an item with no payload, source or content hash (a vector
/// imported alone): read without parsing it.
const NO_EXTRAS: &[u8] = br#"{"payload":null,"source":null,"content_hash":null}"#;

/// Appends the framed record to `out`.
pub fn encode(lsn: u64, record: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(&lsn.to_le_bytes());
    encode_op(record, out);
    let body_len = out.len() - start - 8;
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&(body_len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn encode_op(record: &Record, out: &mut Vec<u8>) {
    match record {
        Record::Upsert(item) => {
            out.push(1);
            encode_id(&item.id, out);
            out.extend_from_slice(&(item.vector.len() as u32).to_le_bytes());
            for v in &item.vector {
                out.extend_from_slice(&v.to_le_bytes());
            }
            let extras = Extras {
                payload: item.payload.clone(),
                source: item.source.clone(),
                content_hash: item.content_hash.clone(),
            };
            let json = serde_json::to_vec(&extras).unwrap_or_else(|_| b"{}".to_vec());
            out.extend_from_slice(&(json.len() as u32).to_le_bytes());
            out.extend_from_slice(&json);
        }
        Record::Delete(id) => {
            out.push(2);
            encode_id(id, out);
        }
        Record::Batch(records) => {
            out.push(3);
            out.extend_from_slice(&(records.len() as u32).to_le_bytes());
            for r in records {
                encode_op(r, out);
            }
        }
        Record::Space(space, inner) => {
            out.push(4);
            out.push(*space);
            encode_op(inner, out);
        }
    }
}

fn encode_id(id: &ItemId, out: &mut Vec<u8>) {
    match id {
        ItemId::Int(i) => {
            out.push(0);
            out.extend_from_slice(&i.to_le_bytes());
        }
        ItemId::Str(s) => {
            out.push(1);
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// What reading one frame at the start of `buf` found.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A whole, intact record and the bytes it took.
    Record { lsn: u64, record: Record, len: usize },
    /// Fewer bytes than the frame announces: the write was cut short (a torn tail).
    Incomplete,
    /// The bytes are all there but the checksum or the layout is wrong.
    Corrupt(String),
}

pub fn decode(buf: &[u8]) -> Frame {
    if buf.len() < 8 {
        return Frame::Incomplete;
    }
    let len = u32::from_le_bytes(buf[0..4].try_into().unwrap_or_default()) as usize;
    let crc = u32::from_le_bytes(buf[4..8].try_into().unwrap_or_default());
    if len > MAX_BODY {
        return Frame::Corrupt(format!("frame length {len} is out of range"));
    }
    if buf.len() < 8 + len {
        return Frame::Incomplete;
    }
    let body = &buf[8..8 + len];
    if crc32fast::hash(body) != crc {
        return Frame::Corrupt("checksum mismatch".into());
    }
    let mut r = Reader { buf: body, pos: 0, lenient: false };
    match r.body() {
        Some((lsn, record)) if r.pos == body.len() => Frame::Record { lsn, record, len: 8 + len },
        _ => Frame::Corrupt("malformed record".into()),
    }
}

/// The sequence number and record of a frame body that fails its checksum, read as far as its
/// layout allows (an upsert whose payload does not parse comes without it): what a repair
/// reports as lost. Its contents are not to be trusted.
pub fn salvage(body: &[u8]) -> Option<(u64, Record)> {
    let read = |body: &[u8]| {
        let mut r = Reader { buf: body, pos: 0, lenient: true };
        r.body()
    };
    // When the op byte itself was hit, the op that reads the rest whole.
    read(body).or_else(|| {
        let mut copy = body.to_vec();
        (1..=4).find_map(|op| {
            *copy.get_mut(8)? = op;
            read(&copy)
        })
    })
}

/// Where the intact frame nearest after `from` in `bytes` starts, among those whose sequence
/// number `plausible` accepts (given the frame's place); `None` when no intact frame follows.
/// The sequence number is tested first, so that damage is crossed without checksumming every
/// byte after it.
pub fn resync(bytes: &[u8], from: usize, plausible: &dyn Fn(u64, usize) -> bool) -> Option<usize> {
    (from..bytes.len().saturating_sub(MIN_FRAME - 1)).find(|&q| {
        let lsn = u64::from_le_bytes(bytes[q + 8..q + 16].try_into().unwrap_or_default());
        let len = u32::from_le_bytes(bytes[q..q + 4].try_into().unwrap_or_default()) as usize;
        plausible(lsn, q)
            && len >= MIN_FRAME - 8
            && q + 8 + len <= bytes.len()
            && matches!(decode(&bytes[q..]), Frame::Record { .. })
    })
}

/// Where an op is read: a frame's own, inside a batch, or inside a space record (batches and
/// space records do not nest).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    Frame,
    Batch,
    Space,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Reading damaged bytes: an upsert whose payload does not parse keeps its id, without it.
    lenient: bool,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let out = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(out)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn id(&mut self) -> Option<ItemId> {
        match self.take(1)?[0] {
            0 => Some(ItemId::Int(self.u64()? as i64)),
            1 => {
                let n = self.u32()? as usize;
                let lenient = self.lenient;
                let bytes = self.take(n)?;
                match String::from_utf8(bytes.to_vec()) {
                    Ok(s) => Some(ItemId::Str(s)),
                    Err(_) if lenient => Some(ItemId::Str(String::from_utf8_lossy(bytes).into_owned())),
                    Err(_) => None,
                }
            }
            _ => None,
        }
    }

    fn body(&mut self) -> Option<(u64, Record)> {
        let lsn = self.u64()?;
        Some((lsn, self.op(Depth::Frame)?))
    }

    fn op(&mut self, depth: Depth) -> Option<Record> {
        let record = match self.take(1)?[0] {
            1 => {
                let id = self.id()?;
                let dim = self.u32()? as usize;
                let raw = self.take(dim.checked_mul(4)?)?;
                let vector = raw.as_chunks::<4>().0.iter().map(|&b| f32::from_le_bytes(b)).collect();
                let mut n = self.u32()? as usize;
                if self.lenient {
                    n = n.min(self.buf.len() - self.pos);
                }
                let extras = match self.take(n)? {
                    NO_EXTRAS => Extras::default(),
                    json => match serde_json::from_slice(json) {
                        Ok(extras) => extras,
                        Err(_) if self.lenient => Extras::default(),
                        Err(_) => return None,
                    },
                };
                Record::Upsert(Item {
                    id,
                    vector,
                    payload: extras.payload,
                    source: extras.source,
                    content_hash: extras.content_hash,
                })
            }
            2 => Record::Delete(self.id()?),
            3 if depth == Depth::Frame => {
                let n = self.u32()? as usize;
                // Each entry takes at least 6 bytes: a count past what is left is damage.
                if n > (self.buf.len() - self.pos) / 6 {
                    return None;
                }
                let mut records = Vec::with_capacity(n);
                for _ in 0..n {
                    records.push(self.op(Depth::Batch)?);
                }
                Record::Batch(records)
            }
            4 if depth != Depth::Space => {
                let space = self.take(1)?[0];
                match self.op(Depth::Space)? {
                    inner @ (Record::Upsert(_) | Record::Delete(_)) => Record::Space(space, Box::new(inner)),
                    _ => return None,
                }
            }
            _ => return None,
        };
        Some(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(u64, Record)> {
        vec![
            (1, Record::Upsert(Item::new(7, vec![1.0, -2.5]).with_payload(serde_json::json!({"a": {"b": 1}})))),
            (2, Record::Delete(ItemId::from("doc-1"))),
            (
                3,
                Record::Upsert(Item {
                    source: Some("x.txt".into()),
                    content_hash: Some("ab".into()),
                    ..Item::new("é", vec![])
                }),
            ),
            (
                4,
                Record::Batch(vec![
                    Record::Delete(ItemId::from("doc#3")),
                    Record::Upsert(Item::new("doc#0", vec![0.5, 0.25])),
                    Record::Delete(ItemId::Int(-4)),
                ]),
            ),
            (5, Record::Space(2, Box::new(Record::Upsert(Item::new("p.jpg", vec![1.5]))))),
            (
                6,
                Record::Batch(vec![
                    Record::Space(0, Box::new(Record::Delete(ItemId::from("a")))),
                    Record::Space(1, Box::new(Record::Upsert(Item::new("a", vec![0.0, 1.0])))),
                ]),
            ),
        ]
    }

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        for (lsn, r) in sample() {
            encode(lsn, &r, &mut buf);
        }
        let mut pos = 0;
        for (lsn, r) in sample() {
            match decode(&buf[pos..]) {
                Frame::Record { lsn: l, record, len } => {
                    assert_eq!((l, record), (lsn, r));
                    pos += len;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(decode(&buf[pos..]), Frame::Incomplete);
    }

    #[test]
    fn an_item_without_extras_is_read_without_parsing_them() {
        // The bytes `decode` takes as "no extras" are the ones `encode` writes for such an item.
        assert_eq!(serde_json::to_vec(&Extras::default()).ok().as_deref(), Some(NO_EXTRAS));
        let mut buf = Vec::new();
        let plain = Record::Upsert(Item::new("v", vec![0.5]));
        encode(3, &plain, &mut buf);
        assert!(buf.windows(NO_EXTRAS.len()).any(|w| w == NO_EXTRAS));
        assert_eq!(decode(&buf), Frame::Record { lsn: 3, record: plain, len: buf.len() });
    }

    #[test]
    fn torn_and_corrupt_frames_are_told_apart() {
        let mut buf = Vec::new();
        encode(1, &sample()[0].1, &mut buf);
        for cut in 0..buf.len() {
            assert_eq!(decode(&buf[..cut]), Frame::Incomplete, "cut at {cut}");
        }
        for i in 8..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x40;
            assert!(matches!(decode(&bad), Frame::Corrupt(_)), "flip at {i}");
        }
    }
}
