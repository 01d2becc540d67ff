//! Lucene 8's BM25 arithmetic, so that kin's scores equal Lucene's (and Elasticsearch's) to the
//! last bit: field lengths as its one-byte norms keep them, `idf` and the term score rounded as it
//! rounds them; and one query's scores, kept per thread.

/// Field lengths up to this are kept exactly by Lucene's one-byte norms; longer ones keep four
/// significant bits (`SmallFloat.intToByte4`).
const EXACT_LENGTHS: u32 = 24;

/// The one-byte norm Lucene stores for a field of `len` terms (Java's lengths stop at `i32::MAX`).
pub(super) fn encode_length(len: u32) -> u8 {
    let len = len.min(i32::MAX as u32);
    if len < EXACT_LENGTHS {
        return len as u8;
    }
    let rest = len - EXACT_LENGTHS;
    let bits = u32::BITS - rest.leading_zeros();
    if bits < 4 {
        return (EXACT_LENGTHS + rest) as u8;
    }
    let shift = bits - 4;
    // Three bits below the implicit leading one, then the shift (plus one: 0 is subnormal).
    (EXACT_LENGTHS + (((rest >> shift) & 0x07) | ((shift + 1) << 3))) as u8
}

/// The length BM25 reads back from a norm (`SmallFloat.byte4ToInt`).
pub(super) fn decode_length(norm: u8) -> u32 {
    let n = u32::from(norm);
    if n < EXACT_LENGTHS {
        return n;
    }
    let code = n - EXACT_LENGTHS;
    let (bits, shift) = (code & 0x07, (code >> 3) as i32 - 1);
    EXACT_LENGTHS + if shift < 0 { bits } else { (bits | 0x08) << shift }
}

/// Lucene's BM25 idf, computed in `f64` and kept in `f32` as Lucene keeps it.
pub(super) fn idf(docs: u32, df: u32) -> f32 {
    let (n, df) = (f64::from(docs), f64::from(df));
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln() as f32
}

/// Lucene's BM25 term score, `weight · tf / (tf + norm)` written as Lucene 8 writes it (with
/// `1 / norm` given), so that the `f32` rounding is the same.
pub(super) fn bm25(weight: f32, tf: u32, norm_inverse: f32) -> f32 {
    weight - weight / (1.0 + tf as f32 * norm_inverse)
}

/// One query's scores: per field a score by slot (field by field, so that a term's pass over
/// one field's postings touches one array), every cell zero between queries, and the slots
/// scored so far, each listed once.
#[derive(Default)]
pub(super) struct Scores {
    slots: usize,
    cells: Vec<f64>,
    /// By slot: the query that last scored it (counted modulo 2^16, the marks cleared when
    /// the count wraps).
    marks: Vec<u16>,
    query: u16,
    pub(super) touched: Vec<u32>,
}

impl Scores {
    /// Ready for a query over `slots` slots of `fields` fields.
    fn begin(&mut self, slots: usize, fields: usize) {
        self.slots = slots;
        if self.cells.len() < slots * fields {
            self.cells.resize(slots * fields, 0.0);
        }
        if self.marks.len() < slots {
            self.marks.resize(slots, 0);
        }
        self.query = self.query.wrapping_add(1);
        if self.query == 0 {
            self.marks.fill(0);
            self.query = 1;
        }
        self.touched.clear();
    }

    /// Adds a term's score in field `f` to `slot`, listing the slot the first time.
    #[inline]
    pub(super) fn add(&mut self, slot: u32, f: usize, score: f32) {
        let s = slot as usize;
        if self.marks[s] != self.query {
            self.marks[s] = self.query;
            self.touched.push(slot);
        }
        self.cells[f * self.slots + s] += f64::from(score);
    }

    /// `slot`'s score in field `f`, its cell zeroed for the next query.
    pub(super) fn take(&mut self, slot: u32, f: usize) -> f64 {
        std::mem::take(&mut self.cells[f * self.slots + slot as usize])
    }
}

thread_local! {
    /// Each thread's [`Scores`], kept so that a query does not clear memory for every slot.
    static SCORES: std::cell::Cell<Option<Box<Scores>>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with this thread's scores, begun for `slots` slots of `fields` fields; `f` leaves
/// every cell zero (by taking each touched slot's). A nested call gets fresh scores.
pub(super) fn with_scores<R>(slots: usize, fields: usize, f: impl FnOnce(&mut Scores) -> R) -> R {
    let mut scores = SCORES.with(std::cell::Cell::take).unwrap_or_default();
    scores.begin(slots, fields);
    let out = f(&mut scores);
    SCORES.with(|cell| cell.set(Some(scores)));
    out
}
