//! The tree listing `shared/tools/zk_tree_list.py` prints for a live server, produced here
//! from a `DataTree`, so a converted tree can be diffed against the real server's.
//!
//! Format: a header line, then one tab-separated line per znode, sorted by path in byte
//! order: `path dataLength ephemeralOwner version cversion aversion numChildren czxid mzxid
//! pzxid ctime mtime data_sha1_12 acl`, then `# N znodes`. Stats are the ones a client sees
//! (`Node::stat`), ephemeralOwner as unsigned hex, zxids as Python prints them (`0x..`, a
//! minus sign before negatives), `data_sha1_12` the first 12 hex digits of SHA-1 of the
//! data, `acl` as `scheme:id:perms` joined by ',' with perms as letters from `rwcda` (or
//! `-` for none).

use tree::auth::sha1::sha1;
use tree::DataTree;
use wire::Acl;

const HEADER: &str = "#path\tdataLength\tephemeralOwner\tversion\tcversion\taversion\t\
                      numChildren\tczxid\tmzxid\tpzxid\tctime\tmtime\tdata_sha1_12\tacl";

/// `ZooDefs.Perms` bits and their letters, in the order the listing prints them.
const PERM_LETTERS: [(i32, char); 5] = [(1, 'r'), (2, 'w'), (4, 'c'), (8, 'd'), (16, 'a')];

/// The whole listing, newline-terminated.
pub fn list_tree(tree: &DataTree) -> String {
    let mut out = String::with_capacity(tree.len() * 128);
    out.push_str(HEADER);
    out.push('\n');
    let mut count = 0usize;
    // BTreeMap<String, _> order is byte order, as the script's sort key `path.encode()`.
    for (path, node) in tree.iter() {
        let s = node.stat();
        let owner = s.ephemeral_owner as u64;
        let digest = sha1(node.data());
        let digest_hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        let line = format!(
            "{path}\t{}\t0x{owner:x}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{digest_hex}\t{}",
            s.data_length,
            s.version,
            s.cversion,
            s.aversion,
            s.num_children,
            python_hex(s.czxid),
            python_hex(s.mzxid),
            python_hex(s.pzxid),
            s.ctime,
            s.mtime,
            acl_text(&node.acl),
        );
        out.push_str(&line);
        out.push('\n');
        count += 1;
    }
    assert_eq!(count, tree.len(), "every node listed");
    out.push_str(&format!("# {count} znodes\n"));
    out
}

/// Python's `f"0x{v:x}"` for a signed value.
fn python_hex(v: i64) -> String {
    if v < 0 {
        format!("-0x{:x}", v.unsigned_abs())
    } else {
        format!("0x{v:x}")
    }
}

fn acl_text(acl: &[Acl]) -> String {
    let entries: Vec<String> = acl
        .iter()
        .map(|a| {
            let letters: String = PERM_LETTERS
                .iter()
                .filter(|(bit, _)| a.perms & bit != 0)
                .map(|(_, c)| *c)
                .collect();
            let letters = if letters.is_empty() {
                "-".to_string()
            } else {
                letters
            };
            format!("{}:{}:{letters}", a.id.scheme, a.id.id)
        })
        .collect();
    entries.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tree::TreeConfig;

    #[test]
    fn a_fresh_tree_lists_like_a_fresh_zookeeper() {
        let listing = list_tree(&DataTree::new(TreeConfig::default()));
        let expected = "#path\tdataLength\tephemeralOwner\tversion\tcversion\taversion\t\
                        numChildren\tczxid\tmzxid\tpzxid\tctime\tmtime\tdata_sha1_12\tacl\n\
/\t0\t0x0\t0\t-1\t0\t1\t0x0\t0x0\t0x0\t0\t0\tda39a3ee5e6b\tworld:anyone:rwcda\n\
/zookeeper\t0\t0x0\t0\t-2\t0\t2\t0x0\t0x0\t0x0\t0\t0\tda39a3ee5e6b\tworld:anyone:rwcda\n\
/zookeeper/config\t0\t0x0\t0\t0\t-1\t0\t0x0\t0x0\t0x0\t0\t0\tda39a3ee5e6b\tworld:anyone:r\n\
/zookeeper/quota\t0\t0x0\t0\t0\t0\t0\t0x0\t0x0\t0x0\t0\t0\tda39a3ee5e6b\tworld:anyone:rwcda\n\
# 4 znodes\n";
        assert_eq!(listing, expected);
    }

    #[test]
    fn perms_and_negative_zxids_print_as_the_script_does() {
        assert_eq!(python_hex(-5), "-0x5");
        assert_eq!(python_hex(0x1_0000_0001), "0x100000001");
        let acl = vec![
            Acl {
                perms: 12,
                id: wire::Id::new("world", "anyone"),
            },
            Acl {
                perms: 0,
                id: wire::Id::new("ip", "127.0.0.1"),
            },
        ];
        assert_eq!(acl_text(&acl), "world:anyone:cd,ip:127.0.0.1:-");
    }
}
