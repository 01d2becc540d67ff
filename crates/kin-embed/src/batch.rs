//! Grouping inputs into batches that waste nothing on padding.
//!
//! Encoders run packed sequences (no padding at all), so a batch is bounded by its token count.
//! Inputs are sorted by length within the window they arrive in, so sequences of one batch have
//! similar lengths and the attention work splits evenly across threads; results are returned in
//! input order by the caller.

/// Default token budget of one forward pass.
pub const DEFAULT_TOKEN_BUDGET: usize = 8192;

/// Splits indices `0..lengths.len()` into batches, longest first, each holding at most
/// `max_items` sequences and at most `token_budget` tokens (a single longer sequence gets a
/// batch of its own).
pub fn plan_batches(lengths: &[usize], token_budget: usize, max_items: usize) -> Vec<Vec<usize>> {
    let max_items = max_items.max(1);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    let mut batches = Vec::new();
    let mut current = Vec::new();
    let mut tokens = 0;
    for i in order {
        if !current.is_empty() && (tokens + lengths[i] > token_budget || current.len() == max_items) {
            batches.push(std::mem::take(&mut current));
            tokens = 0;
        }
        tokens += lengths[i];
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_budget_and_cover_every_input_once() {
        let lengths: Vec<usize> = (0..500).map(|i| 1 + (i * 7919) % 300).collect();
        let batches = plan_batches(&lengths, 1000, 64);
        let mut seen = vec![false; lengths.len()];
        for b in &batches {
            let tokens: usize = b.iter().map(|&i| lengths[i]).sum();
            assert!(b.len() <= 64 && (tokens <= 1000 || b.len() == 1));
            for &i in b {
                assert!(!seen[i]);
                seen[i] = true;
            }
            // Sorted longest first.
            assert!(b.windows(2).all(|w| lengths[w[0]] >= lengths[w[1]]));
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn oversize_and_empty_inputs() {
        assert_eq!(plan_batches(&[5000, 3], 100, 10), vec![vec![0], vec![1]]);
        assert!(plan_batches(&[], 100, 10).is_empty());
    }
}
