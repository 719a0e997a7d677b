//! `rdesk call`'s arguments: a JSON value is positional, `name=JSON` is
//! named (a JSON value never starts with an R name and `=`).

use anyhow::{Result, anyhow};
use rdesk_core::desk::CallArgument;

/// One argument as typed on the command line.
pub fn argument(text: &str) -> Result<CallArgument> {
    let (name, json) = match text.split_once('=') {
        Some((name, json)) if is_r_name(name) => (Some(name.to_owned()), json),
        _ => (None, text),
    };
    let value = serde_json::from_str(json).map_err(|e| match &name {
        Some(name) => {
            anyhow!("the value of the argument `{name}` (`{json}`) is not valid JSON: {e}")
        }
        None => anyhow!("the argument `{text}` is not valid JSON (or `name=JSON`): {e}"),
    })?;
    Ok((name, value))
}

/// R's syntactic names: a letter, or a dot not followed by a digit, then
/// letters, digits, dots and underscores.
fn is_r_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => true,
        Some('.') => !name[1..].starts_with(|c: char| c.is_ascii_digit()),
        _ => false,
    };
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_is_positional_and_name_equals_json_is_named() {
        assert_eq!(argument("1").unwrap(), (None, json!(1)));
        assert_eq!(argument("\"a=b\"").unwrap(), (None, json!("a=b")));
        assert_eq!(argument("{\"a\":1}").unwrap(), (None, json!({"a": 1})));
        assert_eq!(argument("n=10").unwrap(), (Some("n".to_owned()), json!(10)));
        assert_eq!(
            argument("label=\"a b\"").unwrap(),
            (Some("label".to_owned()), json!("a b"))
        );
        assert_eq!(
            argument(".w_2=[1,2]").unwrap(),
            (Some(".w_2".to_owned()), json!([1, 2]))
        );
    }

    #[test]
    fn bad_arguments_get_a_sentence_naming_them() {
        let named = argument("label=a b").unwrap_err().to_string();
        assert!(
            named.contains("the value of the argument `label`"),
            "{named}"
        );
        let plain = argument("hello").unwrap_err().to_string();
        assert!(
            plain.contains("`hello` is not valid JSON (or `name=JSON`)"),
            "{plain}"
        );
        assert!(argument("2x=1").is_err(), "not an R name, so not named");
    }
}
