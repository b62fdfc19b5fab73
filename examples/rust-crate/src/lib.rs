//! wordtally: count words in text, keep the most recent lines in a ring buffer, and read a
//! small `key = value` configuration.
//!
//! This crate is an example for muxc's audit workflows: it compiles, its tests pass, and it
//! has deliberate problems in every audit area (see README.md).

pub mod config;
pub mod ring;
pub mod stats;

pub use config::Config;
pub use ring::Ring;
pub use stats::{top_words, WordCount};

/// Split text into lowercase words, dropping punctuation.
pub fn words(text: &String) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let cleaned: String = word
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '\'')
            .collect();
        if cleaned.len() == 0 {
            continue;
        }
        out.push(cleaned.to_lowercase());
    }
    return out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercased_and_cleaned() {
        let text = String::from("Hello, world! Hello again...");
        assert_eq!(words(&text), vec!["hello", "world", "hello", "again"]);
    }
}
