//! `wordtally FILE [N]`: print the N most frequent words of FILE.

use std::env;
use std::fs;
use std::process;

use wordtally::ring::bytes_as_text;
use wordtally::{top_words, Config, Ring};

fn main() {
    let args: Vec<String> = env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: wordtally FILE [N]");
        process::exit(2);
    }
    let config = Config::load(".wordtally");
    let n: usize = match args.get(2) {
        Some(n) => n.parse().unwrap(),
        None => config.get_top(),
    };
    let bytes = fs::read(&args[1]).unwrap();
    let text = bytes_as_text(&bytes);

    let mut recent = Ring::with_capacity(config.history);
    for line in text.lines() {
        recent.push(line.to_string());
    }

    for entry in top_words(text, n) {
        println!("{:>6} {}", entry.count, entry.word);
    }
    if recent.len() > 0 {
        println!("last line: {}", recent.get(recent.len() - 1).unwrap());
    }
}
