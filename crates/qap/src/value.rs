//! [`Value`]: the R values this client sends and receives, with their
//! attributes (names, class, levels, dim, ...) and NA as `None`.
//!
//! Mapping to R:
//!
//! | `Value`       | R                                               |
//! |---------------|-------------------------------------------------|
//! | `Null`        | `NULL`                                          |
//! | `Logical`     | logical vector (`None` = `NA`)                  |
//! | `Integer`     | integer vector (`None` = `NA_integer_`)         |
//! | `Double`      | double vector (`None` = `NA_real_`; NaN stays NaN) |
//! | `Character`   | character vector (`None` = `NA_character_`)    |
//! | `Raw`         | raw vector                                      |
//! | `List`        | generic vector (`list()`), names in attributes  |
//! | `Symbol`      | a symbol (as found in pairlist tags)            |
//! | `Ocap`        | an OCAP reference (a string of class `OCref`)   |
//! | `Opaque`      | anything else (closures, environments, calls, complex numbers, S4, ...), kept as its encoded bytes |

use crate::codec;

/// An R value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Logical(Vector<Option<bool>>),
    Integer(Vector<Option<i32>>),
    Double(Vector<Option<f64>>),
    Character(Vector<Option<String>>),
    Raw(Vector<u8>),
    List(Vector<Value>),
    Symbol(String),
    /// An object capability reference (the token; only meaningful on the
    /// connection that received it).
    Ocap(String),
    Opaque(Opaque),
}

/// The elements of an R vector and its attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Vector<T> {
    pub values: Vec<T>,
    pub attributes: Attributes,
}

impl<T> Vector<T> {
    /// A vector without attributes.
    pub fn new(values: Vec<T>) -> Self {
        Vector {
            values,
            attributes: Attributes::default(),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the vector has no elements.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Attributes of an R object, in the order R keeps them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes {
    entries: Vec<(String, Value)>,
}

impl Attributes {
    /// No attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The attribute `name`, if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Sets (or replaces) the attribute `name`.
    pub fn set(&mut self, name: impl Into<String>, value: Value) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// Removes the attribute `name` and returns it.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let pos = self.entries.iter().position(|(n, _)| n == name)?;
        Some(self.entries.remove(pos).1)
    }

    /// All attributes in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// The `names` attribute, when it is a character vector.
    pub fn names(&self) -> Option<&[Option<String>]> {
        match self.get("names") {
            Some(Value::Character(v)) => Some(&v.values),
            _ => None,
        }
    }

    /// The `class` attribute (empty when unset).
    pub fn class(&self) -> Vec<&str> {
        match self.get("class") {
            Some(Value::Character(v)) => v.values.iter().flatten().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

impl FromIterator<(String, Value)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut attributes = Attributes::new();
        for (name, value) in iter {
            attributes.set(name, value);
        }
        attributes
    }
}

/// An R object this crate does not model (a closure, environment, call,
/// complex vector, S4 object, ...). It decodes without failing the message
/// and is sent back unchanged if passed as an argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Opaque {
    pub(crate) kind: String,
    pub(crate) xt: u8,
    pub(crate) encoded: Vec<u8>,
}

impl Opaque {
    /// What it is, e.g. "closure", "environment", "complex vector".
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Its QAP1 expression type (`XT_*`, flags removed).
    pub fn xt(&self) -> u8 {
        self.xt
    }

    /// Its complete QAP1 encoding.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }
}

impl Value {
    /// A logical vector of length 1.
    pub fn logical(value: bool) -> Value {
        Value::Logical(Vector::new(vec![Some(value)]))
    }

    /// An integer vector of length 1.
    pub fn integer(value: i32) -> Value {
        Value::Integer(Vector::new(vec![Some(value)]))
    }

    /// A double vector of length 1.
    pub fn double(value: f64) -> Value {
        Value::Double(Vector::new(vec![Some(value)]))
    }

    /// A character vector of length 1.
    pub fn string(value: impl Into<String>) -> Value {
        Value::Character(Vector::new(vec![Some(value.into())]))
    }

    /// A double vector.
    pub fn doubles(values: impl IntoIterator<Item = f64>) -> Value {
        Value::Double(Vector::new(values.into_iter().map(Some).collect()))
    }

    /// An integer vector.
    pub fn integers(values: impl IntoIterator<Item = i32>) -> Value {
        Value::Integer(Vector::new(values.into_iter().map(Some).collect()))
    }

    /// A character vector.
    pub fn strings<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Value {
        Value::Character(Vector::new(
            values.into_iter().map(|s| Some(s.into())).collect(),
        ))
    }

    /// An unnamed list.
    pub fn list(values: Vec<Value>) -> Value {
        Value::List(Vector::new(values))
    }

    /// A list with names.
    pub fn named_list<S: Into<String>>(entries: impl IntoIterator<Item = (S, Value)>) -> Value {
        let (names, values): (Vec<Option<String>>, Vec<Value>) = entries
            .into_iter()
            .map(|(name, value)| (Some(name.into()), value))
            .unzip();
        let mut vector = Vector::new(values);
        vector
            .attributes
            .set("names", Value::Character(Vector::new(names)));
        Value::List(vector)
    }

    /// True for `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Number of elements (0 for `NULL`, 1 for symbols, references and
    /// opaque objects).
    pub fn len(&self) -> usize {
        match self {
            Value::Null => 0,
            Value::Logical(v) => v.len(),
            Value::Integer(v) => v.len(),
            Value::Double(v) => v.len(),
            Value::Character(v) => v.len(),
            Value::Raw(v) => v.len(),
            Value::List(v) => v.len(),
            Value::Symbol(_) | Value::Ocap(_) | Value::Opaque(_) => 1,
        }
    }

    /// True when [`Value::len`] is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The attributes, for the variants that carry them.
    pub fn attributes(&self) -> Option<&Attributes> {
        match self {
            Value::Logical(v) => Some(&v.attributes),
            Value::Integer(v) => Some(&v.attributes),
            Value::Double(v) => Some(&v.attributes),
            Value::Character(v) => Some(&v.attributes),
            Value::Raw(v) => Some(&v.attributes),
            Value::List(v) => Some(&v.attributes),
            Value::Null | Value::Symbol(_) | Value::Ocap(_) | Value::Opaque(_) => None,
        }
    }

    /// Mutable attributes, for the variants that carry them.
    pub fn attributes_mut(&mut self) -> Option<&mut Attributes> {
        match self {
            Value::Logical(v) => Some(&mut v.attributes),
            Value::Integer(v) => Some(&mut v.attributes),
            Value::Double(v) => Some(&mut v.attributes),
            Value::Character(v) => Some(&mut v.attributes),
            Value::Raw(v) => Some(&mut v.attributes),
            Value::List(v) => Some(&mut v.attributes),
            Value::Null | Value::Symbol(_) | Value::Ocap(_) | Value::Opaque(_) => None,
        }
    }

    /// The `names` attribute.
    pub fn names(&self) -> Option<&[Option<String>]> {
        self.attributes().and_then(Attributes::names)
    }

    /// The `class` attribute (empty when unset).
    pub fn class(&self) -> Vec<&str> {
        self.attributes().map(Attributes::class).unwrap_or_default()
    }

    /// True when `class` contains `class`.
    pub fn inherits(&self, class: &str) -> bool {
        self.class().contains(&class)
    }

    /// The list element called `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let Value::List(list) = self else { return None };
        let names = list.attributes.names()?;
        let index = names.iter().position(|n| n.as_deref() == Some(name))?;
        list.values.get(index)
    }

    /// The single element of a length-1 logical vector.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Logical(v) if v.len() == 1 => v.values[0],
            _ => None,
        }
    }

    /// The single element of a length-1 integer vector.
    pub fn as_i32(&self) -> Option<i32> {
        match self {
            Value::Integer(v) if v.len() == 1 => v.values[0],
            _ => None,
        }
    }

    /// The single element of a length-1 double or integer vector.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(v) if v.len() == 1 => v.values[0],
            Value::Integer(v) if v.len() == 1 => v.values[0].map(f64::from),
            _ => None,
        }
    }

    /// The single element of a length-1 character vector (or a symbol).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Character(v) if v.len() == 1 => v.values[0].as_deref(),
            Value::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// Encodes the value as a QAP1 SEXP (without the `DT_SEXP` parameter header).
    pub fn to_qap(&self) -> Result<Vec<u8>, crate::CodecError> {
        codec::encode_sexp(self)
    }

    /// Decodes one QAP1 SEXP (without the `DT_SEXP` parameter header).
    pub fn from_qap(bytes: &[u8]) -> Result<Value, crate::CodecError> {
        codec::decode_sexp(bytes)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::logical(value)
    }
}

impl From<i32> for Value {
    fn from(value: i32) -> Self {
        Value::integer(value)
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::double(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::string(value)
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::string(value)
    }
}

impl From<Vec<f64>> for Value {
    fn from(values: Vec<f64>) -> Self {
        Value::doubles(values)
    }
}

impl From<Vec<Value>> for Value {
    fn from(values: Vec<Value>) -> Self {
        Value::list(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_list_access() {
        let v = Value::named_list([("a", Value::double(1.0)), ("b", Value::string("x"))]);
        assert_eq!(v.len(), 2);
        assert_eq!(v.get("a").and_then(Value::as_f64), Some(1.0));
        assert_eq!(v.get("b").and_then(Value::as_str), Some("x"));
        assert!(v.get("c").is_none());
        assert_eq!(
            v.names(),
            Some(&[Some("a".to_string()), Some("b".to_string())][..])
        );
    }

    #[test]
    fn attributes_set_replace_remove() {
        let mut a = Attributes::new();
        a.set("class", Value::string("foo"));
        a.set("class", Value::strings(["bar", "baz"]));
        assert_eq!(a.len(), 1);
        assert_eq!(a.class(), vec!["bar", "baz"]);
        assert!(a.remove("class").is_some());
        assert!(a.is_empty());
    }

    #[test]
    fn scalar_accessors() {
        assert_eq!(Value::from(true).as_bool(), Some(true));
        assert_eq!(Value::from(3).as_i32(), Some(3));
        assert_eq!(Value::from(3).as_f64(), Some(3.0));
        assert_eq!(Value::from("s").as_str(), Some("s"));
        assert_eq!(Value::doubles([1.0, 2.0]).as_f64(), None);
        assert!(Value::Null.is_empty());
    }
}
