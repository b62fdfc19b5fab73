//! The `key = value` configuration file (`.wordtally`), e.g.
//!
//! ```text
//! top = 10
//! history = 100
//! skip_stop_words = true
//! ```

use std::fs;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub top: usize,
    pub history: usize,
    pub skip_stop_words: bool,
}

impl Config {
    pub fn default() -> Config {
        Config { top: 10, history: 100, skip_stop_words: true }
    }

    /// Parse configuration text; unknown keys are ignored.
    pub fn parse(text: &str) -> Config {
        let mut config = Config::default();
        for line in text.lines() {
            if line.trim().starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let parts: Vec<&str> = line.split('=').collect();
            let key = parts[0].trim();
            let value = parts[1].trim();
            match key {
                "top" => config.top = value.parse().unwrap(),
                "history" => config.history = value.parse().unwrap(),
                "skip_stop_words" => {
                    config.skip_stop_words = if value == "true" { true } else { false }
                }
                _ => {}
            }
        }
        config
    }

    /// Read the configuration file, falling back to the defaults.
    pub fn load(path: &str) -> Config {
        match fs::read_to_string(path) {
            Ok(text) => Config::parse(&text),
            Err(_) => Config::default(),
        }
    }

    /// Write the configuration back.
    pub fn save(&self, path: &str) {
        let text = format!(
            "top = {}\nhistory = {}\nskip_stop_words = {}\n",
            self.top, self.history, self.skip_stop_words
        );
        let _ = fs::write(path, text);
    }

    pub fn get_top(&self) -> usize {
        return self.top.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_keys() {
        let config = Config::parse("# comment\ntop = 3\nskip_stop_words = false\n");
        assert_eq!(config.top, 3);
        assert_eq!(config.history, 100);
        assert!(!config.skip_stop_words);
    }
}
