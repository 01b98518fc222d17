//! Placeholder rewrite: shared SQL uses Postgres-style `$n`; SQLite reads
//! `$1` as a *named* parameter bound in order of first appearance, so a
//! statement using `$2` before `$1` would bind the wrong values. `?n` is
//! SQLite's numbered form and binds by number.

/// Rewrites `$n` to `?n` outside string literals, quoted identifiers and
/// comments.
pub fn dollar_to_question(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                out.push(c);
                // Copy through the closing quote; doubled quotes re-open and
                // close immediately, which this loop handles naturally.
                for d in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                out.push(c);
                let mut prev = '\0';
                for d in chars.by_ref() {
                    out.push(d);
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
            }
            '$' if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('?');
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    out.push(d);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::dollar_to_question as r;

    #[test]
    fn rewrites_placeholders_only_in_code() {
        let cases = [
            ("SELECT $1", "SELECT ?1"),
            ("a = $2 AND b = $10", "a = ?2 AND b = ?10"),
            ("x = '$1' AND y = $1", "x = '$1' AND y = ?1"),
            ("x = 'it''s $1' OR z = $3", "x = 'it''s $1' OR z = ?3"),
            ("\"col$1\" = $1", "\"col$1\" = ?1"),
            ("-- $1 comment\nSELECT $2", "-- $1 comment\nSELECT ?2"),
            ("/* $1 */ SELECT $1", "/* $1 */ SELECT ?1"),
            ("SELECT $name, $", "SELECT $name, $"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(r(input), want, "{input}");
        }
    }
}
