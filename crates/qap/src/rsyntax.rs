//! The two pieces of R syntax the client writes into eval-mode requests:
//! checking that a name is a plain R identifier, and quoting text as an R
//! string literal. Nothing a caller passes ever reaches R source text
//! without going through one of these.

/// R's reserved words (see `?Reserved`), which are not usable as names.
const RESERVED: &[&str] = &[
    "if",
    "else",
    "repeat",
    "while",
    "function",
    "for",
    "in",
    "next",
    "break",
    "TRUE",
    "FALSE",
    "NULL",
    "Inf",
    "NaN",
    "NA",
    "NA_integer_",
    "NA_real_",
    "NA_character_",
    "NA_complex_",
];

/// Checks that `name` is a syntactic R name made of ASCII letters, digits,
/// `.` and `_` (R also allows letters of the locale; this client does not).
pub fn check_identifier(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err("it is empty".into());
    };
    if !(first.is_ascii_alphabetic() || first == '.') {
        return Err("it must start with a letter or a dot".into());
    }
    if first == '.' && name[1..].starts_with(|c: char| c.is_ascii_digit()) {
        return Err("a dot at the start cannot be followed by a digit".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '_'))
    {
        return Err(format!(
            "it contains {bad:?}; only ASCII letters, digits, '.' and '_' are allowed"
        ));
    }
    let dots_number =
        name.len() > 2 && name.starts_with("..") && name[2..].chars().all(|c| c.is_ascii_digit());
    if RESERVED.contains(&name) || name == "..." || dots_number {
        return Err("it is a reserved word of R".into());
    }
    Ok(())
}

/// Quotes `text` as an R string literal in pure ASCII: quotes, backslashes
/// and control characters are escaped, non-ASCII characters written as
/// `\u{...}` (or `\U{...}` beyond the BMP), so the literal means the same under any server encoding.
/// R strings cannot hold NUL, so text containing it is refused.
pub fn string_literal(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\0' => return Err("it contains a NUL character, which R strings cannot hold".into()),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_ascii() => out.push(c),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push_str(&format!("\\U{{{:x}}}", c as u32)),
        }
    }
    out.push('"');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        for ok in [
            "f", "add", "my.fun", "my_fun2", ".hidden", "x.1", "A", "..x",
        ] {
            assert!(check_identifier(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1f",
            "_f",
            ".1x",
            "f-g",
            "f g",
            "f(x)",
            "system(\"ls\")",
            "é",
            "if",
            "TRUE",
            "NA_real_",
            "function",
            "...",
            "..1",
            "a;b",
            "`x`",
        ] {
            assert!(check_identifier(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn string_literals() {
        assert_eq!(string_literal("abc").unwrap(), r#""abc""#);
        assert_eq!(string_literal(r#"a"b\c"#).unwrap(), r#""a\"b\\c""#);
        assert_eq!(string_literal("a\nb\t\r").unwrap(), r#""a\nb\t\r""#);
        assert_eq!(string_literal("\u{1}\u{7f}").unwrap(), r#""\x01\x7f""#);
        assert_eq!(
            string_literal("é€😀").unwrap(),
            r#""\u{e9}\u{20ac}\U{1f600}""#
        );
        assert_eq!(
            string_literal("'); system('x").unwrap(),
            r#""'); system('x""#
        );
        assert!(string_literal("a\0").is_err());
    }
}
