//! `ferrokeeper simulate` as a user runs it: the same command line prints the same bytes,
//! another seed prints others, a clean run exits 0 with its summary, bad arguments exit 2.
//! (That a violation is reported with its replay line is tested in `src/simulate.rs`, with
//! the library's deliberately broken driver, which the binary does not offer.)

use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokeeper");

fn simulate(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("simulate")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("binary runs")
}

fn stdout_of(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

#[test]
fn the_same_seed_prints_the_same_trace_byte_for_byte() {
    let args = ["--seed", "11", "--steps", "1500", "--trace"];
    let first = simulate(&args);
    let second = simulate(&args);
    assert_eq!(first.status.code(), Some(0), "{}", stderr_of(&first));
    assert_eq!(first.stdout, second.stdout);
    let text = stdout_of(&first);
    assert!(text.lines().count() > 1000, "a short trace:\n{text}");
    for needle in [
        "became candidate at term",
        "became leader at term",
        " Vote last=",
        "VoteResp granted",
        " App prev=",
        "AppResp ok",
        "commit ",
        "client op ",
        "verdict: ok",
    ] {
        assert!(text.contains(needle), "no '{needle}' in the trace");
    }
    // Every trace line carries its step; the summary follows.
    let trace_lines = text.lines().take_while(|l| l.starts_with('['));
    assert!(trace_lines.count() > 1000);
}

#[test]
fn another_seed_prints_another_run() {
    let a = simulate(&["--seed", "11", "--steps", "600", "--trace"]);
    let b = simulate(&["--seed", "12", "--steps", "600", "--trace"]);
    assert_eq!(a.status.code(), Some(0));
    assert_eq!(b.status.code(), Some(0));
    assert_ne!(a.stdout, b.stdout);
}

#[test]
fn naming_the_seeded_knobs_replays_the_same_run() {
    // The replay line spells out --nodes and --faults even when the seed chose them.
    let seeded = simulate(&["--seed", "23", "--steps", "900", "--trace"]);
    let text = stdout_of(&seeded);
    let voters = text
        .lines()
        .next()
        .and_then(|l| l.split(": ").nth(1))
        .and_then(|l| l.split(' ').next())
        .expect("the first line names the voters");
    let named = simulate(&[
        "--seed", "23", "--steps", "900", "--trace", "--nodes", voters, "--faults", "all",
    ]);
    assert_eq!(seeded.stdout, named.stdout);
}

#[test]
fn a_clean_run_exits_0_with_a_summary() {
    let out = simulate(&["--seed", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("seed 3: "), "{text}");
    assert_eq!(lines[1], "steps: 2000");
    assert!(lines[2].starts_with("elections: "), "{text}");
    assert!(lines[2].contains("leaders by term: t"), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("commits: ")), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("messages: ")), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("faults: ")), "{text}");
    assert!(
        lines.last().expect("lines").starts_with("verdict: ok"),
        "{text}"
    );
    assert!(
        !text.contains('['),
        "a summary without --trace has no trace:\n{text}"
    );
}

#[test]
fn knobs_shape_the_run() {
    let out = simulate(&[
        "--seed", "3", "--nodes", "7", "--faults", "none", "--steps", "1000",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert!(text.starts_with("seed 3: 7 voters faults=none "), "{text}");
    assert!(
        text.contains("\nfaults: 0 crashes, 0 restarts, 0 partitions, 0 transfers, 0 membership"),
        "{text}"
    );
    assert!(text.contains(" 0 lost, 0 duplicated, 0 blocked"), "{text}");
    let single = simulate(&["--seed", "3", "--nodes", "1", "--steps", "1000"]);
    assert_eq!(single.status.code(), Some(0), "{}", stderr_of(&single));
    assert!(stdout_of(&single).starts_with("seed 3: 1 voters "));
}

#[test]
fn bad_arguments_exit_2_with_a_message() {
    for (args, message) in [
        (&["--nodes", "3"][..], "simulate: missing --seed N"),
        (
            &["--seed", "1", "--nodes", "9"][..],
            "needs 1 to 7 servers, not 9",
        ),
        (
            &["--seed", "1", "--nodes", "0"][..],
            "needs 1 to 7 servers, not 0",
        ),
        (&["--seed", "-4"][..], "option '--seed' needs a value"),
        (&["--seed", "x"][..], "needs a whole number, not 'x'"),
        (
            &["--seed", "1", "--steps", "0"][..],
            "option '--steps' needs 1 to",
        ),
        (
            &["--seed", "1", "--faults", "drop,fire"][..],
            "unknown fault 'fire'",
        ),
        (
            &["--seed", "1", "--frob"][..],
            "simulate: unknown option '--frob'",
        ),
    ] {
        let out = simulate(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr_of(&out);
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(
            err.contains("Usage: ferrokeeper simulate"),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn help_describes_the_subcommand() {
    let out = simulate(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout_of(&out);
    assert!(
        text.starts_with("Usage: ferrokeeper simulate --seed N"),
        "{text}"
    );
    assert!(text.contains("--faults LIST"), "{text}");
}
