//! `ferrokeeper bench` against a real `ferrokeeper server`: every workload, pipelined, must
//! finish with the requested op count, no errors, no stray notifications, and leave no
//! node behind (a second run finds nothing to clean). The server is killed by a drop guard
//! and every wait is bounded. Comparison with ZooKeeper is `tests/bench_compare.sh`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::free_port;

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

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _removed = std::fs::remove_dir_all(&self.0);
    }
}

fn ruok(port: u16) -> bool {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let Ok(mut s) = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(2)) else {
        return false;
    };
    let _t = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut out = String::new();
    s.write_all(b"ruok").is_ok() && s.read_to_string(&mut out).is_ok() && out == "imok"
}

fn start_server() -> (KillOnDrop, TempDir, u16) {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("fk-bench-smoke-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cfg = dir.join("zoo.cfg");
    let text = format!(
        "tickTime=2000\ndataDir={d}/data\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
         maxClientCnxns=0\n4lw.commands.whitelist=*\n",
        d = dir.display()
    );
    std::fs::write(&cfg, text).expect("config");
    let child = Command::new(BIN)
        .args(["server", "--config"])
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let mut server = KillOnDrop(child);
    let started = Instant::now();
    while !ruok(port) {
        assert!(matches!(server.0.try_wait(), Ok(None)), "the server exited");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server never said imok"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, TempDir(dir), port)
}

/// Runs the bench with `--json` and returns (stdout, stderr).
fn bench(port: u16, args: &[&str]) -> (String, String) {
    let server = format!("127.0.0.1:{port}");
    let out = Command::new(BIN)
        .args(["bench", "--servers", &server, "--json", "--warmup", "0.2"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "bench {args:?} failed:\n{stderr}");
    (stdout, stderr)
}

#[test]
fn every_workload_runs_clean_against_ferrokeeper() {
    let (_server, _dir, port) = start_server();
    for workload in ["create", "mixed", "get", "set", "multi", "watch"] {
        let args = [
            "-w", workload, "-n", "4", "-i", "8", "--ops", "400", "--keys", "20",
        ];
        let (json, _) = bench(port, &args);
        assert!(
            json.contains(&format!("\"workload\":\"{workload}\"")),
            "{json}"
        );
        assert!(json.contains("\"ops\":400,"), "{workload}: {json}");
        assert!(json.contains("\"error_count\":0,"), "{workload}: {json}");
        assert!(
            json.contains("\"unexpected_notifications\":0,"),
            "{workload}: {json}"
        );
    }
    // Everything was cleaned up: a new run deletes no leftovers.
    let (_, stderr) = bench(port, &["-w", "get", "-n", "1", "--ops", "10"]);
    assert!(!stderr.contains("leftover"), "{stderr}");
}

#[test]
fn leftovers_of_an_earlier_run_are_deleted_first() {
    let (_server, _dir, port) = start_server();
    // A run under a deeper root leaves its parent behind; a run at the parent finds the
    // parent (and nothing else) as a leftover and deletes it before it starts.
    bench(
        port,
        &["-w", "create", "-n", "2", "--ops", "50", "--root", "/p/q"],
    );
    let (_, stderr) = bench(
        port,
        &["-w", "get", "-n", "2", "--ops", "50", "--root", "/p"],
    );
    assert!(
        stderr.contains("deleted 1 leftover nodes under /p"),
        "{stderr}"
    );
}
