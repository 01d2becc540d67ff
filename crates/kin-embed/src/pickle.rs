//! A minimal unpickler for exactly what `torch.save` writes for a state dict: an `OrderedDict`
//! of tensors rebuilt by `torch._utils._rebuild_tensor_v2` from persistent storages. It runs
//! no code: the few globals such a file names are interpreted, anything else is refused.

/// A storage reference: the zip entry `data/{key}` holding elements of `dtype` (e.g. `FloatStorage`).
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    pub key: String,
    pub dtype: String,
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    pub storage: StorageRef,
    pub offset: usize,
    pub shape: Vec<usize>,
    pub stride: Vec<usize>,
}

/// The values a state-dict pickle is made of.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Global(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Storage(StorageRef),
    Tensor(TensorRef),
}

/// Why a pickle could not be read as a state dict.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PickleError {
    #[error("pickle opcode {opcode:#04x} at byte {offset} is not one torch.save writes for a state dict")]
    Opcode { opcode: u8, offset: usize },
    #[error("the pickle calls {name}, which kin does not run (a state dict holds only tensors)")]
    Global { name: String },
    #[error("malformed pickle at byte {offset}: {message}")]
    Malformed { offset: usize, message: String },
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: Vec<Option<Value>>,
}

/// Reads one pickled value from `data`.
pub fn unpickle(data: &[u8]) -> Result<Value, PickleError> {
    let mut m = Machine { data, pos: 0, stack: Vec::new(), marks: Vec::new(), memo: Vec::new() };
    loop {
        let at = m.pos;
        let op = m.take(1)?[0];
        match op {
            0x80 => {
                m.take(1)?; // PROTO
            }
            b'.' => return m.pop(),                               // STOP
            b'(' => m.marks.push(m.stack.len()),                  // MARK
            b'N' => m.stack.push(Value::None),                    // NONE
            0x88 | 0x89 => m.stack.push(Value::Bool(op == 0x88)), // NEWTRUE, NEWFALSE
            b'K' => {
                let v = m.take(1)?[0]; // BININT1
                m.stack.push(Value::Int(v as i64));
            }
            b'M' => {
                let v = u16::from_le_bytes(m.array()?); // BININT2
                m.stack.push(Value::Int(v as i64));
            }
            b'J' => {
                let v = i32::from_le_bytes(m.array()?); // BININT
                m.stack.push(Value::Int(v as i64));
            }
            b'G' => {
                let v = f64::from_be_bytes(m.array()?); // BINFLOAT
                m.stack.push(Value::Float(v));
            }
            0x8a => {
                // LONG1: a little-endian two's complement integer of n bytes.
                let n = m.take(1)?[0] as usize;
                let bytes = m.take(n)?;
                if n > 8 {
                    return Err(malformed(at, "integer wider than 64 bits"));
                }
                let mut buf = if bytes.last().is_some_and(|b| b & 0x80 != 0) { [0xff; 8] } else { [0; 8] };
                buf[..n].copy_from_slice(bytes);
                m.stack.push(Value::Int(i64::from_le_bytes(buf)));
            }
            b'X' | 0x8c => {
                // BINUNICODE (4-byte length), SHORT_BINUNICODE (1-byte length)
                let len = if op == b'X' { u32::from_le_bytes(m.array()?) as usize } else { m.take(1)?[0] as usize };
                let text =
                    std::str::from_utf8(m.take(len)?).map_err(|_| malformed(at, "string is not UTF-8"))?.to_string();
                m.stack.push(Value::Str(text));
            }
            b'c' => {
                // GLOBAL: "module\nname\n"
                let module = m.line(at)?;
                let name = m.line(at)?;
                m.stack.push(Value::Global(format!("{module}.{name}")));
            }
            b')' => m.stack.push(Value::Tuple(Vec::new())), // EMPTY_TUPLE
            b']' => m.stack.push(Value::List(Vec::new())),  // EMPTY_LIST
            b'}' => m.stack.push(Value::Dict(Vec::new())),  // EMPTY_DICT
            b't' => {
                let items = m.pop_mark(at)?;
                m.stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                // TUPLE1, TUPLE2, TUPLE3
                let n = (op - 0x84) as usize;
                let items = m.pop_n(n, at)?;
                m.stack.push(Value::Tuple(items));
            }
            b'q' | b'r' => {
                // BINPUT, LONG_BINPUT
                let i = if op == b'q' { m.take(1)?[0] as usize } else { u32::from_le_bytes(m.array()?) as usize };
                m.put(i, at)?;
            }
            b'h' | b'j' => {
                // BINGET, LONG_BINGET
                let i = if op == b'h' { m.take(1)?[0] as usize } else { u32::from_le_bytes(m.array()?) as usize };
                let v = m.memo.get(i).cloned().flatten().ok_or_else(|| malformed(at, "unknown memo key"))?;
                m.stack.push(v);
            }
            b's' | b'u' | b'a' | b'e' => {
                // SETITEM, SETITEMS, APPEND, APPENDS
                let items = match op {
                    b's' => m.pop_n(2, at)?,
                    b'a' => m.pop_n(1, at)?,
                    _ => m.pop_mark(at)?,
                };
                match (m.stack.last_mut(), op) {
                    (Some(Value::Dict(d)), b's' | b'u') if items.len() % 2 == 0 => {
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            d.push((k, v));
                        }
                    }
                    (Some(Value::List(l)), b'a' | b'e') => l.extend(items),
                    _ => return Err(malformed(at, "items added to something that is not a dict or list")),
                }
            }
            b'Q' => {
                // BINPERSID: ('storage', storage type, key, location, numel)
                let pid = m.pop()?;
                let storage = match pid {
                    Value::Tuple(t) if t.len() >= 3 && t[0] == Value::Str("storage".into()) => match (&t[1], &t[2]) {
                        (Value::Global(dtype), Value::Str(key)) => {
                            StorageRef { key: key.clone(), dtype: dtype.trim_start_matches("torch.").to_string() }
                        }
                        _ => return Err(malformed(at, "persistent id is not a storage")),
                    },
                    _ => return Err(malformed(at, "persistent id is not a storage")),
                };
                m.stack.push(Value::Storage(storage));
            }
            b'R' => {
                // REDUCE: callable(*args)
                let args = m.pop()?;
                let callable = m.pop()?;
                let value = reduce(callable, args).map_err(|e| e.unwrap_or_else(|| malformed(at, "bad arguments")))?;
                m.stack.push(value);
            }
            b'b' => drop(m.pop()?), // BUILD: the state (a state dict's `_metadata`) is not needed
            _ => return Err(PickleError::Opcode { opcode: op, offset: at }),
        }
    }
}

/// Calls one of the globals a state dict uses; `Err(None)` for arguments of the wrong shape.
fn reduce(callable: Value, args: Value) -> Result<Value, Option<PickleError>> {
    let Value::Global(name) = callable else { return Err(None) };
    let Value::Tuple(args) = args else { return Err(None) };
    let dims = |v: &Value| match v {
        Value::Tuple(t) => {
            t.iter().map(|d| if let Value::Int(i) = d { usize::try_from(*i).ok() } else { None }).collect()
        }
        _ => None,
    };
    match name.as_str() {
        "collections.OrderedDict" if args.is_empty() => Ok(Value::Dict(Vec::new())),
        "torch._utils._rebuild_tensor_v2" if args.len() >= 4 => {
            match (&args[0], &args[1], dims(&args[2]), dims(&args[3])) {
                (Value::Storage(s), Value::Int(offset), Some(shape), Some(stride)) if *offset >= 0 => {
                    Ok(Value::Tensor(TensorRef { storage: s.clone(), offset: *offset as usize, shape, stride }))
                }
                _ => Err(None),
            }
        }
        _ => Err(Some(PickleError::Global { name })),
    }
}

fn malformed(offset: usize, message: &str) -> PickleError {
    PickleError::Malformed { offset, message: message.to_string() }
}

impl Machine<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], PickleError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| malformed(self.pos, "truncated"))?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    fn line(&mut self, at: usize) -> Result<String, PickleError> {
        let rest = &self.data[self.pos..];
        let len = rest.iter().position(|&b| b == b'\n').ok_or_else(|| malformed(at, "unterminated line"))?;
        let text = String::from_utf8_lossy(&rest[..len]).into_owned();
        self.pos += len + 1;
        Ok(text)
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        self.stack.pop().ok_or_else(|| malformed(self.pos, "empty stack"))
    }

    fn pop_n(&mut self, n: usize, at: usize) -> Result<Vec<Value>, PickleError> {
        let start = self.stack.len().checked_sub(n).ok_or_else(|| malformed(at, "empty stack"))?;
        Ok(self.stack.split_off(start))
    }

    fn pop_mark(&mut self, at: usize) -> Result<Vec<Value>, PickleError> {
        let mark = self.marks.pop().ok_or_else(|| malformed(at, "no mark"))?;
        if mark > self.stack.len() {
            return Err(malformed(at, "mark beyond the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn put(&mut self, i: usize, at: usize) -> Result<(), PickleError> {
        let top = self.stack.last().cloned().ok_or_else(|| malformed(at, "empty stack"))?;
        if i >= self.memo.len() {
            if i > 1 << 24 {
                return Err(malformed(at, "memo key out of range"));
            }
            self.memo.resize(i + 1, None);
        }
        self.memo[i] = Some(top);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_dict_with_memo_and_long_ints() {
        let data =
            b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x05X\x01\x00\x00\x00b\x8a\x02\x00\x80X\x01\x00\x00\x00ch\x01u.";
        let s = |t: &str| Value::Str(t.into());
        let want = Value::Dict(vec![(s("a"), Value::Int(5)), (s("b"), Value::Int(-32768)), (s("c"), s("a"))]);
        assert_eq!(unpickle(data).unwrap(), want);
        let cut = data.len() - 3;
        assert_eq!(unpickle(&data[..cut]).err().unwrap(), malformed(cut, "truncated"));
    }

    #[test]
    fn refuses_opcodes_and_globals_outside_a_state_dict() {
        assert_eq!(unpickle(b"\x80\x02I1\n.").err().unwrap(), PickleError::Opcode { opcode: b'I', offset: 2 });
        let call = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.";
        assert_eq!(unpickle(call).err().unwrap(), PickleError::Global { name: "os.system".into() });
    }
}
