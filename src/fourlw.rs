//! The four-letter words ("4lw") answered on the client port, formatted byte for byte as
//! ZooKeeper 3.8 formats them.
//!
//! Sources: `server/command/*Command.java` (one class per word), `NIOServerCnxn`
//! (`checkFourLetterWord`: a word is recognised only as the first 4 bytes of a connection, before
//! any ConnectRequest), `ServerCnxn.dumpConnectionInfo`, `ServerStats.toString`,
//! `WatchManager.toString/dumpWatches`, `ExpiryQueue.dump`, `DataTree.dumpEphemerals`,
//! `Environment.list` and `MonitorCommand`. The golden strings in the tests were captured from
//! ZooKeeper 3.8.0 with `/work/shared/tools/zk-ref.sh 4lw PORT WORD`.
//!
//! Design: the server fills a plain [`ServerView`] (no references into its state beyond the
//! config) and calls [`answer`]; formatting is pure and never fails. The server writes
//! [`Answer::text`] and closes the connection (as ZooKeeper does after every word), and performs
//! [`Answer::action`] (`crst` and `srst` reset statistics; `stmk` sets the trace mask).
//!
//! Where ZooKeeper iterates a `HashMap`, we print in sorted order, so output is deterministic.

use std::net::SocketAddr;

use crate::config::{Config, Whitelist};

mod client;
mod format;
mod host;

pub use client::send_four_letter_word;
use format::{
    format_cons, format_digests, format_dump, format_environment, format_mntr, format_stat,
    format_wchc, format_wchp, format_wchs,
};
pub use format::{java_double, mntr_standard_lines};
pub use host::{
    collect_environment, dir_size_bytes, max_file_descriptor_count, open_file_descriptor_count,
};

/// ClickHouse Keeper's API versions are cumulative: 1 adds its `FilteredList` request (opcode
/// 500), 2 multiRead, 3 `CheckNotExists`, ... We serve multiRead but not `FilteredList`, so
/// the version whose every feature we serve is 0, `ZOOKEEPER_COMPATIBLE`.
pub const KEEPER_API_VERSION: u8 = 0;

/// ZooKeeper's answer when the server is not serving (e.g. a quorum member without a leader).
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// A recognised four-letter word (ZooKeeper's `FourLetterCommands.cmd2String`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Word {
    Conf,
    Cons,
    Crst,
    Dirs,
    Dump,
    Envi,
    Gtmk,
    Ruok,
    Stmk,
    Srst,
    Srvr,
    Stat,
    Wchc,
    Wchp,
    Wchs,
    Mntr,
    Isro,
    Hash,
    /// ClickHouse Keeper's `csnp`: schedule a snapshot; answers the log index it will hold.
    Csnp,
    /// ClickHouse Keeper's `lgif`: the log's first and last entries, commit and snapshot.
    Lgif,
    /// ClickHouse Keeper's `apiv`: the Keeper API version served (see [`KEEPER_API_VERSION`]).
    Apiv,
    /// ClickHouse Keeper's `clrs`: release memory held for later use; answers "ok".
    Clrs,
    /// ClickHouse Keeper's `rclc`: recalculate the tree's figures from scratch; "ok" when they
    /// agree with the maintained ones.
    Rclc,
    /// ClickHouse Keeper's `pfev`: one `name\tvalue\tdescription` line per counter.
    Pfev,
    /// ClickHouse Keeper's `rqld`: this server asks the leader to hand leadership to it.
    Rqld,
    /// ClickHouse Keeper's `ydld`: the leader hands leadership to its most caught-up voter.
    Ydld,
    /// ClickHouse Keeper's `rcvr`: enter recovery mode after a lost quorum; answers "ok".
    Rcvr,
    /// The bytes telnet sends when it closes (`0xfff4fffd`); answered with silence.
    TelnetClose,
}

const WORDS: &[(Word, &[u8; 4], &str)] = &[
    (Word::Conf, b"conf", "conf"),
    (Word::Cons, b"cons", "cons"),
    (Word::Crst, b"crst", "crst"),
    (Word::Dirs, b"dirs", "dirs"),
    (Word::Dump, b"dump", "dump"),
    (Word::Envi, b"envi", "envi"),
    (Word::Gtmk, b"gtmk", "gtmk"),
    (Word::Ruok, b"ruok", "ruok"),
    (Word::Stmk, b"stmk", "stmk"),
    (Word::Srst, b"srst", "srst"),
    (Word::Srvr, b"srvr", "srvr"),
    (Word::Stat, b"stat", "stat"),
    (Word::Wchc, b"wchc", "wchc"),
    (Word::Wchp, b"wchp", "wchp"),
    (Word::Wchs, b"wchs", "wchs"),
    (Word::Mntr, b"mntr", "mntr"),
    (Word::Isro, b"isro", "isro"),
    (Word::Hash, b"hash", "hash"),
    (Word::Csnp, b"csnp", "csnp"),
    (Word::Lgif, b"lgif", "lgif"),
    (Word::Apiv, b"apiv", "apiv"),
    (Word::Clrs, b"clrs", "clrs"),
    (Word::Rclc, b"rclc", "rclc"),
    (Word::Pfev, b"pfev", "pfev"),
    (Word::Rqld, b"rqld", "rqld"),
    (Word::Ydld, b"ydld", "ydld"),
    (Word::Rcvr, b"rcvr", "rcvr"),
    (Word::TelnetClose, &[0xff, 0xf4, 0xff, 0xfd], "telnet close"),
];

impl Word {
    /// The word in the first 4 bytes of a new connection, if they are one.
    pub fn from_bytes(first4: &[u8; 4]) -> Option<Word> {
        WORDS
            .iter()
            .find(|(_, bytes, _)| *bytes == first4)
            .map(|(word, _, _)| *word)
    }

    /// ZooKeeper's name for the word (as used in the whitelist and in messages).
    pub fn as_str(self) -> &'static str {
        match self {
            Word::Conf => "conf",
            Word::Cons => "cons",
            Word::Crst => "crst",
            Word::Dirs => "dirs",
            Word::Dump => "dump",
            Word::Envi => "envi",
            Word::Gtmk => "gtmk",
            Word::Ruok => "ruok",
            Word::Stmk => "stmk",
            Word::Srst => "srst",
            Word::Srvr => "srvr",
            Word::Stat => "stat",
            Word::Wchc => "wchc",
            Word::Wchp => "wchp",
            Word::Wchs => "wchs",
            Word::Mntr => "mntr",
            Word::Isro => "isro",
            Word::Hash => "hash",
            Word::Csnp => "csnp",
            Word::Lgif => "lgif",
            Word::Apiv => "apiv",
            Word::Clrs => "clrs",
            Word::Rclc => "rclc",
            Word::Pfev => "pfev",
            Word::Rqld => "rqld",
            Word::Ydld => "ydld",
            Word::Rcvr => "rcvr",
            Word::TelnetClose => "telnet close",
        }
    }
}

/// True if a connection's first 4 bytes are a four-letter word rather than the length prefix of
/// a ConnectRequest. Every word read as a big-endian i32 is negative or above any allowed
/// `jute.maxbuffer`, so the two never collide (as in `NIOServerCnxn.readLength`).
pub fn is_four_letter_word(first4: &[u8; 4]) -> bool {
    Word::from_bytes(first4).is_some()
}

/// `stmk` is followed by an 8-byte big-endian trace mask the server must read before answering
/// with [`answer_set_trace_mask`].
pub const STMK_ARGUMENT_BYTES: usize = 8;

/// What the server must do besides writing the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    None,
    /// `crst`: for every connection, reset packets received/sent, latency stats, last op to
    /// "NA", last cxid to none, last zxid to -1, last response time and last latency to 0
    /// (`ServerCnxn.resetStats`).
    ResetConnectionStats,
    /// `srst`: reset the server's latency stats, packets received/sent and client response
    /// sizes (`ServerStats.reset`); also the leader's proposal sizes.
    ResetServerStats,
    /// `stmk`: set the trace mask to this value.
    SetTraceMask(i64),
    /// `csnp`: take a snapshot holding at least `last_processed_zxid`.
    CreateSnapshot,
}

/// What `rclc` found: the figures the tree keeps up to date on every apply, and the same
/// figures recomputed from every node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recalculated {
    pub zxid: i64,
    pub digest_maintained: u64,
    pub digest_recomputed: u64,
}

/// `rclc`, once the server has recomputed its figures: "ok" (ClickHouse's answer) when they
/// agree, else the disagreement.
pub fn answer_recalculate(found: &Recalculated, whitelist: &Whitelist) -> Answer {
    if !whitelist.is_enabled(Word::Rclc.as_str()) {
        return not_whitelisted(Word::Rclc);
    }
    if found.digest_maintained == found.digest_recomputed {
        return Answer::text("ok".to_string());
    }
    Answer::text(format!(
        "digest mismatch at zxid {:#x}: maintained {:#018x}, recalculated {:#018x}\n",
        found.zxid, found.digest_maintained, found.digest_recomputed
    ))
}

/// `clrs`, once the server has released what it could: "ok", as ClickHouse answers.
pub fn answer_clean_resources(whitelist: &Whitelist) -> Answer {
    if !whitelist.is_enabled(Word::Clrs.as_str()) {
        return not_whitelisted(Word::Clrs);
    }
    Answer::text("ok".to_string())
}

/// One `pfev` line: a counter, its value and what it counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileEvent {
    pub name: String,
    pub value: u64,
    pub description: &'static str,
}

/// `pfev`: `name\tvalue\tdescription` per counter, as ClickHouse Keeper prints its profile
/// events.
fn format_profile_events(events: &[ProfileEvent]) -> String {
    events
        .iter()
        .map(|e| format!("{}\t{}\t{}\n", e.name, e.value, e.description))
        .collect()
}

/// The reply to a word. After writing `text`, the server closes the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub text: String,
    pub action: Action,
}

impl Answer {
    fn text(text: String) -> Answer {
        Answer {
            text,
            action: Action::None,
        }
    }
}

/// Latency statistics in milliseconds, kept the way ZooKeeper keeps them (`AvgMinMaxCounter`
/// for the server, the `ServerCnxn` fields per connection): both print 0 when empty. To
/// record a latency: count += 1, total += it, min = it if count was 0 else min(min, it),
/// max = max(max, it). A reset (crst/srst) sets everything to 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencyStats {
    pub count: u64,
    pub total_ms: u64,
    /// Meaningful only when `count > 0`.
    pub min_ms: u64,
    pub max_ms: u64,
}

impl LatencyStats {
    /// Counts one request that took `latency_ms`.
    pub fn record(&mut self, latency_ms: u64) {
        if self.count == 0 || latency_ms < self.min_ms {
            self.min_ms = latency_ms;
        }
        self.max_ms = self.max_ms.max(latency_ms);
        self.total_ms += latency_ms;
        self.count += 1;
        assert!(
            self.min_ms <= self.max_ms,
            "min {} > max {}",
            self.min_ms,
            self.max_ms
        );
    }

    pub fn min(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min_ms
        }
    }

    /// The server's average: a double rounded half-up to 4 decimals, printed the Java way.
    pub fn avg_server(&self) -> String {
        if self.count == 0 {
            return java_double(0.0);
        }
        let avg = self.total_ms as f64 / self.count as f64;
        java_double((avg * 10_000.0).round() / 10_000.0)
    }

    /// A connection's average: integer division, as `ServerCnxn.getAvgLatency`.
    pub fn avg_connection(&self) -> u64 {
        self.total_ms.checked_div(self.count).unwrap_or(0)
    }
}

/// Sizes of client responses, or -1 when there were none (`BufferStats`). To record a size:
/// last = it; min = it if min is -1 or it < min; max = max(max, it). srst resets to -1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferSizes {
    pub last: i64,
    pub min: i64,
    pub max: i64,
}

impl Default for BufferSizes {
    fn default() -> BufferSizes {
        BufferSizes {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

/// One client connection as `stat`, `cons` and `dump` show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnView {
    pub remote: SocketAddr,
    /// Java `SelectionKey` bits: 1 = read, 4 = write; 0 for the connection asking the 4lw.
    pub interest_ops: u32,
    /// Requests received and not yet answered.
    pub queued: u64,
    pub packets_received: u64,
    pub packets_sent: u64,
    /// 0 before the session is established; then the rest below is printed by `cons`.
    pub session_id: u64,
    /// ZooKeeper's short op name (`FinalRequestProcessor`): "NA", "PING", "SESS", "GETD",
    /// "EXIS", "GETC", "CREA", "SETD", "DELE", "MULT", ... See [`last_operation_name`].
    pub last_operation: &'static str,
    /// When the connection was accepted, in milliseconds since the Unix epoch.
    pub established_ms: u64,
    pub session_timeout_ms: u32,
    /// `None` before the first request with a real xid (and after `crst`).
    pub last_cxid: Option<u32>,
    /// -1 after `crst`, printed as 0xffffffffffffffff like Java.
    pub last_zxid: i64,
    /// Monotonic milliseconds of the last response (0 after `crst`).
    pub last_response_ms: u64,
    pub last_latency_ms: u64,
    pub latency: LatencyStats,
    /// When this connection expires if idle (ms since the epoch), for `dump`; `None` = not
    /// tracked.
    pub expires_at_ms: Option<u64>,
}

/// Everything the words print. The server fills this when a word arrives (see [`needs_view`]).
#[derive(Clone, Debug)]
pub struct ServerView<'a> {
    pub config: &'a Config,
    /// `Version.getFullVersion()`, e.g. "3.8.0-ferrokeeper-0.1.0, built on unknown". Keep a
    /// leading `X.Y.Z`: kazoo's `server_version()` parses it out of `envi`.
    pub version: String,
    /// False while not serving requests (e.g. no quorum): most words then print NOT_SERVING.
    pub is_serving: bool,
    pub read_only: bool,
    /// "standalone", "leader", "follower" or "observer".
    pub mode: &'static str,
    pub last_processed_zxid: u64,
    pub node_count: u64,
    pub latency: LatencyStats,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub outstanding_requests: u64,
    /// Every client connection, including the one asking (ZooKeeper lists it too).
    pub connections: Vec<ConnView>,
    /// Data watches (exists/getData) per session; child watches are not listed by wchc/wchp.
    pub data_watches: Vec<(u64, Vec<String>)>,
    /// All watches, data plus child (`zk_watch_count`).
    pub watch_count: u64,
    /// Ephemeral paths per owning session.
    pub ephemerals: Vec<(u64, Vec<String>)>,
    /// (session id, expiry time in ms since the epoch, rounded to the tick as ZooKeeper does).
    pub sessions: Vec<(u64, u64)>,
    pub approximate_data_size: u64,
    pub data_dir_size_bytes: u64,
    pub data_log_dir_size_bytes: u64,
    /// `Environment:` lines, see [`collect_environment`].
    pub environment: Vec<(String, String)>,
    pub uptime_ms: u64,
    pub open_file_descriptor_count: Option<u64>,
    pub max_file_descriptor_count: Option<u64>,
    pub client_response_sizes: BufferSizes,
    pub auth_failed_count: u64,
    /// Leader only: `Proposal sizes last/min/max` in `stat`/`srvr`.
    pub proposal_sizes: Option<BufferSizes>,
    /// `gtmk` (ZooKeeper's default is 306).
    pub trace_mask: i64,
    /// `hash`: (zxid, digest) pairs, oldest first.
    pub digest_log: Vec<(u64, u64)>,
    /// More `mntr` lines (key without `zk_`, value), printed after the standard ones.
    pub extra_metrics: Vec<(String, String)>,
    /// `lgif`: the log as ClickHouse Keeper reports it.
    pub log_info: LogInfo,
    /// `pfev`: the server's counters.
    pub profile_events: Vec<ProfileEvent>,
}

/// ClickHouse Keeper's `lgif` fields (`LogInfoCommand`), in its order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogInfo {
    pub first_log_idx: u64,
    pub first_log_term: u64,
    pub last_log_idx: u64,
    pub last_log_term: u64,
    pub last_committed_log_idx: u64,
    pub leader_committed_log_idx: u64,
    pub target_committed_log_idx: u64,
    pub last_snapshot_idx: u64,
}

/// `lgif`: one `key\tvalue` line per field.
fn format_log_info(info: &LogInfo) -> String {
    let fields = [
        ("first_log_idx", info.first_log_idx),
        ("first_log_term", info.first_log_term),
        ("last_log_idx", info.last_log_idx),
        ("last_log_term", info.last_log_term),
        ("last_committed_log_idx", info.last_committed_log_idx),
        ("leader_committed_log_idx", info.leader_committed_log_idx),
        ("target_committed_log_idx", info.target_committed_log_idx),
        ("last_snapshot_idx", info.last_snapshot_idx),
    ];
    fields.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect()
}

/// True if answering `word` reads the view; the server can skip building it otherwise.
pub fn needs_view(word: Word, whitelist: &Whitelist) -> bool {
    whitelist.is_enabled(word.as_str())
        && !matches!(
            word,
            Word::Ruok
                | Word::Stmk
                | Word::TelnetClose
                | Word::Csnp
                | Word::Apiv
                | Word::Clrs
                | Word::Rclc
                | Word::Rqld
                | Word::Ydld
                | Word::Rcvr
        )
}

/// `rqld`/`ydld`, once the server has tried: ClickHouse Keeper's answers (no newline). A
/// server that already is what was asked for counts as sent, as in ClickHouse Keeper.
pub fn answer_leadership(word: Word, sent: bool, whitelist: &Whitelist) -> Answer {
    if !whitelist.is_enabled(word.as_str()) {
        return not_whitelisted(word);
    }
    let what = if word == Word::Ydld {
        "yield leadership"
    } else {
        "leadership"
    };
    Answer::text(if sent {
        format!("Sent {what} request to leader.")
    } else {
        format!("Failed to send {what} request to leader.")
    })
}

/// `rcvr`, once the server has tried: ClickHouse Keeper's "ok" (no newline), or why not.
pub fn answer_recovery(reply: String, whitelist: &Whitelist) -> Answer {
    if !whitelist.is_enabled(Word::Rcvr.as_str()) {
        return not_whitelisted(Word::Rcvr);
    }
    Answer::text(reply)
}

/// Answers `word`. For `stmk` use [`answer_set_trace_mask`] once its argument is read.
pub fn answer(word: Word, whitelist: &Whitelist, view: &ServerView<'_>) -> Answer {
    if !whitelist.is_enabled(word.as_str()) {
        return not_whitelisted(word);
    }
    let serving = view.is_serving;
    let text = match word {
        Word::Ruok => "imok".to_string(),
        Word::Gtmk => view.trace_mask.to_string(),
        Word::Envi => format_environment(&view.environment),
        Word::TelnetClose | Word::Stmk => String::new(),
        // ClickHouse Keeper answers these without a trailing newline.
        Word::Apiv => KEEPER_API_VERSION.to_string(),
        Word::Pfev => format_profile_events(&view.profile_events),
        // They act before answering, so the server answers them through
        // `answer_recalculate` and `answer_clean_resources`.
        Word::Clrs | Word::Rclc | Word::Rqld | Word::Ydld | Word::Rcvr => {
            unreachable!("{} is answered after its work", word.as_str())
        }
        Word::Isro if !serving => "null".to_string(),
        Word::Isro => if view.read_only { "ro" } else { "rw" }.to_string(),
        Word::Hash if !serving => NOT_SERVING.to_string(),
        Word::Hash => format_digests(&view.digest_log),
        // ClickHouse Keeper (`CreateSnapshotCommand`) answers the bare index, no newline.
        Word::Csnp => {
            return Answer {
                text: view.last_processed_zxid.to_string(),
                action: Action::CreateSnapshot,
            };
        }
        _ if !serving => format!("{NOT_SERVING}\n"),
        Word::Lgif => format_log_info(&view.log_info),
        Word::Conf => view
            .config
            .render_conf(view.data_dir_size_bytes, view.data_log_dir_size_bytes),
        Word::Cons => format_cons(view),
        Word::Crst => {
            let text = "Connection stats reset.\n".to_string();
            return Answer {
                text,
                action: Action::ResetConnectionStats,
            };
        }
        Word::Srst => {
            let text = "Server stats reset.\n".to_string();
            return Answer {
                text,
                action: Action::ResetServerStats,
            };
        }
        Word::Dirs => format!(
            "datadir_size: {}\nlogdir_size: {}\n",
            view.data_dir_size_bytes, view.data_log_dir_size_bytes
        ),
        Word::Dump => format_dump(view),
        Word::Srvr => format_stat(view, false),
        Word::Stat => format_stat(view, true),
        Word::Wchs => format_wchs(view),
        Word::Wchc => format_wchc(view),
        Word::Wchp => format_wchp(view),
        Word::Mntr => format_mntr(view),
    };
    Answer::text(text)
}

/// Answers `stmk` with its 8-byte argument: the new mask, printed, and the action to set it.
pub fn answer_set_trace_mask(argument: [u8; STMK_ARGUMENT_BYTES], whitelist: &Whitelist) -> Answer {
    if !whitelist.is_enabled(Word::Stmk.as_str()) {
        return not_whitelisted(Word::Stmk);
    }
    let mask = i64::from_be_bytes(argument);
    Answer {
        text: mask.to_string(),
        action: Action::SetTraceMask(mask),
    }
}

fn not_whitelisted(word: Word) -> Answer {
    Answer::text(format!(
        "{} is not executed because it is not in the whitelist.\n",
        word.as_str()
    ))
}

/// ZooKeeper's `lop=` names, by request opcode (`FinalRequestProcessor`); "NA" otherwise.
pub fn last_operation_name(opcode: i32) -> &'static str {
    match opcode {
        11 => "PING",
        -10 => "SESS",
        14 => "MULT",
        22 => "MLTR",
        1 | 15 | 19 | 21 => "CREA",
        2 | 20 => "DELE",
        5 => "SETD",
        16 => "RECO",
        7 => "SETA",
        -11 => "CLOS",
        9 => "SYNC",
        13 => "CHEC",
        3 => "EXIS",
        4 => "GETD",
        101 => "SETW",
        105 => "STW2",
        106 => "ADDW",
        6 => "GETA",
        8 | 12 => "GETC",
        104 => "GETACN",
        17 => "CHKW",
        18 => "REMW",
        107 => "HOMI",
        103 => "GETE",
        _ => "NA",
    }
}

#[cfg(test)]
mod tests;
