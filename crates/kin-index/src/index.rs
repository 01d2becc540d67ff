//! What every index answers: the read side shared by [`FlatIndex`](crate::FlatIndex) and
//! [`HnswIndex`](crate::HnswIndex), and the parameters of one search.

use std::fmt;

use kin_core::Metric;

use crate::Result;

/// The beam width used when a search does not name one.
pub const DEFAULT_EF: usize = 64;

/// One search: how many results, how wide a beam, and which ids may be returned.
#[derive(Clone, Copy)]
pub struct SearchParams<'a> {
    /// How many results to return.
    pub k: usize,
    /// Beam width of a graph search (exact indexes ignore it); raised to `k` when smaller.
    pub ef: usize,
    /// Only ids for which this returns true are returned.
    pub filter: Option<&'a dyn Fn(u32) -> bool>,
    /// The caller's estimate of how many ids pass `filter`; a graph index uses it to choose an
    /// exact scan for very selective filters.
    pub matches_estimate: Option<usize>,
}

impl<'a> SearchParams<'a> {
    pub fn new(k: usize) -> Self {
        SearchParams { k, ef: DEFAULT_EF.max(k), filter: None, matches_estimate: None }
    }

    pub fn with_ef(mut self, ef: usize) -> Self {
        self.ef = ef;
        self
    }

    pub fn with_filter(mut self, filter: &'a dyn Fn(u32) -> bool) -> Self {
        self.filter = Some(filter);
        self
    }

    pub fn with_matches_estimate(mut self, matches: usize) -> Self {
        self.matches_estimate = Some(matches);
        self
    }

    /// Whether `id` passes the filter (every id does without one).
    #[inline]
    pub(crate) fn allows(&self, id: u32) -> bool {
        self.filter.is_none_or(|f| f(id))
    }
}

impl fmt::Debug for SearchParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchParams")
            .field("k", &self.k)
            .field("ef", &self.ef)
            .field("filter", &self.filter.map(|_| "Fn(u32) -> bool"))
            .field("matches_estimate", &self.matches_estimate)
            .finish()
    }
}

/// The read side of a vector index.
pub trait VectorIndexRead {
    fn dim(&self) -> usize;
    fn metric(&self) -> Metric;
    /// Live (not deleted) vectors.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Up to `params.k` `(id, distance)` pairs, nearest first.
    fn search_with(&self, query: &[f32], params: &SearchParams<'_>) -> Result<Vec<(u32, f32)>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_and_filter() {
        let even = |id: u32| id.is_multiple_of(2);
        let p = SearchParams::new(10).with_ef(5).with_filter(&even).with_matches_estimate(3);
        assert_eq!((p.k, p.ef, p.matches_estimate), (10, 5, Some(3)));
        assert!(p.allows(4) && !p.allows(5));
        assert!(SearchParams::new(3).allows(5));
        assert_eq!(SearchParams::new(100).ef, 100);
        assert!(format!("{p:?}").contains("Fn(u32)"));
    }
}
