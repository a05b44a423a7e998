//! The order in which ZooKeeper iterates a connection's identities.
//!
//! ZooKeeper keeps `ServerCnxn.authInfo` as a `ConcurrentHashMap` key set, so every place
//! that walks it — expanding an `auth`-scheme ACL into the caller's digest ids, whoAmI's
//! answer — sees Java's hash order, not the order the ids were added. Clients see that
//! order in ACL lists, so we reproduce it: jute's `Id.hashCode` over Java's
//! `String.hashCode` (UTF-16 code units), `ConcurrentHashMap.spread`, bins in index order
//! with insertion order inside a bin, and the table doubling at 3/4 load with the bin split
//! of `ConcurrentHashMap.transfer` (which keeps the trailing run and reverses the nodes
//! before it). Not modelled: treeified bins (8+ ids in one bin), which a connection does
//! not reach.

use wire::Id;

/// Java's `String.hashCode`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// jute's generated `Id.hashCode`: 17, then `37 * result + field.hashCode()` per field.
pub fn java_id_hash(id: &Id) -> i32 {
    let mut result = 17i32;
    result = result
        .wrapping_mul(37)
        .wrapping_add(java_string_hash(&id.scheme));
    result = result
        .wrapping_mul(37)
        .wrapping_add(java_string_hash(&id.id));
    result
}

/// `ConcurrentHashMap.spread`: high bits folded into low, sign bit cleared.
fn spread(h: i32) -> u32 {
    let h = h as u32;
    (h ^ (h >> 16)) & 0x7fff_ffff
}

const INITIAL_BINS: usize = 16;

/// Ids in the order a `ConcurrentHashMap` key set yields them after inserting `inserted`
/// in that order (duplicates ignored, as `Set.add` does).
pub fn java_hash_set_order(inserted: &[Id]) -> Vec<Id> {
    let mut bins: Vec<Vec<(u32, Id)>> = vec![Vec::new(); INITIAL_BINS];
    let mut count = 0usize;
    let mut size_ctl = INITIAL_BINS - (INITIAL_BINS >> 2);
    for id in inserted {
        let h = spread(java_id_hash(id));
        let n = bins.len();
        let bin = &mut bins[h as usize & (n - 1)];
        if bin.iter().any(|(_, existing)| existing == id) {
            continue;
        }
        bin.push((h, id.clone()));
        count += 1;
        if count >= size_ctl {
            bins = transfer(bins);
            let n = bins.len();
            // `sizeCtl` after a resize: three quarters of the new table.
            size_ctl = n - (n >> 2);
            debug_assert!(size_ctl > count, "one doubling makes room");
        }
    }
    let out: Vec<Id> = bins.into_iter().flatten().map(|(_, id)| id).collect();
    assert_eq!(out.len(), count, "every distinct id is iterated once");
    out
}

/// Doubles the table as `ConcurrentHashMap.transfer` does for a list bin: the longest
/// trailing run whose nodes all go the same way is moved as is; the nodes before it are
/// prepended one by one to their new bin (so they come out reversed, ahead of the run).
fn transfer(bins: Vec<Vec<(u32, Id)>>) -> Vec<Vec<(u32, Id)>> {
    let n = bins.len();
    let mut next: Vec<Vec<(u32, Id)>> = vec![Vec::new(); n * 2];
    for (i, bin) in bins.into_iter().enumerate() {
        if bin.is_empty() {
            continue;
        }
        let goes_high = |h: u32| h as usize & n != 0;
        let mut last_run = 0usize;
        for j in 1..bin.len() {
            if goes_high(bin[j].0) != goes_high(bin[j - 1].0) {
                last_run = j;
            }
        }
        let run_high = goes_high(bin[last_run].0);
        let (mut low, mut high) = (Vec::<(u32, Id)>::new(), Vec::<(u32, Id)>::new());
        let run: Vec<(u32, Id)> = bin[last_run..].to_vec();
        if run_high {
            high = run;
        } else {
            low = run;
        }
        for node in bin[..last_run].iter() {
            if goes_high(node.0) {
                high.insert(0, node.clone());
            } else {
                low.insert(0, node.clone());
            }
        }
        next[i] = low;
        next[i + n] = high;
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(pairs: &[(&str, &str)]) -> Vec<Id> {
        pairs.iter().map(|(s, i)| Id::new(s, i)).collect()
    }

    fn names(ids: &[Id]) -> Vec<String> {
        ids.iter()
            .map(|id| format!("{}:{}", id.scheme, id.id))
            .collect()
    }

    // Vectors from OpenJDK 17 (`jshell` with zookeeper-jute 3.8.0's `Id`).
    #[test]
    fn hashes_match_java() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("abc"), 96354);
        assert_eq!(java_string_hash("é"), 233);
        assert_eq!(java_id_hash(&Id::new("ip", "127.0.0.1")), 1506146057);
        assert_eq!(
            java_id_hash(&Id::new("digest", "bob:7e5oQdf4IqOAJ9OLk9OTl5I4cwM=")),
            -1531436068
        );
        assert_eq!(java_id_hash(&Id::new("digest", "u1:x")), -2032593129);
        assert_eq!(java_id_hash(&Id::new("ip", "10.1.2.3")), 512625463);
    }

    #[test]
    fn order_matches_a_java_concurrent_hash_map_key_set() {
        let got = java_hash_set_order(&ids(&[
            ("ip", "127.0.0.1"),
            ("digest", "bob:7e5oQdf4IqOAJ9OLk9OTl5I4cwM="),
            ("digest", "carol:9XbGIDHyyy6gc04Aebgq8G1ij9I="),
            ("digest", "bob:Jvpu9LQQB32r8eilpJuBAcq+cxA="),
        ]));
        assert_eq!(
            names(&got),
            [
                "digest:bob:7e5oQdf4IqOAJ9OLk9OTl5I4cwM=",
                "digest:carol:9XbGIDHyyy6gc04Aebgq8G1ij9I=",
                "digest:bob:Jvpu9LQQB32r8eilpJuBAcq+cxA=",
                "ip:127.0.0.1"
            ]
        );
        let got = java_hash_set_order(&ids(&[
            ("ip", "127.0.0.1"),
            ("digest", "alice:abc"),
            ("super", ""),
            ("digest", "zed:q"),
        ]));
        assert_eq!(
            names(&got),
            ["digest:zed:q", "super:", "ip:127.0.0.1", "digest:alice:abc"]
        );
        let got = java_hash_set_order(&ids(&[("ip", "10.1.2.3"), ("digest", "é:ü")]));
        assert_eq!(names(&got), ["ip:10.1.2.3", "digest:é:ü"]);
    }

    #[test]
    fn order_after_the_table_doubles_matches_java() {
        let inserted: Vec<Id> = (1..=13)
            .map(|i| Id::new("digest", &format!("u{i}:x")))
            .collect();
        let got = java_hash_set_order(&inserted);
        let want: Vec<String> = [3, 2, 5, 4, 7, 6, 10, 9, 8, 1, 13, 11, 12]
            .iter()
            .map(|i| format!("digest:u{i}:x"))
            .collect();
        assert_eq!(names(&got), want);
    }

    #[test]
    fn duplicates_are_kept_once() {
        let a = Id::new("digest", "a:b");
        assert_eq!(java_hash_set_order(&[a.clone(), a.clone()]), vec![a]);
    }
}
