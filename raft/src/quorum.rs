//! Majority arithmetic over a set of voters (paper §5.2, §5.3).
//!
//! Every quorum decision — elections, commit, check-quorum, ReadIndex — goes through these two
//! functions, so one rule holds everywhere: a quorum is a strict majority of the voters.
//! Learners never count.

use std::collections::BTreeSet;

use crate::{LogIndex, NodeId};

/// The outcome of counting votes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteResult {
    Won,
    Lost,
    Pending,
}

/// Votes needed for a majority of `voter_count` voters.
pub fn majority(voter_count: usize) -> usize {
    voter_count / 2 + 1
}

/// Paper §5.2: a candidate wins with votes from a majority; it loses once a majority rejected.
pub fn vote_result(
    voters: &BTreeSet<NodeId>,
    vote_of: impl Fn(NodeId) -> Option<bool>,
) -> VoteResult {
    assert!(!voters.is_empty(), "vote counted with no voters");
    let need = majority(voters.len());
    let granted = voters
        .iter()
        .filter(|id| vote_of(**id) == Some(true))
        .count();
    let rejected = voters
        .iter()
        .filter(|id| vote_of(**id) == Some(false))
        .count();
    assert!(
        granted + rejected <= voters.len(),
        "{granted}+{rejected} > {}",
        voters.len()
    );
    if granted >= need {
        VoteResult::Won
    } else if rejected >= need || voters.len() - rejected < need {
        VoteResult::Lost
    } else {
        VoteResult::Pending
    }
}

/// Paper §5.3: the largest index stored on a majority of voters, i.e. the majority-th largest
/// match index. Whether it may be committed is the caller's Figure 8 check.
pub fn quorum_index(voters: &BTreeSet<NodeId>, index_of: impl Fn(NodeId) -> LogIndex) -> LogIndex {
    assert!(!voters.is_empty(), "quorum index with no voters");
    let mut indexes: Vec<LogIndex> = voters.iter().map(|id| index_of(*id)).collect();
    indexes.sort_unstable_by(|a, b| b.cmp(a));
    let index = indexes[majority(voters.len()) - 1];
    assert!(
        index <= indexes[0],
        "quorum index {index} above the highest {}",
        indexes[0]
    );
    index
}

/// True when a majority of voters satisfy `is_acked`.
pub fn has_quorum(voters: &BTreeSet<NodeId>, is_acked: impl Fn(NodeId) -> bool) -> bool {
    let acked = voters.iter().filter(|id| is_acked(**id)).count();
    acked >= majority(voters.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u64]) -> BTreeSet<NodeId> {
        ids.iter().map(|i| NodeId(*i)).collect()
    }

    #[test]
    fn quorum_index_is_the_majority_th_largest_match() {
        let voters = set(&[1, 2, 3, 4, 5]);
        let matches = [0u64, 9, 7, 5, 3, 1];
        assert_eq!(
            quorum_index(&voters, |id| LogIndex(matches[id.0 as usize])),
            LogIndex(5)
        );
        let voters = set(&[1, 2, 3, 4]);
        assert_eq!(
            quorum_index(&voters, |id| LogIndex(matches[id.0 as usize])),
            LogIndex(5)
        );
    }

    #[test]
    fn vote_result_counts_majorities() {
        let voters = set(&[1, 2, 3]);
        assert_eq!(
            vote_result(&voters, |id| (id.0 <= 2).then_some(true)),
            VoteResult::Won
        );
        assert_eq!(
            vote_result(&voters, |id| (id.0 == 1).then_some(true)),
            VoteResult::Pending
        );
        assert_eq!(vote_result(&voters, |id| Some(id.0 == 1)), VoteResult::Lost);
    }
}
