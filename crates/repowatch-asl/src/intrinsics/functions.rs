//! The intrinsic functions themselves (AWS Step Functions "Intrinsic functions for
//! JSONPath states": Intrinsics for arrays, for data encoding and decoding, for
//! hash calculation, for JSON data manipulation, for Math operations, for String
//! operation, for unique identifier generation and for generic operations).

use crate::path::kind_of;
use rand::Rng;
use serde_json::{Map, Number, Value};
use sha2::Digest;

/// Most items `States.ArrayRange` may produce ("The array can contain up to 1,000 items").
pub(crate) const ARRAY_RANGE_LIMIT: i64 = 1000;
/// Longest input of `States.Base64Encode`, `States.Base64Decode` and `States.Hash` (10,000 characters).
pub(crate) const DATA_LIMIT_CHARS: usize = 10_000;

/// The argument counts each function takes (min, max).
fn arity(name: &str) -> Option<(usize, usize)> {
    Some(match name {
        "Format" => (1, usize::MAX),
        "Array" => (0, usize::MAX),
        "StringToJson" | "JsonToString" | "ArrayLength" | "ArrayUnique" | "Base64Encode" | "Base64Decode" => (1, 1),
        "ArrayPartition" | "ArrayContains" | "ArrayGetItem" | "Hash" | "MathAdd" | "StringSplit" => (2, 2),
        "ArrayRange" | "JsonMerge" => (3, 3),
        "MathRandom" => (2, 3),
        "UUID" => (0, 0),
        _ => return None,
    })
}

/// Check that `States.<name>` exists and takes `count` arguments.
pub(crate) fn check_arity(name: &str, count: usize) -> Result<(), String> {
    let Some((min, max)) = arity(name) else {
        return Err(format!("Unknown intrinsic function 'States.{name}'"));
    };
    if count < min || count > max {
        let wanted = if min == max {
            format!("{min}")
        } else if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(format!("States.{name} takes {wanted} argument(s), but {count} were given"));
    }
    Ok(())
}

/// Apply `States.<name>` to evaluated arguments. `template` holds the placeholder
/// offsets when States.Format's first argument is a string literal.
pub(crate) fn apply(name: &str, args: Vec<Value>, template: Option<&[usize]>) -> Result<Value, String> {
    check_arity(name, args.len())?;
    let a = |i: usize| args.get(i).unwrap_or(&Value::Null);
    match name {
        "Format" => format(a(0), args.get(1..).unwrap_or(&[]), template),
        "Array" => Ok(Value::Array(args.clone())),
        "StringToJson" => string_to_json(string(name, "argument", a(0))?),
        "JsonToString" => serde_json::to_string(a(0)).map(Value::String).map_err(|e| e.to_string()),
        "ArrayPartition" => {
            let items = array(name, "first argument", a(0))?;
            let size = integer(name, "chunk size", a(1))?;
            if size <= 0 {
                return Err(format!("The chunk size of States.ArrayPartition must be a positive integer, got {size}"));
            }
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            Ok(Value::Array(items.chunks(size).map(|c| Value::Array(c.to_vec())).collect()))
        }
        "ArrayContains" => Ok(Value::Bool(array(name, "first argument", a(0))?.contains(a(1)))),
        "ArrayRange" => {
            array_range(integer(name, "start", a(0))?, integer(name, "end", a(1))?, integer(name, "step", a(2))?)
        }
        "ArrayGetItem" => {
            let items = array(name, "first argument", a(0))?;
            let index = integer(name, "index", a(1))?;
            usize::try_from(index)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or_else(|| format!("The index {index} is out of bounds for an array of {} item(s)", items.len()))
        }
        "ArrayLength" => Ok(Value::from(array(name, "argument", a(0))?.len())),
        "ArrayUnique" => {
            let mut unique: Vec<Value> = Vec::new();
            for item in array(name, "argument", a(0))? {
                if !unique.contains(item) {
                    unique.push(item.clone());
                }
            }
            Ok(Value::Array(unique))
        }
        "Base64Encode" => {
            let data = limited(name, a(0))?;
            Ok(Value::String(base64_encode(data.as_bytes())))
        }
        "Base64Decode" => {
            let data = limited(name, a(0))?;
            let bytes = base64_decode(data).ok_or_else(|| format!("The input '{data}' is not valid Base64"))?;
            Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }
        "Hash" => {
            let data = limited(name, a(0))?;
            let algorithm = string(name, "algorithm", a(1))?;
            hash(data, algorithm).map(Value::String)
        }
        "JsonMerge" => {
            let (Value::Object(left), Value::Object(right)) = (a(0), a(1)) else {
                let bad = if a(0).is_object() { a(1) } else { a(0) };
                return Err(format!("States.JsonMerge merges two JSON objects, but got {}", kind_of(bad)));
            };
            match a(2) {
                Value::Bool(false) => {}
                Value::Bool(true) => {
                    return Err(
                        "States.JsonMerge supports only shallow merging: its third argument must be false".to_string()
                    );
                }
                other => {
                    return Err(format!(
                        "The third argument of States.JsonMerge must be the boolean false, got {}",
                        kind_of(other)
                    ));
                }
            }
            let mut merged: Map<String, Value> = left.clone();
            for (k, v) in right {
                merged.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(merged))
        }
        "MathRandom" => {
            let start = integer(name, "start", a(0))?;
            let end = integer(name, "end", a(1))?;
            let seed = match args.get(2) {
                Some(v) => Some(integer(name, "seed", v)?),
                None => None,
            };
            math_random(start, end, seed)
        }
        "MathAdd" => {
            let x = rounded(name, a(0))?;
            let y = rounded(name, a(1))?;
            Ok(Value::from(x + y))
        }
        "StringSplit" => {
            let text = string(name, "first argument", a(0))?;
            let delimiters: Vec<char> = string(name, "delimiter", a(1))?.chars().collect();
            // Every character of the delimiter splits; empty pieces are dropped (observed on AWS).
            Ok(Value::Array(
                text.split(|c| delimiters.contains(&c))
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            ))
        }
        "UUID" => Ok(Value::String(uuid_v4(rand::rng().random()))),
        _ => Err(format!("Unknown intrinsic function 'States.{name}'")),
    }
}

fn string<'v>(function: &str, what: &str, value: &'v Value) -> Result<&'v str, String> {
    value.as_str().ok_or_else(|| format!("The {what} of States.{function} must be a string, got {}", kind_of(value)))
}

fn array<'v>(function: &str, what: &str, value: &'v Value) -> Result<&'v Vec<Value>, String> {
    value.as_array().ok_or_else(|| format!("The {what} of States.{function} must be an array, got {}", kind_of(value)))
}

/// An integer argument: a JSON integer, or a number with no fractional part.
fn integer(function: &str, what: &str, value: &Value) -> Result<i64, String> {
    if let Some(i) = value.as_i64() {
        return Ok(i);
    }
    match value.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(format!("The {what} of States.{function} must be an integer, got {}", show(value))),
    }
}

/// A States.MathAdd operand: rounded half up to an integer (observed on AWS: 1.5 → 2,
/// -1.5 → -1, -2.5 → -2, i.e. Java's `Math.round`), within the 32-bit range the
/// documentation gives (-2147483648 to 2147483647).
fn rounded(function: &str, value: &Value) -> Result<i64, String> {
    let n = match value.as_i64() {
        Some(i) => i,
        None => match value.as_f64() {
            Some(f) => (f + 0.5).floor() as i64,
            None => {
                return Err(format!("The arguments of States.{function} must be numbers, got {}", kind_of(value)));
            }
        },
    };
    if i32::try_from(n).is_err() {
        return Err(format!(
            "The arguments of States.{function} must be between -2147483648 and 2147483647, got {}",
            show(value)
        ));
    }
    Ok(n)
}

/// A string argument of at most 10,000 characters (Base64Encode/Decode, Hash).
fn limited<'v>(function: &str, value: &'v Value) -> Result<&'v str, String> {
    let text = string(function, "input", value)?;
    if text.chars().count() > DATA_LIMIT_CHARS {
        return Err(format!("The input of States.{function} must be at most {DATA_LIMIT_CHARS} characters"));
    }
    Ok(text)
}

fn show(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// States.Format: each `{}` of the template takes the next argument.
fn format(template: &Value, args: &[Value], placeholders: Option<&[usize]>) -> Result<Value, String> {
    let text = template
        .as_str()
        .ok_or_else(|| format!("The first argument of States.Format must be a string, got {}", kind_of(template)))?;
    let found: Vec<usize> = match placeholders {
        Some(p) => p.to_vec(),
        None => text.match_indices("{}").map(|(i, _)| i).collect(),
    };
    if found.len() != args.len() {
        return Err(format!(
            "The format string has {} placeholder(s) but {} argument(s) were given",
            found.len(),
            args.len()
        ));
    }
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for (at, arg) in found.iter().zip(args) {
        out.push_str(text.get(from..*at).unwrap_or(""));
        format_value(arg, &mut out);
        from = at + 2;
    }
    out.push_str(text.get(from..).unwrap_or(""));
    Ok(Value::String(out))
}

/// How States.Format prints a value: strings as they are, numbers, booleans and
/// null as JSON, objects and arrays as Java's `Map`/`List` `toString` does
/// (observed on AWS: `{Id=arn:…, Name=…}`).
fn format_value(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                format_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                format_value(v, out);
            }
            out.push('}');
        }
        other => out.push_str(&show(other)),
    }
}

/// States.StringToJson: blank text gives `null` (observed on AWS for "" and " ").
fn string_to_json(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Value::Null);
    }
    let value =
        serde_json::from_str::<Value>(trimmed).map_err(|e| format!("The input '{text}' is not valid JSON: {e}"))?;
    // `-0` is the integer 0 (observed on AWS); serde_json reads it as the float -0.0.
    if trimmed == "-0" {
        return Ok(Value::from(0));
    }
    Ok(value)
}

/// States.ArrayRange: from `start` to `end` inclusive by `step` (at most 1,000 items).
fn array_range(start: i64, end: i64, step: i64) -> Result<Value, String> {
    if step == 0 {
        return Err("The step of States.ArrayRange must not be 0".to_string());
    }
    let count = if (step > 0 && start <= end) || (step < 0 && start >= end) {
        (i128::from(end) - i128::from(start)) / i128::from(step) + 1
    } else {
        0
    };
    if count > i128::from(ARRAY_RANGE_LIMIT) {
        return Err(format!("States.ArrayRange would return {count} items; the limit is {ARRAY_RANGE_LIMIT}"));
    }
    let mut out = Vec::new();
    let mut value = i128::from(start);
    for _ in 0..count {
        out.push(Value::Number(Number::from(i64::try_from(value).unwrap_or(i64::MAX))));
        value += i128::from(step);
    }
    Ok(Value::Array(out))
}

/// States.MathRandom: an integer in `[start, end)`; with a seed, the same number every time.
fn math_random(start: i64, end: i64, seed: Option<i64>) -> Result<Value, String> {
    if end <= start {
        return Err(format!("The end of States.MathRandom ({end}) must be greater than its start ({start})"));
    }
    let bound = end - start;
    let offset = match seed {
        Some(seed) => JavaRandom::new(seed).next_bounded(bound),
        None => rand::rng().random_range(0..bound),
    };
    Ok(Value::from(start + offset))
}

/// `java.util.Random`'s generator, so a seeded States.MathRandom is deterministic.
struct JavaRandom(i64);

impl JavaRandom {
    const MULTIPLIER: i64 = 0x5_DEEC_E66D;
    const MASK: i64 = (1 << 48) - 1;

    fn new(seed: i64) -> Self {
        JavaRandom((seed ^ Self::MULTIPLIER) & Self::MASK)
    }

    fn next(&mut self, bits: u32) -> i64 {
        self.0 = (self.0.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        self.0 >> (48 - bits)
    }

    /// `nextInt(bound)` for bounds within `int`, `nextLong`-based otherwise.
    fn next_bounded(&mut self, bound: i64) -> i64 {
        if let Ok(bound) = i32::try_from(bound) {
            let bound = i64::from(bound);
            if bound & (bound - 1) == 0 {
                return (bound * self.next(31)) >> 31;
            }
            loop {
                let bits = self.next(31);
                let value = bits % bound;
                // Java rejects the draw when `bits - value + (bound - 1)` overflows an int.
                if i32::try_from(bits - value + (bound - 1)).is_ok() {
                    return value;
                }
            }
        }
        let high = self.next(32) << 32;
        let wide = high.wrapping_add(self.next(32));
        wide.rem_euclid(bound)
    }
}

/// States.Hash: the lowercase hex digest of `data` with MD5, SHA-1, SHA-256, SHA-384 or SHA-512.
fn hash(data: &str, algorithm: &str) -> Result<String, String> {
    let bytes = data.as_bytes();
    let digest: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(bytes).to_vec(),
        "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        other => {
            return Err(format!(
                "The hashing algorithm '{other}' is not supported; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"
            ));
        }
    };
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard Base64 with padding (RFC 4648).
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decode standard Base64 (padding optional); `None` when the text is not Base64.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim_end_matches('=');
    if text.len() - trimmed.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in trimmed.bytes() {
        let v = BASE64.iter().position(|&b| b == c)?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xFF) as u8);
        }
    }
    if trimmed.len() % 4 == 1 {
        return None;
    }
    Some(out)
}

/// A version 4 (random) UUID in its canonical text form.
pub(crate) fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0F) | 0x40;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}
