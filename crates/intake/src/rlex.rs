//! A small R tokenizer, just enough to find package use: it knows comments,
//! strings (with escapes), raw strings (`r"(...)"`, `R"-[...]-"`),
//! backquoted names, identifiers, numbers and the operators that matter
//! (`::`, `:::`, `=`, brackets, commas). Anything else is one `Other` token.

/// One token of R code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A name, bare or backquoted (without its quotes).
    Ident(String),
    /// A string's contents, escapes left as written.
    Str(String),
    /// `::` or `:::`.
    NsOp,
    /// `=` (not `==`): a named argument.
    Assign,
    Open(char),
    Close(char),
    Comma,
    Other,
}

pub(crate) fn tokenize(src: &str) -> Vec<Tok> {
    // Every character that matters is ASCII, so bytes will do; bytes of
    // other characters count as letters (R allows them in names).
    let b = src.as_bytes();
    let at = |i: usize| b.get(i).copied();
    let name_byte = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c >= 0x80;
    let text = |from: usize, to: usize| String::from_utf8_lossy(&b[from..to]).into_owned();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'#' {
            while at(i).is_some_and(|c| c != b'\n') {
                i += 1;
            }
        } else if let Some((tok, next)) = raw_string(b, i) {
            out.push(tok);
            i = next;
        } else if c == b'"' || c == b'\'' {
            let (end, next) = quoted(b, i + 1, c);
            out.push(Tok::Str(text(i + 1, end)));
            i = next;
        } else if c == b'`' {
            let (end, next) = quoted(b, i + 1, b'`');
            out.push(Tok::Ident(text(i + 1, end)));
            i = next;
        } else if c.is_ascii_alphabetic()
            || c >= 0x80
            || (c == b'.' && !at(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while at(i).is_some_and(name_byte) {
                i += 1;
            }
            out.push(Tok::Ident(text(start, i)));
        } else if c.is_ascii_digit() || c == b'.' {
            while at(i).is_some_and(name_byte) {
                i += 1;
            }
            out.push(Tok::Other);
        } else if c == b':' {
            let mut n = 0;
            while at(i + n) == Some(b':') {
                n += 1;
            }
            out.push(if n == 2 || n == 3 {
                Tok::NsOp
            } else {
                Tok::Other
            });
            i += n;
        } else if c == b'=' {
            if at(i + 1) == Some(b'=') {
                out.push(Tok::Other);
                i += 2;
            } else {
                out.push(Tok::Assign);
                i += 1;
            }
        } else {
            out.push(match c {
                b'(' | b'[' | b'{' => Tok::Open(char::from(c)),
                b')' | b']' | b'}' => Tok::Close(char::from(c)),
                b',' => Tok::Comma,
                _ => Tok::Other,
            });
            i += 1;
        }
    }
    out
}

/// Finds the end of a quoted text starting at `start` (just past the
/// opening quote), skipping backslash escapes: returns where the text ends
/// and where the next token starts. Unterminated: to the end.
fn quoted(b: &[u8], start: usize, quote: u8) -> (usize, usize) {
    let mut i = start;
    while let Some(&c) = b.get(i) {
        if c == quote {
            return (i, i + 1);
        }
        i += if c == b'\\' { 2 } else { 1 };
    }
    (b.len(), b.len())
}

/// A raw string starting at `i` (`r"(...)"`, `R'---[...]---'`, R >= 4.0).
fn raw_string(b: &[u8], i: usize) -> Option<(Tok, usize)> {
    if !matches!(b.get(i), Some(b'r' | b'R')) {
        return None;
    }
    // Not the end of a longer name such as `bar"...`.
    if i > 0
        && b.get(i - 1)
            .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c >= 0x80)
    {
        return None;
    }
    let quote = *b.get(i + 1).filter(|&&c| c == b'"' || c == b'\'')?;
    let mut j = i + 2;
    let mut dashes = 0;
    while b.get(j) == Some(&b'-') {
        dashes += 1;
        j += 1;
    }
    let close = match b.get(j)? {
        b'(' => b')',
        b'[' => b']',
        b'{' => b'}',
        _ => return None,
    };
    let body = j + 1;
    let text = |to: usize| String::from_utf8_lossy(&b[body..to]).into_owned();
    for k in body..b.len() {
        if b[k] == close
            && (1..=dashes).all(|d| b.get(k + d) == Some(&b'-'))
            && b.get(k + dashes + 1) == Some(&quote)
        {
            return Some((Tok::Str(text(k)), k + dashes + 2));
        }
    }
    Some((Tok::Str(text(b.len())), b.len()))
}

#[cfg(test)]
mod tests {
    use super::Tok::*;
    use super::*;

    fn id(s: &str) -> Tok {
        Ident(s.into())
    }

    #[test]
    fn comments_strings_and_operators() {
        assert_eq!(
            tokenize("x <- dplyr::filter(df, a == 1) # library(nope)\n"),
            vec![
                id("x"),
                Other,
                Other,
                id("dplyr"),
                NsOp,
                id("filter"),
                Open('('),
                id("df"),
                Comma,
                id("a"),
                Other,
                Other,
                Close(')')
            ]
        );
        assert_eq!(
            tokenize(r#""a \" # b" 'c' `my var` .x 1.5e3 data.table:::f"#),
            vec![
                Str(r#"a \" # b"#.into()),
                Str("c".into()),
                id("my var"),
                id(".x"),
                Other,
                id("data.table"),
                NsOp,
                id("f")
            ]
        );
    }

    #[test]
    fn raw_strings() {
        assert_eq!(
            tokenize(r#"r"(library(x) ")" z"#),
            vec![Str("library(x) \"".into()), id("z")]
        );
        assert_eq!(
            tokenize(r#"r"-(library(x) ")" y)-" z"#),
            vec![Str(r#"library(x) ")" y"#.into()), id("z")]
        );
        assert_eq!(
            tokenize(r#"R'--[a]-]--' w"#),
            vec![Str("a]-".into()), id("w")]
        );
        // `r` alone or a name ending in r is not a raw string.
        assert_eq!(tokenize("r"), vec![id("r")]);
        assert_eq!(tokenize(r#"bar"x""#), vec![id("bar"), Str("x".into())]);
    }

    #[test]
    fn non_ascii_text() {
        assert_eq!(
            tokenize("données <- \"é # pas un commentaire\" # é\nglue::f"),
            vec![
                id("données"),
                Other,
                Other,
                Str("é # pas un commentaire".into()),
                id("glue"),
                NsOp,
                id("f")
            ]
        );
    }

    #[test]
    fn unterminated_input_does_not_panic() {
        for src in ["\"abc", "`abc", "r\"(abc", "'\\", "#", "x:", "r\"-", "::"] {
            let _ = tokenize(src);
        }
    }
}
