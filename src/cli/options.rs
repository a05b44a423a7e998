//! Splitting a command line into words and words into options, as zkCli does.
//!
//! Words: `ZooKeeperMain.MyCommandOptions.parseCommand`'s pattern — a word is a run of
//! non-space characters not starting with a quote, or a `"…"`/`'…'` string whose quotes are
//! dropped; an unmatched quote character is skipped. Options: Apache commons-cli's
//! `DefaultParser` as zkCli's commands use it — options may appear anywhere, short options
//! may be bundled (`-es`), an option's value is the rest of its word (`-v3`) or the next word
//! (whatever it looks like), a negative number is an argument, `--` ends the options.

use std::collections::BTreeMap;

/// Splits a line into words (see the module doc).
pub fn split_words(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            match chars[i + 1..].iter().position(|&d| d == c) {
                Some(len) => {
                    words.push(chars[i + 1..i + 1 + len].iter().collect());
                    i += len + 2;
                }
                // The pattern cannot match at an unmatched quote; the search moves on.
                None => i += 1,
            }
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        words.push(chars[start..i].iter().collect());
    }
    words
}

/// A command's words after option parsing: `args[0]` is the command name, as in zkCli.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub args: Vec<String>,
    /// Options given, with their values (`None` for flags).
    options: BTreeMap<char, Option<String>>,
}

impl Parsed {
    pub fn has(&self, option: char) -> bool {
        self.options.contains_key(&option)
    }

    pub fn value(&self, option: char) -> Option<&str> {
        self.options.get(&option).and_then(|v| v.as_deref())
    }
}

/// Parses `words` (the command name first) against `spec`: each entry is an option letter
/// and whether it takes a value. Errors read as commons-cli's exceptions print.
pub fn parse_options(words: &[String], spec: &[(char, bool)]) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let takes_value = |c: char| spec.iter().find(|(o, _)| *o == c).map(|(_, v)| *v);
    let mut i = 0;
    let mut only_args = false;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        if only_args || i == 1 || !word.starts_with('-') || word.len() == 1 || is_number(word) {
            parsed.args.push(word.clone());
            continue;
        }
        if word == "--" {
            only_args = true;
            continue;
        }
        let letters: Vec<char> = word[1..].chars().collect();
        let mut k = 0;
        while k < letters.len() {
            let letter = letters[k];
            match takes_value(letter) {
                None => {
                    return Err(format!(
                        "org.apache.commons.cli.UnrecognizedOptionException: \
                         Unrecognized option: {word}"
                    ))
                }
                Some(false) => {
                    parsed.options.insert(letter, None);
                    k += 1;
                }
                Some(true) => {
                    let rest: String = letters[k + 1..].iter().collect();
                    let value = if !rest.is_empty() {
                        rest
                    } else if let Some(next) = words.get(i) {
                        i += 1;
                        next.clone()
                    } else {
                        return Err(format!(
                            "org.apache.commons.cli.MissingArgumentException: \
                             Missing argument for option: {letter}"
                        ));
                    };
                    parsed.options.insert(letter, Some(value));
                    break;
                }
            }
        }
    }
    assert!(
        parsed.args.len() <= words.len(),
        "arguments come from the words"
    );
    Ok(parsed)
}

/// commons-cli's `isNegativeNumber` (any number, in fact): such a word is an argument.
fn is_number(word: &str) -> bool {
    word.parse::<f64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn words_split_like_parse_command() {
        assert_eq!(split_words("  ls   -R /  "), words(&["ls", "-R", "/"]));
        assert_eq!(
            split_words("set /a \"hello world\" 'x y'"),
            words(&["set", "/a", "hello world", "x y"])
        );
        assert_eq!(split_words("create /a \"\""), words(&["create", "/a", ""]));
        assert_eq!(split_words("get \"/a"), words(&["get", "/a"]));
        assert_eq!(split_words("set /a b\"c"), words(&["set", "/a", "b\"c"]));
        assert!(split_words("   ").is_empty());
    }

    #[test]
    fn options_parse_like_default_parser() {
        let spec = [('s', false), ('e', false), ('t', true)];
        let p = parse_options(&words(&["create", "-es", "/x", "-t", "10", "d"]), &spec).unwrap();
        assert_eq!(p.args, words(&["create", "/x", "d"]));
        assert!(p.has('e') && p.has('s') && !p.has('c'));
        assert_eq!(p.value('t'), Some("10"));
        let p = parse_options(&words(&["create", "-t5", "/x", "-1"]), &spec).unwrap();
        assert_eq!(p.value('t'), Some("5"));
        assert_eq!(p.args, words(&["create", "/x", "-1"]));
        let p = parse_options(&words(&["set", "--", "/x", "-s"]), &spec).unwrap();
        assert_eq!(p.args, words(&["set", "/x", "-s"]));
        assert!(!p.has('s'));
    }

    #[test]
    fn option_errors_read_as_commons_cli() {
        let spec = [('v', true)];
        assert_eq!(
            parse_options(&words(&["get", "-x", "/a"]), &spec).unwrap_err(),
            "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x"
        );
        assert_eq!(
            parse_options(&words(&["set", "/a", "-v"]), &spec).unwrap_err(),
            "org.apache.commons.cli.MissingArgumentException: Missing argument for option: v"
        );
        // Like commons-cli, a value may look like a path: `set -v /a` leaves no path.
        let p = parse_options(&words(&["set", "-v", "/a"]), &spec).unwrap();
        assert_eq!(p.args, words(&["set"]));
    }
}
