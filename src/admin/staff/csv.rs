//! CSV as spreadsheets write it (RFC 4180): fields separated by commas, quoted with `"` when
//! they hold commas, quotes or line breaks (a quote inside is doubled), CRLF or LF line ends,
//! an optional UTF-8 byte order mark. Small enough not to need a crate.

/// The rows of `text`, each with its line number (from 1); blank lines are skipped. An
/// unterminated quote is an error naming the line it started on.
pub fn parse(text: &str) -> Result<Vec<(usize, Vec<String>)>, usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut row_line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                row.push(std::mem::take(&mut field));
                if row.iter().any(|f| !f.trim().is_empty()) {
                    rows.push((row_line, std::mem::take(&mut row)));
                }
                row.clear();
                line += 1;
                row_line = line;
            }
            c => field.push(c),
        }
    }
    if quoted {
        return Err(row_line);
    }
    row.push(field);
    if row.iter().any(|f| !f.trim().is_empty()) {
        rows.push((row_line, row));
    }
    Ok(rows)
}

/// One CSV line (with CRLF), quoting where needed. Cells that a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@` first) get a leading `'`, so an export opens safely.
pub fn line(fields: &[String]) -> String {
    let mut out = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let guarded;
        let field = if field.starts_with(['=', '+', '-', '@']) && !looks_like_phone(field) {
            guarded = format!("'{field}");
            &guarded
        } else {
            field
        };
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
    out
}

/// `+86 138…` is a phone number, not a formula.
fn looks_like_phone(field: &str) -> bool {
    field.starts_with('+')
        && field
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()#x;".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_line_breaks_and_bom() {
        let text =
            "\u{feff}login,name\r\nzw,\"张, 伟\"\r\n\r\nli,\"say \"\"hi\"\"\nthere\"\nlast,x";
        let rows = parse(text).unwrap();
        assert_eq!(rows[0], (1, vec!["login".into(), "name".into()]));
        assert_eq!(rows[1], (2, vec!["zw".into(), "张, 伟".into()]));
        assert_eq!(rows[2], (4, vec!["li".into(), "say \"hi\"\nthere".into()]));
        assert_eq!(rows[3], (6, vec!["last".into(), "x".into()]));
        assert_eq!(parse("a,\"open\nb"), Err(1));
    }

    #[test]
    fn lines_round_trip_and_defuse_formulas() {
        let fields = vec![
            "a,b".to_owned(),
            "q\"".to_owned(),
            "=1+2".to_owned(),
            "+86 10 1234".to_owned(),
        ];
        let text = line(&fields);
        let back = parse(&text).unwrap();
        assert_eq!(back[0].1, vec!["a,b", "q\"", "'=1+2", "+86 10 1234"]);
    }
}
