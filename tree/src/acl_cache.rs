//! Shared ACL lists. Almost every znode of a real tree carries one of a handful of ACLs
//! (world:anyone, or one application's digest), so a node holds a reference-counted list
//! and the tree keeps one copy of each distinct list, as ZooKeeper's
//! `ReferenceCountedACLCache` does with indexes. With 1M world:anyone nodes this saves a
//! list and two strings per node (about 130 bytes each). Sharing changes no content: the
//! snapshot format, digest and every answer see the same ACL as before.

use std::borrow::{Borrow, Cow};
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use wire::Acl;

/// One node's ACL, possibly shared with other nodes; reads as a slice.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SharedAcl(Arc<Vec<Acl>>);

impl SharedAcl {
    pub fn to_vec(&self) -> Vec<Acl> {
        self.0.as_ref().clone()
    }
}

impl Deref for SharedAcl {
    type Target = [Acl];
    fn deref(&self) -> &[Acl] {
        &self.0
    }
}

impl Borrow<[Acl]> for SharedAcl {
    fn borrow(&self) -> &[Acl] {
        &self.0
    }
}

/// An unshared list (tests, tools); the tree interns through `AclCache`.
impl From<Vec<Acl>> for SharedAcl {
    fn from(acl: Vec<Acl>) -> SharedAcl {
        SharedAcl(Arc::new(acl))
    }
}

impl PartialEq<Vec<Acl>> for SharedAcl {
    fn eq(&self, other: &Vec<Acl>) -> bool {
        self.0.as_ref() == other
    }
}

impl fmt::Debug for SharedAcl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The distinct lists in use. Lists no node holds any more are dropped whenever the cache
/// has doubled since the last sweep, so a stream of one-off ACLs costs amortised O(1) and
/// the cache stays within twice the lists in use.
#[derive(Clone, Debug, Default)]
pub struct AclCache {
    lists: BTreeSet<SharedAcl>,
    sweep_at: usize,
}

/// The cache size below which no sweep runs.
const SWEEP_MIN: usize = 64;

impl AclCache {
    pub fn intern<'a>(&mut self, acl: impl Into<Cow<'a, [Acl]>>) -> SharedAcl {
        let acl = acl.into();
        if let Some(shared) = self.lists.get(acl.as_ref()) {
            return shared.clone();
        }
        let acl = acl.into_owned();
        if self.lists.len() >= self.sweep_at.max(SWEEP_MIN) {
            // Held only by the cache itself: no node uses it.
            self.lists.retain(|l| Arc::strong_count(&l.0) > 1);
            self.sweep_at = self.lists.len() * 2;
        }
        let shared = SharedAcl::from(acl);
        self.lists.insert(shared.clone());
        shared
    }

    /// Distinct lists held (some may be unused until the next sweep).
    pub fn len(&self) -> usize {
        self.lists.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(user: &str) -> Vec<Acl> {
        vec![Acl {
            perms: 31,
            id: wire::Id {
                scheme: "digest".into(),
                id: format!("{user}:x"),
            },
        }]
    }

    #[test]
    fn equal_lists_share_one_copy() {
        let mut cache = AclCache::default();
        let a = cache.intern(Acl::open_unsafe());
        let b = cache.intern(Acl::open_unsafe());
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(a, Acl::open_unsafe());
        let c = cache.intern(Acl::read_unsafe());
        assert!(!Arc::ptr_eq(&a.0, &c.0));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn unused_lists_are_swept_and_the_cache_stays_bounded() {
        let mut cache = AclCache::default();
        let kept = cache.intern(digest("kept"));
        for i in 0..10_000 {
            cache.intern(digest(&format!("gone{i}")));
            assert!(
                cache.len() <= 2 * SWEEP_MIN,
                "{} lists at step {i}",
                cache.len()
            );
        }
        // The list still in use survived every sweep and is still the shared copy.
        let again = cache.intern(digest("kept"));
        assert!(Arc::ptr_eq(&kept.0, &again.0));
    }
}
