//! Command-line and start-up behaviour of the `ferrokeeper` binary, without Python: flags,
//! config errors, and a server that starts from a zoo.cfg, answers `ruok`/`srvr` on 127.0.0.1
//! and stops on SIGTERM. Every process started here is killed by a drop guard, and every wait
//! is bounded.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{free_port, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokeeper");

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _killed = self.0.kill();
        }
        let _reaped = self.0.wait();
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("binary runs")
}

fn four_letter(port: u16, word: &str) -> String {
    support::four_letter_word(port, word).unwrap_or_default()
}

fn write_config(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let cfg = dir.join("zoo.cfg");
    let text = format!(
        "tickTime=500\ndataDir={d}/data\ndataLogDir={d}/log\nclientPort={port}\n\
         clientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=*\n{extra}",
        d = dir.display()
    );
    std::fs::write(&cfg, text).expect("config can be written");
    cfg
}

fn start(cfg: &Path) -> KillOnDrop {
    KillOnDrop(
        Command::new(BIN)
            .args(["server", "--config"])
            .arg(cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("server starts"),
    )
}

fn wait_serving(port: u16, child: &mut KillOnDrop, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if !matches!(child.0.try_wait(), Ok(None)) {
            return false;
        }
        if four_letter(port, "ruok") == "imok" && four_letter(port, "srvr").contains("Mode: ") {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn version_flag_prints_the_version() {
    let out = run(&["--version"]);
    assert!(out.status.success(), "--version failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(env!("CARGO_PKG_VERSION")),
        "--version printed {text:?}"
    );
}

#[test]
fn server_help_mentions_config() {
    let out = run(&["server", "--help"]);
    assert!(out.status.success(), "server --help failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--config"), "server --help printed {text:?}");
}

#[test]
fn unknown_subcommand_fails() {
    let out = run(&["no-such-subcommand"]);
    assert!(
        !out.status.success(),
        "an unknown subcommand succeeded: {out:?}"
    );
}

#[test]
fn missing_config_file_fails() {
    let out = run(&["server", "--config", "/nonexistent/ferrokeeper/zoo.cfg"]);
    assert!(!out.status.success(), "a missing config succeeded: {out:?}");
}

#[test]
fn bad_config_value_fails_naming_the_key() {
    let dir = TempDir::new("badcfg");
    let cfg = write_config(&dir.0, free_port(), "maxClientCnxns=lots\n");
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["server", "--config"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("server starts"),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("try_wait") {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "server ran with a bad config"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "bad config value accepted");
    let mut err = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        let _n = e.read_to_string(&mut err);
    }
    if let Some(mut o) = child.0.stdout.take() {
        let _n = o.read_to_string(&mut err);
    }
    assert!(
        err.contains("maxClientCnxns"),
        "error does not name the key: {err:?}"
    );
}

#[test]
fn server_starts_from_zoo_cfg_and_answers_four_letter_words() {
    let dir = TempDir::new("start");
    let port = free_port();
    let cfg = write_config(&dir.0, port, "");
    let mut child = start(&cfg);
    assert!(
        wait_serving(port, &mut child, Duration::from_secs(30)),
        "server never served"
    );
    let srvr = four_letter(port, "srvr");
    assert!(srvr.contains("Mode: standalone"), "srvr: {srvr:?}");
    assert!(srvr.contains("Zxid: 0x"), "srvr: {srvr:?}");
    let conf = four_letter(port, "conf");
    assert!(
        conf.contains(&format!("clientPort={port}")),
        "conf: {conf:?}"
    );
    let mntr = four_letter(port, "mntr");
    assert!(
        mntr.contains("zk_server_state\tstandalone"),
        "mntr: {mntr:?}"
    );
    // SIGTERM (through the shell's kill builtin) stops it within a bounded time.
    let pid = child.0.id();
    let _status = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -TERM {pid}"))
        .status();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        if !matches!(child.0.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server still running 15 s after SIGTERM");
}

#[test]
fn four_letter_words_outside_the_whitelist_are_refused() {
    let dir = TempDir::new("wl");
    let port = free_port();
    let cfg = dir.0.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=500\ndataDir={d}/data\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=srvr\n",
            d = dir.0.display()
        ),
    )
    .expect("config written");
    let mut child = start(&cfg);
    let started = Instant::now();
    let mut serving = false;
    while started.elapsed() < Duration::from_secs(30) {
        if four_letter(port, "srvr").contains("Mode: ") {
            serving = true;
            break;
        }
        assert!(matches!(child.0.try_wait(), Ok(None)), "server exited");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(serving, "server never answered srvr");
    // ZooKeeper 3.8: "mntr is not executed because it is not in the whitelist."
    let mntr = four_letter(port, "mntr");
    assert!(
        mntr.contains("is not executed because it is not in the whitelist"),
        "mntr outside the whitelist answered {mntr:?}"
    );
}
