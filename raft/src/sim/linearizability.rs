//! A linearizability checker for a history of register operations, one register per key
//! (Wing & Gong's search with Lowe's memoization, as in Porcupine; P-compositionality lets
//! each key be checked on its own).
//!
//! An operation has an invocation time and, if the client heard back, a response time. One
//! without a response may have taken effect at any time after its invocation, or never.
//! The history is linearizable if some total order of the operations (i) respects real time:
//! an operation that responded before another was invoked comes first, and (ii) replays on a
//! register from 0 with every read returning the latest write.

use std::collections::{BTreeMap, HashSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Put(u64),
    Get(u64),
}

#[derive(Clone, Copy, Debug)]
pub struct Op {
    pub key: u64,
    pub kind: OpKind,
    pub invoke: u64,
    pub response: Option<u64>,
}

/// Checks every key; returns the first key whose history is not linearizable.
pub fn check(ops: &[Op]) -> Result<(), String> {
    let mut by_key: BTreeMap<u64, Vec<Op>> = BTreeMap::new();
    for op in ops {
        by_key.entry(op.key).or_default().push(*op);
    }
    for (key, history) in by_key {
        if !check_register(&history) {
            let mut lines: Vec<String> = history.iter().map(|op| format!("  {op:?}")).collect();
            lines.sort();
            return Err(format!("key {key} not linearizable:\n{}", lines.join("\n")));
        }
    }
    Ok(())
}

/// Depth-first search over "which operation takes effect next", memoizing visited
/// (set of done operations, register value) pairs.
fn check_register(history: &[Op]) -> bool {
    let n = history.len();
    let words = n.div_ceil(64);
    let mut seen: HashSet<(Vec<u64>, u64)> = HashSet::new();
    let completed: Vec<usize> = (0..n).filter(|i| history[*i].response.is_some()).collect();
    // Stack of (done set, value).
    let mut stack: Vec<(Vec<u64>, u64)> = vec![(vec![0; words], 0)];
    while let Some((done, value)) = stack.pop() {
        let is_done = |i: usize| done[i / 64] & (1 << (i % 64)) != 0;
        if completed.iter().all(|i| is_done(*i)) {
            return true;
        }
        // The earliest response among pending completed ops bounds who may go next.
        let horizon = completed
            .iter()
            .filter(|i| !is_done(**i))
            .filter_map(|i| history[*i].response)
            .min()
            .unwrap_or(u64::MAX);
        for (i, op) in history.iter().enumerate() {
            if is_done(i) || op.invoke > horizon {
                continue;
            }
            let next_value = match op.kind {
                OpKind::Put(v) => v,
                OpKind::Get(v) if v == value => value,
                OpKind::Get(_) => continue,
            };
            let mut next = done.clone();
            next[i / 64] |= 1 << (i % 64);
            if seen.insert((next.clone(), next_value)) {
                stack.push((next, next_value));
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpKind, invoke: u64, response: Option<u64>) -> Op {
        Op {
            key: 0,
            kind,
            invoke,
            response,
        }
    }

    #[test]
    fn sequential_history_is_linearizable() {
        let ops = [
            op(OpKind::Put(1), 0, Some(1)),
            op(OpKind::Get(1), 2, Some(3)),
        ];
        assert!(check(&ops).is_ok());
    }

    #[test]
    fn stale_read_is_caught() {
        let ops = [
            op(OpKind::Put(1), 0, Some(1)),
            op(OpKind::Put(2), 2, Some(3)),
            op(OpKind::Get(1), 4, Some(5)),
        ];
        assert!(check(&ops).is_err());
    }

    #[test]
    fn concurrent_ops_may_go_either_way_and_pending_ops_may_never_happen() {
        let ops = [
            op(OpKind::Put(1), 0, Some(10)),
            op(OpKind::Get(0), 1, Some(2)),
            op(OpKind::Put(2), 3, None),
            op(OpKind::Get(1), 11, Some(12)),
        ];
        assert!(check(&ops).is_ok());
    }
}
