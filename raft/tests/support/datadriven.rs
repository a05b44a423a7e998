//! A minimal datadriven runner in the style of etcd-raft's `testdata/*.txt` scripts.
//!
//! A file is a sequence of cases:
//!
//! ```text
//! # comments and blank lines before a case are kept
//! command arg key=value (grouped words)
//! ----
//! expected output, one or more non-blank lines
//! ```
//!
//! Each case's output must match. `REWRITE=1` writes the actual outputs back into the file
//! instead; review that diff like code.

use std::fmt::Write as _;

struct Case {
    preamble: Vec<String>,
    command: String,
    expected: String,
    line: usize,
}

fn parse(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut preamble = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((number, line)) = lines.next() {
        if line.trim().is_empty() || line.starts_with('#') {
            preamble.push(line.to_string());
            continue;
        }
        let command = line.to_string();
        let mut expected = String::new();
        if lines.peek().is_some_and(|(_, l)| *l == "----") {
            lines.next();
            while let Some((_, l)) = lines.peek() {
                if l.trim().is_empty() {
                    break;
                }
                expected.push_str(l);
                expected.push('\n');
                lines.next();
            }
        }
        cases.push(Case {
            preamble: std::mem::take(&mut preamble),
            command,
            expected,
            line: number + 1,
        });
    }
    cases
}

/// Splits a command line into words; a parenthesized group is one word.
pub fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    for c in command.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth -= 1;
                current.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Runs every case of `path` through `run`, which returns the output for one command.
pub fn run_file(path: &str, mut run: impl FnMut(&str) -> String) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let cases = parse(&text);
    let rewrite = std::env::var("REWRITE").is_ok_and(|v| v == "1");
    let mut rewritten = String::new();
    let mut failures = Vec::new();
    for case in &cases {
        let mut actual = run(&case.command);
        if actual.trim().is_empty() {
            actual = "ok\n".to_string();
        }
        if !actual.ends_with('\n') {
            actual.push('\n');
        }
        for line in &case.preamble {
            writeln!(rewritten, "{line}").expect("write to String");
        }
        write!(rewritten, "{}\n----\n{actual}", case.command).expect("write to String");
        if actual != case.expected {
            failures.push(format!(
                "{path}:{}: {}\n--- expected\n{}--- actual\n{}",
                case.line, case.command, case.expected, actual
            ));
        }
    }
    if rewrite {
        std::fs::write(path, rewritten).unwrap_or_else(|e| panic!("write {path}: {e}"));
        return;
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ (REWRITE=1 to accept):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
