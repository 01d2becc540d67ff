//! `Analyzer`: text to index terms. Unicode words (UAX #29, as Lucene's standard tokenizer
//! cuts them), lower-cased; for a language, its stop words dropped and the rest stemmed: English
//! by Porter's algorithm as Lucene's (and so Elasticsearch's) English analyzer does
//! ([`super::porter`]), the others by their Snowball stemmers. Documents and queries go through
//! the same analyzer.

use std::collections::HashSet;
use std::str::FromStr;

use rust_stemmers::{Algorithm, Stemmer};
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// Longest term kept, in bytes (Lucene's standard tokenizer cuts tokens at 255 characters).
const MAX_TERM_BYTES: usize = 255;

/// The language whose stop words and stemmer a text index uses; `none` lower-cases only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    None,
    #[default]
    English,
    French,
    German,
    Spanish,
    Italian,
    Portuguese,
    Dutch,
    Russian,
}

impl Language {
    pub const ALL: [Language; 9] = [
        Language::None,
        Language::English,
        Language::French,
        Language::German,
        Language::Spanish,
        Language::Italian,
        Language::Portuguese,
        Language::Dutch,
        Language::Russian,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::None => "none",
            Language::English => "english",
            Language::French => "french",
            Language::German => "german",
            Language::Spanish => "spanish",
            Language::Italian => "italian",
            Language::Portuguese => "portuguese",
            Language::Dutch => "dutch",
            Language::Russian => "russian",
        }
    }

    /// The Snowball stemmer of the language; English has its own (Porter's).
    fn algorithm(self) -> Option<Algorithm> {
        Some(match self {
            Language::None | Language::English => return None,
            Language::French => Algorithm::French,
            Language::German => Algorithm::German,
            Language::Spanish => Algorithm::Spanish,
            Language::Italian => Algorithm::Italian,
            Language::Portuguese => Algorithm::Portuguese,
            Language::Dutch => Algorithm::Dutch,
            Language::Russian => Algorithm::Russian,
        })
    }

    /// The stop words Lucene's analyzer for the language drops by default (its short lists).
    fn stop_words(self) -> &'static [&'static str] {
        match self {
            Language::None => &[],
            Language::English => &[
                "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no",
                "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this",
                "to", "was", "will", "with",
            ],
            Language::French => &[
                "au", "aux", "avec", "ce", "ces", "dans", "de", "des", "du", "elle", "en", "et", "eux", "il", "je",
                "la", "le", "les", "leur", "lui", "ma", "mais", "me", "même", "mes", "moi", "mon", "ne", "nos",
                "notre", "nous", "on", "ou", "par", "pas", "pour", "qu", "que", "qui", "sa", "se", "ses", "son", "sur",
                "ta", "te", "tes", "toi", "ton", "tu", "un", "une", "vos", "votre", "vous",
            ],
            Language::German => &[
                "aber", "als", "am", "an", "auch", "auf", "aus", "bei", "bin", "bis", "das", "dass", "dem", "den",
                "der", "des", "die", "doch", "du", "ein", "eine", "einem", "einen", "einer", "eines", "er", "es",
                "für", "hat", "ich", "im", "in", "ist", "mit", "nach", "nicht", "noch", "oder", "sie", "sind", "so",
                "und", "uns", "von", "vor", "war", "wir", "wird", "zu", "zum", "zur",
            ],
            Language::Spanish => &[
                "a", "al", "como", "con", "de", "del", "el", "en", "es", "la", "las", "lo", "los", "más", "no", "o",
                "para", "pero", "por", "que", "se", "su", "sus", "un", "una", "y",
            ],
            Language::Italian => &[
                "a", "al", "che", "con", "da", "del", "della", "di", "e", "è", "il", "in", "la", "le", "lo", "non",
                "per", "si", "su", "un", "una",
            ],
            Language::Portuguese => &[
                "a", "ao", "as", "com", "da", "das", "de", "do", "dos", "e", "em", "na", "no", "nos", "o", "os",
                "para", "por", "que", "se", "um", "uma",
            ],
            Language::Dutch => {
                &["de", "een", "en", "het", "in", "is", "dat", "die", "niet", "op", "te", "van", "voor", "met", "zijn"]
            }
            Language::Russian => &[
                "и", "в", "во", "не", "что", "он", "на", "я", "с", "со", "как", "а", "то", "все", "она", "так", "его",
                "но", "да", "ты", "к", "у", "же", "вы", "за", "бы", "по", "от", "из", "о",
            ],
        }
    }
}

impl FromStr for Language {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.to_ascii_lowercase();
        let s = match s.as_str() {
            "en" => "english",
            "fr" => "french",
            "de" => "german",
            "es" => "spanish",
            "it" => "italian",
            "pt" => "portuguese",
            "nl" => "dutch",
            "ru" => "russian",
            other => other,
        };
        Language::ALL.into_iter().find(|l| l.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Language::ALL.iter().map(|l| l.as_str()).collect();
            format!("unknown language {s:?}; kin's text index knows {}", names.join(", "))
        })
    }
}

pub struct Analyzer {
    stemmer: Option<Stemmer>,
    stop: HashSet<&'static str>,
    english: bool,
    porter: bool,
}

impl Analyzer {
    pub fn new(language: Language, stem: bool, stop_words: bool) -> Self {
        let stop = if stop_words { language.stop_words().iter().copied().collect() } else { HashSet::new() };
        let stemmer = if stem { language.algorithm().map(Stemmer::create) } else { None };
        let english = language == Language::English;
        Analyzer { stemmer, stop, english, porter: english && stem }
    }

    /// Calls `term` for each term of `text`, in order.
    pub fn terms(&self, text: &str, mut term: impl FnMut(&str)) {
        let mut lower = String::new();
        let mut porter = String::new();
        for word in text.unicode_words() {
            lower.clear();
            for c in word.chars() {
                lower.extend(c.to_lowercase());
            }
            let mut w = lower.as_str();
            if self.english {
                // The possessive `'s` goes before stemming, as Lucene's English analyzer does.
                w = w.strip_suffix("'s").or_else(|| w.strip_suffix("’s")).unwrap_or(w);
            }
            if w.is_empty() || self.stop.contains(w) {
                continue;
            }
            let stemmed = match &self.stemmer {
                Some(s) => s.stem(w),
                None if self.porter => {
                    super::porter::stem_into(w, &mut porter);
                    std::borrow::Cow::Borrowed(porter.as_str())
                }
                None => std::borrow::Cow::Borrowed(w),
            };
            let mut t: &str = &stemmed;
            if t.len() > MAX_TERM_BYTES {
                let mut end = MAX_TERM_BYTES;
                while !t.is_char_boundary(end) {
                    end -= 1;
                }
                t = &t[..end];
            }
            term(t);
        }
    }

    /// The terms of `text`, in order.
    pub fn analyze(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.terms(text, |t| out.push(t.to_string()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_drops_stop_words_possessives_and_stems() {
        let a = Analyzer::new(Language::English, true, true);
        assert_eq!(
            a.analyze("The Runners' running in Paris's marathons, 2024-05!"),
            ["runner", "run", "pari", "marathon", "2024", "05"]
        );
        assert_eq!(a.analyze("the and of"), Vec::<String>::new());
    }

    #[test]
    fn none_only_lowercases_unicode_words() {
        let a = Analyzer::new(Language::None, true, true);
        assert_eq!(a.analyze("Ünïcode WORDS, e.g. naïve café"), ["ünïcode", "words", "e.g", "naïve", "café"]);
        assert_eq!(a.analyze("東京 タワー"), ["東", "京", "タワー"]);
    }

    #[test]
    fn languages_parse_by_name_and_code() {
        assert_eq!("EN".parse::<Language>(), Ok(Language::English));
        assert_eq!("german".parse::<Language>(), Ok(Language::German));
        assert!("klingon".parse::<Language>().unwrap_err().contains("english"));
    }
}
