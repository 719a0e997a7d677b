//! The functions a server offers with their formal arguments: read from the
//! `rdesk_arguments` attribute of an OCAP function list (which Rserve Desk's
//! `start.R` sets), or, in eval mode, asked of the global environment.

use crate::value::Value;

/// A function a server offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub name: String,
    /// Its formal arguments in order; `None` when the server does not say
    /// (an OCAP server that sets no `rdesk_arguments`).
    pub arguments: Option<Vec<Argument>>,
}

/// One formal argument of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argument {
    /// Its name; `...` takes any further arguments.
    pub name: String,
    /// Its default as R source; `None` when it has none.
    pub default: Option<String>,
}

/// The attribute of an OCAP function list naming each function's arguments.
const ARGUMENTS_ATTRIBUTE: &str = "rdesk_arguments";

/// R function (as source) giving the functions of the global environment
/// with their arguments, as `start.R` gives them in `rdesk_arguments`.
pub(crate) const GLOBAL_SIGNATURES: &str = "(function() { e <- globalenv(); \
     n <- ls(e); n <- n[vapply(n, function(x) is.function(get(x, envir = e)), logical(1))]; \
     a <- lapply(n, function(x) { f <- formals(get(x, envir = e)); \
     d <- vapply(f, function(v) if (is.symbol(v) && !nzchar(as.character(v))) \"\" \
     else paste(deparse(v, width.cutoff = 500L), collapse = \" \"), character(1)); \
     structure(unname(d), names = names(f)) }); names(a) <- n; a })";

/// The signatures of `names`, with the arguments `arguments` gives (a named
/// list by function of character vectors named by argument, as
/// [`GLOBAL_SIGNATURES`] and `start.R` make; anything else says nothing).
pub(crate) fn signatures(names: &[String], arguments: Option<&Value>) -> Vec<Signature> {
    names
        .iter()
        .map(|name| Signature {
            name: name.clone(),
            arguments: arguments
                .and_then(|all| all.get(name))
                .and_then(arguments_of),
        })
        .collect()
}

/// The arguments an OCAP function list says, by the attribute `start.R` sets.
pub(crate) fn capability_arguments(capabilities: &Value) -> Option<&Value> {
    capabilities.attributes()?.get(ARGUMENTS_ATTRIBUTE)
}

/// One function's arguments: a character vector named by argument, or an
/// empty one (no names) for a function without arguments.
fn arguments_of(value: &Value) -> Option<Vec<Argument>> {
    let Value::Character(defaults) = value else {
        return None;
    };
    if defaults.is_empty() {
        return Some(Vec::new());
    }
    let names = defaults.attributes.names()?;
    names
        .iter()
        .zip(&defaults.values)
        .map(|(name, default)| {
            Some(Argument {
                name: name.clone()?,
                default: default.clone().filter(|d| !d.is_empty()),
            })
        })
        .collect()
}

/// The names of a named list's elements, in order (for eval mode's answer).
pub(crate) fn list_names(value: &Value) -> Vec<String> {
    match value {
        Value::List(list) => list
            .attributes
            .names()
            .map(|names| names.iter().flatten().cloned().collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Vector;

    fn named_strings(entries: &[(&str, &str)]) -> Value {
        let mut vector = Vector::new(entries.iter().map(|(_, d)| Some(d.to_string())).collect());
        vector.attributes.set(
            "names",
            Value::strings(entries.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
        );
        Value::Character(vector)
    }

    #[test]
    fn arguments_come_with_their_defaults_and_dots() {
        let all = Value::named_list([
            ("f", named_strings(&[("x", ""), ("y", "2"), ("...", "")])),
            ("g", Value::Character(Vector::new(Vec::new()))),
        ]);
        let names = ["f".to_owned(), "g".to_owned(), "h".to_owned()];
        let found = signatures(&names, Some(&all));
        let f = found[0].arguments.as_ref().unwrap();
        assert_eq!(
            f.iter()
                .map(|a| (a.name.as_str(), a.default.as_deref()))
                .collect::<Vec<_>>(),
            [("x", None), ("y", Some("2")), ("...", None)]
        );
        assert_eq!(found[1].arguments, Some(Vec::new()));
        assert_eq!(found[2].arguments, None, "h is not in the attribute");
    }

    #[test]
    fn a_server_that_says_nothing_leaves_arguments_unknown() {
        let names = ["f".to_owned()];
        assert_eq!(signatures(&names, None)[0].arguments, None);
        let unnamed = Value::named_list([("f", Value::strings(vec!["", "2"]))]);
        assert_eq!(signatures(&names, Some(&unnamed))[0].arguments, None);
    }
}
