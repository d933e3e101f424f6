//! Tokenizer for TSDL text.
//!
//! Produces a flat token list with line numbers. Comments (`/* */`, `//`) and whitespace are
//! skipped; any byte that cannot start a token (a NUL byte, a stray `@`...) is an error.

use super::tsdl::MetadataError;

/// Most tokens a metadata text may produce (about 10× a large real kernel trace).
const MAX_TOKENS: usize = 8 << 20;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    /// An integer literal (the sign is a separate `-` token).
    Int(u64),
    Str(String),
    /// Punctuation: `{ } ( ) [ ] < > ; , = : . - +` and the two-char `:=`, `...`.
    Punct(&'static str),
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) line: u32,
}

pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, MetadataError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    let mut line = 1u32;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' => {
                line = line.saturating_add(1);
                i += 1;
            }
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let start_line = line;
                i += 2;
                loop {
                    match bytes.get(i) {
                        None => {
                            return Err(MetadataError::Syntax {
                                line: start_line,
                                message: "unterminated comment".into(),
                            })
                        }
                        Some(b'*') if bytes.get(i + 1) == Some(&b'/') => {
                            i += 2;
                            break;
                        }
                        Some(b'\n') => {
                            line = line.saturating_add(1);
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                let (s, next, lines) = lex_string(bytes, i + 1, line)?;
                out.push(Token {
                    tok: Tok::Str(s),
                    line,
                });
                line = line.saturating_add(lines);
                i = next;
            }
            b'0'..=b'9' => {
                let (v, next) = lex_number(bytes, i, line)?;
                out.push(Token {
                    tok: Tok::Int(v),
                    line,
                });
                i = next;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Ident(text[start..i].to_string()),
                    line,
                });
            }
            _ => {
                let rest = &bytes[i..];
                let p: &'static str = if rest.starts_with(b":=") {
                    ":="
                } else if rest.starts_with(b"...") {
                    "..."
                } else {
                    match c {
                        b'{' => "{",
                        b'}' => "}",
                        b'(' => "(",
                        b')' => ")",
                        b'[' => "[",
                        b']' => "]",
                        b'<' => "<",
                        b'>' => ">",
                        b';' => ";",
                        b',' => ",",
                        b'=' => "=",
                        b':' => ":",
                        b'.' => ".",
                        b'-' => "-",
                        b'+' => "+",
                        _ => {
                            return Err(MetadataError::Syntax {
                                line,
                                message: format!("invalid character 0x{c:02x}"),
                            })
                        }
                    }
                };
                i += p.len();
                out.push(Token {
                    tok: Tok::Punct(p),
                    line,
                });
            }
        }
        if out.len() > MAX_TOKENS {
            return Err(MetadataError::TooLarge {
                what: "token count",
                limit: MAX_TOKENS as u64,
            });
        }
    }
    Ok(out)
}

fn lex_string(
    bytes: &[u8],
    mut i: usize,
    line: u32,
) -> Result<(String, usize, u32), MetadataError> {
    let mut s = Vec::new();
    let mut lines = 0u32;
    loop {
        let Some(&c) = bytes.get(i) else {
            return Err(MetadataError::Syntax {
                line,
                message: "unterminated string literal".into(),
            });
        };
        i += 1;
        match c {
            b'"' => break,
            b'\\' => {
                let Some(&e) = bytes.get(i) else { continue };
                i += 1;
                s.push(match e {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    b'0' => 0,
                    other => other,
                });
            }
            b'\n' => {
                lines = lines.saturating_add(1);
                s.push(c);
            }
            _ => s.push(c),
        }
    }
    Ok((String::from_utf8_lossy(&s).into_owned(), i, lines))
}

fn lex_number(bytes: &[u8], start: usize, line: u32) -> Result<(u64, usize), MetadataError> {
    let mut i = start;
    let (radix, digits_start) =
        if bytes[i] == b'0' && matches!(bytes.get(i + 1), Some(b'x') | Some(b'X')) {
            (16, i + 2)
        } else if bytes[i] == b'0' && matches!(bytes.get(i + 1), Some(b'0'..=b'7')) {
            (8, i + 1)
        } else {
            (10, i)
        };
    i = digits_start;
    while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
        i += 1;
    }
    // Integer suffixes (u, l, ul, ull...) are allowed by the grammar.
    let mut end = i;
    while end > digits_start && matches!(bytes[end - 1], b'u' | b'U' | b'l' | b'L') {
        end -= 1;
    }
    let digits = std::str::from_utf8(&bytes[digits_start..end]).unwrap_or("");
    let value = u64::from_str_radix(digits, radix).map_err(|_| MetadataError::Syntax {
        line,
        message: format!(
            "invalid integer literal {:?}",
            String::from_utf8_lossy(&bytes[start..i])
        ),
    })?;
    Ok((value, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_a_typealias() {
        let t =
            tokenize("typealias integer { size = 0x1b; } := uint27_t; // c\n/* x */ ...").unwrap();
        let toks: Vec<Tok> = t.into_iter().map(|t| t.tok).collect();
        assert_eq!(toks[0], Tok::Ident("typealias".into()));
        assert_eq!(toks[5], Tok::Int(27));
        assert_eq!(toks[8], Tok::Punct(":="));
        assert_eq!(toks.last(), Some(&Tok::Punct("...")));
    }

    #[test]
    fn nul_byte_is_an_error_with_its_line() {
        let err = tokenize("trace {\n\0").unwrap_err();
        assert_eq!(err.to_string(), "metadata line 2: invalid character 0x00");
    }

    #[test]
    fn unterminated_comment_and_string_are_errors() {
        assert!(tokenize("/* abc").is_err());
        assert!(tokenize("\"abc").is_err());
        assert!(tokenize("99999999999999999999999").is_err());
    }
}
