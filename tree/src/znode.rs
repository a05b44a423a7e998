//! One znode: data, ACL, persisted stat fields and the set of child names, plus the
//! ephemeral-owner encodings of `org.apache.zookeeper.server.EphemeralType`.
//!
//! As in ZooKeeper's `StatPersisted`, `cversion` here counts child *creations* only; the
//! `Stat` a client sees reports `cversion * 2 - numChildren` (`DataNode.copyStat`), which
//! counts creations plus deletions. That is why a fresh server shows cversion -1 on "/" and
//! -2 on "/zookeeper", and why a sequential suffix (taken from the persisted value) does not
//! advance on delete.

use std::collections::BTreeSet;

use wire::Stat;

use crate::acl_cache::SharedAcl;
use crate::digest;

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;
/// High byte marking an extended ephemeral owner (TTL when the next two bytes are 0).
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;
/// `EphemeralType.TTL.maxValue()`: the low five bytes (about 34 years of milliseconds).
pub const TTL_MAX_MS: i64 = !(EXTENDED_MASK | RESERVED_BITS_MASK);

/// What a node's `ephemeral_owner` means (`EphemeralType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EphemeralType {
    /// A plain persistent node (owner 0).
    Void,
    /// Owned by the session whose id is the owner.
    Normal,
    Container,
    Ttl,
}

impl EphemeralType {
    /// `EphemeralType.get`: the TTL encoding is only recognised when extended types are on.
    pub fn of(owner: i64, extended_types_enabled: bool) -> EphemeralType {
        if extended_types_enabled
            && owner & EXTENDED_MASK == EXTENDED_MASK
            && owner & RESERVED_BITS_MASK == 0
        {
            return EphemeralType::Ttl;
        }
        if owner == CONTAINER_EPHEMERAL_OWNER {
            EphemeralType::Container
        } else if owner == 0 {
            EphemeralType::Void
        } else {
            EphemeralType::Normal
        }
    }
}

/// `EphemeralType.TTL.toEphemeralOwner`, or None when the ttl is out of 1..=TTL_MAX_MS.
pub fn ttl_owner(ttl_ms: i64) -> Option<i64> {
    if ttl_ms <= 0 || ttl_ms > TTL_MAX_MS {
        return None;
    }
    Some(EXTENDED_MASK | ttl_ms)
}

/// The TTL of a TTL node's owner value.
pub fn ttl_of_owner(owner: i64) -> i64 {
    owner & TTL_MAX_MS
}

/// The persisted stat fields (`StatPersisted`); `num_children` and `data_length` derive
/// from the node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    /// Child creations (see the module doc); the sequential suffix source.
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub pzxid: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub meta: Meta,
    /// What `meta.ephemeral_owner` encodes, fixed at creation (the owner never changes).
    ephemeral_type: EphemeralType,
    /// A boxed slice, not a Vec: 8 bytes less per node, and data is replaced, never grown.
    data: Box<[u8]>,
    /// The client created or set the data as jute's null buffer; ZooKeeper keeps a null
    /// `byte[]` and returns it as null (length -1), which clients tell from empty.
    data_is_null: bool,
    /// `digest::hash_bytes(&data)`, kept so rehashing a parent does not rehash its data.
    data_hash: u64,
    pub acl: SharedAcl,
    /// Child names (not paths); sorted, which is the order getChildren reports.
    pub children: Children,
}

/// A node's child names. Most znodes are leaves, so an empty set is one null pointer (not
/// an empty `BTreeSet`'s 24 bytes); with the node itself boxed, this brings a node from 144
/// to 128 bytes of heap. Names are `Name`s: short ones (nearly all) inline.
// The box is the point: `Option<Box<_>>` is one word where an empty set is three.
#[allow(clippy::box_collection)]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Children(Option<Box<BTreeSet<Name>>>);

impl Children {
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |set| set.len())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0
            .as_ref()
            .is_some_and(|set| set.contains(name.as_bytes()))
    }

    /// The names in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().flat_map(|set| set.iter().map(Name::as_str))
    }

    /// False if `name` was already there.
    pub fn insert(&mut self, name: &str) -> bool {
        self.0
            .get_or_insert_with(Default::default)
            .insert(Name::new(name))
    }

    /// False if `name` was not there.
    pub fn remove(&mut self, name: &str) -> bool {
        let Some(set) = self.0.as_mut() else {
            return false;
        };
        let removed = set.remove(name.as_bytes());
        if set.is_empty() {
            self.0 = None;
        }
        removed
    }
}

impl<S: AsRef<str>> FromIterator<S> for Children {
    fn from_iter<I: IntoIterator<Item = S>>(names: I) -> Children {
        let set: BTreeSet<Name> = names.into_iter().map(|n| Name::new(n.as_ref())).collect();
        Children((!set.is_empty()).then(|| Box::new(set)))
    }
}

/// Longest name kept inline in a `Name`.
const NAME_INLINE_MAX: usize = 22;

/// One child name, ordered by its bytes (which is `str` order). A name of up to
/// `NAME_INLINE_MAX` bytes (nearly every name: "n0000012345", "lock-0000000001") is held in
/// the set's own slot: 24 bytes where a boxed `str` is a 16-byte slot plus a 32-byte heap
/// block, and a comparison reads the slot instead of following a pointer to a block that
/// is rarely in cache. Longer names are boxed.
#[derive(Clone, PartialEq, Eq)]
enum Name {
    Inline {
        len: u8,
        bytes: [u8; NAME_INLINE_MAX],
    },
    Boxed(Box<str>),
}

impl Name {
    fn new(name: &str) -> Name {
        if name.len() > NAME_INLINE_MAX {
            return Name::Boxed(name.into());
        }
        let mut bytes = [0u8; NAME_INLINE_MAX];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Name::Inline {
            len: name.len() as u8,
            bytes,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Name::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Name::Boxed(name) => name.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        // The bytes came from a `&str` whole, so they are UTF-8.
        std::str::from_utf8(self.as_bytes()).expect("a name holds a whole str")
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Lookups by a name's bytes, with no `Name` built (and no box for a long one): the order
/// of the bytes is the order of `Name`s, as `Borrow` requires.
impl std::borrow::Borrow<[u8]> for Name {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Node {
    /// A childless node; `extended_types_enabled` decides how its owner is read.
    pub fn new(
        meta: Meta,
        data: Option<Vec<u8>>,
        acl: SharedAcl,
        extended_types_enabled: bool,
    ) -> Node {
        let data_is_null = data.is_none();
        let data = data.unwrap_or_default().into_boxed_slice();
        let data_hash = digest::hash_bytes(&data);
        let ephemeral_type = EphemeralType::of(meta.ephemeral_owner, extended_types_enabled);
        Node {
            meta,
            ephemeral_type,
            data,
            data_is_null,
            data_hash,
            acl,
            children: Children::default(),
        }
    }

    pub fn ephemeral_type(&self) -> EphemeralType {
        self.ephemeral_type
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The data as the client gave it: `None` for jute's null buffer.
    pub fn data_option(&self) -> Option<&[u8]> {
        if self.data_is_null {
            None
        } else {
            Some(&self.data)
        }
    }

    pub fn data_hash(&self) -> u64 {
        self.data_hash
    }

    /// Replaces the data, returning the old bytes.
    pub(crate) fn replace_data(&mut self, data: Option<Vec<u8>>) -> Option<Vec<u8>> {
        let was_null = std::mem::replace(&mut self.data_is_null, data.is_none());
        let data = data.unwrap_or_default().into_boxed_slice();
        self.data_hash = digest::hash_bytes(&data);
        let old = std::mem::replace(&mut self.data, data);
        if was_null {
            None
        } else {
            Some(old.into_vec())
        }
    }

    /// The `Stat` a client sees (`DataNode.copyStat`): containers and TTL nodes report
    /// ephemeralOwner 0 (checked on 3.8), only session-owned nodes show their owner.
    pub fn stat(&self) -> Stat {
        let num_children = i32::try_from(self.children.len()).expect("child count fits i32");
        let data_length = i32::try_from(self.data.len()).expect("data length fits i32");
        Stat {
            czxid: self.meta.czxid,
            mzxid: self.meta.mzxid,
            ctime: self.meta.ctime,
            mtime: self.meta.mtime,
            version: self.meta.version,
            cversion: self
                .meta
                .cversion
                .wrapping_mul(2)
                .wrapping_sub(num_children),
            aversion: self.meta.aversion,
            ephemeral_owner: match self.ephemeral_type {
                EphemeralType::Normal => self.meta.ephemeral_owner,
                EphemeralType::Void | EphemeralType::Container | EphemeralType::Ttl => 0,
            },
            data_length,
            num_children,
            pzxid: self.meta.pzxid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::Acl;

    #[test]
    fn ttl_owner_encoding_and_bounds() {
        assert_eq!(ttl_owner(1), Some(0xff00_0000_0000_0001_u64 as i64));
        assert_eq!(ttl_owner(0), None);
        assert_eq!(ttl_owner(-1), None);
        assert_eq!(ttl_owner(TTL_MAX_MS), Some(EXTENDED_MASK | 0xff_ffff_ffff));
        assert_eq!(ttl_owner(TTL_MAX_MS + 1), None);
        assert_eq!(ttl_of_owner(ttl_owner(12345).unwrap()), 12345);
    }

    #[test]
    fn ephemeral_type_depends_on_extended_types() {
        let ttl = ttl_owner(5).unwrap();
        assert_eq!(EphemeralType::of(ttl, true), EphemeralType::Ttl);
        assert_eq!(EphemeralType::of(ttl, false), EphemeralType::Normal);
        assert_eq!(
            EphemeralType::of(CONTAINER_EPHEMERAL_OWNER, false),
            EphemeralType::Container
        );
        assert_eq!(EphemeralType::of(0, true), EphemeralType::Void);
        assert_eq!(EphemeralType::of(0x1234, true), EphemeralType::Normal);
    }

    #[test]
    fn clients_see_owner_zero_for_containers_and_ttl_nodes() {
        let node = |owner, extended| {
            let meta = Meta {
                ephemeral_owner: owner,
                ..Meta::default()
            };
            Node::new(meta, Some(vec![]), Acl::open_unsafe().into(), extended)
                .stat()
                .ephemeral_owner
        };
        assert_eq!(node(CONTAINER_EPHEMERAL_OWNER, false), 0);
        assert_eq!(node(ttl_owner(9).unwrap(), true), 0);
        assert_eq!(node(ttl_owner(9).unwrap(), false), ttl_owner(9).unwrap());
        assert_eq!(node(0x42, true), 0x42);
    }

    #[test]
    fn reported_cversion_counts_creations_and_deletions() {
        let mut node = Node::new(
            Meta::default(),
            Some(vec![1, 2]),
            Acl::open_unsafe().into(),
            false,
        );
        node.meta.cversion = 3;
        node.children.insert("a");
        let stat = node.stat();
        assert_eq!(stat.cversion, 5, "3 creates, 2 deletes");
        assert_eq!(stat.num_children, 1);
        assert_eq!(stat.data_length, 2);
    }

    #[test]
    fn child_names_keep_str_order_inline_or_boxed() {
        assert_eq!(
            std::mem::size_of::<Name>(),
            24,
            "a name is one 24-byte slot"
        );
        let long = "x".repeat(NAME_INLINE_MAX + 1);
        let edge = "y".repeat(NAME_INLINE_MAX);
        let mut names = vec![
            "b",
            "a",
            "a-b",
            "ab",
            "",
            "é",
            "zz",
            "n0000012345",
            long.as_str(),
            edge.as_str(),
            "x",
            "lock-0000000001",
        ];
        let children: Children = names.iter().collect();
        names.sort();
        names.dedup();
        let listed: Vec<&str> = children.iter().collect();
        assert_eq!(listed, names, "str order, whichever way each name is held");
        assert!(matches!(Name::new(&long), Name::Boxed(_)));
        assert!(matches!(Name::new(&edge), Name::Inline { .. }));
        let mut children = children;
        for name in &names {
            assert!(children.contains(name), "{name}");
            assert!(!children.insert(name), "{name} is there already");
        }
        for name in &names {
            assert!(children.remove(name), "{name}");
            assert!(!children.contains(name), "{name} removed");
        }
        assert!(children.is_empty(), "an emptied set is no set");
        assert_eq!(format!("{:?}", Name::new("é")), "\"é\"");
    }

    #[test]
    fn contains_answers_alike_past_the_last_name_and_inside() {
        let mut children = Children::default();
        assert!(!children.contains("a"), "an empty set holds nothing");
        for i in (0..40).step_by(2) {
            assert!(
                !children.contains(&format!("n{i:010}")),
                "appended name not there yet"
            );
            assert!(children.insert(&format!("n{i:010}")));
        }
        let last = format!("n{:010}", 38);
        assert!(children.contains(&last), "the last name itself");
        assert!(
            !children.contains(&format!("{last}0")),
            "after the last, longer"
        );
        assert!(
            !children.contains("n000000003"),
            "a prefix of a name, inside the range"
        );
        assert!(
            !children.contains(&format!("n{:010}", 7)),
            "a gap inside the range"
        );
        assert!(children.contains(&format!("n{:010}", 0)), "the first name");
        assert!(!children.contains("a"), "before the first name");
        assert!(!children.contains("o"), "after every name");
    }
}
