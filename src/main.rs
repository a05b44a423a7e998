//! `ferrokeeper`: a ZooKeeper-compatible coordination service in one binary.
//!
//! Subcommands: `server` (the default service; standalone on 127.0.0.1:2181 with data in
//! `./ferrokeeper-data` when given no config), `4lw` (send a four-letter word),
//! `convert` (a ZooKeeper data directory to a Ferrokeeper snapshot), `bench` (a load
//! generator), `cli` (a zkCli-style shell) and `simulate` (the seeded Raft cluster
//! simulator). The process logs through `env_logger` (`RUST_LOG=debug` for more).

mod args;
mod bench;
mod cli;
mod client;
mod clock;
mod cluster;
mod config;
mod connection;
mod convert;
mod event_loop;
mod fourlw;
#[cfg(test)]
mod fuzz_bounds;
mod log_disk;
mod metrics;
mod ops_stats;
mod peers;
mod prometheus;
mod reconfig;
mod replication;
mod requests;
mod server;
mod sessions;
mod simulate;
mod snapshots;
mod storage;
mod sys;
mod watching;
mod workers;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use config::Config;
use server::Settings;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let command = match args::parse(&argv) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ferrokeeper: {e}");
            return ExitCode::from(2);
        }
    };
    match command {
        args::Command::Help(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        args::Command::Version => {
            println!("ferrokeeper {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        args::Command::FourLw { server, word } => {
            match fourlw::send_four_letter_word(&server, &word, Duration::from_secs(10)) {
                Ok(reply) => {
                    print!("{reply}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("ferrokeeper 4lw: {server}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        args::Command::Server {
            config,
            force_recovery,
        } => run_server(config.as_deref(), force_recovery),
        args::Command::Bench { options } => bench::main(&options),
        args::Command::Cli { options } => cli::main(&options),
        args::Command::Simulate { options } => simulate::main(&options),
        args::Command::Convert {
            zk_data,
            zk_log_dir,
            output,
            list,
        } => run_convert(convert::Options {
            zk_data,
            zk_log_dir,
            output,
            list,
        }),
    }
}

/// `ferrokeeper convert`: the listing goes to stdout, the summary and warnings to stderr.
fn run_convert(options: convert::Options) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match convert::run(&options, &mut out) {
        Ok(summary) => {
            for warning in &summary.warnings {
                eprintln!("ferrokeeper convert: warning: {warning}");
            }
            eprintln!(
                "ferrokeeper convert: {} + {} log(s): {} txns replayed to zxid {:#x}; \
                 {} znodes, {} sessions, {} ephemerals; ZooKeeper's digest compared {} \
                 times, {} differences{}",
                summary.snapshot.display(),
                summary.logs.len(),
                summary.txns_replayed,
                summary.last_zxid,
                summary.znodes,
                summary.sessions,
                summary.ephemerals,
                summary.digests_checked,
                summary.digest_mismatches,
                match &summary.output {
                    Some(path) => format!("; written to {}", path.display()),
                    None => String::new(),
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferrokeeper convert: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_server(config_path: Option<&std::path::Path>, force_recovery: bool) -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(|out, record| {
            use std::io::Write;
            writeln!(
                out,
                "{} {:<5} {}: {}",
                clock::utc_timestamp(clock::Clock::read().wall_ms),
                record.level(),
                record.target(),
                record.args()
            )
        })
        .init();
    let config = match config_path {
        None => {
            log::info!("no config given: standalone on the embedded default");
            Config::default()
        }
        Some(path) => match Config::load(path) {
            Ok((config, warnings)) => {
                for w in warnings {
                    log::warn!("{w}");
                }
                config
            }
            Err(e) => {
                eprintln!("ferrokeeper: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let cluster = match cluster::ClusterSettings::from_config(&config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ferrokeeper: {e}");
            return ExitCode::from(2);
        }
    };
    let listen = match listen_address(&config) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ferrokeeper: {e}");
            return ExitCode::from(2);
        }
    };
    match sys::raise_fd_limit() {
        Ok((soft, _)) => log::debug!("open file limit {soft}"),
        Err(e) => log::warn!("cannot raise the open file limit: {e}"),
    }
    let tree_config = tree::TreeConfig {
        extended_types_enabled: config.extended_types_enabled,
        super_digest: config.super_digest.clone(),
    };
    let wal_options = wal::WalOptions {
        segment_size_bytes: u64::from(config.pre_alloc_size_kb).max(64) * 1024,
        ..wal::WalOptions::default()
    };
    let recovered = match storage::recover(
        &config.data_dir,
        &config.data_log_dir,
        tree_config,
        wal_options,
        cluster.peers.is_none().then_some(cluster.voters.as_slice()),
        cluster.peers.is_some(),
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ferrokeeper: cannot recover the data: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut settings = settings_from(config);
    settings.force_recovery = force_recovery;
    match event_loop::run(settings, recovered, listen, cluster) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrokeeper: cannot serve on {listen}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn listen_address(config: &Config) -> Result<SocketAddr, String> {
    let host = if config.client_port_address.is_empty() {
        "0.0.0.0"
    } else {
        config.client_port_address.as_str()
    };
    (host, config.client_port)
        .to_socket_addrs()
        .map_err(|e| format!("clientPortAddress {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("clientPortAddress {host}: no address"))
}

/// A standalone server is a one-voter Raft cluster whose member has this id (its session ids
/// keep ZooKeeper's standalone server byte, 0).
pub const STANDALONE_RAFT_ID: u64 = 1;

fn settings_from(config: Config) -> Settings {
    Settings {
        min_session_timeout_ms: config.session_timeout_ms_min as i32,
        max_session_timeout_ms: config.session_timeout_ms_max as i32,
        max_client_cnxns: config.max_client_cnxns as usize,
        jute_max_buffer: config.jute_max_buffer as usize,
        super_digest: config.super_digest.clone(),
        container_check_interval_ms: config.container_check_interval_ms,
        force_sync: config.force_sync,
        four_letter_words: config.four_letter_whitelist.clone(),
        force_recovery: false,
        config,
    }
}
