//! Conversion between R values and JSON (`serde_json::Value`).
//!
//! R to JSON ([`Value::to_json`]):
//! - `NULL` is `null`; NA (and NaN, Inf, which JSON lacks) are `null`.
//! - A vector of length 1 is a scalar, any other length an array (so an
//!   empty vector is `[]`). Names of atomic vectors are dropped (as jsonlite
//!   does); a factor becomes its level strings; a matrix its elements in
//!   column order.
//! - A list whose elements all have (non-empty) names is an object, any other
//!   list an array, whatever its length. Data frames are thus objects of
//!   column arrays.
//! - A raw vector is an array of byte numbers; a symbol its name; an OCAP
//!   reference the string `"<OCAP reference>"` (tokens are not shown);
//!   anything else a string like `"<R closure>"`.
//!
//! JSON to R ([`Value::from_json`]):
//! - `null` is `NULL`; `true`/`false` a logical of length 1; a string a
//!   character of length 1.
//! - Every number becomes a double, whether it is written with a fraction or
//!   not: R's own literals work the same way (`1` is a double, `1L` an
//!   integer), R functions accept doubles wherever integers are expected,
//!   and the integer/double distinction would otherwise depend on how the
//!   sender happened to print the number. Integers beyond 2^53 lose precision.
//! - An array of scalars of one kind (numbers, strings or booleans), where
//!   `null` is NA, becomes a vector of that kind; an array of only `null`s a
//!   logical NA vector (R's type of `NA`); any other array, and `[]`, an
//!   unnamed list.
//! - An object becomes a named list (in key order).

use serde_json::{Map, Number, Value as Json};

use crate::value::{Value, Vector};

impl Value {
    /// Converts to JSON (see the module documentation for the rules).
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Logical(v) => {
                scalar_or_array(v.values.iter().map(|b| b.map_or(Json::Null, Json::Bool)))
            }
            Value::Integer(v) => {
                if let Some(levels) = factor_levels(self) {
                    return scalar_or_array(v.values.iter().map(|code| {
                        code.and_then(|c| usize::try_from(c).ok())
                            .and_then(|c| c.checked_sub(1))
                            .and_then(|i| levels.get(i).cloned().flatten())
                            .map_or(Json::Null, Json::String)
                    }));
                }
                scalar_or_array(
                    v.values
                        .iter()
                        .map(|x| x.map_or(Json::Null, |x| Json::Number(x.into()))),
                )
            }
            Value::Double(v) => scalar_or_array(v.values.iter().map(|x| {
                x.and_then(Number::from_f64)
                    .map_or(Json::Null, Json::Number)
            })),
            Value::Character(v) => scalar_or_array(
                v.values
                    .iter()
                    .map(|s| s.clone().map_or(Json::Null, Json::String)),
            ),
            Value::Raw(v) => scalar_or_array(v.values.iter().map(|b| Json::Number((*b).into()))),
            Value::List(v) => list_to_json(v),
            Value::Symbol(name) => Json::String(name.clone()),
            Value::Ocap(_) => Json::String("<OCAP reference>".into()),
            Value::Opaque(o) => Json::String(format!("<R {}>", o.kind())),
        }
    }

    /// Converts from JSON (see the module documentation for the rules).
    pub fn from_json(json: &Json) -> Value {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::logical(*b),
            Json::Number(n) => Value::double(number_to_f64(n)),
            Json::String(s) => Value::string(s.clone()),
            Json::Array(items) => array_from_json(items),
            Json::Object(map) => {
                Value::named_list(map.iter().map(|(k, v)| (k.clone(), Value::from_json(v))))
            }
        }
    }
}

impl From<&Json> for Value {
    fn from(json: &Json) -> Self {
        Value::from_json(json)
    }
}

impl From<Json> for Value {
    fn from(json: Json) -> Self {
        Value::from_json(&json)
    }
}

impl From<&Value> for Json {
    fn from(value: &Value) -> Self {
        value.to_json()
    }
}

fn scalar_or_array(items: impl Iterator<Item = Json>) -> Json {
    let mut items: Vec<Json> = items.collect();
    if items.len() == 1 {
        items.pop().unwrap_or(Json::Null)
    } else {
        Json::Array(items)
    }
}

fn factor_levels(value: &Value) -> Option<Vec<Option<String>>> {
    if !value.inherits("factor") {
        return None;
    }
    match value.attributes()?.get("levels")? {
        Value::Character(levels) => Some(levels.values.clone()),
        _ => None,
    }
}

fn list_to_json(list: &Vector<Value>) -> Json {
    let named = list.attributes.names().filter(|names| {
        names.len() == list.values.len()
            && names
                .iter()
                .all(|n| n.as_deref().is_some_and(|n| !n.is_empty()))
    });
    match named {
        Some(names) => {
            let mut map = Map::new();
            for (name, value) in names.iter().zip(&list.values) {
                if let Some(name) = name {
                    map.insert(name.clone(), value.to_json());
                }
            }
            Json::Object(map)
        }
        None => Json::Array(list.values.iter().map(Value::to_json).collect()),
    }
}

fn number_to_f64(n: &Number) -> f64 {
    // as_f64 is Some for every Number unless serde_json's arbitrary precision
    // is enabled; fall back to parsing the text then.
    n.as_f64()
        .or_else(|| n.to_string().parse().ok())
        .unwrap_or(f64::NAN)
}

fn array_from_json(items: &[Json]) -> Value {
    let all = |pred: fn(&Json) -> bool| items.iter().all(|j| j.is_null() || pred(j));
    if items.is_empty() {
        return Value::list(Vec::new());
    }
    if items.iter().all(Json::is_null) || all(Json::is_boolean) {
        return Value::Logical(Vector::new(items.iter().map(Json::as_bool).collect()));
    }
    if all(Json::is_number) {
        return Value::Double(Vector::new(
            items
                .iter()
                .map(|j| j.as_number().map(number_to_f64))
                .collect(),
        ));
    }
    if all(Json::is_string) {
        return Value::Character(Vector::new(
            items
                .iter()
                .map(|j| j.as_str().map(str::to_string))
                .collect(),
        ));
    }
    Value::list(items.iter().map(Value::from_json).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::value::Attributes;

    #[test]
    fn scalars_and_vectors_to_json() {
        assert_eq!(Value::double(1.5).to_json(), json!(1.5));
        assert_eq!(Value::doubles([1.0, 2.0]).to_json(), json!([1.0, 2.0]));
        assert_eq!(Value::doubles([]).to_json(), json!([]));
        assert_eq!(Value::integer(3).to_json(), json!(3));
        assert_eq!(Value::logical(true).to_json(), json!(true));
        assert_eq!(Value::strings(["a", "b"]).to_json(), json!(["a", "b"]));
        assert_eq!(Value::Null.to_json(), json!(null));
        assert_eq!(
            Value::Raw(Vector::new(vec![1, 255])).to_json(),
            json!([1, 255])
        );
        assert_eq!(Value::Symbol("x".into()).to_json(), json!("x"));
    }

    #[test]
    fn na_nan_and_inf_become_null() {
        let v = Value::Double(Vector::new(vec![
            Some(1.0),
            None,
            Some(f64::NAN),
            Some(f64::INFINITY),
        ]));
        assert_eq!(v.to_json(), json!([1.0, null, null, null]));
        assert_eq!(
            Value::Integer(Vector::new(vec![None])).to_json(),
            json!(null)
        );
        assert_eq!(
            Value::Logical(Vector::new(vec![Some(false), None])).to_json(),
            json!([false, null])
        );
        assert_eq!(
            Value::Character(Vector::new(vec![None, Some("x".into())])).to_json(),
            json!([null, "x"])
        );
    }

    #[test]
    fn lists_to_json() {
        let named =
            Value::named_list([("a", Value::double(1.0)), ("b", Value::strings(["x", "y"]))]);
        assert_eq!(named.to_json(), json!({"a": 1.0, "b": ["x", "y"]}));
        let unnamed = Value::list(vec![Value::double(1.0), Value::Null]);
        assert_eq!(unnamed.to_json(), json!([1.0, null]));
        assert_eq!(
            Value::list(vec![Value::double(1.0)]).to_json(),
            json!([1.0])
        );
        // Partly named: an array.
        let mut partly = Vector::new(vec![Value::double(1.0), Value::double(2.0)]);
        partly.attributes.set("names", Value::strings(["a", ""]));
        assert_eq!(Value::List(partly).to_json(), json!([1.0, 2.0]));
        // Names of atomic vectors are dropped.
        let mut named_vec = Vector::new(vec![Some(1.0), Some(2.0)]);
        named_vec
            .attributes
            .set("names", Value::strings(["a", "b"]));
        assert_eq!(Value::Double(named_vec).to_json(), json!([1.0, 2.0]));
    }

    #[test]
    fn factor_to_json_uses_levels() {
        let mut codes = Vector::new(vec![Some(2), None, Some(1)]);
        codes.attributes = [
            ("levels".to_string(), Value::strings(["lo", "hi"])),
            ("class".to_string(), Value::string("factor")),
        ]
        .into_iter()
        .collect::<Attributes>();
        assert_eq!(Value::Integer(codes).to_json(), json!(["hi", null, "lo"]));
    }

    #[test]
    fn special_values_to_json() {
        assert_eq!(
            Value::Ocap("secret-token".into()).to_json(),
            json!("<OCAP reference>")
        );
    }

    #[test]
    fn json_scalars_to_r() {
        assert_eq!(Value::from_json(&json!(null)), Value::Null);
        assert_eq!(Value::from_json(&json!(true)), Value::logical(true));
        assert_eq!(Value::from_json(&json!(2)), Value::double(2.0));
        assert_eq!(Value::from_json(&json!(-2.5)), Value::double(-2.5));
        assert_eq!(Value::from_json(&json!("s")), Value::string("s"));
    }

    #[test]
    fn json_arrays_to_r() {
        assert_eq!(
            Value::from_json(&json!([1, 2.5, null])),
            Value::Double(Vector::new(vec![Some(1.0), Some(2.5), None]))
        );
        assert_eq!(
            Value::from_json(&json!(["a", null])),
            Value::Character(Vector::new(vec![Some("a".into()), None]))
        );
        assert_eq!(
            Value::from_json(&json!([true, null, false])),
            Value::Logical(Vector::new(vec![Some(true), None, Some(false)]))
        );
        assert_eq!(
            Value::from_json(&json!([null, null])),
            Value::Logical(Vector::new(vec![None, None]))
        );
        assert_eq!(Value::from_json(&json!([])), Value::list(vec![]));
        assert_eq!(
            Value::from_json(&json!([1, "a"])),
            Value::list(vec![Value::double(1.0), Value::string("a")])
        );
        assert_eq!(
            Value::from_json(&json!([[1], {"a": true}])),
            Value::list(vec![
                Value::doubles([1.0]),
                Value::named_list([("a", Value::logical(true))])
            ])
        );
    }

    #[test]
    fn json_objects_to_r_and_back() {
        let json = json!({"name": "x", "values": [1.0, 2.0], "nested": {"ok": true}, "none": null});
        let value = Value::from_json(&json);
        assert_eq!(value.get("name"), Some(&Value::string("x")));
        assert_eq!(value.get("none"), Some(&Value::Null));
        assert_eq!(value.to_json(), json);
        assert_eq!(Value::from_json(&json!({})).to_json(), json!({}));
    }
}
