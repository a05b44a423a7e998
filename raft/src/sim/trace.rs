//! One-line forms for the simulator's trace: messages as the crate's `Display` prints them,
//! except AppendEntries, whose entries shrink to a count and a term/index range; entries as
//! the key-value command they carry.

use super::kv::decode_put;
use crate::{ConfChange, Entry, EntryKind, Message, MessageBody};

/// `1->2 t3 App prev=2/5 commit=5 +2 [3/6..3/7]` for appends; `Display` for the rest.
pub(super) fn message(message: &Message) -> String {
    let MessageBody::AppendEntries {
        prev_log_index,
        prev_log_term,
        entries,
        leader_commit,
    } = &message.body
    else {
        return message.to_string();
    };
    let range = match (entries.first(), entries.last()) {
        (Some(first), Some(last)) if entries.len() > 1 => format!(
            " [{}/{}..{}/{}]",
            first.term, first.index, last.term, last.index
        ),
        (Some(only), _) => format!(" [{}]", entry(only)),
        _ => String::new(),
    };
    format!(
        "{}->{} t{} App prev={prev_log_term}/{prev_log_index} commit={leader_commit} +{}{range}",
        message.from,
        message.to,
        message.term,
        entries.len()
    )
}

/// `3/7 put k1=12`, `3/6 no-op`, `3/8 add-learner 6`, `1/1 bootstrap voters 1,2,3`.
pub(super) fn entry(entry: &Entry) -> String {
    let what = match entry.kind {
        EntryKind::Normal if entry.data.is_empty() => "no-op".to_string(),
        EntryKind::Normal => match decode_put(&entry.data) {
            Some((key, value)) => format!("put k{key}={value}"),
            None => format!("{} bytes", entry.data.len()),
        },
        EntryKind::ConfChange => match ConfChange::decode(&entry.data) {
            Some(ConfChange::Bootstrap { voters }) => {
                let voters: Vec<String> = voters.iter().map(|v| v.to_string()).collect();
                format!("bootstrap voters {}", voters.join(","))
            }
            Some(change) => change.to_string(),
            None => format!("conf change of {} bytes", entry.data.len()),
        },
    };
    format!("{}/{} {what}", entry.term, entry.index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::kv::encode_put;
    use crate::{LogIndex, NodeId, Term};

    fn put(term: u64, index: u64, key: u64, value: u64) -> Entry {
        Entry {
            term: Term(term),
            index: LogIndex(index),
            kind: EntryKind::Normal,
            data: encode_put(key, value),
        }
    }

    fn append(entries: Vec<Entry>) -> Message {
        Message {
            from: NodeId(1),
            to: NodeId(2),
            term: Term(3),
            body: MessageBody::AppendEntries {
                prev_log_index: LogIndex(5),
                prev_log_term: Term(2),
                entries,
                leader_commit: LogIndex(5),
            },
        }
    }

    #[test]
    fn appends_are_shown_as_a_count_and_a_range() {
        assert_eq!(
            message(&append(Vec::new())),
            "1->2 t3 App prev=2/5 commit=5 +0"
        );
        assert_eq!(
            message(&append(vec![put(3, 6, 1, 12)])),
            "1->2 t3 App prev=2/5 commit=5 +1 [3/6 put k1=12]"
        );
        assert_eq!(
            message(&append(vec![put(3, 6, 1, 12), put(3, 7, 2, 13)])),
            "1->2 t3 App prev=2/5 commit=5 +2 [3/6..3/7]"
        );
    }

    #[test]
    fn entries_are_shown_as_their_command() {
        let mut noop = put(3, 6, 0, 0);
        noop.data.clear();
        assert_eq!(entry(&noop), "3/6 no-op");
        assert_eq!(entry(&put(3, 7, 4, 9)), "3/7 put k4=9");
        let bootstrap = Entry {
            term: Term(1),
            index: LogIndex(1),
            kind: EntryKind::ConfChange,
            data: ConfChange::Bootstrap {
                voters: vec![NodeId(1), NodeId(2), NodeId(3)],
            }
            .encode(),
        };
        assert_eq!(entry(&bootstrap), "1/1 bootstrap voters 1,2,3");
    }
}
