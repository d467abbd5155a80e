//! The CBOR both ends of CTAP2 share: decoding with bounds (one item, no
//! trailing bytes, limited nesting), CTAP2's canonical encoding (CTAP 2.1
//! §8: shortest integers, map keys sorted by major type, then length, then
//! bytes), and typed access to the integer- and text-keyed maps CTAP2 uses.

use ciborium::Value;

/// Deepest nesting accepted: CTAP2 messages nest four levels at most.
pub const MAX_DEPTH: usize = 16;

/// Why CBOR bytes could not be read as the expected structure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CborError {
    /// Not well-formed CBOR, trailing bytes, or nested too deep.
    #[error("invalid CBOR: {0}")]
    Invalid(String),
    /// A value has another type than the field needs.
    #[error("{0} has the wrong CBOR type")]
    Type(&'static str),
    /// A required field is absent.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// The same map key appears twice.
    #[error("a CBOR map repeats a key")]
    DuplicateKey,
}

/// Decodes exactly one CBOR item from `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Value, CborError> {
    let mut rest = bytes;
    let value = decode_prefix(&mut rest)?;
    if !rest.is_empty() {
        return Err(CborError::Invalid(format!("{} bytes after the CBOR item", rest.len())));
    }
    Ok(value)
}

/// Decodes one CBOR item from the start of `bytes` and advances past it
/// (authenticator data carries extensions this way, with nothing saying
/// how long they are).
pub fn decode_prefix(bytes: &mut &[u8]) -> Result<Value, CborError> {
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut *bytes, MAX_DEPTH)
        .map_err(|e| CborError::Invalid(e.to_string()))?;
    check_unique_keys(&value)?;
    Ok(value)
}

fn check_unique_keys(value: &Value) -> Result<(), CborError> {
    match value {
        Value::Map(entries) => {
            for (i, (key, item)) in entries.iter().enumerate() {
                if entries[..i].iter().any(|(k, _)| k == key) {
                    return Err(CborError::DuplicateKey);
                }
                check_unique_keys(item)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(check_unique_keys),
        Value::Tag(_, inner) => check_unique_keys(inner),
        _ => Ok(()),
    }
}

/// Encodes `value` canonically: map keys sorted as CTAP2 requires, at
/// every level. Integers are already written in their shortest form.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Map(entries) => {
            let mut encoded: Vec<(Vec<u8>, Vec<u8>)> = entries
                .iter()
                .map(|(k, v)| {
                    let (mut key, mut item) = (Vec::new(), Vec::new());
                    write_canonical(k, &mut key);
                    write_canonical(v, &mut item);
                    (key, item)
                })
                .collect();
            encoded.sort_by(|(a, _), (b, _)| {
                let major = |k: &[u8]| k.first().map_or(0, |b| b >> 5);
                (major(a), a.len(), a.as_slice()).cmp(&(major(b), b.len(), b.as_slice()))
            });
            head(5, encoded.len() as u64, out);
            for (key, item) in encoded {
                out.extend_from_slice(&key);
                out.extend_from_slice(&item);
            }
        }
        Value::Array(items) => {
            head(4, items.len() as u64, out);
            for item in items {
                write_canonical(item, out);
            }
        }
        Value::Tag(tag, inner) => {
            head(6, *tag, out);
            write_canonical(inner, out);
        }
        other => {
            // Scalars, byte and text strings: ciborium writes them in their
            // shortest definite form, which is canonical. Writing to a Vec
            // cannot fail.
            let _ = ciborium::ser::into_writer(other, &mut *out);
        }
    }
}

/// A CBOR head (major type and argument) in its shortest form.
fn head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// An integer-keyed CTAP2 parameter map (requests and responses).
pub struct IntMap<'a>(&'a [(Value, Value)]);

impl<'a> IntMap<'a> {
    /// Reads `value` as a map whose keys are all integers.
    pub fn new(value: &'a Value, what: &'static str) -> Result<Self, CborError> {
        let entries = value.as_map().ok_or(CborError::Type(what))?;
        if entries.iter().any(|(k, _)| !k.is_integer()) {
            return Err(CborError::Type(what));
        }
        Ok(IntMap(entries))
    }

    /// The value at integer key `key`, if present.
    pub fn get(&self, key: u8) -> Option<&'a Value> {
        self.0.iter().find(|(k, _)| k.as_integer() == Some(key.into())).map(|(_, v)| v)
    }

    /// The value at `key`, or [`CborError::Missing`] naming `what`.
    pub fn require(&self, key: u8, what: &'static str) -> Result<&'a Value, CborError> {
        self.get(key).ok_or(CborError::Missing(what))
    }
}

/// A text-keyed map (rp, user, options, credential descriptors).
pub struct TextMap<'a>(&'a [(Value, Value)]);

impl<'a> TextMap<'a> {
    /// Reads `value` as a map; entries with non-text keys are never looked up.
    pub fn new(value: &'a Value, what: &'static str) -> Result<Self, CborError> {
        value.as_map().map(|m| TextMap(m.as_slice())).ok_or(CborError::Type(what))
    }

    /// The value at text key `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.iter().find(|(k, _)| k.as_text() == Some(key)).map(|(_, v)| v)
    }

    /// Every entry with a text key, in order.
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, &'a Value)> {
        self.0.iter().filter_map(|(k, v)| k.as_text().map(|k| (k, v)))
    }
}

/// `value` as a byte string, or [`CborError::Type`] naming `what`.
pub fn bytes<'a>(value: &'a Value, what: &'static str) -> Result<&'a [u8], CborError> {
    value.as_bytes().map(Vec::as_slice).ok_or(CborError::Type(what))
}

/// `value` as a text string.
pub fn text<'a>(value: &'a Value, what: &'static str) -> Result<&'a str, CborError> {
    value.as_text().ok_or(CborError::Type(what))
}

/// `value` as a boolean.
pub fn boolean(value: &Value, what: &'static str) -> Result<bool, CborError> {
    value.as_bool().ok_or(CborError::Type(what))
}

/// `value` as a signed integer that fits an i64.
pub fn int(value: &Value, what: &'static str) -> Result<i64, CborError> {
    value.as_integer().and_then(|i| i64::try_from(i).ok()).ok_or(CborError::Type(what))
}

/// `value` as an unsigned integer.
pub fn uint(value: &Value, what: &'static str) -> Result<u64, CborError> {
    value.as_integer().and_then(|i| u64::try_from(i).ok()).ok_or(CborError::Type(what))
}

/// `value` as an array.
pub fn array<'a>(value: &'a Value, what: &'static str) -> Result<&'a [Value], CborError> {
    value.as_array().map(Vec::as_slice).ok_or(CborError::Type(what))
}

/// A text string value (or map key), for building maps.
pub fn tstr(name: &str) -> Value {
    Value::Text(name.to_owned())
}

/// An integer key, for building maps.
pub fn ikey(n: u8) -> Value {
    Value::Integer(n.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_written_in_ctap2_canonical_order() {
        let value = Value::Map(vec![
            (tstr("type"), tstr("public-key")),
            (tstr("alg"), Value::Integer((-7).into())),
            (ikey(10), Value::Null),
            (Value::Integer((-1).into()), Value::Null),
            (ikey(1), Value::Bool(true)),
            (Value::Integer(1000.into()), Value::Null),
        ]);
        let bytes = encode(&value);
        // 1, 10, 1000 (major 0, by length then bytes), -1 (major 1), "alg", "type" (major 3, by length).
        assert_eq!(
            bytes,
            [
                &[0xa6, 0x01, 0xf5, 0x0a, 0xf6, 0x19, 0x03, 0xe8, 0xf6, 0x20, 0xf6][..],
                &[0x63, b'a', b'l', b'g', 0x26, 0x64, b't', b'y', b'p', b'e', 0x6a][..],
                b"public-key",
            ]
            .concat()
        );
        assert_eq!(decode(&bytes).map(|v| encode(&v)), Ok(bytes));
    }

    #[test]
    fn decoding_refuses_trailing_bytes_duplicates_and_depth() {
        assert!(matches!(decode(&[0x01, 0x02]), Err(CborError::Invalid(_))));
        assert_eq!(decode(&[0xa2, 0x01, 0x01, 0x01, 0x02]), Err(CborError::DuplicateKey));
        assert!(matches!(decode(&[0x81; 40]), Err(CborError::Invalid(_))));
        assert!(matches!(decode(&[0x5a, 0xff, 0xff, 0xff, 0xff]), Err(CborError::Invalid(_))));
        let mut rest: &[u8] = &[0xa0, 0x07];
        assert_eq!(decode_prefix(&mut rest), Ok(Value::Map(vec![])));
        assert_eq!(rest, [0x07]);
    }
}
