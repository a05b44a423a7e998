//! Text formats of zkCli, reproduced byte for byte: the Stat block (`StatPrinter`), Java's
//! `Date.toString()`, ACL lines (`GetAclCommand`: jute's `Id.toString()` + `ZKUtil.getPermString`),
//! `WatchedEvent.toString()`, ACL parsing (`AclParser`), path validation (`PathUtils`) and the
//! error text of every `KeeperException` (`CliWrapperException`, `KeeperException.getMessage`).
//!
//! Everything here is pure: time zones come in as an offset and a name (`src/sys.rs` asks
//! libc for them), so every format is unit tested. Sources: ZooKeeper 3.8 `cli/*.java`,
//! `ZKUtil`, `WatchedEvent`, `common/PathUtils`, jute `ToStringOutputArchive`.

use wire::{event_type, keeper_state, perms, Acl, ErrorCode, Id, Stat};

/// A moment as Java's `Date.toString()` renders it: `ms` since the epoch, shown in a zone
/// `utc_offset_secs` east of UTC and named `zone` (e.g. "UTC", "CET").
pub fn java_date(ms: i64, utc_offset_secs: i64, zone: &str) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let local_secs = ms.div_euclid(1000).saturating_add(utc_offset_secs);
    let days = local_secs.div_euclid(86_400);
    let secs_of_day = local_secs.rem_euclid(86_400);
    let (year, month, day) = crate::clock::civil_from_days(days);
    assert!((1..=12).contains(&month), "month {month} out of range");
    assert!((1..=31).contains(&day), "day {day} out of range");
    // 1970-01-01 was a Thursday, the first entry of DAYS.
    let weekday = DAYS[days.rem_euclid(7) as usize];
    format!(
        "{weekday} {} {day:02} {:02}:{:02}:{:02} {zone} {year:04}",
        MONTHS[(month - 1) as usize],
        secs_of_day / 3600,
        secs_of_day % 3600 / 60,
        secs_of_day % 60
    )
}

/// How to show a moment: `(utc_offset_secs, zone name)` for a given epoch second.
pub type Zone<'a> = &'a dyn Fn(i64) -> (i64, String);

/// `StatPrinter.print`: eleven `name = value` lines, zxids in lowercase hex.
pub fn stat_lines(stat: &Stat, zone: Zone<'_>) -> String {
    let date = |ms: i64| {
        let (offset, name) = zone(ms.div_euclid(1000));
        java_date(ms, offset, &name)
    };
    let lines = [
        format!("cZxid = 0x{:x}", stat.czxid),
        format!("ctime = {}", date(stat.ctime)),
        format!("mZxid = 0x{:x}", stat.mzxid),
        format!("mtime = {}", date(stat.mtime)),
        format!("pZxid = 0x{:x}", stat.pzxid),
        format!("cversion = {}", stat.cversion),
        format!("dataVersion = {}", stat.version),
        format!("aclVersion = {}", stat.aversion),
        format!("ephemeralOwner = 0x{:x}", stat.ephemeral_owner),
        format!("dataLength = {}", stat.data_length),
        format!("numChildren = {}", stat.num_children),
    ];
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// `ZKUtil.getPermString`: the letters of `perms` in the order c, d, r, w, a.
pub fn perm_string(bits: i32) -> String {
    [
        (perms::CREATE, 'c'),
        (perms::DELETE, 'd'),
        (perms::READ, 'r'),
        (perms::WRITE, 'w'),
        (perms::ADMIN, 'a'),
    ]
    .iter()
    .filter(|(bit, _)| bits & bit != 0)
    .map(|(_, letter)| *letter)
    .collect()
}

/// jute's `ToStringOutputArchive` escaping of a string: a leading `'` and `%XX` for the
/// characters the CSV form reserves.
fn jute_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\0' => out.push_str("%00"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            ',' => out.push_str("%2C"),
            '}' => out.push_str("%7D"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// `getAcl`'s two lines per entry: `Id.toString()` (which ends in a newline) + ": perms".
pub fn acl_lines(acl: &[Acl]) -> String {
    let mut text = String::new();
    for entry in acl {
        text.push_str(&id_string(&entry.id));
        text.push_str(": ");
        text.push_str(&perm_string(entry.perms));
        text.push('\n');
    }
    text
}

/// jute's `Id.toString()`: `'scheme,'id` and a newline.
fn id_string(id: &Id) -> String {
    format!("{},{}\n", jute_string(&id.scheme), jute_string(&id.id))
}

/// `AclParser.parse`: comma-separated `scheme:id:perms`; entries without two colons are
/// skipped with a warning (returned), unknown perm letters are warned about and ignored.
pub fn parse_acl(text: &str) -> (Vec<Acl>, Vec<String>) {
    let mut acl = Vec::new();
    let mut warnings = Vec::new();
    for entry in text.split(',') {
        let (Some(first), Some(last)) = (entry.find(':'), entry.rfind(':')) else {
            warnings.push(format!("{entry} does not have the form scheme:id:perm"));
            continue;
        };
        if first == last {
            warnings.push(format!("{entry} does not have the form scheme:id:perm"));
            continue;
        }
        let mut bits = 0;
        for letter in entry[last + 1..].chars() {
            match letter {
                'r' => bits |= perms::READ,
                'w' => bits |= perms::WRITE,
                'c' => bits |= perms::CREATE,
                'd' => bits |= perms::DELETE,
                'a' => bits |= perms::ADMIN,
                other => warnings.push(format!("Unknown perm type: {other}")),
            }
        }
        acl.push(Acl {
            perms: bits,
            id: Id::new(&entry[..first], &entry[first + 1..last]),
        });
    }
    (acl, warnings)
}

/// `Watcher.Event.EventType` names.
fn event_type_name(value: i32) -> String {
    match value {
        event_type::NONE => "None".into(),
        event_type::NODE_CREATED => "NodeCreated".into(),
        event_type::NODE_DELETED => "NodeDeleted".into(),
        event_type::NODE_DATA_CHANGED => "NodeDataChanged".into(),
        event_type::NODE_CHILDREN_CHANGED => "NodeChildrenChanged".into(),
        event_type::DATA_WATCH_REMOVED => "DataWatchRemoved".into(),
        event_type::CHILD_WATCH_REMOVED => "ChildWatchRemoved".into(),
        event_type::PERSISTENT_WATCH_REMOVED => "PersistentWatchRemoved".into(),
        other => format!("Unknown({other})"),
    }
}

/// `Watcher.Event.KeeperState` names.
fn keeper_state_name(value: i32) -> String {
    match value {
        keeper_state::DISCONNECTED => "Disconnected".into(),
        keeper_state::SYNC_CONNECTED => "SyncConnected".into(),
        keeper_state::AUTH_FAILED => "AuthFailed".into(),
        keeper_state::CONNECTED_READ_ONLY => "ConnectedReadOnly".into(),
        keeper_state::SASL_AUTHENTICATED => "SaslAuthenticated".into(),
        keeper_state::CLOSED => "Closed".into(),
        keeper_state::EXPIRED => "Expired".into(),
        other => format!("Unknown({other})"),
    }
}

/// What zkCli's watcher prints for an event: `printMessage("WATCHER::")` and
/// `printMessage(event.toString())`, each preceded by an empty line. `path` is `None` for
/// state events (Java prints `null`).
pub fn watcher_block(state: i32, event: i32, path: Option<&str>) -> String {
    format!(
        "\nWATCHER::\n\nWatchedEvent state:{} type:{} path:{}\n",
        keeper_state_name(state),
        event_type_name(event),
        path.unwrap_or("null")
    )
}

/// `CliWrapperException.getMessage` for a KeeperException of `code` about `path`.
pub fn keeper_error_message(code: ErrorCode, path: Option<&str>) -> String {
    let p = path.unwrap_or("null");
    match code {
        ErrorCode::NoNode => format!("Node does not exist: {p}"),
        ErrorCode::NoChildrenForEphemerals => format!("Ephemerals cannot have children: {p}"),
        ErrorCode::NodeExists => format!("Node already exists: {p}"),
        ErrorCode::NotEmpty => format!("Node not empty: {p}"),
        ErrorCode::NotReadOnly => format!("Not a read-only call: {p}"),
        ErrorCode::InvalidAcl => format!("Acl is not valid : {p}"),
        ErrorCode::NoAuth => format!("Insufficient permission : {p}"),
        ErrorCode::BadArguments => format!("Arguments are not valid : {p}"),
        ErrorCode::BadVersion => format!("version No is not valid : {p}"),
        ErrorCode::ReconfigInProgress => {
            "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
                .to_string()
        }
        ErrorCode::NewConfigNoQuorum => "No quorum of new config is connected and up-to-date \
             with the leader of last commmitted config - try invoking reconfiguration after new \
             servers are connected and synced"
            .to_string(),
        ErrorCode::QuotaExceeded => format!("Quota has exceeded : {p}"),
        other => keeper_exception_message(other, path),
    }
}

/// `KeeperException.getMessage`: `KeeperErrorCode = <code message>[ for <path>]`.
pub fn keeper_exception_message(code: ErrorCode, path: Option<&str>) -> String {
    match path {
        Some(path) => format!("KeeperErrorCode = {} for {path}", code.message()),
        None => format!("KeeperErrorCode = {}", code.message()),
    }
}

/// `PathUtils.validatePath`; `is_sequential` allows a trailing `/` (the server appends the
/// sequence number). The error is the `IllegalArgumentException` message zkCli prints.
pub fn validate_path(path: &str, is_sequential: bool) -> Result<(), String> {
    if path.is_empty() {
        return Err("Path length must be > 0".into());
    }
    if !path.starts_with('/') {
        return Err("Path must start with / character".into());
    }
    let checked = if is_sequential {
        format!("{path}1")
    } else {
        path.to_string()
    };
    if checked.len() == 1 {
        return Ok(());
    }
    if checked.ends_with('/') {
        return Err("Path must not end with / character".into());
    }
    let chars: Vec<char> = checked.chars().collect();
    let ends_component = |i: usize| chars.get(i + 1).is_none_or(|&next| next == '/');
    // A "." or ".." component; Java reports it at the index of its last dot.
    let is_relative = |i: usize| {
        if chars[i - 1] == '.' {
            i >= 2 && chars[i - 2] == '/' && ends_component(i)
        } else {
            chars[i - 1] == '/' && ends_component(i)
        }
    };
    for i in 1..chars.len() {
        let c = chars[i];
        let reason = if c == '\0' {
            Some(format!("null character not allowed @{i}"))
        } else if c == '/' && chars[i - 1] == '/' {
            Some(format!("empty node name specified @{i}"))
        } else if c == '.' && is_relative(i) {
            Some(format!("relative paths not allowed @{i}"))
        } else if matches!(c, '\u{1}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{e000}'..='\u{f8ff}')
            || ('\u{fff0}'..='\u{ffff}').contains(&c)
        {
            Some(format!("invalid character @{i}"))
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(format!(
                "Invalid path string \"{checked}\" caused by {reason}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(_: i64) -> (i64, String) {
        (0, "UTC".to_string())
    }

    #[test]
    fn java_date_matches_date_to_string() {
        assert_eq!(java_date(0, 0, "UTC"), "Thu Jan 01 00:00:00 UTC 1970");
        // Captured from zkCli 3.8 (`get -s /a` on the reference server).
        assert_eq!(
            java_date(1_795_268_636_123, 0, "UTC"),
            "Sat Nov 21 13:43:56 UTC 2026"
        );
        assert_eq!(
            java_date(951_782_400_000, 3600, "CET"),
            "Tue Feb 29 01:00:00 CET 2000"
        );
        assert_eq!(java_date(-1000, 0, "UTC"), "Wed Dec 31 23:59:59 UTC 1969");
    }

    #[test]
    fn stat_block_is_statprinter_output() {
        let stat = Stat {
            czxid: 2,
            mzxid: 0xf,
            ctime: 0,
            mtime: 0,
            version: 2,
            cversion: -2,
            aversion: 0,
            ephemeral_owner: 0x0100_00ab_cdef,
            data_length: 5,
            num_children: 0,
            pzxid: 2,
        };
        let expected = "cZxid = 0x2\nctime = Thu Jan 01 00:00:00 UTC 1970\nmZxid = 0xf\n\
            mtime = Thu Jan 01 00:00:00 UTC 1970\npZxid = 0x2\ncversion = -2\n\
            dataVersion = 2\naclVersion = 0\nephemeralOwner = 0x10000abcdef\n\
            dataLength = 5\nnumChildren = 0\n";
        assert_eq!(stat_lines(&stat, &utc), expected);
        let negative = Stat {
            czxid: -1,
            ..Stat::default()
        };
        assert!(stat_lines(&negative, &utc).starts_with("cZxid = 0xffffffffffffffff\n"));
    }

    #[test]
    fn acl_lines_match_get_acl() {
        // zkCli 3.8 `getAcl /a`: "'world,'anyone\n: cdrwa\n".
        assert_eq!(acl_lines(&Acl::open_unsafe()), "'world,'anyone\n: cdrwa\n");
        let acl = vec![Acl {
            perms: perms::READ | perms::ADMIN,
            id: Id::new("digest", "u:a,b%"),
        }];
        assert_eq!(acl_lines(&acl), "'digest,'u:a%2Cb%25\n: ra\n");
        assert_eq!(perm_string(0), "");
    }

    #[test]
    fn acl_parser_follows_aclparser() {
        let (acl, warnings) = parse_acl("world:anyone:r,digest:u:hash=:cdrwa");
        assert!(warnings.is_empty());
        assert_eq!(acl[0].id, Id::new("world", "anyone"));
        assert_eq!(acl[0].perms, perms::READ);
        assert_eq!(acl[1].id, Id::new("digest", "u:hash="));
        assert_eq!(acl[1].perms, perms::ALL);
        let (acl, warnings) = parse_acl("bad,ip:1.2.3.4:rx");
        assert_eq!(acl.len(), 1);
        assert_eq!(
            warnings,
            vec![
                "bad does not have the form scheme:id:perm".to_string(),
                "Unknown perm type: x".to_string()
            ]
        );
    }

    #[test]
    fn watcher_block_matches_zkcli() {
        assert_eq!(
            watcher_block(
                keeper_state::SYNC_CONNECTED,
                event_type::NODE_DATA_CHANGED,
                Some("/x")
            ),
            "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/x\n"
        );
        assert_eq!(
            watcher_block(keeper_state::CLOSED, event_type::NONE, None),
            "\nWATCHER::\n\nWatchedEvent state:Closed type:None path:null\n"
        );
    }

    #[test]
    fn keeper_errors_read_as_cliwrapperexception() {
        assert_eq!(
            keeper_error_message(ErrorCode::NoNode, Some("/nope")),
            "Node does not exist: /nope"
        );
        assert_eq!(
            keeper_error_message(ErrorCode::BadVersion, Some("/a")),
            "version No is not valid : /a"
        );
        assert_eq!(
            keeper_error_message(ErrorCode::NoWatcher, Some("/a")),
            "KeeperErrorCode = No such watcher for /a"
        );
        assert_eq!(
            keeper_error_message(ErrorCode::Unimplemented, Some("/ttl")),
            "KeeperErrorCode = Unimplemented for /ttl"
        );
        assert_eq!(
            keeper_error_message(ErrorCode::InvalidAcl, None),
            "Acl is not valid : null"
        );
    }

    #[test]
    fn paths_are_validated_like_pathutils() {
        assert_eq!(validate_path("/", false), Ok(()));
        assert_eq!(validate_path("/a/b.c/..d", false), Ok(()));
        assert_eq!(validate_path("/a/", true), Ok(()));
        assert_eq!(
            validate_path("a", false).unwrap_err(),
            "Path must start with / character"
        );
        assert_eq!(
            validate_path("", false).unwrap_err(),
            "Path length must be > 0"
        );
        assert_eq!(
            validate_path("/a/", false).unwrap_err(),
            "Path must not end with / character"
        );
        assert_eq!(
            validate_path("/a//b", false).unwrap_err(),
            "Invalid path string \"/a//b\" caused by empty node name specified @3"
        );
        assert_eq!(
            validate_path("/a/./b", false).unwrap_err(),
            "Invalid path string \"/a/./b\" caused by relative paths not allowed @3"
        );
        assert_eq!(
            validate_path("/a/..", false).unwrap_err(),
            "Invalid path string \"/a/..\" caused by relative paths not allowed @4"
        );
        assert_eq!(
            validate_path("/a\u{1}", false).unwrap_err(),
            "Invalid path string \"/a\u{1}\" caused by invalid character @2"
        );
    }
}
