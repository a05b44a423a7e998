//! `ferrokeeper cli` against a running `ferrokeeper server`: every command run one-shot
//! (`ferrokeeper cli -server … CMD`), commands piped on stdin, and a session through a
//! pseudo-terminal (util-linux `script`), checking output, error text and exit codes.
//!
//! The expected texts are zkCli's (ZooKeeper 3.8.0, Debian's `zkCli.sh`), captured against a
//! real ZooKeeper started with `/work/shared/tools/zk-ref.sh start-standalone`; the captures
//! are quoted beside the checks. Known differences, by design: a one-shot command prints only
//! its own output (zkCli also prints "Connecting to …" and the SyncConnected event), and
//! `version` names ferrokeeper.
//!
//! Every process is killed by a guard and every wait is bounded.

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{free_port, ServerProcess, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_ferrokeeper");

struct Cli {
    server: String,
}

/// The result of one `ferrokeeper cli` run.
struct Run {
    out: String,
    err: String,
    code: i32,
}

impl Cli {
    fn start(dir: &Path) -> (ServerProcess, Cli) {
        let port = free_port();
        let server = ServerProcess::start(dir, port, "extendedTypesEnabled=true\n");
        let cli = Cli {
            server: format!("127.0.0.1:{port}"),
        };
        (server, cli)
    }

    /// Runs `ferrokeeper cli -server … <line split on spaces>`.
    fn run(&self, line: &str) -> Run {
        let words: Vec<&str> = line.split(' ').collect();
        self.run_words(&words)
    }

    fn run_words(&self, words: &[&str]) -> Run {
        let child = Command::new(BIN)
            .args(["cli", "-server", &self.server, "-timeout", "10000"])
            .args(words)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ferrokeeper cli");
        to_run(wait_bounded(child, Duration::from_secs(30)))
    }

    /// Pipes `input` into the shell and waits for it to exit.
    fn run_piped(&self, input: &str) -> Run {
        let mut child = Command::new(BIN)
            .args(["cli", "-server", &self.server])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ferrokeeper cli");
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(input.as_bytes()).expect("write commands");
        drop(stdin);
        to_run(wait_bounded(child, Duration::from_secs(30)))
    }

    /// Runs a command that must succeed and returns its stdout.
    fn ok(&self, line: &str) -> String {
        let run = self.run(line);
        assert_eq!(
            run.code, 0,
            "`{line}` failed: stdout {:?} stderr {:?}",
            run.out, run.err
        );
        run.out
    }

    /// Runs a command that must fail with exit code 1 and returns its stderr.
    fn fails(&self, line: &str) -> String {
        let run = self.run(line);
        assert_eq!(
            run.code, 1,
            "`{line}`: stdout {:?} stderr {:?}",
            run.out, run.err
        );
        run.err
    }
}

fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _killed = child.kill();
            let output = child.wait_with_output().expect("output of a killed cli");
            panic!(
                "cli did not exit in time; stdout {:?}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("cli output")
}

fn to_run(output: Output) -> Run {
    Run {
        out: String::from_utf8_lossy(&output.stdout).into_owned(),
        err: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code().unwrap_or(-1),
    }
}

/// Checks a `StatPrinter` block line by line; `dates` are checked for Java's
/// `Date.toString()` shape (`Sat Nov 21 13:43:56 UTC 2026`).
fn assert_stat_block(text: &str, data_length: usize, num_children: usize) {
    let lines: Vec<&str> = text.lines().collect();
    let names = [
        "cZxid = 0x",
        "ctime = ",
        "mZxid = 0x",
        "mtime = ",
        "pZxid = 0x",
        "cversion = ",
        "dataVersion = ",
        "aclVersion = ",
        "ephemeralOwner = 0x",
        "dataLength = ",
        "numChildren = ",
    ];
    assert_eq!(lines.len(), names.len(), "stat block: {text:?}");
    for (line, name) in lines.iter().zip(names) {
        assert!(
            line.starts_with(name),
            "{line:?} should start with {name:?}"
        );
    }
    for date in [lines[1], lines[3]] {
        let fields: Vec<&str> = date["ctime = ".len()..].split(' ').collect();
        assert_eq!(fields.len(), 6, "date {date:?}");
        assert_eq!(fields[0].len(), 3, "weekday in {date:?}");
        assert_eq!(fields[1].len(), 3, "month in {date:?}");
        assert_eq!(fields[2].len(), 2, "day in {date:?}");
        assert_eq!(fields[3].len(), 8, "time in {date:?}");
        assert_eq!(fields[5].len(), 4, "year in {date:?}");
    }
    assert_eq!(lines[9], format!("dataLength = {data_length}"));
    assert_eq!(lines[10], format!("numChildren = {num_children}"));
}

#[test]
fn one_shot_znode_commands_print_what_zkcli_prints() {
    let dir = TempDir::new("cli-one-shot");
    let (_server, cli) = Cli::start(&dir.0);

    // zkCli: "Created /a" on stderr, nothing else (besides its connection banner).
    let run = cli.run("create /a hello");
    assert_eq!((run.code, run.out.as_str()), (0, ""));
    assert_eq!(run.err, "Created /a\n");
    assert_eq!(cli.ok("get /a"), "hello\n");
    let out = cli.ok("get -s /a");
    let (data, stat) = out.split_once('\n').expect("data line");
    assert_eq!(data, "hello");
    assert_stat_block(stat, 5, 0);
    assert_stat_block(&cli.ok("stat /a"), 5, 0);

    // Children are sorted; zkCli `ls /` on a fresh server with /a: "[a, zookeeper]".
    assert_eq!(cli.ok("ls /"), "[a, zookeeper]\n");
    let out = cli.ok("ls -s /");
    let (children, stat) = out.split_once('\n').expect("children line");
    assert_eq!(children, "[a, zookeeper]");
    assert_stat_block(stat, 0, 2);
    cli.ok("create /a/b");
    cli.ok("create /a/b/c");
    cli.ok("create /a/d");
    // ZKUtil.visitSubTreeDFS: a level's children before their own children.
    assert_eq!(cli.ok("ls -R /a"), "/a\n/a/b\n/a/d\n/a/b/c\n");
    assert_eq!(cli.ok("getAllChildrenNumber /a"), "3\n");

    // set -s prints the new Stat; set alone prints nothing.
    assert_eq!(cli.ok("set /a world"), "");
    assert_stat_block(&cli.ok("set -s /a again"), 5, 2);
    assert_eq!(cli.ok("get /a"), "again\n");

    // create without data stores null, which get prints as "null".
    cli.ok("create /nodata");
    assert_eq!(cli.ok("get /nodata"), "null\n");
    let run = cli.run_words(&["create", "/spaced", "two words"]);
    assert_eq!(run.code, 0, "{}", run.err);
    assert_eq!(cli.ok("get /spaced"), "two words\n");

    // Sequential, container and TTL nodes.
    let run = cli.run("create -s /seq- x");
    assert_eq!(run.code, 0, "{}", run.err);
    assert!(run.err.starts_with("Created /seq-00000000"), "{}", run.err);
    assert_eq!(cli.run("create -c /container").err, "Created /container\n");
    assert_eq!(cli.run("create -t 60000 /ttl").err, "Created /ttl\n");

    // getAcl: jute's Id.toString then ": perms" (zkCli: "'world,'anyone\n: cdrwa").
    assert_eq!(cli.ok("getAcl /a"), "'world,'anyone\n: cdrwa\n");
    let out = cli.ok("getAcl -s /a");
    assert!(
        out.starts_with("'world,'anyone\n: cdrwa\ncZxid = 0x"),
        "{out}"
    );
    assert_eq!(cli.ok("setAcl /nodata world:anyone:rw"), "");
    assert_eq!(cli.ok("getAcl /nodata"), "'world,'anyone\n: rw\n");
    assert_eq!(cli.ok("setAcl -R /a world:anyone:cdrwa"), "");
    assert_eq!(cli.ok("getAcl /a/b/c"), "'world,'anyone\n: cdrwa\n");

    // delete, deleteall.
    cli.ok("delete /a/d");
    assert_eq!(cli.ok("deleteall /a"), "");
    assert_eq!(cli.fails("get /a"), "Node does not exist: /a\n");

    assert_eq!(cli.ok("sync /"), "Sync is OK\n");
    // A one-shot session owns no ephemerals.
    assert_eq!(cli.ok("getEphemerals"), "[]\n");
    assert_eq!(cli.ok("getEphemerals /"), "[]\n");
    // zkCli: "Auth scheme: User\nip: 127.0.0.1".
    assert_eq!(cli.ok("whoami"), "Auth scheme: User\nip: 127.0.0.1\n");
    assert_eq!(cli.ok("addWatch /nodata"), "");
    assert_eq!(cli.ok("addWatch -m persistent /nodata"), "");
    // A standalone server has an empty /zookeeper/config (zkCli prints an empty line).
    assert_eq!(cli.ok("config"), "\n");
    assert_stat_block(cli.ok("config -s").trim_start_matches('\n'), 0, 0);
}

#[test]
fn one_shot_errors_read_as_zkcli_and_exit_non_zero() {
    let dir = TempDir::new("cli-errors");
    let (_server, cli) = Cli::start(&dir.0);
    cli.ok("create /p x");
    cli.ok("create /p/c");

    // Each line below is what zkCli 3.8 printed on stderr for the same command.
    assert_eq!(cli.fails("get /nope"), "Node does not exist: /nope\n");
    assert_eq!(cli.fails("stat /nope"), "Node does not exist: /nope\n");
    assert_eq!(cli.fails("ls /nope"), "Node does not exist: /nope\n");
    assert_eq!(cli.fails("ls -R /nope"), "Node does not exist: /nope\n");
    assert_eq!(cli.fails("deleteall /nope"), "Node does not exist: /nope\n");
    assert_eq!(
        cli.fails("getAllChildrenNumber /nope"),
        "Node does not exist: /nope\n"
    );
    assert_eq!(cli.fails("create /p"), "Node already exists: /p\n");
    assert_eq!(cli.fails("create /x/y/z"), "Node does not exist: /x/y/z\n");
    assert_eq!(cli.fails("delete /p"), "Node not empty: /p\n");
    assert_eq!(cli.fails("set -v 7 /p x"), "version No is not valid : /p\n");
    assert_eq!(
        cli.fails("delete -v 7 /p/c"),
        "version No is not valid : /p/c\n"
    );
    assert_eq!(
        cli.fails("removewatches /p"),
        "KeeperErrorCode = No such watcher for /p\n"
    );

    // An ACL that locks everyone out: NoAuth.
    cli.ok("create /locked d digest:u:x:cdrwa");
    assert_eq!(
        cli.fails("get /locked"),
        "Insufficient permission : /locked\n"
    );
    assert_eq!(
        cli.fails("getAcl /locked"),
        "Insufficient permission : /locked\n"
    );
    // A bad ACL string: AclParser's warning, then InvalidACL without a path.
    assert_eq!(
        cli.fails("setAcl /p bad"),
        "bad does not have the form scheme:id:perm\nAcl is not valid : null\n"
    );

    // Usage errors print the command's usage; unknown options are commons-cli's text.
    assert_eq!(cli.fails("get"), "get [-s] [-w] path\n");
    assert_eq!(cli.fails("set /p"), "set [-s] [-v version] path data\n");
    assert_eq!(
        cli.fails("get -x /p"),
        "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x\n"
    );
    assert_eq!(
        cli.fails("create -c -e /x"),
        "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.\n"
    );
    assert_eq!(cli.fails("get p"), "Path must start with / character\n");
    assert_eq!(
        cli.fails("addWatch -m bad /p"),
        "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] \
         - default is PERSISTENT_RECURSIVE\n"
    );

    // An unknown command: usage, then zkCli's message, exit code 127.
    let run = cli.run("frob");
    assert_eq!(run.code, 127);
    assert!(
        run.err.contains("\tls [-s] [-w] [-R] path\n"),
        "{}",
        run.err
    );
    assert!(
        run.err
            .ends_with("Command not found: Command not found frob\n"),
        "{}",
        run.err
    );

    // A refused addauth: zkCli's watcher prints AuthFailed.
    let run = cli.run("addauth nosuchscheme x");
    assert_eq!(run.code, 1);
    assert_eq!(
        run.out,
        "\nWATCHER::\n\nWatchedEvent state:AuthFailed type:None path:null\n"
    );

    // No server: a clear message and a failure.
    let nobody = Cli {
        server: format!("127.0.0.1:{}", free_port()),
    };
    let run = nobody.run("ls /");
    assert_eq!(run.code, 1);
    assert!(
        run.err
            .starts_with(&format!("Unable to connect to {}", nobody.server)),
        "{}",
        run.err
    );
}

#[test]
fn four_letter_words_and_local_commands_need_no_session() {
    let dir = TempDir::new("cli-4lw");
    let (_server, cli) = Cli::start(&dir.0);
    assert_eq!(cli.ok("ruok"), "imok\n");
    let srvr = cli.ok("srvr");
    assert!(srvr.contains("\nMode: standalone\n"), "{srvr}");
    assert!(cli.ok("4lw mntr").contains("zk_znode_count"));
    assert!(
        cli.ok("stat").contains("Clients:"),
        "a bare stat is the 4lw"
    );
    assert!(cli
        .ok("version")
        .starts_with("ZooKeeper CLI version: ferrokeeper "));
    assert!(cli.ok("help").contains("\tgetAcl [-s] path\n"));
}

#[test]
fn piped_commands_run_in_order_with_watch_events() {
    let dir = TempDir::new("cli-piped");
    let (_server, cli) = Cli::start(&dir.0);
    let input = "create /w one\nget -w /w\nset /w two\n\nls /nope\ncreate -e /w/eph\n\
                 getEphemerals\naddauth digest u:x\nwhoami\nhistory\nquit\nls /\n";
    let run = cli.run_piped(input);
    // zkCli with JLine disabled (Debian) prints the same text for the same input, its
    // "JLine support is disabled" line aside, and no prompts.
    let expected = format!(
        "Connecting to {}\nWelcome to ZooKeeper!\n\nWATCHER::\n\n\
         WatchedEvent state:SyncConnected type:None path:null\n\
         one\n\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/w\n\
         [/w/eph]\nAuth scheme: User\ndigest: u\nip: 127.0.0.1\n\
         0 - create /w one\n1 - get -w /w\n2 - set /w two\n3 - ls /nope\n\
         4 - create -e /w/eph\n5 - getEphemerals\n6 - addauth digest u:x\n7 - whoami\n\
         8 - history\n\nWATCHER::\n\nWatchedEvent state:Closed type:None path:null\n",
        cli.server
    );
    assert_eq!(run.out, expected);
    assert_eq!(
        run.err,
        "Created /w\nNode does not exist: /nope\nCreated /w/eph\n"
    );
    // The exit code is the last command's (quit after a successful history).
    assert_eq!(run.code, 0);
    // The shell's session is gone, and its ephemeral with it.
    assert_eq!(cli.fails("get /w/eph"), "Node does not exist: /w/eph\n");

    let run = cli.run_piped("get /nope\n");
    assert_eq!(run.code, 1, "end of input: the last command's exit code");
}

/// Reads a child's output on a helper thread and hands it over in chunks.
fn spawn_reader(mut source: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match source.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if sender.send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    receiver
}

/// Collects output until it contains `needle` (or panics after `limit`).
fn wait_for(output: &mpsc::Receiver<Vec<u8>>, seen: &mut String, needle: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !seen.contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no {needle:?} in the terminal output:\n{seen}"
        );
        if let Ok(chunk) = output.recv_timeout(left.min(Duration::from_millis(100))) {
            seen.push_str(&String::from_utf8_lossy(&chunk).replace('\r', ""));
        }
    }
}

#[test]
fn terminal_session_shows_prompts_and_asynchronous_watch_events() {
    let has_script = Command::new("script")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_script {
        assert!(
            std::env::var_os("FERROKEEPER_REQUIRE_INTEROP").is_none(),
            "util-linux `script` is required (FERROKEEPER_REQUIRE_INTEROP is set)"
        );
        eprintln!("SKIPPED: util-linux `script` not found; the pty test needs it");
        return;
    }
    let dir = TempDir::new("cli-pty");
    let (_server, cli) = Cli::start(&dir.0);
    cli.ok("create /t one");
    // `script` runs the shell on a pseudo-terminal, so stdin is a terminal for it.
    let command = format!("{BIN} cli -server {}", cli.server);
    let mut child = Command::new("script")
        .args(["-q", "-f", "-e", "-c", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn script");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let output = spawn_reader(child.stdout.take().expect("piped stdout"));
    let mut guard = KillOnDrop(Some(child));
    let limit = Duration::from_secs(20);
    let mut seen = String::new();
    let prompt = |n: usize| format!("[zk: {}(CONNECTED) {n}] ", cli.server);

    wait_for(&output, &mut seen, &prompt(0), limit);
    assert!(seen.contains("Welcome to ZooKeeper!\n"), "{seen}");
    stdin.write_all(b"get -w /t\n").expect("type");
    wait_for(&output, &mut seen, &format!("one\n{}", prompt(1)), limit);
    // Another client changes the node while the shell waits at its prompt: the event is
    // printed at once, and the prompt again.
    cli.ok("set /t two");
    wait_for(
        &output,
        &mut seen,
        &format!(
            "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/t\n{}",
            prompt(1)
        ),
        limit,
    );
    stdin.write_all(b"stat /nope\n").expect("type");
    wait_for(&output, &mut seen, "Node does not exist: /nope\n", limit);
    wait_for(&output, &mut seen, &prompt(2), limit);
    stdin.write_all(b"close\n").expect("type");
    wait_for(
        &output,
        &mut seen,
        &format!("[zk: {}(CLOSED) 3] ", cli.server),
        limit,
    );
    stdin.write_all(b"ls /\n").expect("type");
    wait_for(&output, &mut seen, "Not connected\n", limit);
    stdin.write_all(b"quit\n").expect("type");
    let child = guard.0.take().expect("the child is still guarded");
    let status = wait_bounded(child, limit).status;
    assert!(status.success(), "{status}\n{seen}");
}

/// Kills `script` (and so, by closing its terminal, the shell) if the test fails early.
struct KillOnDrop(Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _killed = child.kill();
            let _reaped = child.wait();
        }
    }
}
