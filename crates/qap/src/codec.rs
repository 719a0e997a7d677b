//! QAP1 encoding and decoding of R values (SEXPs) and of message parameters.
//!
//! A SEXP is a 4-byte header (1 byte `XT_*` type with the `XT_HAS_ATTR` and
//! `XT_LARGE` flags, 3 bytes length) or an 8-byte header when `XT_LARGE` is
//! set (the second word carries bits 24..55 of the length), then the
//! attribute pairlist when `XT_HAS_ATTR` is set, then the data. Every length
//! is a multiple of 4: strings are padded with 1 (`XT_ARRAY_STR`) or 0
//! (symbols), logical vectors with 0xff. NA is `i32::MIN` for integers, the
//! NaN with low word 1954 for doubles, byte 2 for logicals and the string
//! "\xff" for characters (as in Rserve's `qap_encode.c`/`qap_decode.c`).
//!
//! Decoding never trusts a length beyond the bytes at hand, limits nesting
//! ([`MAX_DEPTH`]) and the number of decoded elements
//! ([`DecodeLimits::max_elements`]), allocates only for data that is present,
//! and turns types it does not model into [`Opaque`] values instead of
//! failing the whole message.

use crate::error::CodecError;
use crate::protocol::*;
use crate::value::{Attributes, Opaque, Value, Vector};

/// Deepest nesting of values the decoder accepts (lists, attributes and
/// pairlist tags alike). Fixed, not configurable: it bounds the decoder's
/// recursion, which must fit the 2 MiB stack of a tokio worker thread.
pub const MAX_DEPTH: usize = 256;

/// Default for [`DecodeLimits::max_elements`]: 4 Mi (32 MiB of doubles).
pub const DEFAULT_MAX_ELEMENTS: usize = 4 << 20;

/// How much one decode may produce. A few wire bytes can stand for much
/// larger values in memory (4 bytes of `NULL` become a whole [`Value`], one
/// NUL byte a whole `String`), so the message size alone does not bound it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Elements decoded in total: every R object (list elements, attributes,
    /// tags) and every value inside a vector (number, logical, string, byte).
    pub max_elements: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_elements: DEFAULT_MAX_ELEMENTS,
        }
    }
}

/// The elements a decode has produced so far, against its limit.
struct Budget {
    limit: usize,
    used: usize,
}

impl Budget {
    fn new(limits: &DecodeLimits) -> Self {
        Budget {
            limit: limits.max_elements,
            used: 0,
        }
    }

    /// Counts `n` more elements, found at byte `offset`.
    fn charge(&mut self, n: usize, offset: usize) -> Result<(), CodecError> {
        self.used = self.used.saturating_add(n);
        if self.used > self.limit {
            return Err(CodecError::TooManyElements {
                offset,
                limit: self.limit,
            });
        }
        Ok(())
    }
}

/// The bit pattern of R's `NA_real_`.
pub const NA_REAL_BITS: u64 = 0x7ff0_0000_0000_07a2;
/// R's `NA_integer_`.
pub const NA_INTEGER: i32 = i32::MIN;
const NA_STRING_MARK: u8 = 0xff;

/// True when `x` is R's `NA_real_` (not merely NaN).
pub fn is_na_real(x: f64) -> bool {
    x.is_nan() && (x.to_bits() & 0xffff_ffff) == 1954
}

// ---------------------------------------------------------------- decoding

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.end - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.remaining() {
            return Err(CodecError::Truncated {
                offset: self.pos,
                needed: n as u64,
                available: self.remaining(),
            });
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn rest(&mut self) -> &'a [u8] {
        let bytes = &self.buf[self.pos..self.end];
        self.pos = self.end;
        bytes
    }
}

/// Reads a 4- or 8-byte header (SEXP or parameter): type byte and length.
fn read_header(r: &mut Reader<'_>, large_flag: u8) -> Result<(u8, u64), CodecError> {
    let word = r.u32()?;
    let ty = (word & 0xff) as u8;
    let mut len = u64::from(word >> 8);
    if ty & large_flag != 0 {
        len |= u64::from(r.u32()?) << 24;
    }
    if len > r.remaining() as u64 {
        return Err(CodecError::Truncated {
            offset: r.pos,
            needed: len,
            available: r.remaining(),
        });
    }
    Ok((ty & !large_flag, len))
}

/// Decodes one SEXP that fills `bytes` (trailing bytes are ignored), within
/// the default [`DecodeLimits`].
pub fn decode_sexp(bytes: &[u8]) -> Result<Value, CodecError> {
    decode_sexp_with(bytes, &DecodeLimits::default())
}

/// Decodes one SEXP that fills `bytes` (trailing bytes are ignored), within `limits`.
pub fn decode_sexp_with(bytes: &[u8], limits: &DecodeLimits) -> Result<Value, CodecError> {
    let mut r = Reader {
        buf: bytes,
        pos: 0,
        end: bytes.len(),
    };
    decode(&mut r, 0, &mut Budget::new(limits))
}

fn decode(r: &mut Reader<'_>, depth: usize, budget: &mut Budget) -> Result<Value, CodecError> {
    let start = r.pos;
    if depth > MAX_DEPTH {
        return Err(CodecError::TooDeep {
            offset: start,
            limit: MAX_DEPTH,
        });
    }
    budget.charge(1, start)?;
    let (ty, len) = read_header(r, XT_LARGE)?;
    let data_start = r.pos;
    // read_header checked that `len` fits the remaining bytes.
    let end = data_start + len as usize;
    r.pos = end;
    let mut sub = Reader {
        buf: r.buf,
        pos: data_start,
        end,
    };
    let xt = ty & 63;
    let attributes = if ty & XT_HAS_ATTR != 0 {
        attributes_from(decode(&mut sub, depth + 1, budget)?)
    } else {
        Attributes::default()
    };
    let opaque = |kind: &str| {
        Value::Opaque(Opaque {
            kind: kind.to_string(),
            xt,
            encoded: r.buf[start..end].to_vec(),
        })
    };

    Ok(match xt {
        XT_NULL => Value::Null,
        XT_INT | XT_ARRAY_INT => {
            let data = aligned(&mut sub, 4, budget)?;
            let values = data
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .map(|x| (x != NA_INTEGER).then_some(x))
                .collect();
            Value::Integer(Vector { values, attributes })
        }
        XT_DOUBLE | XT_ARRAY_DOUBLE => {
            let data = aligned(&mut sub, 8, budget)?;
            let values = data
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .map(|x| (!is_na_real(x)).then_some(x))
                .collect();
            Value::Double(Vector { values, attributes })
        }
        XT_ARRAY_BOOL => {
            let n = counted(&mut sub, budget)?;
            let values = sub.take(n)?.iter().map(|b| logical_from_byte(*b)).collect();
            Value::Logical(Vector { values, attributes })
        }
        XT_BOOL => {
            let values = sub.take(1)?.iter().map(|b| logical_from_byte(*b)).collect();
            Value::Logical(Vector { values, attributes })
        }
        XT_RAW => {
            let n = counted(&mut sub, budget)?;
            let values = sub.take(n)?.to_vec();
            Value::Raw(Vector { values, attributes })
        }
        XT_ARRAY_STR => {
            let offset = sub.pos;
            let data = sub.rest();
            budget.charge(data.iter().filter(|b| **b == 0).count(), offset)?;
            let values = split_strings(data);
            if attributes.class() == ["OCref"] && values.len() == 1 {
                if let Some(Some(token)) = values.into_iter().next() {
                    return Ok(Value::Ocap(token));
                }
                return Ok(opaque("invalid OCAP reference"));
            }
            Value::Character(Vector { values, attributes })
        }
        XT_STR => Value::Character(Vector {
            values: vec![Some(c_string(sub.rest()))],
            attributes,
        }),
        XT_SYMNAME | XT_SYM => Value::Symbol(c_string(sub.rest())),
        XT_VECTOR => {
            let mut values = Vec::new();
            while sub.remaining() > 0 {
                values.push(decode(&mut sub, depth + 1, budget)?);
            }
            Value::List(Vector { values, attributes })
        }
        XT_LIST_TAG | XT_LIST_NOTAG => {
            // A pairlist: kept as a list, its tags as names.
            let tagged = xt == XT_LIST_TAG;
            let mut values = Vec::new();
            let mut names = Vec::new();
            while sub.remaining() > 0 {
                values.push(decode(&mut sub, depth + 1, budget)?);
                if tagged {
                    let tag = decode(&mut sub, depth + 1, budget)?;
                    names.push(tag.as_str().map(str::to_string));
                }
            }
            let mut attributes = attributes;
            if names.iter().any(Option::is_some) {
                let names = names
                    .into_iter()
                    .map(|n| Some(n.unwrap_or_default()))
                    .collect();
                attributes.set("names", Value::Character(Vector::new(names)));
            }
            Value::List(Vector { values, attributes })
        }
        XT_LANG_NOTAG | XT_LANG_TAG | XT_LANG => opaque("call"),
        XT_CLOS => opaque("closure"),
        XT_S4 => opaque("S4 object"),
        XT_VECTOR_EXP => opaque("expression vector"),
        XT_ARRAY_CPLX => opaque("complex vector"),
        XT_UNKNOWN => {
            let kind = match sub.u32() {
                Ok(sexptype) => sexptype_name(sexptype),
                Err(_) => "unknown R object".to_string(),
            };
            opaque(&kind)
        }
        other => opaque(&format!("unsupported QAP1 type {other}")),
    })
}

/// The data of a vector of `width`-byte elements, its elements counted.
fn aligned<'a>(
    r: &mut Reader<'a>,
    width: usize,
    budget: &mut Budget,
) -> Result<&'a [u8], CodecError> {
    if !r.remaining().is_multiple_of(width) {
        return Err(CodecError::InvalidLength {
            offset: r.pos,
            reason: format!(
                "{} byte(s) of data are not a whole number of {width}-byte elements",
                r.remaining()
            ),
        });
    }
    budget.charge(r.remaining() / width, r.pos)?;
    Ok(r.rest())
}

/// Reads the element count of a logical or raw vector, checks it fits and counts it.
fn counted(r: &mut Reader<'_>, budget: &mut Budget) -> Result<usize, CodecError> {
    let offset = r.pos;
    let n = r.u32()? as usize;
    if n > r.remaining() {
        return Err(CodecError::InvalidLength {
            offset,
            reason: format!(
                "{n} element(s) announced, {} byte(s) present",
                r.remaining()
            ),
        });
    }
    budget.charge(n, offset)?;
    Ok(n)
}

fn logical_from_byte(b: u8) -> Option<bool> {
    match b {
        BOOL_FALSE => Some(false),
        BOOL_TRUE => Some(true),
        _ => None,
    }
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Splits `XT_ARRAY_STR` data: NUL-terminated strings, then padding.
fn split_strings(data: &[u8]) -> Vec<Option<String>> {
    let mut values = Vec::new();
    let mut rest = data;
    while let Some(nul) = rest.iter().position(|b| *b == 0) {
        let s = &rest[..nul];
        values.push(match s {
            [NA_STRING_MARK] => None,
            [NA_STRING_MARK, tail @ ..] => Some(String::from_utf8_lossy(tail).into_owned()),
            _ => Some(String::from_utf8_lossy(s).into_owned()),
        });
        rest = &rest[nul + 1..];
    }
    values
}

fn attributes_from(value: Value) -> Attributes {
    let Value::List(list) = value else {
        return Attributes::default();
    };
    let names: Vec<Option<String>> = list
        .attributes
        .names()
        .map(<[_]>::to_vec)
        .unwrap_or_default();
    names
        .into_iter()
        .zip(list.values)
        .filter_map(|(name, value)| name.filter(|n| !n.is_empty()).map(|n| (n, value)))
        .collect()
}

fn sexptype_name(sexptype: u32) -> String {
    match sexptype {
        1 => "symbol",
        2 => "pairlist",
        3 => "closure",
        4 => "environment",
        5 => "promise",
        6 => "call",
        7 => "special function",
        8 => "builtin function",
        17 => "dots",
        20 => "expression vector",
        22 => "external pointer",
        23 => "weak reference",
        24 => "raw vector",
        25 => "S4 object",
        other => return format!("R object of SEXP type {other}"),
    }
    .to_string()
}

// ---------------------------------------------------------------- encoding

fn pad4(n: u64) -> u64 {
    (n + 3) & !3
}

fn header_len(payload: u64) -> u64 {
    if payload > MAX_SMALL_LEN { 8 } else { 4 }
}

fn check_string(s: &str) -> Result<(), CodecError> {
    if s.as_bytes().contains(&0) {
        return Err(CodecError::NulInString {
            value: s.to_string(),
        });
    }
    Ok(())
}

fn ocap_as_character(token: &str) -> Value {
    let mut v = Vector::new(vec![Some(token.to_string())]);
    v.attributes.set("class", Value::string("OCref"));
    Value::Character(v)
}

/// An element of a pairlist to encode: optional tag, value.
type Item<'a> = (Option<&'a str>, &'a Value);

fn pairlist_payload(items: &[Item<'_>], tagged: bool) -> Result<u64, CodecError> {
    let mut size = 0;
    for (tag, value) in items {
        size += sexp_len(value)?;
        if tagged {
            size += match tag {
                Some(name) => {
                    check_string(name)?;
                    4 + pad4(name.len() as u64 + 1)
                }
                None => 4,
            };
        }
    }
    Ok(size)
}

fn attribute_items(attributes: &Attributes) -> Vec<Item<'_>> {
    attributes
        .iter()
        .map(|(name, value)| (Some(name), value))
        .collect()
}

/// Length of the data after the header, attributes included.
fn payload_len(value: &Value) -> Result<u64, CodecError> {
    let attrs = match value.attributes() {
        Some(a) if !a.is_empty() => {
            let payload = pairlist_payload(&attribute_items(a), true)?;
            header_len(payload) + payload
        }
        _ => 0,
    };
    let data = match value {
        Value::Null => 0,
        Value::Logical(v) => 4 + pad4(v.len() as u64),
        Value::Integer(v) => 4 * v.len() as u64,
        Value::Double(v) => 8 * v.len() as u64,
        Value::Raw(v) => 4 + pad4(v.len() as u64),
        Value::Character(v) => {
            let mut n = 0;
            for s in &v.values {
                n += match s {
                    Some(s) => {
                        check_string(s)?;
                        s.len() as u64 + 1
                    }
                    None => 2,
                };
            }
            pad4(n)
        }
        Value::List(v) => {
            let mut n = 0;
            for element in &v.values {
                n += sexp_len(element)?;
            }
            n
        }
        Value::Symbol(name) => {
            check_string(name)?;
            pad4(name.len() as u64 + 1)
        }
        Value::Ocap(token) => return payload_len(&ocap_as_character(token)),
        Value::Opaque(o) => return Ok(o.encoded.len() as u64),
    };
    Ok(attrs + data)
}

/// Encoded length of a SEXP, header included.
fn sexp_len(value: &Value) -> Result<u64, CodecError> {
    if let Value::Opaque(o) = value {
        return Ok(o.encoded.len() as u64);
    }
    let payload = payload_len(value)?;
    Ok(header_len(payload) + payload)
}

fn write_header(out: &mut Vec<u8>, ty: u8, payload: u64, large_flag: u8) -> Result<(), CodecError> {
    if payload >= 1 << 56 {
        return Err(CodecError::TooLarge { bytes: payload });
    }
    if payload > MAX_SMALL_LEN {
        let first = u32::from(ty | large_flag) | (((payload & 0x00ff_ffff) as u32) << 8);
        out.extend_from_slice(&first.to_le_bytes());
        out.extend_from_slice(&((payload >> 24) as u32).to_le_bytes());
    } else {
        let first = u32::from(ty) | ((payload as u32) << 8);
        out.extend_from_slice(&first.to_le_bytes());
    }
    Ok(())
}

fn pad_to_4(out: &mut Vec<u8>, from: usize, byte: u8) {
    while !(out.len() - from).is_multiple_of(4) {
        out.push(byte);
    }
}

fn xt_of(value: &Value) -> u8 {
    match value {
        Value::Null => XT_NULL,
        Value::Logical(_) => XT_ARRAY_BOOL,
        Value::Integer(_) => XT_ARRAY_INT,
        Value::Double(_) => XT_ARRAY_DOUBLE,
        Value::Character(_) | Value::Ocap(_) => XT_ARRAY_STR,
        Value::Raw(_) => XT_RAW,
        Value::List(_) => XT_VECTOR,
        Value::Symbol(_) => XT_SYMNAME,
        Value::Opaque(o) => o.xt,
    }
}

fn write_sexp(out: &mut Vec<u8>, value: &Value) -> Result<(), CodecError> {
    match value {
        Value::Opaque(o) => {
            out.extend_from_slice(&o.encoded);
            return Ok(());
        }
        Value::Ocap(token) => return write_sexp(out, &ocap_as_character(token)),
        _ => {}
    }
    let payload = payload_len(value)?;
    let attributes = value.attributes().filter(|a| !a.is_empty());
    let mut ty = xt_of(value);
    if attributes.is_some() {
        ty |= XT_HAS_ATTR;
    }
    write_header(out, ty, payload, XT_LARGE)?;
    if let Some(a) = attributes {
        write_pairlist(out, XT_LIST_TAG, &attribute_items(a), true)?;
    }
    let data_start = out.len();
    match value {
        Value::Null | Value::Opaque(_) | Value::Ocap(_) => {}
        Value::Logical(v) => {
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            let start = out.len();
            out.extend(v.values.iter().map(|b| match b {
                Some(false) => BOOL_FALSE,
                Some(true) => BOOL_TRUE,
                None => BOOL_NA,
            }));
            pad_to_4(out, start, 0xff);
        }
        Value::Integer(v) => {
            for x in &v.values {
                out.extend_from_slice(&x.unwrap_or(NA_INTEGER).to_le_bytes());
            }
        }
        Value::Double(v) => {
            for x in &v.values {
                let bits = x.map_or(NA_REAL_BITS, f64::to_bits);
                out.extend_from_slice(&bits.to_le_bytes());
            }
        }
        Value::Raw(v) => {
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            let start = out.len();
            out.extend_from_slice(&v.values);
            pad_to_4(out, start, 0);
        }
        Value::Character(v) => {
            for s in &v.values {
                match s {
                    // Valid UTF-8 never contains 0xff, so no string needs the
                    // doubled-0xff escape Rserve uses for "\xff..." strings.
                    Some(s) => out.extend_from_slice(s.as_bytes()),
                    None => out.push(NA_STRING_MARK),
                }
                out.push(0);
            }
            pad_to_4(out, data_start, 1);
        }
        Value::List(v) => {
            for element in &v.values {
                write_sexp(out, element)?;
            }
        }
        Value::Symbol(name) => {
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            pad_to_4(out, data_start, 0);
        }
    }
    Ok(())
}

fn write_pairlist(
    out: &mut Vec<u8>,
    xt_tagged: u8,
    items: &[Item<'_>],
    tagged: bool,
) -> Result<(), CodecError> {
    // XT_LIST_NOTAG = XT_LIST_TAG - 1, XT_LANG_NOTAG = XT_LANG_TAG - 1.
    let xt = if tagged { xt_tagged } else { xt_tagged - 1 };
    write_header(out, xt, pairlist_payload(items, tagged)?, XT_LARGE)?;
    for (tag, value) in items {
        write_sexp(out, value)?;
        if tagged {
            match tag {
                Some(name) => write_sexp(out, &Value::Symbol((*name).to_string()))?,
                None => write_sexp(out, &Value::Null)?,
            }
        }
    }
    Ok(())
}

/// Encodes a value as a SEXP (header included).
pub fn encode_sexp(value: &Value) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(usize::try_from(sexp_len(value)?).unwrap_or(0));
    write_sexp(&mut out, value)?;
    Ok(out)
}

/// Encodes a function call: a language object (`XT_LANG_NOTAG`, or
/// `XT_LANG_TAG` when an argument is named) whose first element is `head`.
/// With an OCAP reference as `head` this is the payload of `CMD_OCcall`.
pub fn encode_call(head: &Value, args: &[(Option<String>, Value)]) -> Result<Vec<u8>, CodecError> {
    let mut items: Vec<Item<'_>> = vec![(None, head)];
    items.extend(args.iter().map(|(name, value)| (name.as_deref(), value)));
    let tagged = args.iter().any(|(name, _)| name.is_some());
    let mut out = Vec::new();
    write_pairlist(&mut out, XT_LANG_TAG, &items, tagged)?;
    Ok(out)
}

// ------------------------------------------------------ message parameters

/// Wraps encoded SEXP bytes as a `DT_SEXP` parameter.
pub fn param_sexp(encoded: &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(encoded.len() + 8);
    write_header(&mut out, DT_SEXP, encoded.len() as u64, DT_LARGE)?;
    out.extend_from_slice(encoded);
    Ok(out)
}

/// Encodes a `DT_STRING` parameter (NUL-terminated, padded to 4 bytes).
pub fn param_string(s: &str) -> Result<Vec<u8>, CodecError> {
    check_string(s)?;
    let len = pad4(s.len() as u64 + 1);
    let mut out = Vec::with_capacity(len as usize + 8);
    write_header(&mut out, DT_STRING, len, DT_LARGE)?;
    let start = out.len();
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    pad_to_4(&mut out, start, 0);
    Ok(out)
}

/// The first parameter of a response body.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Sexp(Value),
    String(String),
    Int(i32),
    Other { dt: u8, bytes: Vec<u8> },
}

/// Decodes the first parameter of a message body (`None` for an empty body),
/// within the default [`DecodeLimits`].
pub fn first_param(body: &[u8]) -> Result<Option<Param>, CodecError> {
    first_param_with(body, &DecodeLimits::default())
}

/// Decodes the first parameter of a message body (`None` for an empty body),
/// within `limits`.
pub fn first_param_with(body: &[u8], limits: &DecodeLimits) -> Result<Option<Param>, CodecError> {
    if body.is_empty() {
        return Ok(None);
    }
    let mut r = Reader {
        buf: body,
        pos: 0,
        end: body.len(),
    };
    let (dt, len) = read_header(&mut r, DT_LARGE)?;
    let start = r.pos;
    let data = r.take(len as usize)?;
    Ok(Some(match dt {
        DT_SEXP => {
            let mut sub = Reader {
                buf: body,
                pos: start,
                end: start + data.len(),
            };
            Param::Sexp(decode(&mut sub, 0, &mut Budget::new(limits))?)
        }
        DT_STRING => Param::String(c_string(data)),
        DT_INT if data.len() >= 4 => {
            Param::Int(i32::from_le_bytes([data[0], data[1], data[2], data[3]]))
        }
        other => Param::Other {
            dt: other,
            bytes: data.to_vec(),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Decodes a fixture, checks the value, re-encodes to the same bytes.
    fn exact(bytes: &str, expected: Value) {
        let bytes = hex(bytes);
        let decoded = decode_sexp(&bytes).unwrap();
        assert_eq!(decoded, expected);
        assert_eq!(encode_sexp(&expected).unwrap(), bytes);
    }

    fn round_trip(value: &Value) -> Value {
        decode_sexp(&encode_sexp(value).unwrap()).unwrap()
    }

    // Fixtures below are bytes Rserve 1.8.11 (R 4.2) sent for the R value named.

    #[test]
    fn double_scalar() {
        // 1 + 2
        exact("21080000 0000000000000840", Value::double(3.0));
    }

    #[test]
    fn double_with_na_and_nan() {
        // c(1.5, NA, NaN)
        let bytes = hex("21180000 000000000000f83f a20700000000f07f 000000000000f87f");
        let Value::Double(v) = decode_sexp(&bytes).unwrap() else {
            panic!("not double")
        };
        assert_eq!(v.values[0], Some(1.5));
        assert_eq!(v.values[1], None);
        assert!(v.values[2].unwrap().is_nan());
        assert_eq!(encode_sexp(&Value::Double(v)).unwrap(), bytes);
    }

    #[test]
    fn na_real_detection_accepts_the_quiet_form() {
        assert!(is_na_real(f64::from_bits(NA_REAL_BITS)));
        assert!(is_na_real(f64::from_bits(0x7ff8_0000_0000_07a2)));
        assert!(!is_na_real(f64::NAN));
        assert!(!is_na_real(1954.0));
    }

    #[test]
    fn integer_na() {
        // NA_integer_
        exact("20040000 00000080", Value::Integer(Vector::new(vec![None])));
        exact(
            "200c0000 01000000 ffffffff 00000080",
            Value::Integer(Vector::new(vec![Some(1), Some(-1), None])),
        );
    }

    #[test]
    fn logical_with_na_and_padding() {
        // c(TRUE, NA, FALSE)
        exact(
            "24080000 03000000 010200ff",
            Value::Logical(Vector::new(vec![Some(true), None, Some(false)])),
        );
        exact("24040000 00000000", Value::Logical(Vector::new(vec![])));
        exact(
            "24080000 04000000 01010101",
            Value::Logical(Vector::new(vec![Some(true); 4])),
        );
    }

    #[test]
    fn character_with_na_empty_and_padding() {
        // c("a", NA, "")
        exact(
            "22080000 6100ff00 00010101",
            Value::Character(Vector::new(vec![
                Some("a".into()),
                None,
                Some(String::new()),
            ])),
        );
        exact("22000000", Value::Character(Vector::new(vec![])));
        exact("22040000 00010101", Value::string(""));
        exact("22040000 61626300", Value::string("abc"));
    }

    #[test]
    fn character_utf8_and_escaped_ff() {
        let v = Value::strings(["é€", "日本"]);
        assert_eq!(round_trip(&v), v);
        // Rserve doubles a leading 0xff of a non-NA string.
        let decoded = decode_sexp(&hex("22040000 ff410001")).unwrap();
        assert_eq!(decoded, Value::string("A"));
    }

    #[test]
    fn nul_in_string_is_refused() {
        let err = encode_sexp(&Value::string("a\0b")).unwrap_err();
        assert!(matches!(err, CodecError::NulInString { .. }));
    }

    #[test]
    fn null() {
        exact("00000000", Value::Null);
    }

    #[test]
    fn named_list_with_attributes() {
        // list(a = 1L, b = "x")
        exact(
            "90280000 15140000 22040000 61006200 13080000 6e616d65 73000000
             20040000 01000000 22040000 78000101",
            Value::named_list([("a", Value::integer(1)), ("b", Value::string("x"))]),
        );
    }

    #[test]
    fn factor_keeps_levels_and_class() {
        // factor(c("u", "v", "u"))
        let bytes = "a03c0000 152c0000 22040000 75007600 13080000 6c6576656c730000
                     22080000 666163746f720001 13080000 636c617373000000
                     01000000 02000000 01000000";
        let mut v = Vector::new(vec![Some(1), Some(2), Some(1)]);
        v.attributes.set("levels", Value::strings(["u", "v"]));
        v.attributes.set("class", Value::string("factor"));
        exact(bytes, Value::Integer(v));
    }

    #[test]
    fn raw_vector() {
        // as.raw(1:5): Rserve leaves whatever bytes in the padding.
        let decoded = decode_sexp(&hex("250c0000 05000000 01020304 05040000")).unwrap();
        let expected = Value::Raw(Vector::new(vec![1, 2, 3, 4, 5]));
        assert_eq!(decoded, expected);
        assert_eq!(
            encode_sexp(&expected).unwrap(),
            hex("250c0000 05000000 01020304 05000000")
        );
    }

    #[test]
    fn ocap_reference() {
        // One element of what oc.init() sent: a string of class "OCref".
        let token = "9yWkV0IosLPCXGb1gVs1.GEIYEJV";
        let bytes = format!(
            "a23c0000 15180000 22080000 4f437265 66000101 13080000 636c6173 73000000 {}00010101",
            token
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        exact(&bytes, Value::Ocap(token.into()));
    }

    #[test]
    fn opaque_closure_call_and_complex_decode_and_reencode() {
        // function(x) x
        let closure =
            hex("121c0000 15100000 13040000 00000000 13040000 78000000 13040000 78000000");
        let v = decode_sexp(&closure).unwrap();
        let Value::Opaque(o) = &v else {
            panic!("not opaque: {v:?}")
        };
        assert_eq!(o.kind(), "closure");
        assert_eq!(encode_sexp(&v).unwrap(), closure);
        // quote(f(x))
        let call = decode_sexp(&hex("16100000 13040000 66000000 13040000 78000000")).unwrap();
        assert!(matches!(&call, Value::Opaque(o) if o.kind() == "call"));
        // 1i
        let cplx = decode_sexp(&hex("26100000 0000000000000000 000000000000f03f")).unwrap();
        assert!(matches!(&cplx, Value::Opaque(o) if o.kind() == "complex vector"));
        // an environment: XT_UNKNOWN with SEXP type 4
        let env = decode_sexp(&hex("30040000 04000000")).unwrap();
        assert!(matches!(&env, Value::Opaque(o) if o.kind() == "environment"));
    }

    #[test]
    fn unsupported_element_does_not_fail_the_list() {
        // list(1, <type 63>, "a"): the unknown element becomes opaque.
        let bytes = hex("101c0000 21080000 000000000000f03f 3f040000 deadbeef 22040000 61000101");
        let Value::List(list) = decode_sexp(&bytes).unwrap() else {
            panic!("not a list")
        };
        assert_eq!(list.values.len(), 3);
        assert!(matches!(&list.values[1], Value::Opaque(o) if o.kind().contains("63")));
        assert_eq!(list.values[2], Value::string("a"));
    }

    #[test]
    fn pairlist_becomes_named_list() {
        // pairlist(x = 1L)
        let bytes = hex("15100000 20040000 01000000 13040000 78000000");
        assert_eq!(
            decode_sexp(&bytes).unwrap(),
            Value::named_list([("x", Value::integer(1))])
        );
    }

    #[test]
    fn symbol() {
        exact("13080000 6e616d65 73000000", Value::Symbol("names".into()));
        exact("13040000 78000000", Value::Symbol("x".into()));
    }

    #[test]
    fn large_header_decodes_even_for_small_data() {
        // XT_ARRAY_DOUBLE | XT_LARGE with length 8 in the 8-byte form.
        let bytes = hex("61080000 00000000 000000000000f03f");
        assert_eq!(decode_sexp(&bytes).unwrap(), Value::double(1.0));
    }

    #[test]
    fn large_vector_uses_large_header_and_round_trips() {
        let n = 2_100_000usize; // 16.8 MB of doubles > 0xfffff0
        let value = Value::doubles((0..n).map(|i| i as f64));
        let bytes = encode_sexp(&value).unwrap();
        let payload = (n * 8) as u64;
        assert_eq!(bytes.len() as u64, 8 + payload);
        assert_eq!(bytes[0], XT_ARRAY_DOUBLE | XT_LARGE);
        assert_eq!(
            u64::from(u32::from_le_bytes([bytes[1], bytes[2], bytes[3], 0])),
            payload & 0xff_ffff
        );
        assert_eq!(
            u64::from(u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]])),
            payload >> 24
        );
        assert_eq!(decode_sexp(&bytes).unwrap(), value);
        // In a list, the list header is large too; the message parameter as well.
        let list = Value::list(vec![value, Value::string("end")]);
        let encoded = encode_sexp(&list).unwrap();
        assert_eq!(encoded[0], XT_VECTOR | XT_LARGE);
        assert_eq!(decode_sexp(&encoded).unwrap(), list);
        let param = param_sexp(&encoded).unwrap();
        assert_eq!(param[0], DT_SEXP | DT_LARGE);
        assert_eq!(first_param(&param).unwrap(), Some(Param::Sexp(list)));
    }

    #[test]
    fn nested_round_trip_with_attributes_everywhere() {
        let mut inner = Vector::new(vec![Some(1.0), None]);
        inner.attributes.set("names", Value::strings(["a", "b"]));
        inner.attributes.set("units", Value::string("cm"));
        let value = Value::named_list([
            ("d", Value::Double(inner)),
            ("l", Value::Logical(Vector::new(vec![None, Some(false)]))),
            ("s", Value::Character(Vector::new(vec![None]))),
            ("r", Value::Raw(Vector::new(vec![0xff; 7]))),
            ("n", Value::Null),
            ("o", Value::Ocap("tok".into())),
            ("e", Value::list(vec![])),
            ("sym", Value::Symbol("x".into())),
        ]);
        assert_eq!(round_trip(&value), value);
    }

    #[test]
    fn truncated_and_lying_lengths_are_errors() {
        assert!(matches!(
            decode_sexp(&hex("21100000 000000000000f03f")),
            Err(CodecError::Truncated { .. })
        ));
        assert!(matches!(
            decode_sexp(&hex("2108")),
            Err(CodecError::Truncated { .. })
        ));
        assert!(matches!(
            decode_sexp(&hex("24080000 ff000000 01010101")),
            Err(CodecError::InvalidLength { .. })
        ));
        assert!(matches!(
            decode_sexp(&hex("21060000 000000000000")),
            Err(CodecError::InvalidLength { .. })
        ));
        // A list whose element claims more than the list holds.
        assert!(matches!(
            decode_sexp(&hex("10080000 21080000 00000000")),
            Err(CodecError::Truncated { .. })
        ));
    }

    #[test]
    fn nesting_is_limited() {
        let mut bytes = Vec::new();
        let depth = MAX_DEPTH + 5;
        for i in 0..depth {
            let len = ((depth - i - 1) * 4) as u32;
            bytes.extend_from_slice(&(u32::from(XT_VECTOR) | (len << 8)).to_le_bytes());
        }
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        assert!(matches!(
            decode_sexp(&bytes),
            Err(CodecError::TooDeep { .. })
        ));
    }

    /// A SEXP header with a 4-byte length.
    fn small_header(xt: u8, len: usize) -> Vec<u8> {
        (u32::from(xt) | ((len as u32) << 8)).to_le_bytes().to_vec()
    }

    #[test]
    fn decoded_elements_are_capped() {
        let few = DecodeLimits { max_elements: 10 };
        // 96 empty strings in 96 bytes: each would become a whole String.
        let strings = [small_header(XT_ARRAY_STR, 96), vec![0; 96]].concat();
        // 24 NULLs in a list: each would become a whole Value.
        let nulls = [small_header(XT_VECTOR, 96), vec![0; 96]].concat();
        let ints = [small_header(XT_ARRAY_INT, 96), vec![1; 96]].concat();
        let doubles = [small_header(XT_ARRAY_DOUBLE, 96), vec![1; 96]].concat();
        let logicals = [
            small_header(XT_ARRAY_BOOL, 68),
            64u32.to_le_bytes().to_vec(),
            vec![1; 64],
        ]
        .concat();
        let raw = [
            small_header(XT_RAW, 68),
            64u32.to_le_bytes().to_vec(),
            vec![1; 64],
        ]
        .concat();
        for bytes in [&strings, &nulls, &ints, &doubles, &logicals, &raw] {
            let err = decode_sexp_with(bytes, &few).unwrap_err();
            assert!(
                matches!(err, CodecError::TooManyElements { limit: 10, .. }),
                "{err:?}"
            );
            assert!(err.to_string().contains("more than 10 elements"), "{err}");
            assert!(decode_sexp(bytes).is_ok());
        }
        // The same cap holds for a message's parameter.
        let param = param_sexp(&nulls).unwrap();
        assert!(matches!(
            first_param_with(&param, &few),
            Err(CodecError::TooManyElements { .. })
        ));
        // Exactly at the cap is fine: a list (1) of nine NULLs (9).
        let nine = [small_header(XT_VECTOR, 36), vec![0; 36]].concat();
        assert_eq!(decode_sexp_with(&nine, &few).unwrap().len(), 9);
    }

    #[test]
    fn element_cap_counts_attributes_and_tags() {
        // list(a = 1L, b = "x") is a list (1), its attribute pairlist (1),
        // the names vector and its 2 strings (3), the tag (1), then 1L and
        // "x", each an object holding one element (2 + 2): 10.
        let bytes = hex(
            "90280000 15140000 22040000 61006200 13080000 6e616d65 73000000
             20040000 01000000 22040000 78000101",
        );
        assert!(decode_sexp_with(&bytes, &DecodeLimits { max_elements: 10 }).is_ok());
        assert!(matches!(
            decode_sexp_with(&bytes, &DecodeLimits { max_elements: 9 }),
            Err(CodecError::TooManyElements { .. })
        ));
    }

    /// A value nested `depth` levels: lists, or values whose attribute
    /// pairlist holds the next level.
    fn nested(depth: usize, through_attributes: bool) -> Vec<u8> {
        let mut bytes = small_header(XT_NULL, 0);
        for _ in 0..depth {
            bytes = if through_attributes {
                // An attribute pairlist with one tagged element: the value, tag "a".
                let tag = [small_header(XT_SYMNAME, 4), b"a\0\0\0".to_vec()].concat();
                let pairlist = [
                    small_header(XT_LIST_TAG, bytes.len() + tag.len()),
                    bytes,
                    tag,
                ]
                .concat();
                [
                    small_header(XT_ARRAY_INT | XT_HAS_ATTR, pairlist.len()),
                    pairlist,
                ]
                .concat()
            } else {
                [small_header(XT_VECTOR, bytes.len()), bytes].concat()
            };
        }
        bytes
    }

    #[test]
    fn the_deepest_accepted_nesting_fits_a_tokio_worker_stack() {
        // Decoding, converting to JSON, comparing and dropping all recurse;
        // each must fit the 2 MiB stack of a tokio worker at the depth cap.
        let worker = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let lists = nested(MAX_DEPTH, false);
                let value = decode_sexp(&lists).unwrap();
                let _ = value.to_json();
                assert_eq!(value, value.clone());
                assert!(matches!(
                    decode_sexp(&nested(MAX_DEPTH + 1, false)),
                    Err(CodecError::TooDeep { .. })
                ));
                // Attributes nest at two levels per step (pairlist, value).
                let attrs = nested(MAX_DEPTH / 2, true);
                let value = decode_sexp(&attrs).unwrap();
                assert_eq!(value, value.clone());
                assert!(matches!(
                    decode_sexp(&nested(MAX_DEPTH / 2 + 1, true)),
                    Err(CodecError::TooDeep { .. })
                ));
            })
            .unwrap();
        worker.join().unwrap();
    }

    #[test]
    fn lengths_beyond_the_data_are_refused() {
        // Length and count fields at their largest, in front of little data.
        for bytes in [
            hex("61ffffff ffffffff 00000000 00000000"),
            hex("24080000 ffffffff 01010101"),
            hex("25080000 ffffffff 01010101"),
            hex("10ffffff 00000000"),
        ] {
            assert!(decode_sexp(&bytes).is_err(), "{bytes:?}");
        }
        // A DT_SEXP | DT_LARGE parameter announcing 2^56 - 1 bytes.
        assert!(matches!(
            first_param(&hex("4affffff ffffffff 00000000")),
            Err(CodecError::Truncated { .. })
        ));
    }

    #[test]
    fn call_encoding() {
        let call = encode_call(&Value::string("tok"), &[(None, Value::double(1.0))]).unwrap();
        assert_eq!(
            call,
            hex("16140000 22040000 746f6b00 21080000 000000000000f03f")
        );
        let named = encode_call(
            &Value::string("t"),
            &[(Some("x".into()), Value::integer(2)), (None, Value::Null)],
        )
        .unwrap();
        assert_eq!(
            named,
            hex(
                "17240000 22040000 74000101 00000000 20040000 02000000 13040000 78000000
                 00000000 00000000"
            )
        );
    }

    #[test]
    fn string_parameter() {
        assert_eq!(param_string("ab").unwrap(), hex("04040000 61620000"));
        assert_eq!(param_string("abc").unwrap(), hex("04040000 61626300"));
        assert_eq!(
            param_string("abcd").unwrap(),
            hex("04080000 61626364 00000000")
        );
        assert!(param_string("a\0").is_err());
    }

    #[test]
    fn response_parameters() {
        // The body of the answer to `1 + 2`.
        assert_eq!(
            first_param(&hex("0a0c0000 21080000 0000000000000840")).unwrap(),
            Some(Param::Sexp(Value::double(3.0)))
        );
        assert_eq!(first_param(&[]).unwrap(), None);
        assert_eq!(
            first_param(&hex("04040000 68690000")).unwrap(),
            Some(Param::String("hi".into()))
        );
        assert_eq!(
            first_param(&hex("01040000 2a000000")).unwrap(),
            Some(Param::Int(42))
        );
        assert!(first_param(&hex("0a100000 21080000")).is_err());
    }
}
