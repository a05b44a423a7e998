//! Facts about the host and process that `envi`, `mntr`, `conf` and `dirs` print, read with std
//! only (procfs and environment variables; no `unsafe`). Each returns `None` or `"<NA>"` when
//! the fact is unavailable, as Java's `System.getProperty(key, "<NA>")` does.

use std::path::Path;

/// Java's placeholder for a missing property.
const NA: &str = "<NA>";

/// Deepest directory nesting `dir_size_bytes` descends, so a symlink loop cannot hang it.
const DIR_DEPTH_MAX: u32 = 32;

/// The `envi` lines, in ZooKeeper's order (`Environment.list`), with our values. There is no
/// JVM, so the `java.*` values are `<NA>` (except `java.io.tmpdir`, which means the same for
/// us); `os.memory.free/max/total` are the host's available and total memory and our resident
/// set, in MB.
pub fn collect_environment(version: &str) -> Vec<(String, String)> {
    let na = || NA.to_string();
    let proc_text = |path: &str| read_trimmed(Path::new(path)).unwrap_or_else(na);
    let account = passwd_entry();
    let user_name = account
        .as_ref()
        .map(|(name, _)| name.clone())
        .or_else(|| env("USER"));
    let user_home = account.map(|(_, home)| home).or_else(|| env("HOME"));
    let user_dir = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| na());
    let meminfo = |key: &str| proc_field("/proc/meminfo", key).map(mb).unwrap_or_else(na);
    let rss = proc_field("/proc/self/status", "VmRSS:")
        .map(mb)
        .unwrap_or_else(na);
    let entries: Vec<(&str, String)> = vec![
        ("zookeeper.version", version.to_string()),
        ("host.name", proc_text("/proc/sys/kernel/hostname")),
        ("java.version", na()),
        ("java.vendor", na()),
        ("java.home", na()),
        ("java.class.path", na()),
        ("java.library.path", na()),
        ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
        ("java.compiler", na()),
        ("os.name", java_os_name().to_string()),
        ("os.arch", java_os_arch().to_string()),
        ("os.version", proc_text("/proc/sys/kernel/osrelease")),
        ("user.name", user_name.unwrap_or_else(na)),
        ("user.home", user_home.unwrap_or_else(na)),
        ("user.dir", user_dir),
        ("os.memory.free", meminfo("MemAvailable:")),
        ("os.memory.max", meminfo("MemTotal:")),
        ("os.memory.total", rss),
    ];
    entries
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect()
}

/// Open file descriptors of this process (entries of `/proc/self/fd`, which like Java's count
/// includes the descriptor used to list it).
pub fn open_file_descriptor_count() -> Option<u64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(entries.filter(Result::is_ok).count() as u64)
}

/// The soft limit on open files (`Max open files` in `/proc/self/limits`).
pub fn max_file_descriptor_count() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Total length of the regular files under `path`, recursively (ZooKeeper's `getDirSize`);
/// 0 if it cannot be read.
pub fn dir_size_bytes(path: &Path) -> u64 {
    dir_size_at_depth(path, 0)
}

fn dir_size_at_depth(path: &Path, depth: u32) -> u64 {
    let Ok(metadata) = std::fs::metadata(path) else {
        return 0;
    };
    if !metadata.is_dir() {
        return metadata.len();
    }
    if depth >= DIR_DEPTH_MAX {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| dir_size_at_depth(&entry.path(), depth + 1))
        .sum()
}

fn read_trimmed(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// The first number after `key` in a procfs "Key:   123 kB" file, in kB.
fn proc_field(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|line| line.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

fn mb(kb: u64) -> String {
    format!("{}MB", kb / 1024)
}

/// (name, home) of our real uid from /etc/passwd, as Java's getpwuid-based properties.
fn passwd_entry() -> Option<(String, String)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?;
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 6 && fields[2] == uid)
            .then(|| (fields[0].to_string(), fields[5].to_string()))
    })
}

/// Java's `os.name` for our target OS.
fn java_os_name() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac OS X",
        "freebsd" => "FreeBSD",
        "windows" => "Windows",
        other => other,
    }
}

/// Java's `os.arch` for our target architecture.
fn java_os_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_has_zookeepers_keys_in_order() {
        let keys: Vec<String> = collect_environment("v")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let expected = [
            "zookeeper.version",
            "host.name",
            "java.version",
            "java.vendor",
            "java.home",
            "java.class.path",
            "java.library.path",
            "java.io.tmpdir",
            "java.compiler",
            "os.name",
            "os.arch",
            "os.version",
            "user.name",
            "user.home",
            "user.dir",
            "os.memory.free",
            "os.memory.max",
            "os.memory.total",
        ];
        assert_eq!(keys, expected);
    }

    #[test]
    fn fd_counts_are_read_on_linux() {
        if cfg!(target_os = "linux") {
            let open = open_file_descriptor_count().expect("procfs");
            let max = max_file_descriptor_count().expect("procfs");
            assert!(open >= 3 && open <= max, "open {open} max {max}");
        }
    }

    #[test]
    fn dir_size_sums_file_lengths_recursively() {
        let root = std::env::temp_dir().join(format!("fk-dirsize-{}", std::process::id()));
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        std::fs::write(root.join("a"), [0u8; 10]).expect("write");
        std::fs::write(root.join("sub/b"), [0u8; 32]).expect("write");
        assert_eq!(dir_size_bytes(&root), 42);
        assert_eq!(dir_size_bytes(&root.join("missing")), 0);
        std::fs::remove_dir_all(&root).expect("cleanup");
    }
}
