//! Watch notifications: `WatcherEvent { int type; int state; ustring path; }`, sent after a
//! `ReplyHeader::NOTIFICATION`, plus the numeric values of `Watcher.Event.EventType`,
//! `Watcher.Event.KeeperState`, `Watcher.WatcherType` and `AddWatchMode`.
//!
//! Invariants: the constants are wire values and never change. Source: `zookeeper.jute`
//! (`WatcherEvent`), `org.apache.zookeeper.Watcher`, `org.apache.zookeeper.AddWatchMode`,
//! and `ServerCnxn.process` (the notification frame layout).

use crate::jute::{DecodeError, Reader, Writer};
use crate::proto::header::ReplyHeader;

/// `Watcher.Event.EventType` values (`WatcherEvent.type`).
pub mod event_type {
    pub const NONE: i32 = -1;
    pub const NODE_CREATED: i32 = 1;
    pub const NODE_DELETED: i32 = 2;
    pub const NODE_DATA_CHANGED: i32 = 3;
    pub const NODE_CHILDREN_CHANGED: i32 = 4;
    pub const DATA_WATCH_REMOVED: i32 = 5;
    pub const CHILD_WATCH_REMOVED: i32 = 6;
    pub const PERSISTENT_WATCH_REMOVED: i32 = 7;
}

/// `Watcher.Event.KeeperState` values (`WatcherEvent.state`). A server only ever sends
/// `SYNC_CONNECTED` in notifications; the others are client-side states.
pub mod keeper_state {
    pub const DISCONNECTED: i32 = 0;
    pub const SYNC_CONNECTED: i32 = 3;
    pub const AUTH_FAILED: i32 = 4;
    pub const CONNECTED_READ_ONLY: i32 = 5;
    pub const SASL_AUTHENTICATED: i32 = 6;
    pub const CLOSED: i32 = 7;
    pub const EXPIRED: i32 = -112;
}

/// `Watcher.WatcherType` values (`CheckWatchesRequest.type`, `RemoveWatchesRequest.type`).
pub mod watcher_type {
    pub const CHILDREN: i32 = 1;
    pub const DATA: i32 = 2;
    pub const ANY: i32 = 3;
}

/// `AddWatchMode` values (`AddWatchRequest.mode`).
pub mod add_watch_mode {
    pub const PERSISTENT: i32 = 0;
    pub const PERSISTENT_RECURSIVE: i32 = 1;
}

/// `WatcherEvent { int type; int state; ustring path; }`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WatcherEvent {
    pub event_type: i32,
    pub state: i32,
    pub path: String,
}

impl WatcherEvent {
    pub fn read(r: &mut Reader<'_>) -> Result<WatcherEvent, DecodeError> {
        Ok(WatcherEvent {
            event_type: r.read_i32()?,
            state: r.read_i32()?,
            path: r.read_string()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_i32(self.event_type);
        w.write_i32(self.state);
        w.write_string(&self.path);
    }

    /// Decodes a notification body (the bytes after the `ReplyHeader`); trailing bytes are
    /// ignored, as Java's client does.
    pub fn decode(body: &[u8]) -> Result<WatcherEvent, DecodeError> {
        WatcherEvent::read(&mut Reader::new(body))
    }

    /// Writes the whole notification payload (without the frame length): the notification
    /// header (xid -1, zxid -1, err 0) and then this event.
    pub fn write_notification(&self, w: &mut Writer) {
        let start = w.bytes.len();
        ReplyHeader::NOTIFICATION.write(w);
        self.write(w);
        assert!(
            w.bytes.len() >= start + ReplyHeader::WIRE_BYTES + 12,
            "notification too short"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_layout_matches_zookeeper() {
        let ev = WatcherEvent {
            event_type: event_type::NODE_CREATED,
            state: keeper_state::SYNC_CONNECTED,
            path: "/a".to_string(),
        };
        let mut w = Writer::new();
        ev.write_notification(&mut w);
        let expected: [u8; 30] = [
            0xff, 0xff, 0xff, 0xff, // xid -1
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // zxid -1
            0, 0, 0, 0, // err 0
            0, 0, 0, 1, // NodeCreated
            0, 0, 0, 3, // SyncConnected
            0, 0, 0, 2, b'/', b'a',
        ];
        assert_eq!(w.bytes, expected);
        let (header, body) = ReplyHeader::split(&w.bytes).unwrap();
        assert_eq!(header, ReplyHeader::NOTIFICATION);
        assert_eq!(WatcherEvent::decode(body).unwrap(), ev);
    }
}
