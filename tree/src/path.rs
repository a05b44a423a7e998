//! Znode path rules: `org.apache.zookeeper.common.PathUtils.validatePath` and the parent
//! split `PrepRequestProcessor` uses.
//!
//! Java checks UTF-16 code units; a Rust `char` outside the Basic Multilingual Plane is a
//! surrogate pair in Java, and surrogates (U+D800..U+DFFF) are forbidden, so every such char
//! is invalid here too. A segment that is exactly "." or ".." is forbidden, as are empty
//! segments and a trailing '/' (except for the root itself).

/// Why a path is invalid (the server logs it; clients only ever see BadArguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    Empty,
    NotAbsolute,
    TrailingSlash,
    NullChar,
    EmptySegment,
    RelativeSegment,
    InvalidChar,
}

/// `PathUtils.validatePath`.
pub fn validate_path(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(PathError::TrailingSlash);
    }
    // Java reports the first offending character; any failure is BadArguments, so only the
    // per-character order (null first, then the forbidden ranges) matters for the reason.
    for c in path[1..].chars() {
        if c == '\0' {
            return Err(PathError::NullChar);
        }
        if is_forbidden_char(c) {
            return Err(PathError::InvalidChar);
        }
    }
    for segment in path[1..].split('/') {
        if segment.is_empty() {
            return Err(PathError::EmptySegment);
        }
        if segment == "." || segment == ".." {
            return Err(PathError::RelativeSegment);
        }
    }
    Ok(())
}

/// The characters `PathUtils` rejects (control characters, U+007F..U+009F, surrogates and
/// the private use area U+D800..U+F8FF, U+FFF0..U+FFFF), plus anything outside the BMP,
/// which Java sees as a surrogate pair.
fn is_forbidden_char(c: char) -> bool {
    let v = c as u32;
    (1..=0x1f).contains(&v)
        || (0x7f..=0x9f).contains(&v)
        || (0xd800..=0xf8ff).contains(&v)
        || (0xfff0..=0xffff).contains(&v)
        || v > 0xffff
}

/// Everything before the last '/', as `path.substring(0, lastSlash)`: "" for "/a" (the
/// root, as ZooKeeper's node table also maps "" to the root), None without any '/'.
pub fn parent_of(path: &str) -> Option<&str> {
    path.rfind('/').map(|i| &path[..i])
}

/// The last segment (after the last '/'); the whole string if there is none.
pub fn child_name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// The path watches are keyed by for a parent from `parent_of`: "" becomes "/".
pub fn watch_path(parent: &str) -> &str {
    if parent.is_empty() {
        "/"
    } else {
        parent
    }
}

/// The key in the node table: ZooKeeper keeps the root under both "" and "/".
pub fn node_key(path: &str) -> &str {
    watch_path(path)
}

/// The ancestors of `path` from its parent up to "/" (none for "/" itself), as
/// `PathParentIterator` walks them.
pub fn ancestors(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut current = path;
    while current != "/" {
        match parent_of(current) {
            Some(parent) => {
                let parent = watch_path(parent);
                out.push(parent);
                current = parent;
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_paths_pass() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/...",
            "/a/.b",
            "/a/b..",
            "/zookeeper",
            "/\u{e9}",
        ] {
            assert_eq!(validate_path(p), Ok(()), "path {p:?}");
        }
    }

    #[test]
    fn invalid_paths_fail_with_reason() {
        let cases = [
            ("", PathError::Empty),
            ("a", PathError::NotAbsolute),
            ("/a/", PathError::TrailingSlash),
            ("//", PathError::TrailingSlash),
            ("/a//b", PathError::EmptySegment),
            ("/a/./b", PathError::RelativeSegment),
            ("/a/..", PathError::RelativeSegment),
            ("/.", PathError::RelativeSegment),
            ("/a\0b", PathError::NullChar),
            ("/a\u{1}", PathError::InvalidChar),
            ("/a\u{7f}", PathError::InvalidChar),
            ("/a\u{9f}", PathError::InvalidChar),
            ("/a\u{e000}", PathError::InvalidChar),
            ("/a\u{fff0}", PathError::InvalidChar),
            ("/a\u{fffd}", PathError::InvalidChar),
            ("/a\u{1f600}", PathError::InvalidChar),
        ];
        for (p, reason) in cases {
            assert_eq!(validate_path(p), Err(reason), "path {p:?}");
        }
    }

    #[test]
    fn parent_split_matches_substring_to_last_slash() {
        assert_eq!(parent_of("/a"), Some(""));
        assert_eq!(parent_of("/a/b"), Some("/a"));
        assert_eq!(parent_of("/a/"), Some("/a"));
        assert_eq!(parent_of("a"), None);
        assert_eq!(child_name("/a/b"), "b");
        assert_eq!(ancestors("/a/b"), vec!["/a", "/"]);
        assert_eq!(ancestors("/"), Vec::<&str>::new());
    }
}
