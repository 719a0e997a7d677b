//! Target `sexp`: the QAP1 decoder ([`codec::decode_sexp`] with the default
//! limits, and [`codec::first_param_with`] with a cap of [`FEW_ELEMENTS`],
//! so that the cap itself is reached) on mutated encodings of real values.
//! A value that decodes must convert to JSON and back, and encode again.

use rserve_qap::codec;
use rserve_qap::{DEFAULT_MAX_MESSAGE_BYTES, DecodeLimits, Value, Vector};

use super::{Outcome, Target, from_seeds};
use crate::rng::Rng;

const MAX_INPUT: usize = 4096;
/// The element cap of the second decode: below what many inputs hold.
pub const FEW_ELEMENTS: usize = 64;

pub struct Sexp {
    seeds: Vec<Vec<u8>>,
}

impl Sexp {
    pub fn new() -> anyhow::Result<Self> {
        let mut seeds = Vec::new();
        for value in sample_values() {
            let encoded = codec::encode_sexp(&value)?;
            seeds.push(codec::param_sexp(&encoded)?);
            seeds.push(encoded);
        }
        // Types the client does not model, as Rserve 1.8 sends them: a
        // closure, a call, a complex number, an environment.
        seeds.extend(
            [
                "121c0000 15100000 13040000 00000000 13040000 78000000 13040000 78000000",
                "16100000 13040000 66000000 13040000 78000000",
                "26100000 0000000000000000 000000000000f03f",
                "30040000 04000000",
                // The 8-byte (large) header form of c(1).
                "61080000 00000000 000000000000f03f",
            ]
            .map(hex),
        );
        seeds.push(codec::param_string("x <- 1")?);
        Ok(Sexp { seeds })
    }
}

/// Values of every modelled type, with attributes and nesting.
pub(crate) fn sample_values() -> Vec<Value> {
    let mut factor = Vector::new(vec![Some(1), Some(2), None]);
    factor.attributes.set("levels", Value::strings(["u", "v"]));
    factor.attributes.set("class", Value::string("factor"));
    let mut with_names = Vector::new(vec![Some(1.5), None, Some(f64::NAN)]);
    with_names
        .attributes
        .set("names", Value::strings(["a", "b", "c"]));
    vec![
        Value::Null,
        Value::double(3.0),
        Value::Double(with_names),
        Value::integers([1, -1, i32::MAX]),
        Value::Integer(factor),
        Value::Logical(Vector::new(vec![Some(true), None, Some(false)])),
        Value::strings(["a", "", "é€"]),
        Value::Character(Vector::new(vec![None, Some("x".into())])),
        Value::Raw(Vector::new(vec![0, 1, 0xff, 7, 9])),
        Value::Symbol("names".into()),
        Value::Ocap("9yWkV0IosLPCXGb1gVs1.GEIYEJV".into()),
        Value::named_list([
            ("add", Value::Ocap("t1".into())),
            ("greet", Value::Ocap("t2".into())),
        ]),
        Value::list(vec![
            Value::list(vec![Value::list(vec![Value::integer(1)])]),
            Value::named_list([("deep", Value::list(vec![Value::Null]))]),
        ]),
    ]
}

pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).unwrap_or("00");
            u8::from_str_radix(text, 16).unwrap_or(0)
        })
        .collect()
}

/// What must hold for every value the decoder produced.
fn check_decoded(value: &Value) -> Outcome {
    let json = value.to_json();
    let _ = Value::from_json(&json);
    match codec::encode_sexp(value) {
        Ok(bytes) => {
            let _ = codec::decode_sexp(&bytes);
            Outcome::Accepted
        }
        Err(e) => Outcome::Broken(format!("a decoded value does not encode again: {e}")),
    }
}

impl Target for Sexp {
    fn name(&self) -> &'static str {
        "sexp"
    }

    fn cap_bytes(&self) -> usize {
        DEFAULT_MAX_MESSAGE_BYTES as usize
    }

    fn input(&self, rng: &mut Rng) -> Vec<u8> {
        from_seeds(rng, &self.seeds, MAX_INPUT)
    }

    fn feed(&mut self, input: &[u8]) -> Outcome {
        let as_sexp = codec::decode_sexp(input).ok();
        let few = DecodeLimits {
            max_elements: FEW_ELEMENTS,
        };
        let as_param = match codec::first_param_with(input, &few) {
            Ok(Some(codec::Param::Sexp(value))) => Some(value),
            _ => None,
        };
        let outcomes: Vec<Outcome> = [as_sexp, as_param]
            .iter()
            .flatten()
            .map(check_decoded)
            .collect();
        worst(outcomes)
    }
}

/// The worst of several outcomes: broken over accepted over refused.
pub(crate) fn worst(outcomes: Vec<Outcome>) -> Outcome {
    let mut result = Outcome::Refused;
    for outcome in outcomes {
        match outcome {
            Outcome::Broken(_) => return outcome,
            Outcome::Accepted => result = Outcome::Accepted,
            Outcome::Refused => {}
        }
    }
    result
}
