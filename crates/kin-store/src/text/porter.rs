//! Porter's English stemmer (1980), as Lucene's `PorterStemFilter` runs it.
//!
//! Elasticsearch's `english` analyzer stems with this algorithm, not with its Snowball successor
//! (Porter2), and BEIR's published BM25 figures were made with that analyzer. The two disagree on
//! about one word in thirty (`cvs`, `his`, `commonly`, `generalized`), so kin's English text index
//! stems as Lucene does, and its tests hold it to Lucene's output on thousands of words.
//!
//! The steps are those of Porter's paper with the two departures of his reference
//! implementation, which Lucene keeps: `-bli` becomes `-ble` (not `-abli` → `-able`) and `-logi`
//! becomes `-log`. Words of one or two letters are left alone. Any character that is not one of
//! `a e i o u` (or a `y` after a consonant) counts as a consonant, digits and accented letters
//! included, and the word is handled as UTF-16 code units as Java handles it.

/// The letters the steps look at, as UTF-16 code units.
const A: u16 = b'a' as u16;
const E: u16 = b'e' as u16;
const I: u16 = b'i' as u16;
const L: u16 = b'l' as u16;
const O: u16 = b'o' as u16;
const S: u16 = b's' as u16;
const T: u16 = b't' as u16;
const U: u16 = b'u' as u16;
const W: u16 = b'w' as u16;
const X: u16 = b'x' as u16;
const Y: u16 = b'y' as u16;
const Z: u16 = b'z' as u16;

/// A word being stemmed: its code units, the end of the current word (`k`, inclusive) and of the
/// stem a matched suffix leaves (`j`).
struct Word {
    b: Vec<u16>,
    k: usize,
    j: usize,
}

impl Word {
    /// Whether `b[i]` is a consonant.
    fn cons(&self, i: usize) -> bool {
        match self.b[i] {
            A | E | I | O | U => false,
            Y => i == 0 || !self.cons(i - 1),
            _ => true,
        }
    }

    /// The number of vowel-consonant sequences in `b[0..=j]` (Porter's m, of `[C](VC)^m[V]`):
    /// how often a consonant follows a vowel. An empty stem has none.
    fn m(&self) -> usize {
        let (mut n, mut after_vowel) = (0, false);
        for i in 0..self.j.wrapping_add(1) {
            let consonant = self.cons(i);
            n += usize::from(consonant && after_vowel);
            after_vowel = !consonant;
        }
        n
    }

    /// Whether `b[0..=j]` holds a vowel (an empty stem holds none).
    fn vowel_in_stem(&self) -> bool {
        (0..self.j.wrapping_add(1)).any(|i| !self.cons(i))
    }

    /// Whether `b[i-1..=i]` is a double consonant.
    fn double_cons(&self, i: usize) -> bool {
        i >= 1 && self.b[i] == self.b[i - 1] && self.cons(i)
    }

    /// Whether `b[i-2..=i]` is consonant-vowel-consonant and the last is not w, x or y.
    fn cvc(&self, i: usize) -> bool {
        if i < 2 || !self.cons(i) || self.cons(i - 1) || !self.cons(i - 2) {
            return false;
        }
        !matches!(self.b[i], W | X | Y)
    }

    /// Whether the word ends in `s`; when it does, `j` is set before the suffix.
    fn ends(&mut self, s: &str) -> bool {
        let l = s.len();
        if l > self.k + 1 {
            return false;
        }
        let start = self.k + 1 - l;
        if !self.b[start..=self.k].iter().zip(s.bytes()).all(|(&c, x)| c == u16::from(x)) {
            return false;
        }
        // `j` may go below the word's start (an empty stem); `m` and the others then see none.
        self.j = start.wrapping_sub(1);
        true
    }

    /// Replaces what follows `j` with `s`.
    fn set_to(&mut self, s: &str) {
        let start = self.j.wrapping_add(1);
        self.b.truncate(start);
        self.b.extend(s.bytes().map(u16::from));
        // An empty replacement leaves `k` on the stem's last unit (`start` ≥ 1 then: m > 0).
        self.k = start + s.len() - 1;
    }

    fn r(&mut self, s: &str) {
        if self.j != usize::MAX && self.m() > 0 {
            self.set_to(s);
        }
    }

    /// Plurals and -ed or -ing.
    fn step1(&mut self) {
        if self.b[self.k] == S {
            if self.ends("sses") {
                self.k -= 2;
            } else if self.ends("ies") {
                self.set_to("i");
            } else if self.b[self.k - 1] != S {
                self.k -= 1;
            }
        }
        if self.ends("eed") {
            if self.j != usize::MAX && self.m() > 0 {
                self.k -= 1;
            }
        } else if (self.ends("ed") || self.ends("ing")) && self.j != usize::MAX && self.vowel_in_stem() {
            self.k = self.j;
            if self.ends("at") {
                self.set_to("ate");
            } else if self.ends("bl") {
                self.set_to("ble");
            } else if self.ends("iz") {
                self.set_to("ize");
            } else if self.double_cons(self.k) {
                let ch = self.b[self.k];
                self.k -= 1;
                if matches!(ch, L | S | Z) {
                    self.k += 1;
                }
            } else {
                self.j = self.k;
                if self.m() == 1 && self.cvc(self.k) {
                    self.set_to("e");
                }
            }
        }
    }

    /// Terminal y to i when the stem has another vowel.
    fn step2(&mut self) {
        if self.ends("y") && self.j != usize::MAX && self.vowel_in_stem() {
            self.b[self.k] = I;
        }
    }

    /// Double suffixes to single ones.
    fn step3(&mut self) {
        if self.k == 0 {
            return;
        }
        let pairs: &[(&str, &str)] = match self.b[self.k - 1] as u8 {
            b'a' => &[("ational", "ate"), ("tional", "tion")],
            b'c' => &[("enci", "ence"), ("anci", "ance")],
            b'e' => &[("izer", "ize")],
            b'l' => &[("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous")],
            b'o' => &[("ization", "ize"), ("ation", "ate"), ("ator", "ate")],
            b's' => &[("alism", "al"), ("iveness", "ive"), ("fulness", "ful"), ("ousness", "ous")],
            b't' => &[("aliti", "al"), ("iviti", "ive"), ("biliti", "ble")],
            b'g' => &[("logi", "log")],
            _ => &[],
        };
        self.replace_first(pairs);
    }

    /// -ic-, -full, -ness and the like.
    fn step4(&mut self) {
        let pairs: &[(&str, &str)] = match self.b[self.k] as u8 {
            b'e' => &[("icate", "ic"), ("ative", ""), ("alize", "al")],
            b'i' => &[("iciti", "ic")],
            b'l' => &[("ical", "ic"), ("ful", "")],
            b's' => &[("ness", "")],
            _ => &[],
        };
        self.replace_first(pairs);
    }

    /// The first of `pairs` whose suffix the word ends in is replaced (when the stem's m > 0).
    fn replace_first(&mut self, pairs: &[(&str, &str)]) {
        if self.b[self.k] > 0x7f || (self.k > 0 && self.b[self.k - 1] > 0x7f) {
            return;
        }
        if let Some(&(_, to)) = pairs.iter().find(|(from, _)| self.ends(from)) {
            self.r(to);
        }
    }

    /// -ant, -ence and the like, in context <c>vcvc<v>.
    fn step5(&mut self) {
        if self.k == 0 || self.b[self.k - 1] > 0x7f {
            return;
        }
        let found = match self.b[self.k - 1] as u8 {
            b'a' => self.ends("al"),
            b'c' => self.ends("ance") || self.ends("ence"),
            b'e' => self.ends("er"),
            b'i' => self.ends("ic"),
            b'l' => self.ends("able") || self.ends("ible"),
            b'n' => self.ends("ant") || self.ends("ement") || self.ends("ment") || self.ends("ent"),
            b'o' => (self.ends("ion") && self.j != usize::MAX && matches!(self.b[self.j], S | T)) || self.ends("ou"),
            b's' => self.ends("ism"),
            b't' => self.ends("ate") || self.ends("iti"),
            b'u' => self.ends("ous"),
            b'v' => self.ends("ive"),
            b'z' => self.ends("ize"),
            _ => false,
        };
        if found && self.j != usize::MAX && self.m() > 1 {
            self.k = self.j;
        }
    }

    /// A final -e when m > 1 (or m = 1 and not cvc), and -ll to -l when m > 1.
    fn step6(&mut self) {
        self.j = self.k;
        if self.b[self.k] == E {
            let a = self.m();
            if a > 1 || (a == 1 && (self.k == 0 || !self.cvc(self.k - 1))) {
                self.k -= 1;
            }
        }
        if self.b[self.k] == L && self.double_cons(self.k) && self.m() > 1 {
            self.k -= 1;
        }
    }
}

/// The Porter stem of `word` (lower-case, as the analyzer hands it over), written into `out`.
pub(crate) fn stem_into(word: &str, out: &mut String) {
    out.clear();
    let b: Vec<u16> = word.encode_utf16().collect();
    if b.len() <= 2 {
        out.push_str(word);
        return;
    }
    let k = b.len() - 1;
    let mut w = Word { b, k, j: 0 };
    w.step1();
    w.step2();
    w.step3();
    w.step4();
    w.step5();
    w.step6();
    w.b.truncate(w.k + 1);
    out.extend(char::decode_utf16(w.b.iter().copied()).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stem(word: &str) -> String {
        let mut out = String::new();
        stem_into(word, &mut out);
        out
    }

    #[test]
    fn the_examples_of_porters_paper() {
        for (word, want) in [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("ties", "ti"),
            ("cats", "cat"),
            ("feed", "feed"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("bled", "bled"),
            ("motoring", "motor"),
            ("sing", "sing"),
            ("conflated", "conflat"),
            ("troubled", "troubl"),
            ("sized", "size"),
            ("hopping", "hop"),
            ("falling", "fall"),
            ("hissing", "hiss"),
            ("filing", "file"),
            ("happy", "happi"),
            ("relational", "relat"),
            ("conditional", "condit"),
            ("digitizer", "digit"),
            ("generalization", "gener"),
            ("hopefulness", "hope"),
            ("electrical", "electr"),
            ("revival", "reviv"),
            ("adjustable", "adjust"),
            ("controlling", "control"),
            ("rolling", "roll"),
            ("as", "as"),
            ("archaeology", "archaeolog"),
        ] {
            assert_eq!(stem(word), want, "{word}");
        }
    }
}
