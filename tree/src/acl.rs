//! ACL checks and auth identities, matching ZooKeeper 3.8's default providers
//! (`ProviderRegistry` registers only "ip" and "digest"; "world:anyone" and "super" are
//! special-cased by `ZooKeeperServer.checkACL`, "auth" by `PrepRequestProcessor.fixupACL`).
//!
//! - `check_acl`: `ZooKeeperServer.checkACL` — any "super" identity passes; otherwise some
//!   ACL entry granting a requested bit must be world:anyone or match one of the caller's ids
//!   of the same scheme (digest: exact string; ip: address with optional CIDR bits).
//! - `fixup_acl`: dedup, reject empty lists and unknown schemes or malformed ids
//!   (InvalidAcl), expand "auth" into the caller's authenticated (digest) identities.
//! - `auth_ids_for`: what an auth packet adds (`DigestAuthenticationProvider` /
//!   `IPAuthenticationProvider.handleAuthentication`).

use std::borrow::Cow;

use wire::{Acl, ErrorCode, Id};

use crate::auth::{base64, sha1};

/// `DigestAuthenticationProvider.generateDigest`: "user:password" becomes
/// "user:base64(sha1("user:password"))"; the user is everything before the first ':'.
pub fn generate_digest(id_password: &str) -> String {
    let user = id_password.split(':').next().unwrap_or("");
    let hash = sha1::sha1(id_password.as_bytes());
    format!("{user}:{}", base64::encode(&hash))
}

/// The identities an `AuthPacket { scheme, auth }` adds to a connection, in the order
/// ZooKeeper adds them, or AuthFailed for a scheme no provider handles.
///
/// - digest: `Id("super", "")` first when the digest equals `super_digest`, then
///   `Id("digest", generate_digest(auth))`. Bytes are decoded as UTF-8, lossily, as Java's
///   `new String(bytes)` does.
/// - ip: accepted, and adds `Id("ip", remote_ip)` whatever the auth bytes say.
/// - anything else (world, auth, super, sasl, x509 unless configured): AuthFailed.
pub fn auth_ids_for(
    scheme: &str,
    auth: &[u8],
    super_digest: Option<&str>,
    remote_ip: &str,
) -> Result<Vec<Id>, ErrorCode> {
    match scheme {
        "digest" => {
            let digest = generate_digest(&String::from_utf8_lossy(auth));
            let mut ids = Vec::with_capacity(2);
            if super_digest == Some(digest.as_str()) {
                ids.push(Id::new("super", ""));
            }
            ids.push(Id::new("digest", &digest));
            Ok(ids)
        }
        "ip" => Ok(vec![Id::new("ip", remote_ip)]),
        _ => Err(ErrorCode::AuthFailed),
    }
}

/// `ZooKeeperServer.checkACL`: Ok when `auth` may do any of `perm` on a node with `acl`.
pub fn check_acl(acl: &[Acl], perm: i32, auth: &[Id]) -> Result<(), ErrorCode> {
    assert!(perm != 0, "a permission check needs at least one bit");
    // An empty ACL list lets everything through (fixup_acl never stores one, but ZooKeeper
    // checks this first, so a tree loaded from elsewhere behaves the same).
    if acl.is_empty() {
        return Ok(());
    }
    if auth.iter().any(|id| id.scheme == "super") {
        return Ok(());
    }
    for entry in acl {
        if entry.perms & perm == 0 {
            continue;
        }
        if entry.id.scheme == "world" && entry.id.id == "anyone" {
            return Ok(());
        }
        let matched = auth.iter().any(|caller| {
            caller.scheme == entry.id.scheme
                && match entry.id.scheme.as_str() {
                    "digest" => caller.id == entry.id.id,
                    "ip" => ip_matches(&caller.id, &entry.id.id),
                    _ => false,
                }
        });
        if matched {
            return Ok(());
        }
    }
    Err(ErrorCode::NoAuth)
}

/// `PrepRequestProcessor.fixupACL`: validates an ACL list from a create or setACL and
/// expands "auth" entries into the caller's authenticated identities.
pub fn fixup_acl<'a>(acl: &'a [Acl], auth: &[Id]) -> Result<Cow<'a, [Acl]>, ErrorCode> {
    if acl.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    // The common case, a list with no duplicates and no "auth" entry, comes out as it went
    // in: checked in place, without copying it (a create's ACL is nearly always this).
    let plain = acl
        .iter()
        .enumerate()
        .all(|(i, entry)| entry.id.scheme != "auth" && !acl[..i].contains(entry));
    if plain {
        if !acl.iter().all(|entry| is_valid_plain_id(&entry.id)) {
            return Err(ErrorCode::InvalidAcl);
        }
        return Ok(Cow::Borrowed(acl));
    }
    let mut unique: Vec<&Acl> = Vec::with_capacity(acl.len());
    for entry in acl {
        if !unique.contains(&entry) {
            unique.push(entry);
        }
    }
    let mut out = Vec::with_capacity(unique.len());
    for entry in unique {
        let id = &entry.id;
        if id.scheme == "auth" {
            // Only providers whose isAuthenticated() is true count: digest does, ip does
            // not, and "super" has no provider at all.
            let mut any = false;
            for caller in auth.iter().filter(|caller| caller.scheme == "digest") {
                any = true;
                out.push(Acl {
                    perms: entry.perms,
                    id: caller.clone(),
                });
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if is_valid_plain_id(id) {
            out.push(entry.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    assert!(!out.is_empty(), "a fixed-up ACL is never empty");
    Ok(Cow::Owned(out))
}

/// An entry other than "auth" is kept as it is if it is world:anyone or a valid id of a
/// registered scheme.
fn is_valid_plain_id(id: &Id) -> bool {
    (id.scheme == "world" && id.id == "anyone") || is_valid_id(&id.scheme, &id.id)
}

/// `ServerAuthenticationProvider.isValid` for the registered schemes.
fn is_valid_id(scheme: &str, id: &str) -> bool {
    match scheme {
        // Java's `id.split(":").length == 2`: trailing empty strings are dropped.
        "digest" => java_split_len(id, ':') == 2,
        "ip" => parse_ip_acl(id).is_some(),
        _ => false,
    }
}

/// The length of Java's `s.split(sep)` (limit 0): trailing empty pieces are removed, but
/// the empty string still splits into one piece.
fn java_split_len(s: &str, sep: char) -> usize {
    if s.is_empty() {
        return 1;
    }
    let pieces: Vec<&str> = s.split(sep).collect();
    let trailing_empty = pieces.iter().rev().take_while(|p| p.is_empty()).count();
    pieces.len() - trailing_empty
}

/// Java's `Integer.parseInt`: optional sign, then ASCII digits, no overflow.
fn java_parse_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i32>().ok()
}

/// `IPAuthenticationProvider.v4addr2Bytes`: four dot-separated ints in 0..=255 (IPv6 is
/// not supported by ZooKeeper 3.8 either).
fn parse_ipv4(addr: &str) -> Option<[u8; 4]> {
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut out = [0u8; 4];
    for (i, part) in parts.iter().enumerate() {
        let v = java_parse_int(part)?;
        out[i] = u8::try_from(v).ok()?;
    }
    Some(out)
}

/// An ip ACL id: "a.b.c.d" or "a.b.c.d/bits" with bits in 0..=32.
fn parse_ip_acl(id: &str) -> Option<([u8; 4], u32)> {
    let (addr, bits) = match id.split_once('/') {
        Some((addr, bits)) => (addr, Some(bits)),
        None => (id, None),
    };
    let addr = parse_ipv4(addr)?;
    let bits = match bits {
        None => 32,
        Some(text) => u32::try_from(java_parse_int(text)?)
            .ok()
            .filter(|b| *b <= 32)?,
    };
    Some((addr, bits))
}

fn mask(addr: [u8; 4], bits: u32) -> u32 {
    assert!(bits <= 32, "mask bits {bits} > 32");
    let value = u32::from_be_bytes(addr);
    if bits == 0 {
        0
    } else {
        value & (u32::MAX << (32 - bits))
    }
}

/// `IPAuthenticationProvider.matches`: the caller's address against an ACL's address and
/// prefix length.
pub fn ip_matches(caller: &str, acl_expr: &str) -> bool {
    let Some((acl_addr, bits)) = parse_ip_acl(acl_expr) else {
        return false;
    };
    let Some(remote) = parse_ipv4(caller) else {
        return false;
    };
    mask(acl_addr, bits) == mask(remote, bits)
}

/// getACL's answer for a caller with READ but not ADMIN: digest ids lose their hash
/// (`user:hash` becomes `user:x`, as `replaceAll(":.*", ":x")` does).
pub fn redact_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|entry| {
            if entry.id.scheme == "digest" {
                let id = match entry.id.id.find(':') {
                    Some(i) => format!("{}:x", &entry.id.id[..i]),
                    None => entry.id.id.clone(),
                };
                Acl {
                    perms: entry.perms,
                    id: Id {
                        scheme: "digest".to_string(),
                        id,
                    },
                }
            } else {
                entry.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::perms;

    /// `fixup_acl` with the result owned, to compare with lists.
    fn fixed(acl: &[Acl], auth: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
        fixup_acl(acl, auth).map(Cow::into_owned)
    }

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    #[test]
    fn digest_matches_zookeeper_generate_digest() {
        // The first from the ZooKeeper admin guide; the second computed independently.
        assert_eq!(
            generate_digest("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        assert_eq!(
            generate_digest("user:pass"),
            "user:smGaoVKd/cQkjm7b88GyorAUz20="
        );
    }

    #[test]
    fn digest_auth_adds_super_first_when_it_matches() {
        let sup = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";
        let ids = auth_ids_for("digest", b"super:test", Some(sup), "127.0.0.1").unwrap();
        assert_eq!(ids, vec![Id::new("super", ""), Id::new("digest", sup)]);
        let ids = auth_ids_for("digest", b"super:wrong", Some(sup), "127.0.0.1").unwrap();
        assert_eq!(ids.len(), 1);
        assert_eq!(
            auth_ids_for("ip", b"", None, "10.1.2.3").unwrap(),
            vec![Id::new("ip", "10.1.2.3")]
        );
        assert_eq!(
            auth_ids_for("world", b"anyone", None, "1.2.3.4"),
            Err(ErrorCode::AuthFailed)
        );
        assert_eq!(
            auth_ids_for("super", b"x", None, "1.2.3.4"),
            Err(ErrorCode::AuthFailed)
        );
    }

    #[test]
    fn ip_acl_matches_cidr_and_single_addresses() {
        assert!(ip_matches("10.1.2.3", "10.0.0.0/8"));
        assert!(!ip_matches("11.1.2.3", "10.0.0.0/8"));
        assert!(ip_matches("10.1.2.3", "10.1.2.3"));
        assert!(!ip_matches("10.1.2.4", "10.1.2.3"));
        assert!(ip_matches("1.2.3.4", "0.0.0.0/0"));
        assert!(ip_matches("192.168.1.77", "192.168.1.64/26"));
        assert!(!ip_matches("192.168.1.128", "192.168.1.64/26"));
        assert!(!ip_matches("0:0:0:0:0:0:0:1", "127.0.0.1"));
        assert!(!ip_matches("10.1.2.3", "10.0.0.0/33"));
    }

    #[test]
    fn check_acl_needs_a_matching_entry_with_the_bit() {
        let node = vec![
            acl(perms::READ, "world", "anyone"),
            acl(perms::ALL, "digest", "u:h"),
        ];
        assert_eq!(check_acl(&node, perms::READ, &[]), Ok(()));
        assert_eq!(check_acl(&node, perms::WRITE, &[]), Err(ErrorCode::NoAuth));
        assert_eq!(
            check_acl(&node, perms::WRITE, &[Id::new("digest", "u:h")]),
            Ok(())
        );
        assert_eq!(
            check_acl(&node, perms::WRITE, &[Id::new("digest", "u:x")]),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(
            check_acl(&node, perms::WRITE, &[Id::new("super", "")]),
            Ok(())
        );
        let ip = vec![acl(perms::ALL, "ip", "10.0.0.0/8")];
        assert_eq!(
            check_acl(&ip, perms::DELETE, &[Id::new("ip", "10.9.9.9")]),
            Ok(())
        );
        assert_eq!(
            check_acl(&ip, perms::DELETE, &[Id::new("ip", "9.9.9.9")]),
            Err(ErrorCode::NoAuth)
        );
    }

    #[test]
    fn fixup_acl_rejects_bad_entries_and_expands_auth() {
        assert_eq!(fixed(&[], &[]), Err(ErrorCode::InvalidAcl));
        assert_eq!(
            fixed(&[acl(31, "world", "nobody")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixed(&[acl(31, "foo", "bar")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixed(&[acl(31, "digest", "nocolon")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixed(&[acl(31, "digest", "a:b:c")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert!(fixed(&[acl(31, "digest", "a:b:")], &[]).is_ok());
        assert_eq!(
            fixed(&[acl(31, "ip", "10.0.0/8")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixed(&[acl(31, "ip", "10.0.0.0/x")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert!(fixed(&[acl(31, "ip", "10.0.0.0/8")], &[]).is_ok());
        let ip_only = [Id::new("ip", "127.0.0.1")];
        assert_eq!(
            fixed(&[acl(31, "auth", "")], &ip_only),
            Err(ErrorCode::InvalidAcl)
        );
        let with_digest = [
            Id::new("ip", "127.0.0.1"),
            Id::new("super", ""),
            Id::new("digest", "u:h"),
        ];
        assert_eq!(
            fixed(&[acl(7, "auth", "")], &with_digest),
            Ok(vec![acl(7, "digest", "u:h")])
        );
        let dup = [acl(31, "world", "anyone"), acl(31, "world", "anyone")];
        assert_eq!(fixed(&dup, &[]), Ok(vec![acl(31, "world", "anyone")]));
    }

    #[test]
    fn redaction_keeps_user_and_hides_hash() {
        let redacted = redact_digests(&[acl(31, "digest", "u:abc:def"), acl(1, "ip", "1.2.3.4")]);
        assert_eq!(
            redacted,
            vec![acl(31, "digest", "u:x"), acl(1, "ip", "1.2.3.4")]
        );
    }
}
