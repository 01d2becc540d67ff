//! Looking models up by name, alias or Hugging Face id.

use crate::card::ModelCard;
use crate::catalog::BUILTIN;
use crate::error::{Error, Result};

/// How many close matches an unknown-model error names at most.
const MAX_SUGGESTIONS: usize = 3;

/// The set of model cards kin can resolve names against.
#[derive(Debug, Clone)]
pub struct Registry {
    cards: Vec<ModelCard>,
}

impl Registry {
    /// The models kin ships cards for.
    pub fn builtin() -> Self {
        Registry { cards: BUILTIN.to_vec() }
    }

    /// A registry of the given cards (tests, or cards from elsewhere).
    pub fn with_cards(cards: Vec<ModelCard>) -> Self {
        Registry { cards }
    }

    pub fn cards(&self) -> &[ModelCard] {
        &self.cards
    }

    /// The card whose name, alias or hub id equals `name`, ignoring case.
    pub fn find(&self, name: &str) -> Option<&ModelCard> {
        let name = name.trim();
        self.cards.iter().find(|card| keys(card).any(|key| key.eq_ignore_ascii_case(name)))
    }

    /// Like [`Registry::find`], but an unknown name is an error naming close matches.
    pub fn get(&self, name: &str) -> Result<&ModelCard> {
        self.find(name).ok_or_else(|| Error::UnknownModel { name: name.to_string(), suggestions: self.suggest(name) })
    }

    /// Names of the cards closest to `name`: by substring, then by edit distance.
    pub fn suggest(&self, name: &str) -> Vec<String> {
        let query = name.trim().to_ascii_lowercase();
        if query.is_empty() {
            return Vec::new();
        }
        let budget = (query.chars().count() / 3).max(2);
        let mut scored: Vec<(usize, &str)> = self
            .cards
            .iter()
            .filter_map(|card| {
                let score = keys(card).map(|key| distance(&query, &key.to_ascii_lowercase())).min()?;
                (score <= budget).then_some((score, card.name))
            })
            .collect();
        scored.sort();
        scored.into_iter().take(MAX_SUGGESTIONS).map(|(_, name)| name.to_string()).collect()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::builtin()
    }
}

/// Every string a card answers to.
fn keys(card: &ModelCard) -> impl Iterator<Item = &'static str> {
    std::iter::once(card.name).chain(card.hub_id).chain(card.aliases.iter().copied())
}

/// How far `query` is from `key`: 0 when `key` contains it (a typed fragment of a name), else
/// the edit distance.
fn distance(query: &str, key: &str) -> usize {
    if query.len() >= 3 && key.contains(query) {
        0
    } else if query.len() >= 5 {
        levenshtein(query, key).min(infix_distance(query, key) + 1)
    } else {
        levenshtein(query, key)
    }
}

/// The edit distance from `query` to the closest stretch of `key` (text before and after that
/// stretch is free), so "mpnet-base-v3" is near "all-mpnet-base-v2".
fn infix_distance(query: &str, key: &str) -> usize {
    edit_distance(query, key, true)
}

/// The number of single-character insertions, deletions and substitutions turning `a` into `b`.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    edit_distance(a, b, false)
}

/// Edit distance from `a` to `b`; with `free_ends`, skipping a prefix and a suffix of `b` costs
/// nothing (`a` is matched against the closest stretch of `b`).
fn edit_distance(a: &str, b: &str, free_ends: bool) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = if free_ends { vec![0; b.len() + 1] } else { (0..=b.len()).collect() };
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb)).min(above + 1).min(row[j] + 1);
            diagonal = above;
        }
    }
    if free_ends {
        row.into_iter().min().unwrap_or(0)
    } else {
        row[b.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
        assert_eq!(levenshtein("flaw", "lawn"), 2);
    }

    #[test]
    fn finds_by_name_alias_and_hub_id_ignoring_case() {
        let reg = Registry::builtin();
        assert_eq!(reg.get("all-minilm-l6-v2").unwrap().name, "all-MiniLM-L6-v2");
        assert_eq!(reg.get("SENTENCE-TRANSFORMERS/all-MiniLM-L6-v2").unwrap().name, "all-MiniLM-L6-v2");
        assert_eq!(reg.get("mpnet").unwrap().dim, 768);
        assert_eq!(reg.get("openai:text-embedding-3-small").unwrap().dim, 1536);
        assert_eq!(reg.get("openai/clip-vit-large-patch14").unwrap().name, "clip-vit-large-patch14");
        assert_eq!(reg.cards().len(), 9);
    }

    #[test]
    fn unknown_name_suggests_close_matches() {
        let reg = Registry::builtin();
        match reg.get("all-MiniLM-L6-v3") {
            Err(Error::UnknownModel { name, suggestions }) => {
                assert_eq!(name, "all-MiniLM-L6-v3");
                assert_eq!(suggestions.first().map(String::as_str), Some("all-MiniLM-L6-v2"));
            }
            other => panic!("expected UnknownModel, got {other:?}"),
        }
        assert_eq!(reg.suggest("whisper-tiny.em"), vec!["whisper-tiny.en".to_string()]);
        let clip = reg.suggest("clip-vit");
        assert!(
            clip.contains(&"clip-vit-base-patch32".to_string()) && clip.contains(&"clip-vit-large-patch14".to_string())
        );
        assert!(reg.suggest("zzzzzzzzzzzz").is_empty());
        let msg = reg.get("mpnet-base").unwrap_err().to_string();
        assert!(msg.contains("all-mpnet-base-v2"), "{msg}");
    }
}
