//! The `java.util.Properties` text format, as `Properties.load` reads it (Java 17 `load0` and
//! `loadConvert`), which is how ZooKeeper reads `zoo.cfg`.
//!
//! - Lines end at `\n`, `\r` or `\r\n`. Leading spaces, tabs and form feeds are skipped.
//! - A line whose first non-blank character is `#` or `!` is a comment; comments never continue.
//! - A line ending in an odd number of backslashes continues on the next line, whose leading
//!   blanks are dropped.
//! - The key ends at the first unescaped `=`, `:` or blank. Blanks after it are skipped, then one
//!   `=` or `:` (if the key did not already end at one), then blanks again; the rest is the value.
//! - Escapes `\t \n \r \f \uXXXX` are decoded; any other `\c` means `c` itself.
//!
//! Keys and values are returned trimmed, as `QuorumPeerConfig` trims them. The parser is total
//! except for a malformed `\uXXXX`, which Java also rejects.

/// One `key=value` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    /// 1-based line where the entry starts.
    pub line: usize,
    pub key: String,
    pub value: String,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\x0c'
}

/// Splits into physical lines, remembering each one's 1-based number.
fn physical_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            Some(end) => {
                lines.push(&rest[..end]);
                let skip = if rest[end..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = &rest[end + skip..];
            }
            None => {
                lines.push(rest);
                rest = "";
            }
        }
    }
    lines
}

/// True if `s` ends in an odd number of backslashes, i.e. the line continues.
fn continues(s: &str) -> bool {
    s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Parses Properties text into entries in file order. Err is (line, message).
pub(super) fn parse(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    let lines = physical_lines(text);
    let mut entries = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let start_line = index + 1;
        let first = lines[index].trim_start_matches(is_blank);
        index += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = first.to_string();
        while continues(&logical) {
            logical.pop();
            if index >= lines.len() {
                break;
            }
            logical.push_str(lines[index].trim_start_matches(is_blank));
            index += 1;
        }
        let (key, value) = split_key_value(&logical);
        let key = unescape(key).map_err(|message| (start_line, message))?;
        let value = unescape(value).map_err(|message| (start_line, message))?;
        entries.push(Entry {
            line: start_line,
            key: key.trim().to_string(),
            value: value.trim().to_string(),
        });
    }
    Ok(entries)
}

/// Splits a logical line into its raw (still escaped) key and value.
fn split_key_value(logical: &str) -> (&str, &str) {
    let mut key_end = logical.len();
    let mut value_start = logical.len();
    let mut has_separator = false;
    let mut preceding_backslash = false;
    for (at, c) in logical.char_indices() {
        if !preceding_backslash && (c == '=' || c == ':') {
            key_end = at;
            value_start = at + 1;
            has_separator = true;
            break;
        }
        if !preceding_backslash && is_blank(c) {
            key_end = at;
            value_start = at + c.len_utf8();
            break;
        }
        preceding_backslash = c == '\\' && !preceding_backslash;
    }
    let mut rest = &logical[value_start..];
    loop {
        let trimmed = rest.trim_start_matches(is_blank);
        match trimmed.chars().next() {
            Some(c) if !has_separator && (c == '=' || c == ':') => {
                has_separator = true;
                rest = &trimmed[1..];
            }
            _ => {
                rest = trimmed;
                break;
            }
        }
    }
    (&logical[..key_end], rest)
}

/// Decodes Properties escapes.
fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32);
                match code {
                    Some(decoded) => out.push(decoded),
                    None => return Err(format!("malformed \\uxxxx escape '\\u{hex}'")),
                }
            }
            Some(other) => out.push(other),
            // A lone trailing backslash was a continuation already handled by the caller.
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(usize, String, String)> {
        parse(text)
            .expect("parses")
            .into_iter()
            .map(|e| (e.line, e.key, e.value))
            .collect()
    }

    fn kv(line: usize, key: &str, value: &str) -> (usize, String, String) {
        (line, key.to_string(), value.to_string())
    }

    #[test]
    fn accepts_equals_colon_and_blank_separators() {
        let got = pairs("a=1\nb: 2\nc 3\n  d   =   4  \ne\t:\t5\n");
        assert_eq!(
            got,
            vec![
                kv(1, "a", "1"),
                kv(2, "b", "2"),
                kv(3, "c", "3"),
                kv(4, "d", "4"),
                kv(5, "e", "5")
            ]
        );
    }

    #[test]
    fn skips_comments_and_blank_lines() {
        let got = pairs("# x=1\n! y=2\n\n   \n   # z=3\nk=v # not a comment\n");
        assert_eq!(got, vec![kv(6, "k", "v # not a comment")]);
    }

    #[test]
    fn joins_continuation_lines_and_reports_first_line() {
        let got = pairs("x=1\nlist=a,\\\n     b,\\\r\n  c\ny=2\n");
        assert_eq!(
            got,
            vec![kv(1, "x", "1"), kv(2, "list", "a,b,c"), kv(5, "y", "2")]
        );
    }

    #[test]
    fn even_backslashes_do_not_continue() {
        let got = pairs("a=x\\\\\nb=y\n");
        assert_eq!(got, vec![kv(1, "a", "x\\"), kv(2, "b", "y")]);
    }

    #[test]
    fn comment_lines_never_continue() {
        let got = pairs("# comment \\\nk=v\n");
        assert_eq!(got, vec![kv(2, "k", "v")]);
    }

    #[test]
    fn decodes_escapes_in_keys_and_values() {
        let got = pairs("a\\=b=c\\td\nu=\\u0041\\q\n");
        assert_eq!(got, vec![kv(1, "a=b", "c\td"), kv(2, "u", "Aq")]);
    }

    #[test]
    fn second_separator_belongs_to_the_value() {
        let got = pairs("k = =v\nm : :\nserver.1=h:1:2\n");
        assert_eq!(
            got,
            vec![
                kv(1, "k", "=v"),
                kv(2, "m", ":"),
                kv(3, "server.1", "h:1:2")
            ]
        );
    }

    #[test]
    fn key_without_value_is_empty() {
        assert_eq!(pairs("lonely\n"), vec![kv(1, "lonely", "")]);
    }

    #[test]
    fn handles_cr_only_line_ends() {
        assert_eq!(pairs("a=1\rb=2"), vec![kv(1, "a", "1"), kv(2, "b", "2")]);
    }

    #[test]
    fn malformed_unicode_escape_is_an_error_with_line() {
        let err = parse("ok=1\nbad=\\u12").expect_err("malformed");
        assert_eq!(err.0, 2);
        assert!(err.1.contains("malformed"), "{}", err.1);
    }
}
