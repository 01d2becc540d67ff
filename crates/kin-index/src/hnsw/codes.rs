//! Int8 codes beside the f32 vectors: fitting the quantizer, coding nodes, reading codes.
//!
//! Codes exist only once the quantizer does. It is given up front, or fitted by the insert that
//! brings the stored count to `train_size`, on the vectors stored by then; that insert then codes
//! every stored node. Other inserts code their own node when the quantizer already exists. A node
//! stored while the quantizer is being fitted is coded by one side or the other: each side makes
//! its write (node ready / quantizer set) and then, after a sequentially consistent fence, looks
//! for the other's, so at least one of them sees both. The `CLAIMED` bit makes sure only one
//! thread writes a given code; `CODED`, set after the write, lets readers use it. Until a node is
//! coded, searches compare it with its f32 vector.

use std::sync::atomic::{fence, AtomicI8, AtomicU32, Ordering};
use std::sync::OnceLock;

use super::graph::state;
use super::HnswIndex;
use crate::quantize::Int8Quantizer;
use crate::storage::Segments;

pub(crate) struct CodeStore {
    /// Stored vectors to fit the quantizer on; 0 when it was given.
    train_size: usize,
    quantizer: OnceLock<Int8Quantizer>,
    codes: Segments<AtomicI8>,
    /// `Σ_d (s_d·code_d)²` per node, as f32 bits: the vector's part of an l2 distance.
    terms: Segments<AtomicU32>,
}

impl CodeStore {
    pub(crate) fn new(dim: usize, train_size: usize, quantizer: Option<Int8Quantizer>) -> Self {
        let store =
            CodeStore { train_size, quantizer: OnceLock::new(), codes: Segments::new(dim), terms: Segments::new(1) };
        if let Some(q) = quantizer {
            // A fresh cell is always empty, so this cannot be refused.
            let _ = store.quantizer.set(q);
        }
        store
    }

    pub(crate) fn quantizer(&self) -> Option<&Int8Quantizer> {
        self.quantizer.get()
    }

    pub(crate) fn allocated_bytes(&self) -> usize {
        self.codes.allocated_bytes() + self.terms.allocated_bytes()
    }

    pub(crate) fn train_size(&self) -> usize {
        self.train_size
    }

    /// Installs a quantizer read back from a file; refused when one is already set.
    pub(crate) fn restore_quantizer(&self, quantizer: Int8Quantizer) -> bool {
        self.quantizer.set(quantizer).is_ok()
    }

    /// Writes node `id`'s code and l2 term; the caller owns the node's `CLAIMED` bit.
    pub(crate) fn write(&self, id: u32, code: &[i8], term: f32) {
        for (slot, &c) in self.codes.get_or_alloc(id).iter().zip(code) {
            slot.store(c, Ordering::Relaxed);
        }
        self.terms.get_or_alloc(id)[0].store(term.to_bits(), Ordering::Relaxed);
    }

    fn encode(&self, quantizer: &Int8Quantizer, id: u32, vector: &[AtomicU32]) {
        let term = quantizer.encode_into(vector, self.codes.get_or_alloc(id));
        self.terms.get_or_alloc(id)[0].store(term.to_bits(), Ordering::Relaxed);
    }

    /// Code and l2 term of a node; only for nodes whose `CODED` bit was seen.
    pub(crate) fn get(&self, id: u32) -> Option<(&[AtomicI8], f32)> {
        Some((self.code(id)?, self.term(id)?))
    }

    /// Code of a node; only for nodes whose `CODED` bit was seen.
    #[inline]
    pub(crate) fn code(&self, id: u32) -> Option<&[AtomicI8]> {
        self.codes.get(id)
    }

    /// L2 term of a node; only for nodes whose `CODED` bit was seen.
    #[inline]
    pub(crate) fn term(&self, id: u32) -> Option<f32> {
        Some(f32::from_bits(self.terms.get(id)?[0].load(Ordering::Relaxed)))
    }

    /// Starts loading node `id`'s code (a walk measures it soon).
    #[inline]
    pub(crate) fn prefetch(&self, id: u32) {
        self.codes.prefetch(id, 512);
    }
}

impl HnswIndex {
    /// Called after node `id` became ready, with the stored count it brought about.
    pub(super) fn after_store(&self, id: u32, stored: usize) {
        let Some(codes) = &self.codes else {
            return;
        };
        fence(Ordering::SeqCst);
        if codes.quantizer().is_some() {
            self.code_node(codes, id);
        } else if stored == codes.train_size {
            self.fit_quantizer(codes);
        }
    }

    /// Fits the quantizer on the first `train_size` stored vectors, then codes every stored node.
    fn fit_quantizer(&self, codes: &CodeStore) {
        let bound = self.id_bound();
        let rows = (0..bound)
            .filter(|&id| self.graph.state(id) & state::READY != 0)
            .filter_map(|id| self.vectors.row(id))
            .take(codes.train_size);
        let quantizer = match Int8Quantizer::fit_rows(self.dim, rows) {
            Ok(q) => q,
            Err(error) => {
                tracing::warn!(%error, "int8 quantizer not fitted; searches stay on f32 vectors");
                return;
            }
        };
        if codes.quantizer.set(quantizer).is_err() {
            return;
        }
        fence(Ordering::SeqCst);
        let bound = self.id_bound();
        for id in 0..bound {
            if self.graph.state(id) & state::READY != 0 {
                self.code_node(codes, id);
            }
        }
        tracing::debug!(train_size = codes.train_size, coded = bound, "int8 quantizer fitted and nodes coded");
    }

    /// Codes node `id` unless another thread has taken it on.
    pub(super) fn code_node(&self, codes: &CodeStore, id: u32) {
        let (Some(quantizer), Some(vector)) = (codes.quantizer(), self.vectors.row(id)) else {
            return;
        };
        if self.graph.set_flags(id, state::CLAIMED) & state::CLAIMED != 0 {
            return;
        }
        codes.encode(quantizer, id, vector);
        self.graph.set_flags(id, state::CODED);
    }
}
