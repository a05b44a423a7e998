//! The password ZooKeeper gives a session: `ZooKeeperServer.generatePasswd` seeds
//! `java.util.Random` with `session_id ^ 0xB3415C00` and draws 16 bytes. The converter gives
//! every session it carries over this password, so a client that moves from ZooKeeper to
//! Ferrokeeper can resume its session with the password it already holds.
//!
//! `java.util.Random` is a 48-bit linear congruential generator (its Javadoc gives the
//! constants): `seed = (seed * 0x5DEECE66D + 0xB) mod 2^48`, `next(32)` is the top 32 bits,
//! and `nextBytes` takes each `nextInt()` low byte first.

const SUPER_SECRET: i64 = 0xB341_5C00;
const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const ADDEND: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;

struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    fn new(seed: i64) -> JavaRandom {
        JavaRandom {
            seed: (seed as u64 ^ MULTIPLIER) & MASK,
        }
    }

    fn next_int(&mut self) -> i32 {
        self.seed = self.seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & MASK;
        (self.seed >> 16) as i32
    }

    fn next_bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(4) {
            let mut rnd = self.next_int();
            for byte in chunk {
                *byte = rnd as u8;
                rnd >>= 8;
            }
        }
    }
}

/// ZooKeeper's password for `session_id`.
pub fn zookeeper_password(session_id: i64) -> [u8; 16] {
    let mut out = [0u8; 16];
    JavaRandom::new(session_id ^ SUPER_SECRET).next_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_util_random_as_zookeeper_uses_it() {
        // From OpenJDK 17's jshell: new java.util.Random(0x100000123456789L ^ 0xB3415C00L)
        // .nextBytes(b) with b = new byte[16].
        let hex: String = zookeeper_password(0x0100_0001_2345_6789)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, "b11647e5db8ff1c8bd6768eac33a41ce");
    }
}
