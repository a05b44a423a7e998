//! Request type codes (`ZooDefs.OpCode`) as they travel in `RequestHeader.type`.
//!
//! Source: `org.apache.zookeeper.ZooDefs.OpCode` (ZooKeeper 3.9).

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpCode {
    Notification,
    Create,
    Delete,
    Exists,
    GetData,
    SetData,
    GetAcl,
    SetAcl,
    GetChildren,
    Sync,
    Ping,
    GetChildren2,
    Check,
    Multi,
    Create2,
    Reconfig,
    CheckWatches,
    RemoveWatches,
    CreateContainer,
    DeleteContainer,
    CreateTtl,
    MultiRead,
    Auth,
    SetWatches,
    Sasl,
    GetEphemerals,
    GetAllChildrenNumber,
    SetWatches2,
    AddWatch,
    WhoAmI,
    CreateSession,
    CloseSession,
    Error,
}

const TABLE: [(OpCode, i32); 33] = [
    (OpCode::Notification, 0),
    (OpCode::Create, 1),
    (OpCode::Delete, 2),
    (OpCode::Exists, 3),
    (OpCode::GetData, 4),
    (OpCode::SetData, 5),
    (OpCode::GetAcl, 6),
    (OpCode::SetAcl, 7),
    (OpCode::GetChildren, 8),
    (OpCode::Sync, 9),
    (OpCode::Ping, 11),
    (OpCode::GetChildren2, 12),
    (OpCode::Check, 13),
    (OpCode::Multi, 14),
    (OpCode::Create2, 15),
    (OpCode::Reconfig, 16),
    (OpCode::CheckWatches, 17),
    (OpCode::RemoveWatches, 18),
    (OpCode::CreateContainer, 19),
    (OpCode::DeleteContainer, 20),
    (OpCode::CreateTtl, 21),
    (OpCode::MultiRead, 22),
    (OpCode::Auth, 100),
    (OpCode::SetWatches, 101),
    (OpCode::Sasl, 102),
    (OpCode::GetEphemerals, 103),
    (OpCode::GetAllChildrenNumber, 104),
    (OpCode::SetWatches2, 105),
    (OpCode::AddWatch, 106),
    (OpCode::WhoAmI, 107),
    (OpCode::CreateSession, -10),
    (OpCode::CloseSession, -11),
    (OpCode::Error, -1),
];

impl OpCode {
    pub fn code(self) -> i32 {
        TABLE
            .iter()
            .find(|(c, _)| *c == self)
            .map(|(_, v)| *v)
            .expect("TABLE lists every OpCode variant")
    }

    pub fn from_code(value: i32) -> Option<OpCode> {
        TABLE.iter().find(|(_, v)| *v == value).map(|(c, _)| *c)
    }

    /// ZooKeeper's name for the op as `Request.op2String` prints it (used by 4lw output).
    pub fn name(self) -> &'static str {
        match self {
            OpCode::Notification => "notification",
            OpCode::Create => "create",
            OpCode::Delete => "delete",
            OpCode::Exists => "exists",
            OpCode::GetData => "getData",
            OpCode::SetData => "setData",
            OpCode::GetAcl => "getACL",
            OpCode::SetAcl => "setACL",
            OpCode::GetChildren => "getChildren",
            OpCode::Sync => "sync",
            OpCode::Ping => "ping",
            OpCode::GetChildren2 => "getChildren2",
            OpCode::Check => "check",
            OpCode::Multi => "multi",
            OpCode::Create2 => "create2",
            OpCode::Reconfig => "reconfig",
            OpCode::CheckWatches => "checkWatches",
            OpCode::RemoveWatches => "removeWatches",
            OpCode::CreateContainer => "createContainer",
            OpCode::DeleteContainer => "deleteContainer",
            OpCode::CreateTtl => "createTtl",
            OpCode::MultiRead => "multiRead",
            OpCode::Auth => "auth",
            OpCode::SetWatches => "setWatches",
            OpCode::Sasl => "sasl",
            OpCode::GetEphemerals => "getEphemerals",
            OpCode::GetAllChildrenNumber => "getAllChildrenNumber",
            OpCode::SetWatches2 => "setWatches2",
            OpCode::AddWatch => "addWatch",
            OpCode::WhoAmI => "whoAmI",
            OpCode::CreateSession => "createSession",
            OpCode::CloseSession => "closeSession",
            OpCode::Error => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_opcode_round_trips_through_its_wire_value() {
        for (op, value) in TABLE {
            assert_eq!(op.code(), value);
            assert_eq!(OpCode::from_code(value), Some(op));
        }
        assert_eq!(OpCode::from_code(10), None);
        assert_eq!(OpCode::from_code(23), None);
    }
}
