//! The two checksums ZooKeeper's files rely on, written here so the binary needs no new
//! dependency: Adler-32 (RFC 1950 §9; `java.util.zip.Adler32`), which seals every txn-log
//! record and every snapshot, and CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320;
//! `java.util.zip.CRC32`), which `DigestCalculator` uses for the per-node tree digest.

/// The largest prime below 2^16.
const MOD_ADLER: u32 = 65_521;
/// The most bytes that can be summed before `b` could overflow a u32 (zlib's NMAX).
const BLOCK_BYTES: usize = 5552;

/// `new Adler32().update(bytes).getValue()`.
pub fn adler32(bytes: &[u8]) -> u32 {
    let mut a: u32 = 1;
    let mut b: u32 = 0;
    for block in bytes.chunks(BLOCK_BYTES) {
        for &byte in block {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD_ADLER;
        b %= MOD_ADLER;
    }
    assert!(a < MOD_ADLER && b < MOD_ADLER, "sums reduced: a {a}, b {b}");
    (b << 16) | a
}

/// The CRC-32 lookup table, built at compile time.
const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// A running CRC-32, fed in pieces as `CRC32.update` is.
pub struct Crc32(u32);

impl Crc32 {
    pub fn new() -> Crc32 {
        Crc32(0xffff_ffff)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = CRC_TABLE[((self.0 ^ u32::from(b)) & 0xff) as usize] ^ (self.0 >> 8);
        }
    }

    /// `CRC32.getValue()`.
    pub fn value(&self) -> u32 {
        !self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_check_value() {
        let mut crc = Crc32::new();
        crc.update(b"1234");
        crc.update(b"56789");
        assert_eq!(
            crc.value(),
            0xcbf4_3926,
            "the CRC-32 check value of \"123456789\""
        );
        assert_eq!(Crc32::new().value(), 0);
    }

    #[test]
    fn matches_published_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(adler32(b"abc"), 0x024d_0127);
        // Long input crosses several reduction blocks: 0xff * 100_000.
        let long = vec![0xffu8; 100_000];
        let (mut a, mut b) = (1u64, 0u64);
        for &x in &long {
            a = (a + u64::from(x)) % 65_521;
            b = (b + a) % 65_521;
        }
        assert_eq!(adler32(&long), ((b << 16) | a) as u32);
    }
}
