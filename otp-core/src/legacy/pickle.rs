//! The bounded pickle reader: interprets the opcodes that Python 2 and 3
//! use to write an account file's `{'list': [a, b]}` and nothing else, and
//! never runs code (see the [module documentation](super) for the accepted
//! opcodes).

use std::collections::BTreeMap;
use std::rc::Rc;

use super::escape::{escape_decode, raw_unicode_escape_decode};
use super::key::LEGACY_KEY_LEN;

/// The largest account file [`recover_legacy`](super::recover_legacy) reads. Real files are
/// about 100 bytes; anything larger than this is not an account file.
pub const LEGACY_MAX_FILE_BYTES: usize = 64 * 1024;

/// Why a file larger than [`LEGACY_MAX_FILE_BYTES`] is refused.
pub(super) fn too_large_reason(len: u64) -> String {
    format!(
        "the file is {len} bytes, and account files are far smaller than the {LEGACY_MAX_FILE_BYTES} bytes read at most"
    )
}

/// Reads a Secure-Python-Link account file and returns the two stored
/// values (username first), each as the 25 bytes it holds: a `str` value
/// gives its code points, which must all be at most U+00FF (latin-1); a
/// Python 2 byte string gives its bytes. The accepted opcodes and shape
/// are listed in the module documentation.
///
/// # Errors
///
/// A reason, in lowercase and naming the byte offset where it applies,
/// for anything else: another opcode (with a warning for those that run
/// code, such as `GLOBAL`, `STACK_GLOBAL`, `REDUCE`, `INST`, `OBJ`,
/// `BUILD`), a truncated pickle or length prefix ("truncated: ..."), data
/// after `STOP`, or another shape.
pub(super) fn parse_account_file(bytes: &[u8]) -> Result<[[u8; LEGACY_KEY_LEN]; 2], String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.len() > LEGACY_MAX_FILE_BYTES {
        return Err(too_large_reason(bytes.len() as u64));
    }
    let entries = Unpickler::new(bytes).run()?;
    let is_list_key = |key: &Text| match key {
        Text::Unicode(s) => s == "list",
        Text::Bytes(b) => b == b"list",
    };
    if !entries.iter().any(|(key, _)| is_list_key(key)) {
        return Err("the dict has no 'list' key".into());
    }
    if entries.len() != 1 {
        return Err(format!(
            "the dict holds {} entries, but an account file holds only 'list'",
            entries.len()
        ));
    }
    let Some((_, value)) = entries.into_iter().next() else {
        return Err("the dict has no 'list' key".into());
    };
    let values = match value {
        Value::List(values) => values,
        Value::Text => return Err("the 'list' value is a string, not a list of two strings".into()),
    };
    if values.len() != 2 {
        return Err(format!(
            "the 'list' value holds {} strings, but an account file holds two (username and password)",
            values.len()
        ));
    }
    Ok([
        stored_value(&values[0], "username")?,
        stored_value(&values[1], "password")?,
    ])
}

/// The 25 bytes of a stored value.
fn stored_value(text: &Text, field: &str) -> Result<[u8; LEGACY_KEY_LEN], String> {
    let mut out = [0u8; LEGACY_KEY_LEN];
    match text {
        Text::Unicode(s) => {
            let count = s.chars().count();
            if count != LEGACY_KEY_LEN {
                return Err(format!(
                    "the stored {field} is {count} characters long, not {LEGACY_KEY_LEN}"
                ));
            }
            for (o, c) in out.iter_mut().zip(s.chars()) {
                *o = u8::try_from(u32::from(c)).map_err(|_| {
                    format!(
                        "the stored {field} holds a character above U+00FF, which Secure-Python-Link never writes"
                    )
                })?;
            }
        }
        Text::Bytes(b) => {
            if b.len() != LEGACY_KEY_LEN {
                return Err(format!(
                    "the stored {field} is {} bytes long, not {LEGACY_KEY_LEN}",
                    b.len()
                ));
            }
            out.copy_from_slice(b);
        }
    }
    Ok(out)
}

/// A string of the pickle: `str` (Python 3, or `unicode` of Python 2) or
/// `bytes` (a `str` of Python 2).
enum Text {
    Unicode(String),
    Bytes(Vec<u8>),
}

/// What a dict may map a key to.
enum Value {
    /// A string, which is not what an account file's dict holds.
    Text,
    List(Vec<Rc<Text>>),
}

/// An entry of the unpickler's stack. Lists hold only strings and dicts
/// hold only strings and lists, so nothing nests deeper than two levels.
enum Item {
    Mark,
    Text(Rc<Text>),
    List(Vec<Rc<Text>>),
    Dict(Vec<(Rc<Text>, Value)>),
}

impl Item {
    fn kind(&self) -> &'static str {
        match self {
            Item::Mark => "a MARK",
            Item::Text(_) => "a string",
            Item::List(_) => "a list",
            Item::Dict(_) => "a dict",
        }
    }
}

/// A memo entry. Strings are shared (never copied) so that repeated GETs
/// cannot multiply memory; a GET of a list or dict would alias a mutable
/// container, which account files never do, so it is refused.
enum Memo {
    Text(Rc<Text>),
    Container,
}

/// Opcodes whose only purpose is to import or call Python code.
const CODE_OPCODES: &[u8] = &[
    b'c', 0x93, b'R', b'i', b'o', 0x81, 0x92, b'b', 0x82, 0x83, 0x84, b'P', b'Q',
];

/// The name of every pickle opcode up to protocol 5, for error messages.
fn opcode_name(op: u8) -> Option<&'static str> {
    Some(match op {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => return None,
    })
}

/// `NAME ('c')` or `NAME (0x93)`.
fn describe_opcode(op: u8) -> String {
    let name = opcode_name(op).unwrap_or("unknown");
    if op.is_ascii_graphic() {
        format!("{name} ('{}')", char::from(op))
    } else {
        format!("{name} (0x{op:02x})")
    }
}

fn rejection(op: u8, at: usize) -> String {
    let what = describe_opcode(op);
    if CODE_OPCODES.contains(&op) {
        format!(
            "byte {at}: opcode {what} would import or call Python code; this reader never runs pickle code, and account files need none"
        )
    } else if opcode_name(op).is_some() {
        format!(
            "byte {at}: opcode {what} is not used by account files, which hold only a dict with a list of two strings"
        )
    } else {
        format!("byte {at}: 0x{op:02x} is not a pickle opcode")
    }
}

struct Unpickler<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The end of the current protocol-4 frame, while inside one.
    frame_end: Option<usize>,
    stack: Vec<Item>,
    memo: BTreeMap<u64, Memo>,
}

impl<'a> Unpickler<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Unpickler {
            buf,
            pos: 0,
            frame_end: None,
            stack: Vec::new(),
            memo: BTreeMap::new(),
        }
    }

    /// Takes `n` bytes, checking `n` against what remains (in the file and
    /// in the current frame) before anything is sliced or allocated.
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let start = self.pos;
        let remaining = self.buf.len() - start;
        if n > remaining {
            return Err(format!(
                "truncated: {what} at byte {start} needs {n} bytes, but only {remaining} remain"
            ));
        }
        if let Some(end) = self.frame_end {
            if start + n > end {
                return Err(format!(
                    "{what} at byte {start} runs past the end of its FRAME at byte {end}"
                ));
            }
            if start + n == end {
                self.frame_end = None;
            }
        }
        self.pos = start + n;
        Ok(&self.buf[start..start + n])
    }

    fn byte(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    fn u32_le(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64_le(&mut self, what: &str) -> Result<u64, String> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A length-prefixed argument; `len` is checked by [`Self::take`].
    fn counted(&mut self, len: u64, what: &str) -> Result<&'a [u8], String> {
        self.take(usize::try_from(len).unwrap_or(usize::MAX), what)
    }

    /// A text-line argument, without its `\n`.
    fn line(&mut self, what: &str) -> Result<&'a [u8], String> {
        let rest = &self.buf[self.pos..];
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => Ok(&self.take(i + 1, what)?[..i]),
            None => Err(format!(
                "truncated: {what} at byte {} has no end of line",
                self.pos
            )),
        }
    }

    /// A decimal memo index of `PUT`/`GET`.
    fn decimal_line(&mut self, what: &str, at: usize) -> Result<u64, String> {
        let line = strip_cr(self.line(what)?);
        if line.is_empty() || line.len() > 19 || !line.iter().all(u8::is_ascii_digit) {
            return Err(format!("byte {at}: {what} has no decimal memo index"));
        }
        Ok(line.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
    }

    fn push_text(&mut self, text: Text) {
        self.stack.push(Item::Text(Rc::new(text)));
    }

    /// Pops the top object, which must not be a MARK.
    fn pop(&mut self, what: &str, at: usize) -> Result<Item, String> {
        match self.stack.pop() {
            Some(Item::Mark) | None => {
                Err(format!("byte {at}: {what} finds no object on the stack"))
            }
            Some(item) => Ok(item),
        }
    }

    /// Pops everything above the topmost MARK, and the MARK.
    fn pop_mark(&mut self, what: &str, at: usize) -> Result<Vec<Item>, String> {
        let Some(mark) = self.stack.iter().rposition(|i| matches!(i, Item::Mark)) else {
            return Err(format!("byte {at}: {what} has no MARK before it"));
        };
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items)
    }

    fn top_list(&mut self, what: &str, at: usize) -> Result<&mut Vec<Rc<Text>>, String> {
        match self.stack.last_mut() {
            Some(Item::List(list)) => Ok(list),
            Some(other) => Err(format!(
                "byte {at}: {what} adds to {}, not to a list",
                other.kind()
            )),
            None => Err(format!("byte {at}: {what} finds no list on the stack")),
        }
    }

    fn top_dict(&mut self, what: &str, at: usize) -> Result<&mut Vec<(Rc<Text>, Value)>, String> {
        match self.stack.last_mut() {
            Some(Item::Dict(dict)) => Ok(dict),
            Some(other) => Err(format!(
                "byte {at}: {what} sets an item of {}, not of a dict",
                other.kind()
            )),
            None => Err(format!("byte {at}: {what} finds no dict on the stack")),
        }
    }

    fn put(&mut self, index: u64, what: &str, at: usize) -> Result<(), String> {
        let entry = match self.stack.last() {
            Some(Item::Text(text)) => Memo::Text(Rc::clone(text)),
            Some(Item::List(_) | Item::Dict(_)) => Memo::Container,
            Some(Item::Mark) | None => {
                return Err(format!("byte {at}: {what} finds no object to memoize"))
            }
        };
        self.memo.insert(index, entry);
        Ok(())
    }

    fn get(&mut self, index: u64, what: &str, at: usize) -> Result<(), String> {
        match self.memo.get(&index) {
            Some(Memo::Text(text)) => {
                let text = Rc::clone(text);
                self.stack.push(Item::Text(text));
                Ok(())
            }
            Some(Memo::Container) => Err(format!(
                "byte {at}: {what} refers to a list or dict again, which account files never do"
            )),
            None => Err(format!(
                "byte {at}: {what} refers to memo entry {index}, which was never stored"
            )),
        }
    }

    /// Runs the opcodes up to `STOP` and returns the entries of the dict.
    ///
    /// Each accepted opcode goes to the function of its group; every other
    /// byte is refused with the reason [`rejection`] gives. (A group
    /// function given an opcode outside its group refuses it the same way,
    /// so no opcode reaches code that does not expect it.)
    fn run(mut self) -> Result<Vec<(Rc<Text>, Value)>, String> {
        loop {
            let at = self.pos;
            if at == self.buf.len() {
                return Err(format!(
                    "truncated: the pickle ends at byte {at} without a STOP opcode"
                ));
            }
            let op = self.byte("an opcode")?;
            match op {
                b'.' => return self.finish(at),
                0x80 | 0x95 => self.framing_op(op, at)?,
                b'(' | b'}' | b']' => self.stack_op(op, at)?,
                b'l' | b'a' | b'e' => self.list_op(op, at)?,
                b'd' | b's' | b'u' => self.dict_op(op, at)?,
                b'X' | 0x8c | 0x8d | b'V' => self.unicode_op(op, at)?,
                b'S' | b'U' | b'C' | b'T' | b'B' | 0x8e => self.bytes_op(op, at)?,
                b'p' | b'q' | b'r' | 0x94 => self.memo_put(op, at)?,
                b'g' | b'h' | b'j' => self.memo_get(op, at)?,
                other => return Err(rejection(other, at)),
            }
        }
    }

    /// Framing and protocol: `PROTO` (only as the first opcode, protocols
    /// 0..=5) and `FRAME`, whose length must fit in what remains.
    fn framing_op(&mut self, op: u8, at: usize) -> Result<(), String> {
        match op {
            0x80 => {
                let version = self.byte("PROTO")?;
                if at != 0 {
                    return Err(format!("byte {at}: PROTO is not at the start"));
                }
                if version > 5 {
                    return Err(format!(
                        "byte {at}: pickle protocol {version} is newer than any Python writes"
                    ));
                }
            }
            0x95 => {
                if self.frame_end.is_some() {
                    return Err(format!(
                        "byte {at}: a FRAME starts before the previous frame ends"
                    ));
                }
                let len = self.u64_le("FRAME")?;
                let remaining = (self.buf.len() - self.pos) as u64;
                if len > remaining {
                    return Err(format!(
                        "truncated: the FRAME at byte {at} announces {len} bytes, but only {remaining} remain"
                    ));
                }
                if len > 0 {
                    // `len <= remaining`, so this fits in usize.
                    self.frame_end = Some(self.pos + len as usize);
                }
            }
            _ => return Err(rejection(op, at)),
        }
        Ok(())
    }

    /// Stack ops: `MARK`, `EMPTY_DICT` and `EMPTY_LIST` push a MARK or an
    /// empty container. (`POP`, `DUP` and `POP_MARK` are not accepted.)
    fn stack_op(&mut self, op: u8, at: usize) -> Result<(), String> {
        let item = match op {
            b'(' => Item::Mark,
            b'}' => Item::Dict(Vec::new()),
            b']' => Item::List(Vec::new()),
            _ => return Err(rejection(op, at)),
        };
        self.stack.push(item);
        Ok(())
    }

    /// Lists: `LIST` makes one of the strings above the MARK; `APPEND` and
    /// `APPENDS` add strings to the list below them.
    fn list_op(&mut self, op: u8, at: usize) -> Result<(), String> {
        match op {
            b'l' => {
                let items = self.pop_mark("LIST", at)?;
                let texts = list_texts(items, "LIST", at)?;
                self.stack.push(Item::List(texts));
            }
            b'a' => {
                let item = self.pop("APPEND", at)?;
                let text = list_text(item, "APPEND", at)?;
                self.top_list("APPEND", at)?.push(text);
            }
            b'e' => {
                let items = self.pop_mark("APPENDS", at)?;
                let texts = list_texts(items, "APPENDS", at)?;
                self.top_list("APPENDS", at)?.extend(texts);
            }
            _ => return Err(rejection(op, at)),
        }
        Ok(())
    }

    /// Dicts: `DICT` makes one of the key-value pairs above the MARK;
    /// `SETITEM` and `SETITEMS` add pairs to the dict below them.
    fn dict_op(&mut self, op: u8, at: usize) -> Result<(), String> {
        match op {
            b'd' => {
                let items = self.pop_mark("DICT", at)?;
                let pairs = dict_pairs(items, "DICT", at)?;
                self.stack.push(Item::Dict(pairs));
            }
            b's' => {
                let value = self.pop("SETITEM", at)?;
                let key = self.pop("SETITEM", at)?;
                let pairs = dict_pairs(vec![key, value], "SETITEM", at)?;
                self.top_dict("SETITEM", at)?.extend(pairs);
            }
            b'u' => {
                let items = self.pop_mark("SETITEMS", at)?;
                let pairs = dict_pairs(items, "SETITEMS", at)?;
                self.top_dict("SETITEMS", at)?.extend(pairs);
            }
            _ => return Err(rejection(op, at)),
        }
        Ok(())
    }

    /// `str` strings: `BINUNICODE`, `SHORT_BINUNICODE` and `BINUNICODE8`
    /// (UTF-8 after a 4-, 1- or 8-byte length) and `UNICODE` (a protocol 0
    /// line in raw-unicode-escape).
    fn unicode_op(&mut self, op: u8, at: usize) -> Result<(), String> {
        let text = match op {
            b'X' => {
                let len = self.u32_le("BINUNICODE")?;
                let data = self.counted(len.into(), "BINUNICODE")?;
                utf8(data, "BINUNICODE", at)?
            }
            0x8c => {
                let len = self.byte("SHORT_BINUNICODE")?;
                let data = self.counted(len.into(), "SHORT_BINUNICODE")?;
                utf8(data, "SHORT_BINUNICODE", at)?
            }
            0x8d => {
                let len = self.u64_le("BINUNICODE8")?;
                let data = self.counted(len, "BINUNICODE8")?;
                utf8(data, "BINUNICODE8", at)?
            }
            b'V' => {
                let line = self.line("UNICODE")?;
                raw_unicode_escape_decode(line)
                    .map_err(|why| format!("byte {at}: UNICODE holds {why}"))?
            }
            _ => return Err(rejection(op, at)),
        };
        self.push_text(Text::Unicode(text));
        Ok(())
    }

    /// Byte strings: `STRING` (a quoted protocol 0 line, see
    /// [`Self::quoted_string`]), `SHORT_BINSTRING` and `SHORT_BINBYTES`
    /// (1-byte length), `BINSTRING` (signed 4-byte length), `BINBYTES`
    /// (4-byte length) and `BINBYTES8` (8-byte length).
    fn bytes_op(&mut self, op: u8, at: usize) -> Result<(), String> {
        let bytes = match op {
            b'S' => self.quoted_string(at)?,
            b'U' | b'C' => {
                let what = if op == b'U' {
                    "SHORT_BINSTRING"
                } else {
                    "SHORT_BINBYTES"
                };
                let len = self.byte(what)?;
                self.counted(len.into(), what)?.to_vec()
            }
            b'T' => {
                let len = self.u32_le("BINSTRING")?;
                if len > i32::MAX as u32 {
                    return Err(format!("byte {at}: BINSTRING has a negative length"));
                }
                self.counted(len.into(), "BINSTRING")?.to_vec()
            }
            b'B' => {
                let len = self.u32_le("BINBYTES")?;
                self.counted(len.into(), "BINBYTES")?.to_vec()
            }
            0x8e => {
                let len = self.u64_le("BINBYTES8")?;
                self.counted(len, "BINBYTES8")?.to_vec()
            }
            _ => return Err(rejection(op, at)),
        };
        self.push_text(Text::Bytes(bytes));
        Ok(())
    }

    /// The argument of `STRING`: a Python repr in `'` or `"`, decoded as
    /// [`escape_decode`] does.
    fn quoted_string(&mut self, at: usize) -> Result<Vec<u8>, String> {
        let line = strip_cr(self.line("STRING")?);
        let quoted = line.len() >= 2
            && line[0] == line[line.len() - 1]
            && (line[0] == b'\'' || line[0] == b'"');
        if !quoted {
            return Err(format!("byte {at}: the STRING argument is not quoted"));
        }
        escape_decode(&line[1..line.len() - 1])
            .map_err(|why| format!("byte {at}: STRING holds {why}"))
    }

    /// Memo stores: `PUT` (a decimal line), `BINPUT` (1 byte),
    /// `LONG_BINPUT` (4 bytes) and `MEMOIZE` (the next index).
    fn memo_put(&mut self, op: u8, at: usize) -> Result<(), String> {
        let (index, what) = match op {
            b'p' => (self.decimal_line("PUT", at)?, "PUT"),
            b'q' => (self.byte("BINPUT")?.into(), "BINPUT"),
            b'r' => (self.u32_le("LONG_BINPUT")?.into(), "LONG_BINPUT"),
            0x94 => (self.memo.len() as u64, "MEMOIZE"),
            _ => return Err(rejection(op, at)),
        };
        self.put(index, what, at)
    }

    /// Memo fetches, of strings only: `GET` (a decimal line), `BINGET`
    /// (1 byte) and `LONG_BINGET` (4 bytes).
    fn memo_get(&mut self, op: u8, at: usize) -> Result<(), String> {
        let (index, what) = match op {
            b'g' => (self.decimal_line("GET", at)?, "GET"),
            b'h' => (self.byte("BINGET")?.into(), "BINGET"),
            b'j' => (self.u32_le("LONG_BINGET")?.into(), "LONG_BINGET"),
            _ => return Err(rejection(op, at)),
        };
        self.get(index, what, at)
    }

    fn finish(mut self, at: usize) -> Result<Vec<(Rc<Text>, Value)>, String> {
        let extra = self.buf.len() - self.pos;
        if extra > 0 {
            return Err(format!(
                "{extra} bytes of extra data follow the STOP opcode at byte {at}"
            ));
        }
        if self.stack.iter().any(|i| matches!(i, Item::Mark)) {
            return Err(format!("byte {at}: STOP with a MARK that was never closed"));
        }
        match (self.stack.pop(), self.stack.len()) {
            (None, _) => Err(format!("byte {at}: STOP with nothing on the stack")),
            (Some(Item::Dict(entries)), 0) => Ok(entries),
            (Some(_), left) if left > 0 => Err(format!(
                "byte {at}: STOP leaves {} objects on the stack, but an account file is one dict",
                left + 1
            )),
            (Some(other), _) => Err(format!(
                "the pickle holds {}, but an account file holds a dict",
                other.kind()
            )),
        }
    }
}

/// Drops one `\r` before a line's `\n`.
fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn utf8(data: &[u8], what: &str, at: usize) -> Result<String, String> {
    std::str::from_utf8(data)
        .map(str::to_owned)
        .map_err(|_| format!("byte {at}: {what} is not valid UTF-8"))
}

fn list_text(item: Item, what: &str, at: usize) -> Result<Rc<Text>, String> {
    match item {
        Item::Text(text) => Ok(text),
        other => Err(format!(
            "byte {at}: {what} puts {} into a list, but the 'list' value holds only strings",
            other.kind()
        )),
    }
}

fn list_texts(items: Vec<Item>, what: &str, at: usize) -> Result<Vec<Rc<Text>>, String> {
    items
        .into_iter()
        .map(|item| list_text(item, what, at))
        .collect()
}

fn dict_pairs(items: Vec<Item>, what: &str, at: usize) -> Result<Vec<(Rc<Text>, Value)>, String> {
    if !items.len().is_multiple_of(2) {
        return Err(format!("byte {at}: {what} has a key without a value"));
    }
    let mut pairs = Vec::with_capacity(items.len() / 2);
    let mut items = items.into_iter();
    while let (Some(key), Some(value)) = (items.next(), items.next()) {
        let Item::Text(key) = key else {
            return Err(format!(
                "byte {at}: {what} uses {} as a dict key, but the key of an account file is the string 'list'",
                key.kind()
            ));
        };
        let value = match value {
            Item::Text(_) => Value::Text,
            Item::List(list) => Value::List(list),
            other => {
                return Err(format!(
                "byte {at}: {what} puts {} into a dict, but an account file's dict holds a list",
                other.kind()
            ))
            }
        };
        pairs.push((key, value));
    }
    Ok(pairs)
}
#[cfg(test)]
mod tests;
