//! The data records of `zookeeper.jute` (module `org.apache.zookeeper.data`): `Id`, `ACL`,
//! `Stat`, plus the permission bits of `ZooDefs.Perms` and the create modes of `CreateMode`.
//! Fields are in jute order; names follow jute's in snake case.

use crate::jute::{DecodeError, Reader, Writer};

/// Permission bits (`ZooDefs.Perms`).
pub mod perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 2;
    pub const CREATE: i32 = 4;
    pub const DELETE: i32 = 8;
    pub const ADMIN: i32 = 16;
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

/// `class Id { ustring scheme; ustring id; }`
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    pub scheme: String,
    pub id: String,
}

impl Id {
    pub fn new(scheme: &str, id: &str) -> Id {
        Id {
            scheme: scheme.to_string(),
            id: id.to_string(),
        }
    }

    pub fn read(r: &mut Reader<'_>) -> Result<Id, DecodeError> {
        Ok(Id {
            scheme: r.read_string()?,
            id: r.read_string()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_string(&self.scheme);
        w.write_string(&self.id);
    }
}

/// `class ACL { int perms; Id id; }`
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Acl {
    pub perms: i32,
    pub id: Id,
}

impl Acl {
    /// `ZooDefs.Ids.OPEN_ACL_UNSAFE`: world:anyone with every permission.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id::new("world", "anyone"),
        }]
    }

    /// `ZooDefs.Ids.READ_ACL_UNSAFE`: world:anyone may read.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::READ,
            id: Id::new("world", "anyone"),
        }]
    }

    /// The smallest encoding of one ACL: perms plus two empty strings.
    pub const MIN_WIRE_BYTES: usize = 12;

    pub fn read(r: &mut Reader<'_>) -> Result<Acl, DecodeError> {
        Ok(Acl {
            perms: r.read_i32()?,
            id: Id::read(r)?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_i32(self.perms);
        self.id.write(w);
    }

    pub fn read_list(r: &mut Reader<'_>) -> Result<Vec<Acl>, DecodeError> {
        r.read_vec(Acl::MIN_WIRE_BYTES, Acl::read)
    }

    pub fn write_list(acl: &[Acl], w: &mut Writer) {
        w.write_vec(acl, |w, a| a.write(w));
    }
}

/// `class Stat`: the znode metadata every read returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stat {
    /// zxid of the txn that created the node.
    pub czxid: i64,
    /// zxid of the txn that last modified the node's data.
    pub mzxid: i64,
    /// Creation time, ms since the epoch (the leader's clock when the txn was made).
    pub ctime: i64,
    pub mtime: i64,
    /// Number of changes to the data.
    pub version: i32,
    /// Number of changes to the children.
    pub cversion: i32,
    /// Number of changes to the ACL.
    pub aversion: i32,
    /// Session id of the owner if ephemeral, else 0 (containers and TTL nodes use marker
    /// values here, as ZooKeeper's `EphemeralType` does).
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    /// zxid of the txn that last changed the children.
    pub pzxid: i64,
}

impl Stat {
    /// Encoded size: 6 longs and 5 ints.
    pub const WIRE_BYTES: usize = 68;

    pub fn read(r: &mut Reader<'_>) -> Result<Stat, DecodeError> {
        Ok(Stat {
            czxid: r.read_i64()?,
            mzxid: r.read_i64()?,
            ctime: r.read_i64()?,
            mtime: r.read_i64()?,
            version: r.read_i32()?,
            cversion: r.read_i32()?,
            aversion: r.read_i32()?,
            ephemeral_owner: r.read_i64()?,
            data_length: r.read_i32()?,
            num_children: r.read_i32()?,
            pzxid: r.read_i64()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        let start = w.bytes.len();
        w.write_i64(self.czxid);
        w.write_i64(self.mzxid);
        w.write_i64(self.ctime);
        w.write_i64(self.mtime);
        w.write_i32(self.version);
        w.write_i32(self.cversion);
        w.write_i32(self.aversion);
        w.write_i64(self.ephemeral_owner);
        w.write_i32(self.data_length);
        w.write_i32(self.num_children);
        w.write_i64(self.pzxid);
        assert_eq!(
            w.bytes.len() - start,
            Stat::WIRE_BYTES,
            "Stat encodes to 68 bytes"
        );
    }
}

/// `org.apache.zookeeper.CreateMode`, with the flag values of `CreateRequest.flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CreateMode {
    Persistent,
    Ephemeral,
    PersistentSequential,
    EphemeralSequential,
    Container,
    PersistentWithTtl,
    PersistentSequentialWithTtl,
}

impl CreateMode {
    pub fn from_flags(flags: i32) -> Option<CreateMode> {
        match flags {
            0 => Some(CreateMode::Persistent),
            1 => Some(CreateMode::Ephemeral),
            2 => Some(CreateMode::PersistentSequential),
            3 => Some(CreateMode::EphemeralSequential),
            4 => Some(CreateMode::Container),
            5 => Some(CreateMode::PersistentWithTtl),
            6 => Some(CreateMode::PersistentSequentialWithTtl),
            _ => None,
        }
    }

    pub fn flags(self) -> i32 {
        match self {
            CreateMode::Persistent => 0,
            CreateMode::Ephemeral => 1,
            CreateMode::PersistentSequential => 2,
            CreateMode::EphemeralSequential => 3,
            CreateMode::Container => 4,
            CreateMode::PersistentWithTtl => 5,
            CreateMode::PersistentSequentialWithTtl => 6,
        }
    }

    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    pub fn is_container(self) -> bool {
        self == CreateMode::Container
    }

    pub fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_round_trips_in_68_bytes() {
        let stat = Stat {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            data_length: 9,
            num_children: 10,
            pzxid: 11,
        };
        let mut w = Writer::new();
        stat.write(&mut w);
        assert_eq!(w.bytes.len(), Stat::WIRE_BYTES);
        let mut r = Reader::new(&w.bytes);
        assert_eq!(Stat::read(&mut r).unwrap(), stat);
        r.finish("Stat").unwrap();
    }

    #[test]
    fn create_mode_flags_round_trip() {
        for flags in 0..7 {
            assert_eq!(CreateMode::from_flags(flags).unwrap().flags(), flags);
        }
        assert_eq!(CreateMode::from_flags(7), None);
        assert_eq!(CreateMode::from_flags(-1), None);
    }
}
