//! Caller memory: the one module that reads and writes through the pointers
//! a C caller passes.
//!
//! Each exported function wraps every pointer it is given once, with
//! [`RawStr::new`] or [`RawOut::new`], whose safety contracts restate the
//! function's; what follows is safe code. Outputs are written through raw
//! pointers and never turned into `&mut [u8]`, so a caller's buffer need not
//! be initialized, and two buffers that overlap are refused by the caller of
//! [`RawOut::overlaps`] rather than aliased.

use std::ffi::{c_char, CStr};
use std::ptr;

/// A string argument: NUL-terminated, or NULL.
pub(crate) struct RawStr(*const c_char);

impl RawStr {
    /// Wraps a string argument.
    ///
    /// # Safety
    ///
    /// `ptr` is NULL or points to a NUL-terminated string that stays valid
    /// and unchanged while the `RawStr` lives.
    pub(crate) unsafe fn new(ptr: *const c_char) -> Self {
        RawStr(ptr)
    }

    /// The string, or `None` for NULL.
    pub(crate) fn get(&self) -> Option<&CStr> {
        if self.0.is_null() {
            return None;
        }
        // SAFETY: not NULL, so by the contract of `new` a NUL-terminated
        // string that stays valid and unchanged while `self` (and so the
        // returned borrow) lives.
        Some(unsafe { CStr::from_ptr(self.0) })
    }
}

/// An output argument: a buffer of `cap` bytes (or NULL) and where the
/// length of what was written goes (or NULL).
#[derive(Clone, Copy)]
pub(crate) struct RawOut {
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
}

/// The output buffer cannot hold what was to be written.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooSmall;

impl RawOut {
    /// Wraps an output argument.
    ///
    /// # Safety
    ///
    /// `buf` is NULL or valid for writes of `cap` bytes; `len` is NULL or
    /// valid for a write of one `usize` (it need not be aligned). Both stay
    /// so, and nothing else reads or writes them, while the `RawOut` or a
    /// copy of it lives.
    pub(crate) unsafe fn new(buf: *mut c_char, cap: usize, len: *mut usize) -> Self {
        RawOut { buf, cap, len }
    }

    /// Whether there is a buffer (`buf` is not NULL).
    pub(crate) fn has_buf(&self) -> bool {
        !self.buf.is_null()
    }

    /// Whether there is a place for the length (`len` is not NULL).
    pub(crate) fn has_len(&self) -> bool {
        !self.len.is_null()
    }

    /// How many bytes may be written: `cap`, or 0 without a buffer.
    fn capacity(&self) -> usize {
        if self.has_buf() {
            self.cap
        } else {
            0
        }
    }

    /// Whether the two buffers share a byte.
    pub(crate) fn overlaps(&self, other: &RawOut) -> bool {
        let (a, b) = (self.buf as usize, other.buf as usize);
        let (a_cap, b_cap) = (self.capacity(), other.capacity());
        a_cap > 0 && b_cap > 0 && a < b.saturating_add(b_cap) && b < a.saturating_add(a_cap)
    }

    /// Zeroes the whole buffer and sets the length to 0, each where there
    /// is one.
    pub(crate) fn clear(&self) {
        self.fill(&[]);
        self.set_len(0);
    }

    /// Stores `len` as the length, where there is a place for it.
    pub(crate) fn set_len(&self, len: usize) {
        if self.has_len() {
            // SAFETY: not NULL, so by the contract of `new` valid for an
            // unaligned write of one `usize` that nothing else accesses.
            unsafe { self.len.write_unaligned(len) };
        }
    }

    /// Writes `bytes` at the start of the buffer and zeroes the rest of
    /// it. `bytes` must fit: callers check against `capacity`.
    fn fill(&self, bytes: &[u8]) {
        let cap = self.capacity();
        assert!(bytes.len() <= cap, "fill: the caller checks the capacity");
        if cap == 0 {
            return;
        }
        let buf = self.buf.cast::<u8>();
        // SAFETY: `buf` is not NULL (cap > 0), so by the contract of `new`
        // valid for writes of `cap` bytes, of which this writes the first
        // `bytes.len() <= cap`. `bytes` is the library's own memory, which
        // the caller's buffer cannot overlap.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), buf, bytes.len()) };
        // SAFETY: as above; this writes the remaining `cap - bytes.len()`
        // bytes, starting `bytes.len()` bytes in, which is within the buffer.
        unsafe { ptr::write_bytes(buf.add(bytes.len()), 0, cap - bytes.len()) };
    }

    /// Writes `bytes` and stores their length, zeroing the rest of the
    /// buffer; no NUL is added. Without a buffer only empty `bytes` fit.
    /// When they do not fit, the buffer is zeroed and the length set to 0.
    pub(crate) fn put(&self, bytes: &[u8]) -> Result<(), TooSmall> {
        if bytes.len() > self.capacity() {
            self.clear();
            return Err(TooSmall);
        }
        self.fill(bytes);
        self.set_len(bytes.len());
        Ok(())
    }

    /// Writes `text` and a NUL as a C string, zeroing the rest of the
    /// buffer, and stores the text's length without the NUL. When they do
    /// not fit, the buffer is zeroed and the length set to 0.
    pub(crate) fn put_c_string(&self, text: &str) -> Result<(), TooSmall> {
        if text.len() >= self.capacity() {
            self.clear();
            return Err(TooSmall);
        }
        // The zeroed rest of the buffer holds the NUL.
        self.fill(text.as_bytes());
        self.set_len(text.len());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer of `cap` bytes inside a larger array whose other bytes are
    /// a guard pattern, and a length slot pre-filled with garbage.
    struct Guarded {
        bytes: [u8; 48],
        len: usize,
    }

    const AT: usize = 8;

    impl Guarded {
        fn new() -> Self {
            Guarded {
                bytes: [0xa5; 48],
                len: 12345,
            }
        }

        fn out(&mut self, cap: usize) -> RawOut {
            assert!(AT + cap + 8 <= self.bytes.len());
            // SAFETY: `cap` bytes from `AT` are inside `self.bytes`, and
            // `len` is a `usize` of `self`; both outlive the returned value
            // in every test, which uses it before touching `self` again.
            unsafe { RawOut::new(self.bytes.as_mut_ptr().add(AT).cast(), cap, &mut self.len) }
        }

        fn buffer(&self, cap: usize) -> &[u8] {
            &self.bytes[AT..AT + cap]
        }

        fn guards_intact(&self, cap: usize) -> bool {
            self.bytes[..AT]
                .iter()
                .chain(&self.bytes[AT + cap..])
                .all(|&b| b == 0xa5)
        }
    }

    #[test]
    fn put_writes_the_bytes_and_zeroes_the_rest_of_the_buffer_only() {
        let mut g = Guarded::new();
        assert_eq!(g.out(10).put(b"scott"), Ok(()));
        assert_eq!(g.buffer(10), b"scott\0\0\0\0\0");
        assert_eq!(g.len, 5);
        assert!(g.guards_intact(10));
    }

    #[test]
    fn put_of_exactly_the_capacity_needs_no_room_for_a_nul() {
        let mut g = Guarded::new();
        assert_eq!(g.out(5).put(b"tiger"), Ok(()));
        assert_eq!(g.buffer(5), b"tiger");
        assert_eq!(g.len, 5);
        assert!(g.guards_intact(5));
    }

    #[test]
    fn put_too_long_zeroes_the_buffer_and_the_length() {
        let mut g = Guarded::new();
        assert_eq!(g.out(4).put(b"tiger"), Err(TooSmall));
        assert_eq!(g.buffer(4), [0; 4]);
        assert_eq!(g.len, 0);
        assert!(g.guards_intact(4));
    }

    #[test]
    fn put_c_string_needs_room_for_the_nul() {
        let mut g = Guarded::new();
        assert_eq!(g.out(5).put_c_string("tiger"), Err(TooSmall));
        assert_eq!(g.buffer(5), [0; 5]);
        assert_eq!(g.len, 0);
        assert_eq!(g.out(6).put_c_string("tiger"), Ok(()));
        assert_eq!(g.buffer(6), b"tiger\0");
        assert_eq!(g.len, 5);
        assert!(g.guards_intact(6));
    }

    #[test]
    fn a_null_buffer_holds_nothing_and_is_never_written() {
        // SAFETY: NULL buffer and length: nothing is written.
        let out = unsafe { RawOut::new(ptr::null_mut(), 64, ptr::null_mut()) };
        assert_eq!(out.put(b""), Ok(()));
        assert_eq!(out.put(b"x"), Err(TooSmall));
        out.clear();
    }

    #[test]
    fn overlapping_buffers_are_detected() {
        let mut bytes = [0u8; 32];
        let base = bytes.as_mut_ptr().cast::<c_char>();
        // SAFETY: every buffer lies inside `bytes`; none is written.
        let at = |offset: usize, cap: usize| unsafe {
            RawOut::new(base.add(offset), cap, ptr::null_mut())
        };
        assert!(at(0, 10).overlaps(&at(9, 10)));
        assert!(at(9, 10).overlaps(&at(0, 10)));
        assert!(at(0, 10).overlaps(&at(0, 10)));
        assert!(at(2, 3).overlaps(&at(0, 10)));
        assert!(!at(0, 10).overlaps(&at(10, 10)));
        assert!(!at(10, 10).overlaps(&at(0, 10)));
        assert!(!at(0, 0).overlaps(&at(0, 10)));
    }
}
