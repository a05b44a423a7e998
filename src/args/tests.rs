use super::*;

fn run(args: &[&str]) -> Result<Command, ArgError> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    parse(&args)
}

fn error_message(args: &[&str]) -> String {
    run(args).expect_err("should fail").message
}

#[test]
fn top_level_help_and_version() {
    assert_eq!(run(&["--version"]), Ok(Command::Version));
    assert_eq!(run(&["-V"]), Ok(Command::Version));
    let Ok(Command::Help(text)) = run(&["--help"]) else {
        panic!("expected help")
    };
    assert!(text.starts_with("Usage: ferrokeeper"));
    assert!(text.contains("  server     run the server\n"), "{text}");
    assert!(
        text.contains("  4lw        send a four-letter word"),
        "{text}"
    );
    assert!(
        text.contains("  convert    convert a ZooKeeper data directory"),
        "{text}"
    );
    assert!(
        text.contains("  simulate   run the seeded Raft cluster simulator"),
        "{text}"
    );
    assert_eq!(run(&["help"]), Ok(Command::Help(usage())));
    assert_eq!(
        run(&["help", "server"]),
        Ok(Command::Help(SUBCOMMANDS[0].usage.to_string()))
    );
}

#[test]
fn no_subcommand_is_a_usage_error() {
    let err = run(&[]).expect_err("no args");
    assert_eq!(err.message, "no subcommand given");
    assert_eq!(err.usage, usage());
}

#[test]
fn unknown_subcommand_and_flag_are_named() {
    assert_eq!(error_message(&["frob"]), "unknown subcommand 'frob'");
    assert_eq!(error_message(&["--frob"]), "unknown option '--frob'");
    assert_eq!(
        error_message(&["server", "--frob"]),
        "server: unknown option '--frob'"
    );
    let err = run(&["4lw", "-x", "ruok"]).expect_err("bad flag");
    assert_eq!(err.message, "4lw: unknown option '-x'");
    assert!(err.usage.starts_with("Usage: ferrokeeper 4lw"));
    assert!(err
        .to_string()
        .starts_with("4lw: unknown option '-x'\n\nUsage:"));
}

#[test]
fn server_takes_config_flag_or_positional_file() {
    assert_eq!(
        run(&["server"]),
        Ok(Command::Server {
            config: None,
            force_recovery: false
        })
    );
    let expected = Ok(Command::Server {
        config: Some(PathBuf::from("/etc/zoo.cfg")),
        force_recovery: false,
    });
    assert_eq!(
        run(&["server", "--force-recovery", "/etc/zoo.cfg"]),
        Ok(Command::Server {
            config: Some(PathBuf::from("/etc/zoo.cfg")),
            force_recovery: true
        })
    );
    assert_eq!(run(&["server", "--config", "/etc/zoo.cfg"]), expected);
    assert_eq!(run(&["server", "--config=/etc/zoo.cfg"]), expected);
    assert_eq!(run(&["server", "-c", "/etc/zoo.cfg"]), expected);
    assert_eq!(run(&["server", "/etc/zoo.cfg"]), expected);
    assert_eq!(run(&["server", "--", "/etc/zoo.cfg"]), expected);
    assert_eq!(
        error_message(&["server", "--config"]),
        "server: option '--config' needs a value"
    );
    assert_eq!(
        error_message(&["server", "a.cfg", "b.cfg"]),
        "server: more than one configuration file ('b.cfg')"
    );
}

#[test]
fn every_subcommand_supports_help_and_version() {
    for sub in SUBCOMMANDS {
        assert_eq!(
            run(&[sub.name, "--help"]),
            Ok(Command::Help(sub.usage.to_string()))
        );
        assert_eq!(
            run(&[sub.name, "-h"]),
            Ok(Command::Help(sub.usage.to_string()))
        );
        assert_eq!(run(&[sub.name, "--version"]), Ok(Command::Version));
        assert!(sub
            .usage
            .starts_with(&format!("Usage: ferrokeeper {}", sub.name)));
    }
    assert_eq!(
        run(&["server", "--config", "x", "--help"]),
        Ok(Command::Help(SUBCOMMANDS[0].usage.to_string()))
    );
}

#[test]
fn four_lw_defaults_to_localhost_2181() {
    let expected = Command::FourLw {
        server: "127.0.0.1:2181".into(),
        word: "ruok".into(),
    };
    assert_eq!(run(&["4lw", "ruok"]), Ok(expected));
    let expected = Command::FourLw {
        server: "zk1:2182".into(),
        word: "mntr".into(),
    };
    assert_eq!(
        run(&["4lw", "--server", "zk1:2182", "mntr"]),
        Ok(expected.clone())
    );
    assert_eq!(run(&["4lw", "mntr", "--server=zk1:2182"]), Ok(expected));
    let expected = Command::FourLw {
        server: "zk1:2181".into(),
        word: "srvr".into(),
    };
    assert_eq!(run(&["4lw", "-s", "zk1", "srvr"]), Ok(expected));
    let expected = Command::FourLw {
        server: "[::1]:2181".into(),
        word: "srvr".into(),
    };
    assert_eq!(run(&["4lw", "-s", "[::1]", "srvr"]), Ok(expected));
}

#[test]
fn convert_needs_zk_data_and_an_output_or_list() {
    let expected = Command::Convert {
        zk_data: PathBuf::from("/zk"),
        zk_log_dir: None,
        output: Some(PathBuf::from("/out")),
        list: false,
    };
    assert_eq!(
        run(&["convert", "--zk-data", "/zk", "--output", "/out"]),
        Ok(expected.clone())
    );
    assert_eq!(
        run(&["convert", "--zk-data=/zk", "-o", "/out"]),
        Ok(expected)
    );
    let listed = Command::Convert {
        zk_data: PathBuf::from("/zk"),
        zk_log_dir: Some(PathBuf::from("/logs")),
        output: None,
        list: true,
    };
    assert_eq!(
        run(&["convert", "--list", "--zk-data=/zk", "--zk-log-dir=/logs"]),
        Ok(listed)
    );
    assert_eq!(
        error_message(&["convert", "--output", "/out"]),
        "convert: missing --zk-data DIR"
    );
    assert_eq!(
        error_message(&["convert", "--zk-data", "/zk"]),
        "convert: missing --output DIR (or --list)"
    );
    assert_eq!(
        error_message(&["convert", "--zk-data", "/a", "--zk-data", "/b", "--list"]),
        "convert: option '--zk-data' given twice"
    );
    assert_eq!(
        error_message(&["convert", "--zk-data", "/zk", "--list", "extra"]),
        "convert: unexpected argument 'extra'"
    );
}

#[test]
fn bench_parses_every_flag() {
    use crate::bench::{Options, StopAfter, Workload};
    let Ok(Command::Bench { options }) = run(&["bench"]) else {
        panic!("bench with defaults")
    };
    assert_eq!(options, Options::default());
    let args = [
        "bench",
        "-s",
        "a:1,b",
        "--sessions=8",
        "-i",
        "16",
        "-w",
        "watch",
        "--value-size",
        "1024",
        "--ops",
        "5000",
        "--warmup",
        "0.5",
        "--root",
        "/x/y",
        "--keys",
        "7",
        "--json",
    ];
    let Ok(Command::Bench { options }) = run(&args) else {
        panic!("bench with flags")
    };
    assert_eq!(
        options.servers,
        vec!["a:1".to_string(), "b:2181".to_string()]
    );
    assert_eq!((options.sessions, options.in_flight), (8, 16));
    assert_eq!(options.workload, Workload::Watch);
    assert_eq!(options.value_size_bytes, 1024);
    assert_eq!(options.stop_after, StopAfter::Ops(5000));
    assert_eq!(options.warmup, std::time::Duration::from_millis(500));
    assert_eq!(
        (options.root.as_str(), options.keys_per_session),
        ("/x/y", 7)
    );
    assert!(options.json);
    let Ok(Command::Bench { options }) = run(&["bench", "-d", "2.5"]) else {
        panic!("duration")
    };
    assert_eq!(
        options.stop_after,
        StopAfter::Duration(std::time::Duration::from_millis(2500))
    );
}

#[test]
fn bench_rejects_bad_values() {
    assert!(error_message(&["bench", "-w", "read"]).contains("unknown workload 'read'"));
    assert!(error_message(&["bench", "-n", "x"]).contains("whole number"));
    assert!(error_message(&["bench", "-n", "0"]).contains("--sessions"));
    assert!(error_message(&["bench", "-d", "-1"]).contains("needs a value"));
    assert!(error_message(&["bench", "-d", "soon"]).contains("seconds"));
    assert!(error_message(&["bench", "--root", "/"]).contains("--root"));
    assert_eq!(
        error_message(&["bench", "extra"]),
        "bench: unexpected argument 'extra'"
    );
}

#[test]
fn cli_takes_zkcli_options_then_the_command() {
    let cli = |args: &[&str]| match run(args) {
        Ok(Command::Cli { options }) => options,
        other => panic!("expected cli, got {other:?}"),
    };
    let options = cli(&["cli"]);
    assert_eq!(options, crate::cli::Options::default());
    let options = cli(&[
        "cli", "-server", "zk1:2182", "-timeout", "5000", "get", "-s", "/a",
    ]);
    assert_eq!(options.server, "zk1:2182");
    assert_eq!(options.timeout_ms, 5000);
    assert_eq!(options.command, vec!["get", "-s", "/a"]);
    assert_eq!(
        error_message(&["cli", "--server=x", "ls"]),
        "cli: unknown option '--server=x'"
    );
    let options = cli(&["cli", "-server", "a:1,b:2", "--", "set", "/a", "-1"]);
    assert_eq!(options.server, "a:1");
    assert_eq!(options.command, vec!["set", "/a", "-1"]);
    assert_eq!(
        error_message(&["cli", "-timeout", "soon"]),
        "cli: option '-timeout' needs milliseconds, not 'soon'"
    );
    assert_eq!(
        error_message(&["cli", "-server"]),
        "cli: option '-server' needs a value"
    );
    assert_eq!(error_message(&["cli", "-x"]), "cli: unknown option '-x'");
}

#[test]
fn simulate_takes_a_seed_and_knobs() {
    use raft::sim::FaultSet;
    let simulate = |args: &[&str]| match run(args) {
        Ok(Command::Simulate { options }) => options,
        other => panic!("expected simulate, got {other:?}"),
    };
    let options = simulate(&["simulate", "--seed", "17"]);
    assert_eq!(options.sim, raft::sim::Options::new(17));
    assert_eq!(options.steps, crate::simulate::STEPS_DEFAULT);
    let options = simulate(&[
        "simulate",
        "--seed=18446744073709551615",
        "--nodes",
        "7",
        "--steps=50",
        "--faults",
        "crash,partition",
        "--trace",
    ]);
    assert_eq!(options.sim.seed, u64::MAX);
    assert_eq!(options.sim.voters, Some(7));
    assert_eq!(options.steps, 50);
    assert_eq!(
        options.sim.faults,
        FaultSet::parse("partition,crash").expect("valid")
    );
    assert!(options.sim.trace);
    let options = simulate(&["simulate", "--faults", "none", "--seed", "1"]);
    assert_eq!(options.sim.faults, FaultSet::NONE);
}

#[test]
fn simulate_rejects_bad_knobs() {
    assert_eq!(error_message(&["simulate"]), "simulate: missing --seed N");
    assert_eq!(
        error_message(&["simulate", "--seed", "x"]),
        "simulate: option '--seed' needs a whole number, not 'x'"
    );
    assert_eq!(
        error_message(&["simulate", "--seed", "1", "--nodes", "8"]),
        "simulate: option '--nodes' needs 1 to 7 servers, not 8"
    );
    assert!(error_message(&["simulate", "--seed", "1", "--nodes", "0"]).contains("1 to 7"));
    assert!(error_message(&["simulate", "--seed", "1", "--steps", "0"]).contains("--steps"));
    assert!(
        error_message(&["simulate", "--seed", "1", "--faults", "fire"])
            .contains("unknown fault 'fire'")
    );
    assert_eq!(
        error_message(&["simulate", "--seed", "1", "extra"]),
        "simulate: unexpected argument 'extra'"
    );
    assert_eq!(
        error_message(&["simulate", "--seed", "1", "--trace=yes"]),
        "simulate: option '--trace' takes no value"
    );
}

#[test]
fn four_lw_rejects_bad_words_and_servers() {
    assert_eq!(error_message(&["4lw"]), "4lw: missing WORD");
    assert_eq!(
        error_message(&["4lw", "ruokay"]),
        "4lw: 'ruokay' is not a four-letter word (e.g. ruok, srvr)"
    );
    assert_eq!(
        error_message(&["4lw", "ruok", "srvr"]),
        "4lw: unexpected argument 'srvr'"
    );
    assert_eq!(
        error_message(&["4lw", "-s", "h:0", "ruok"]),
        "4lw: 'h:0' is not HOST:PORT"
    );
    assert_eq!(
        error_message(&["4lw", "-s", "h:x", "ruok"]),
        "4lw: 'h:x' is not HOST:PORT"
    );
    assert!(error_message(&["4lw", "-s", "::1", "ruok"]).contains("[ADDRESS]:PORT"));
}
