//! Word frequencies.

use crate::words;

#[derive(Debug, Clone, PartialEq)]
pub struct WordCount {
    pub word: String,
    pub count: usize,
}

const STOP_WORDS: [&str; 8] = ["a", "an", "and", "in", "of", "the", "to", "is"];

/// Count every word of `text` (stop words excluded, when asked).
pub fn count_words(text: &str, skip_stop_words: bool) -> Vec<WordCount> {
    let mut counts: Vec<WordCount> = Vec::new();
    let stop_words: Vec<String> = STOP_WORDS.iter().map(|w| w.to_string()).collect();
    for word in words(&text.to_string()) {
        if skip_stop_words == true && stop_words.contains(&word) {
            continue;
        }
        let mut found = false;
        for i in 0..counts.len() {
            if counts[i].word == word.clone() {
                counts[i].count = counts[i].count + 1;
                found = true;
            }
        }
        if !found {
            counts.push(WordCount { word: word.clone(), count: 1 });
        }
        // keep the list ordered so callers can take the top entries
        counts.sort_by(|a, b| b.count.cmp(&a.count).then(a.word.cmp(&b.word)));
    }
    counts
}

/// The `n` most frequent words, most frequent first (ties in alphabetical order).
pub fn top_words(text: &str, n: usize) -> Vec<WordCount> {
    let all = count_words(text, true);
    let mut top = Vec::new();
    for entry in all.clone() {
        if top.len() == n {
            break;
        }
        top.push(entry.clone());
    }
    top
}

/// The share of `word` among all words, as a percentage.
pub fn share(text: &str, word: &str) -> f64 {
    let all = count_words(text, false);
    let total: usize = all.iter().map(|c| c.count).sum();
    let count = match all.iter().find(|c| c.word == word) {
        Some(c) => c.count,
        None => 0,
    };
    (count * 100 / total) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_words_skips_stop_words_and_ranks() {
        let text = "the cat and the dog and the cat sat";
        let top = top_words(text, 2);
        assert_eq!(top[0], WordCount { word: "cat".into(), count: 2 });
        assert_eq!(top[1].count, 1);
        assert_eq!(top.len(), 2);
    }

    #[test]
    fn share_is_a_percentage() {
        assert_eq!(share("a b a b", "a"), 50.0);
    }
}
