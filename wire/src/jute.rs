//! Bounds-checked jute primitives: big-endian `int`, `long`, `boolean`, `buffer`, `ustring`
//! and `vector`, as `org.apache.jute.BinaryInputArchive`/`BinaryOutputArchive` lay them out.
//!
//! Invariants: a `Reader` never reads past its slice and never allocates more than the bytes
//! that remain in it (a length prefix is checked against the remaining input before any
//! allocation), so any byte string decodes to `Ok` or `Err`, never a panic.
//! A `buffer` or `ustring` of length -1 is jute's null; we read it as empty, as ZooKeeper's
//! server does for the fields where null can appear.

use std::fmt;

/// Why a record could not be decoded: where, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset inside the record body where decoding failed.
    pub offset: usize,
    pub what: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed record at byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for DecodeError {}

/// Reads jute primitives from a byte slice.
pub struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, offset: 0 }
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn error(&self, what: impl Into<String>) -> DecodeError {
        DecodeError {
            offset: self.offset,
            what: what.into(),
        }
    }

    fn take(&mut self, count: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if count > self.remaining() {
            return Err(self.error(format!(
                "{what}: need {count} bytes, {} remain",
                self.remaining()
            )));
        }
        let start = self.offset;
        self.offset += count;
        assert!(
            self.offset <= self.bytes.len(),
            "reader offset past its slice"
        );
        Ok(&self.bytes[start..self.offset])
    }

    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        let b = self.take(4, "int")?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        let b = self.take(8, "long")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// jute writes a boolean as one byte; any non-zero byte reads as true, as in Java.
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.take(1, "boolean")?[0] != 0)
    }

    fn read_len(&mut self, what: &str) -> Result<Option<usize>, DecodeError> {
        let at = self.offset;
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(DecodeError {
                offset: at,
                what: format!("{what}: negative length {len}"),
            });
        }
        let len = len as usize;
        if len > self.remaining() {
            return Err(DecodeError {
                offset: at,
                what: format!(
                    "{what}: length {len} exceeds the {} bytes left",
                    self.remaining()
                ),
            });
        }
        Ok(Some(len))
    }

    /// A `buffer`; jute's null (-1) reads as empty.
    pub fn read_buffer(&mut self) -> Result<Vec<u8>, DecodeError> {
        match self.read_len("buffer")? {
            None => Ok(Vec::new()),
            Some(len) => Ok(self.take(len, "buffer")?.to_vec()),
        }
    }

    /// A `buffer` that keeps jute's null distinct from empty.
    pub fn read_optional_buffer(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        match self.read_len("buffer")? {
            None => Ok(None),
            Some(len) => Ok(Some(self.take(len, "buffer")?.to_vec())),
        }
    }

    /// A `ustring` that may be jute's null (`None`).
    pub fn read_optional_string(&mut self) -> Result<Option<String>, DecodeError> {
        let at = self.offset;
        match self.read_optional_buffer()? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
                self.offset = at;
                self.error("ustring is not valid UTF-8".to_string())
            }),
        }
    }

    /// A `ustring` (UTF-8); jute's null reads as empty. Invalid UTF-8 is an error.
    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        let at = self.offset;
        match self.read_len("ustring")? {
            None => Ok(String::new()),
            Some(len) => {
                let b = self.take(len, "ustring")?;
                String::from_utf8(b.to_vec()).map_err(|_| DecodeError {
                    offset: at,
                    what: "ustring is not valid UTF-8".to_string(),
                })
            }
        }
    }

    /// A `vector<T>`: a count, then the elements. jute's null (-1) reads as empty.
    /// Every element takes at least `min_element_bytes`, so a count is checked against
    /// the remaining input before anything is allocated.
    pub fn read_vec<T>(
        &mut self,
        min_element_bytes: usize,
        mut read_one: impl FnMut(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        assert!(
            min_element_bytes > 0,
            "vector elements take at least one byte"
        );
        let at = self.offset;
        let count = self.read_i32()?;
        if count == -1 {
            return Ok(Vec::new());
        }
        if count < 0 {
            return Err(DecodeError {
                offset: at,
                what: format!("vector: negative count {count}"),
            });
        }
        let count = count as usize;
        if count > self.remaining() / min_element_bytes {
            return Err(DecodeError {
                offset: at,
                what: format!(
                    "vector: count {count} cannot fit in {} bytes",
                    self.remaining()
                ),
            });
        }
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(read_one(self)?);
        }
        Ok(out)
    }

    pub fn read_string_vec(&mut self) -> Result<Vec<String>, DecodeError> {
        self.read_vec(4, |r| r.read_string())
    }

    /// Fails unless the whole input was consumed.
    pub fn finish(&self, record: &str) -> Result<(), DecodeError> {
        if self.remaining() != 0 {
            return Err(self.error(format!("{record}: {} trailing bytes", self.remaining())));
        }
        Ok(())
    }
}

/// Appends jute primitives to a byte vector.
#[derive(Default)]
pub struct Writer {
    pub bytes: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer { bytes: Vec::new() }
    }

    pub fn with_vec(bytes: Vec<u8>) -> Writer {
        Writer { bytes }
    }

    pub fn into_inner(self) -> Vec<u8> {
        self.bytes
    }

    pub fn write_i32(&mut self, v: i32) {
        self.bytes.extend_from_slice(&v.to_be_bytes());
    }

    pub fn write_i64(&mut self, v: i64) {
        self.bytes.extend_from_slice(&v.to_be_bytes());
    }

    pub fn write_bool(&mut self, v: bool) {
        self.bytes.push(u8::from(v));
    }

    pub fn write_buffer(&mut self, v: &[u8]) {
        let len = i32::try_from(v.len()).expect("buffers are bounded by jute.maxbuffer");
        self.write_i32(len);
        self.bytes.extend_from_slice(v);
    }

    /// jute's null buffer is length -1.
    pub fn write_optional_buffer(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.write_i32(-1),
            Some(b) => self.write_buffer(b),
        }
    }

    pub fn write_optional_string(&mut self, v: Option<&str>) {
        self.write_optional_buffer(v.map(str::as_bytes));
    }

    pub fn write_string(&mut self, v: &str) {
        self.write_buffer(v.as_bytes());
    }

    pub fn write_vec<T>(&mut self, items: &[T], mut write_one: impl FnMut(&mut Writer, &T)) {
        let count = i32::try_from(items.len()).expect("vectors are bounded by jute.maxbuffer");
        self.write_i32(count);
        for item in items {
            write_one(self, item);
        }
    }

    pub fn write_string_vec(&mut self, items: &[String]) {
        self.write_vec(items, |w, s| w.write_string(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_round_trip() {
        let mut w = Writer::new();
        w.write_i32(-7);
        w.write_i64(0x0102_0304_0506_0708);
        w.write_bool(true);
        w.write_buffer(b"abc");
        w.write_optional_buffer(None);
        w.write_string("zk/é");
        w.write_string_vec(&["a".to_string(), "bc".to_string()]);
        let bytes = w.into_inner();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.read_i32().unwrap(), -7);
        assert_eq!(r.read_i64().unwrap(), 0x0102_0304_0506_0708);
        assert!(r.read_bool().unwrap());
        assert_eq!(r.read_buffer().unwrap(), b"abc");
        assert_eq!(r.read_optional_buffer().unwrap(), None);
        assert_eq!(r.read_string().unwrap(), "zk/é");
        assert_eq!(r.read_string_vec().unwrap(), vec!["a", "bc"]);
        r.finish("test").unwrap();
    }

    #[test]
    fn huge_lengths_are_rejected_before_allocation() {
        let bytes = [0x7f, 0xff, 0xff, 0xff, 1, 2, 3];
        assert!(Reader::new(&bytes).read_buffer().is_err());
        assert!(Reader::new(&bytes).read_string_vec().is_err());
        let negative = [0xff, 0xff, 0xff, 0xfe];
        assert!(Reader::new(&negative).read_buffer().is_err());
        assert!(Reader::new(&[0, 0]).read_i32().is_err());
    }

    #[test]
    fn invalid_utf8_is_an_error_with_its_offset() {
        let bytes = [0, 0, 0, 2, 0xc3, 0x28];
        let err = Reader::new(&bytes).read_string().unwrap_err();
        assert_eq!(err.offset, 0);
    }
}
