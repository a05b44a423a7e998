//! The shell: one session, the line loop, and the commands that are not about znodes
//! (`ZooKeeperMain.processZKCmd`): connect, close, quit, history, redo, printwatches,
//! version, help, and the four-letter words (`srvr`, `ruok`, `mntr`, ... typed as commands,
//! or `4lw WORD`; a bare `stat` is the 4lw, `stat path` the znode command).
//!
//! Input is read by a helper thread, one line at a time, and handed over on a bounded
//! channel; meanwhile the main thread polls the session, so watch notifications print as
//! they arrive and the session is pinged. Invariant: `state` is `Connected` exactly when
//! `client` holds a session that has not failed.
//!
//! Differences from zkCli, on purpose: a one-shot command prints only its own output (no
//! "Connecting to" line or connection event); the prompt is printed only when stdin is a
//! terminal (zkCli without JLine prints none); a lost connection is not re-established by
//! itself (`connect` opens a new session); `addauth` waits for the server's answer;
//! `removewatches` prints no *WatchRemoved events; `version` names ferrokeeper; the quota
//! commands and `reconfig` are not offered.

use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::Duration;

use wire::{event_type, keeper_state};

use super::commands::{self, Env, ZNODE_COMMANDS};
use super::format::{watcher_block, Zone};
use super::options::split_words;
use super::CliError;
use crate::client::Client;

/// Four-letter words the shell sends when typed as a command (ZooKeeper's and ClickHouse
/// Keeper's). `stmk` is left out: it needs a binary argument.
const FOUR_LETTER_WORDS: &[&str] = &[
    "apiv", "clrs", "conf", "cons", "crst", "csnp", "dirs", "dump", "envi", "gtmk", "hash", "isro",
    "lgif", "mntr", "pfev", "rclc", "rcvr", "rqld", "ruok", "srst", "srvr", "stat", "wchc", "wchp",
    "wchs", "ydld",
];

/// The shell's own commands with zkCli's option strings, for the usage text.
const SHELL_COMMANDS: &[(&str, &str)] = &[
    ("close", ""),
    ("connect", "host:port"),
    ("help", ""),
    ("history", ""),
    ("printwatches", "on|off"),
    ("quit", ""),
    ("redo", "cmdno"),
    ("version", ""),
];

/// How often the idle shell looks at the session (notifications, pings).
const IDLE_POLL: Duration = Duration::from_millis(50);

/// Lines kept for `history` and `redo`.
const HISTORY_MAX: usize = 1000;

/// `ZooKeeper.States` as the prompt shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Connected,
    Closed,
    AuthFailed,
    NotConnected,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Connected => "CONNECTED",
            State::Closed => "CLOSED",
            State::AuthFailed => "AUTH_FAILED",
            State::NotConnected => "NOT_CONNECTED",
        }
    }
}

/// What the loop should do after a line.
enum Next {
    Continue,
    Quit,
}

/// The shell's state (see the module doc).
pub struct Shell {
    server: String,
    timeout: Duration,
    client: Option<Client>,
    state: State,
    print_watches: bool,
    /// Lines entered, oldest first; line `i` is command number `first_number + i`.
    history: Vec<String>,
    first_number: usize,
    /// Commands run so far (`ZooKeeperMain.commandCount`), shown in the prompt.
    command_count: usize,
    /// Exit code of the last command.
    exit_code: u8,
}

impl Shell {
    pub fn new(server: &str, timeout: Duration) -> Shell {
        Shell {
            server: server.to_string(),
            timeout,
            client: None,
            state: State::NotConnected,
            print_watches: true,
            history: Vec::new(),
            first_number: 0,
            command_count: 0,
            exit_code: 0,
        }
    }

    /// One-shot mode: connects only if the command needs a session, runs it, closes.
    pub fn run_one(&mut self, words: &[String]) -> u8 {
        assert!(!words.is_empty(), "one-shot mode has a command");
        let needs_session = ZNODE_COMMANDS.iter().any(|c| c.name == words[0]);
        if needs_session {
            if let Err(e) = self.connect() {
                eprintln!("{e}");
                return 1;
            }
        }
        let stdout = io::stdout();
        let stderr = io::stderr();
        let (mut out, mut err) = (stdout.lock(), stderr.lock());
        let code = match self.execute(words, &mut out, &mut err) {
            Ok(_) => 0,
            Err(e) => {
                report(&mut err, &e);
                e.exit_code
            }
        };
        if let Some(client) = self.client.take() {
            if let Err(e) = client.close() {
                log::debug!("closing the session: {e}");
            }
        }
        code
    }

    /// Shell mode: commands from stdin until `quit` or the end of the input.
    pub fn run_lines(&mut self) -> u8 {
        let is_terminal = io::stdin().is_terminal();
        println!("Connecting to {}", self.server);
        let connected = self.connect();
        println!("Welcome to ZooKeeper!");
        match connected {
            Ok(()) => print!(
                "{}",
                watcher_block(keeper_state::SYNC_CONNECTED, event_type::NONE, None)
            ),
            Err(e) => eprintln!("{e}"),
        }
        let lines = spawn_line_reader();
        loop {
            if is_terminal {
                print!("{}", self.prompt());
            }
            if let Err(e) = io::stdout().flush() {
                log::debug!("stdout: {e}");
                break;
            }
            let Some(line) = self.wait_for_line(&lines, is_terminal) else {
                break;
            };
            if let Next::Quit = self.execute_line(&line) {
                break;
            }
        }
        if self.state == State::Connected {
            self.close_session();
        }
        self.exit_code
    }

    fn prompt(&self) -> String {
        format!(
            "[zk: {}({}) {}] ",
            self.server,
            self.state.name(),
            self.command_count
        )
    }

    /// Waits for the next line, printing notifications meanwhile; `None` at end of input.
    fn wait_for_line(&mut self, lines: &Receiver<String>, is_terminal: bool) -> Option<String> {
        loop {
            match lines.try_recv() {
                Ok(line) => return Some(line),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {}
            }
            let live = self.client.as_mut().filter(|c| !c.is_broken());
            match live {
                Some(client) => match client.next_watch_event(IDLE_POLL) {
                    Ok(Some(event)) => {
                        self.print_event(event.state, event.event_type, &event.path);
                        if is_terminal {
                            print!("{}", self.prompt());
                        }
                        if let Err(e) = io::stdout().flush() {
                            log::debug!("stdout: {e}");
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        log::debug!("session lost: {e}");
                        self.state = State::NotConnected;
                    }
                },
                None => match lines.recv_timeout(IDLE_POLL) {
                    Ok(line) => return Some(line),
                    Err(RecvTimeoutError::Disconnected) => return None,
                    Err(RecvTimeoutError::Timeout) => {}
                },
            }
        }
    }

    /// `executeLine`: a non-empty line is recorded, run and counted.
    fn execute_line(&mut self, line: &str) -> Next {
        let words = split_words(line);
        if words.is_empty() {
            return Next::Continue;
        }
        self.remember(line);
        let stdout = io::stdout();
        let stderr = io::stderr();
        let (mut out, mut err) = (stdout.lock(), stderr.lock());
        let next = match self.execute(&words, &mut out, &mut err) {
            Ok(next) => {
                self.exit_code = 0;
                next
            }
            Err(e) => {
                report(&mut err, &e);
                self.exit_code = e.exit_code;
                Next::Continue
            }
        };
        drop((out, err));
        self.command_count += 1;
        self.print_buffered_events();
        next
    }

    fn remember(&mut self, line: &str) {
        self.history.push(line.to_string());
        if self.history.len() > HISTORY_MAX {
            self.history.remove(0);
            self.first_number += 1;
        }
        assert!(self.history.len() <= HISTORY_MAX, "history is bounded");
    }

    fn execute(
        &mut self,
        words: &[String],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<Next, CliError> {
        let name = words[0].as_str();
        match name {
            "quit" => return Ok(Next::Quit),
            "close" => {
                if self.state == State::Connected {
                    self.close_session();
                }
                self.state = State::Closed;
            }
            "connect" => {
                if let Some(server) = words.get(1) {
                    self.server = server.clone();
                }
                if self.state == State::Connected {
                    self.close_session();
                }
                self.connect()?;
                out.write_all(
                    watcher_block(keeper_state::SYNC_CONNECTED, event_type::NONE, None).as_bytes(),
                )?;
            }
            "history" => self.print_history(out)?,
            "redo" => return self.redo(words, out, err),
            "printwatches" => match words.get(1) {
                None => {
                    let on = if self.print_watches { "on" } else { "off" };
                    writeln!(out, "printwatches is {on}")?;
                }
                Some(value) => self.print_watches = value == "on",
            },
            "version" => writeln!(
                out,
                "ZooKeeper CLI version: ferrokeeper {}",
                env!("CARGO_PKG_VERSION")
            )?,
            "help" => out.write_all(usage().as_bytes())?,
            "4lw" => {
                let word = words.get(1).ok_or_else(|| CliError::new("4lw WORD"))?;
                self.four_letter_word(word, out)?;
            }
            "stat" if words.len() == 1 => self.four_letter_word(name, out)?,
            word if FOUR_LETTER_WORDS.contains(&word) && name != "stat" => {
                self.four_letter_word(word, out)?
            }
            _ => return self.znode_command(words, out, err),
        }
        Ok(Next::Continue)
    }

    fn znode_command(
        &mut self,
        words: &[String],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<Next, CliError> {
        if !ZNODE_COMMANDS.iter().any(|c| c.name == words[0]) {
            err.write_all(usage().as_bytes())?;
            return Err(CliError::not_found(&words[0]));
        }
        let auth_failed = self.state == State::AuthFailed;
        let client = match self.client.as_mut() {
            Some(client) if matches!(self.state, State::Connected | State::AuthFailed) => client,
            _ => {
                writeln!(out, "Not connected")?;
                return Ok(Next::Continue);
            }
        };
        let zone: Zone<'_> = &local_zone;
        let mut env = Env {
            client,
            zone,
            out,
            err,
        };
        let result = commands::run(&mut env, words).expect("the command is in ZNODE_COMMANDS");
        if env.client.is_broken() && self.state == State::Connected {
            self.state = State::NotConnected;
        }
        match result {
            Err(e) if e.message.is_empty() => {
                // addauth was refused; the server drops the connection, as in zkCli.
                self.state = State::AuthFailed;
                Err(e)
            }
            Err(mut e) if auth_failed => {
                // zkCli's client, once AUTH_FAILED, fails every call with AuthFailed.
                e.message = e.message.replace("ConnectionLoss", "AuthFailed");
                Err(e)
            }
            other => other.map(|()| Next::Continue),
        }
    }

    fn redo(
        &mut self,
        words: &[String],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<Next, CliError> {
        let number = words
            .get(1)
            .and_then(|text| text.parse::<usize>().ok())
            .filter(|&n| n < self.command_count && n >= self.first_number)
            .ok_or_else(|| CliError::new("Command index out of range"))?;
        let line = self.history[number - self.first_number].clone();
        let redo_words = split_words(&line);
        if redo_words.first().map(String::as_str) == Some("redo") {
            return Err(CliError::new("No redoing redos"));
        }
        // The redone line replaces "redo N" in the history, as zkCli records it.
        if let Some(last) = self.history.last_mut() {
            *last = line;
        }
        self.execute(&redo_words, out, err)
    }

    fn print_history(&self, out: &mut dyn Write) -> Result<(), CliError> {
        let first = self.command_count.saturating_sub(10).max(self.first_number);
        for number in first..=self.command_count {
            if let Some(line) = self.history.get(number - self.first_number) {
                writeln!(out, "{number} - {line}")?;
            }
        }
        Ok(())
    }

    fn four_letter_word(&self, word: &str, out: &mut dyn Write) -> Result<(), CliError> {
        let reply = crate::fourlw::send_four_letter_word(&self.server, word, self.timeout)
            .map_err(|e| CliError::new(format!("{word}: {}: {e}", self.server)))?;
        out.write_all(reply.as_bytes())?;
        if !reply.is_empty() && !reply.ends_with('\n') {
            writeln!(out)?;
        }
        Ok(())
    }

    /// Opens a new session to `self.server`.
    fn connect(&mut self) -> Result<(), CliError> {
        assert!(
            self.state != State::Connected,
            "connect closes the old session first"
        );
        self.client = None;
        self.state = State::NotConnected;
        let client = Client::connect(&self.server, self.timeout)
            .map_err(|e| CliError::new(format!("Unable to connect to {}: {e}", self.server)))?;
        self.client = Some(client);
        self.state = State::Connected;
        assert!(self.client.is_some(), "a connected shell has a session");
        Ok(())
    }

    fn close_session(&mut self) {
        assert_eq!(
            self.state,
            State::Connected,
            "only a live session is closed"
        );
        if let Some(client) = self.client.take() {
            if let Err(e) = client.close() {
                log::debug!("closing the session: {e}");
            }
        }
        self.state = State::Closed;
        print!(
            "{}",
            watcher_block(keeper_state::CLOSED, event_type::NONE, None)
        );
    }

    fn print_buffered_events(&mut self) {
        let mut events = Vec::new();
        if let Some(client) = self.client.as_mut().filter(|c| !c.is_broken()) {
            while let Ok(Some(event)) = client.next_watch_event(Duration::ZERO) {
                events.push(event);
            }
        }
        for event in events {
            self.print_event(event.state, event.event_type, &event.path);
        }
    }

    fn print_event(&self, state: i32, kind: i32, path: &str) {
        if self.print_watches {
            print!("{}", watcher_block(state, kind, Some(path)));
        }
    }
}

/// Writes a command's error to stderr (an already-reported error has no text).
fn report(err: &mut dyn Write, e: &CliError) {
    if e.message.is_empty() {
        return;
    }
    if let Err(write_error) = writeln!(err, "{}", e.message) {
        log::debug!("stderr: {write_error}");
    }
}

/// The local time zone for a moment; UTC if libc cannot tell.
fn local_zone(epoch_secs: i64) -> (i64, String) {
    crate::sys::local_utc_offset(epoch_secs).unwrap_or_else(|_| (0, "UTC".to_string()))
}

/// `ZooKeeperMain.usage`: every command with its options, sorted.
pub fn usage() -> String {
    let mut lines: Vec<(String, String)> = ZNODE_COMMANDS
        .iter()
        .map(|c| (c.name.to_string(), c.usage.to_string()))
        .chain(
            SHELL_COMMANDS
                .iter()
                .map(|(name, usage)| (name.to_string(), usage.to_string())),
        )
        .collect();
    lines.push(("4lw".into(), "WORD".into()));
    lines.sort();
    let mut text = String::from("ferrokeeper cli -server host:port -timeout ms cmd args\n");
    for (name, usage) in lines {
        text.push_str(&format!("\t{name} {usage}\n"));
    }
    text.push_str(&format!(
        "\tfour-letter words: {}\n",
        FOUR_LETTER_WORDS.join(" ")
    ));
    text
}

/// Reads stdin line by line on a helper thread; the channel closes at the end of input.
fn spawn_line_reader() -> Receiver<String> {
    let (sender, receiver) = mpsc::sync_channel(16);
    std::thread::spawn(move || read_lines(&sender));
    receiver
}

fn read_lines(sender: &SyncSender<String>) {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        match input.read_until(b'\n', &mut bytes) {
            Ok(0) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&bytes);
                let line = line.trim_end_matches(['\n', '\r']).to_string();
                if sender.send(line).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::debug!("stdin: {e}");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_lists_every_command_sorted() {
        let text = usage();
        assert!(text.starts_with("ferrokeeper cli -server host:port -timeout ms cmd args\n"));
        assert!(text.contains("\tls [-s] [-w] [-R] path\n"));
        assert!(text.contains("\tquit \n"));
        let names: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.strip_prefix('\t'))
            .filter(|l| !l.starts_with("four-letter"))
            .map(|l| l.split(' ').next().unwrap_or_default())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }

    #[test]
    fn prompt_names_server_state_and_count() {
        let mut shell = Shell::new("127.0.0.1:2181", Duration::from_secs(5));
        assert_eq!(shell.prompt(), "[zk: 127.0.0.1:2181(NOT_CONNECTED) 0] ");
        shell.state = State::Connected;
        shell.command_count = 3;
        assert_eq!(shell.prompt(), "[zk: 127.0.0.1:2181(CONNECTED) 3] ");
    }

    #[test]
    fn local_commands_run_without_a_session() {
        let mut shell = Shell::new("127.0.0.1:1", Duration::from_secs(1));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let words = |line: &str| split_words(line);
        assert!(shell.execute(&words("version"), &mut out, &mut err).is_ok());
        assert!(String::from_utf8_lossy(&out).starts_with("ZooKeeper CLI version: ferrokeeper"));
        out.clear();
        assert!(shell.execute(&words("ls /"), &mut out, &mut err).is_ok());
        assert_eq!(out, b"Not connected\n");
        let e = shell
            .execute(&words("frob"), &mut out, &mut err)
            .err()
            .expect("unknown command");
        assert_eq!(e, CliError::not_found("frob"));
        assert_eq!(e.message, "Command not found: Command not found frob");
        assert!(String::from_utf8_lossy(&err).contains("\tget [-s] [-w] path\n"));
        out.clear();
        shell.remember("printwatches off");
        shell.command_count = 1;
        assert!(shell
            .execute(&words("printwatches off"), &mut out, &mut err)
            .is_ok());
        shell.remember("printwatches");
        assert!(shell
            .execute(&words("printwatches"), &mut out, &mut err)
            .is_ok());
        shell.command_count = 2;
        assert_eq!(out, b"printwatches is off\n");
        out.clear();
        shell.remember("history");
        assert!(shell.execute(&words("history"), &mut out, &mut err).is_ok());
        assert_eq!(
            out,
            b"0 - printwatches off\n1 - printwatches\n2 - history\n"
        );
        let e = shell
            .execute(&words("redo 9"), &mut out, &mut err)
            .err()
            .expect("out of range");
        assert_eq!(e.message, "Command index out of range");
    }
}
