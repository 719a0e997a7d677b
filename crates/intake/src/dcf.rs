//! Debian control format, as R's `DESCRIPTION` files use it: `Field: value`
//! lines, a value continued on indented lines.

/// The fields of a DCF text (`Field: value`, continued on indented lines),
/// in order, each value's lines joined with a space.
pub(crate) fn dcf_fields(text: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let (true, Some((_, value))) = (open, fields.last_mut()) {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, rest)) = line.split_once(':') {
            fields.push((name.trim().to_owned(), rest.trim().to_owned()));
            open = true;
        } else {
            open = false;
        }
    }
    fields
}
