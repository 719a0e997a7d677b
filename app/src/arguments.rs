//! What the console's inputs mean: the box of positional arguments, one
//! field per named argument, and a function's signature as the console
//! shows it.

use rdesk_ipc::FunctionView;

/// The box of positional arguments: a JSON array of arguments, or one JSON
/// value taken as the only argument; empty is no arguments.
pub fn positional(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Array(args)) => Ok(args),
        Ok(one) => Ok(vec![one]),
        Err(e) => Err(format!("the arguments are not JSON: {e}")),
    }
}

/// The named arguments the fields give, in the function's order: a field
/// left empty is left out (R uses the default, or says it is missing).
pub fn named(fields: &[(String, String)]) -> Result<Vec<(String, serde_json::Value)>, String> {
    fields
        .iter()
        .filter(|(_, text)| !text.trim().is_empty())
        .map(|(name, text)| {
            serde_json::from_str(text.trim())
                .map(|value| (name.clone(), value))
                .map_err(|e| {
                    format!(
                        "the value of {name} is not JSON ({e}); a text needs quotes, e.g. \"{}\"",
                        text.trim()
                    )
                })
        })
        .collect()
}

/// `f(x, y = 2, ...)`; just `f` when the app does not say its arguments.
pub fn signature(function: &FunctionView) -> String {
    match &function.arguments {
        None => function.name.clone(),
        Some(arguments) => {
            let shown: Vec<String> = arguments
                .iter()
                .map(|a| match &a.default {
                    Some(default) => format!("{} = {default}", a.name),
                    None => a.name.clone(),
                })
                .collect();
            format!("{}({})", function.name, shown.join(", "))
        }
    }
}

/// The arguments that get a field of their own: all but `...`, which the
/// box of positional arguments serves.
pub fn fields_of(function: &FunctionView) -> Vec<(String, Option<String>)> {
    function
        .arguments
        .iter()
        .flatten()
        .filter(|a| a.name != "...")
        .map(|a| (a.name.clone(), a.default.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdesk_ipc::ArgumentView;
    use serde_json::json;

    fn function(arguments: Option<&[(&str, Option<&str>)]>) -> FunctionView {
        FunctionView {
            name: "f".to_owned(),
            arguments: arguments.map(|list| {
                list.iter()
                    .map(|(name, default)| ArgumentView {
                        name: (*name).to_owned(),
                        default: default.map(str::to_owned),
                    })
                    .collect()
            }),
        }
    }

    #[test]
    fn the_positional_box_takes_an_array_or_one_value() {
        assert_eq!(positional(" ").unwrap(), Vec::<serde_json::Value>::new());
        assert_eq!(
            positional("[1, \"a\"]").unwrap(),
            vec![json!(1), json!("a")]
        );
        assert_eq!(positional("\"x\"").unwrap(), vec![json!("x")]);
        assert!(
            positional("[1,")
                .unwrap_err()
                .starts_with("the arguments are not JSON")
        );
    }

    #[test]
    fn named_fields_left_empty_are_left_out() {
        let fields = [
            ("n".to_owned(), " 3 ".to_owned()),
            ("label".to_owned(), String::new()),
            ("w".to_owned(), "[1, 2]".to_owned()),
        ];
        assert_eq!(
            named(&fields).unwrap(),
            [("n".to_owned(), json!(3)), ("w".to_owned(), json!([1, 2]))]
        );
        let bad = named(&[("label".to_owned(), "a b".to_owned())]).unwrap_err();
        assert!(bad.starts_with("the value of label is not JSON"), "{bad}");
        assert!(bad.ends_with("e.g. \"a b\""), "{bad}");
    }

    #[test]
    fn signatures_read_like_r() {
        let with = function(Some(&[("x", None), ("y", Some("2")), ("...", None)]));
        assert_eq!(signature(&with), "f(x, y = 2, ...)");
        assert_eq!(
            fields_of(&with),
            [
                ("x".to_owned(), None),
                ("y".to_owned(), Some("2".to_owned()))
            ]
        );
        assert_eq!(signature(&function(Some(&[]))), "f()");
        assert_eq!(signature(&function(None)), "f");
        assert!(fields_of(&function(None)).is_empty());
    }
}
