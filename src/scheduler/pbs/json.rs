//! A forgiving reader for the JSON that PBS Pro's `qstat -F json` prints.
//!
//! `qstat -F json` is not always valid JSON, and a strict parser (`serde_json`) rejects whole
//! replies over one bad job. Known defects, each seen in the wild:
//!
//! - invalid escapes: `\'` and `\,` copied from the job's `Variable_List`
//!   (openpbs/openpbs PR #2049; argonne-lcf/balsam issue #324 "Invalid \escape");
//! - values that look numeric printed bare, so `-v foo=005` comes out as `"foo":005`, which is
//!   not a JSON number (openpbs/openpbs issue #1255). Such a value must stay the string `005`;
//! - duplicate keys (openpbs/openpbs issue #2677);
//! - raw control characters inside strings (`BASH_FUNC_*` bodies, issue #2541);
//! - hand-trimmed samples with a trailing comma before `}` (ExaWorks/psij-python docs).
//!
//! So this reader keeps every scalar as its source text: a string's unescaped content, or a
//! bare token (`0`, `005`, `true`) verbatim, never converted to a float. It accepts the defects
//! above and still fails, with line and column, on anything structurally broken (an unclosed
//! object, a truncated reply), because a half-read reply must never look like "no jobs".

use std::fmt;

/// A JSON value with every scalar kept as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    /// `{ ... }`, keys in source order; duplicates are kept (the last one wins on lookup).
    Object(Vec<(String, Value)>),
    /// `[ ... ]`.
    Array(Vec<Value>),
    /// A string's content, or a bare token (number, `true`, `false`) exactly as written.
    Scalar(String),
    /// `null`.
    Null,
}

impl Value {
    /// The member `key` of an object (the last one when the key is repeated).
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Where and why the text is not even lenient JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError {
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column, in characters.
    pub(crate) column: usize,
    /// What was expected.
    pub(crate) message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.message, self.line, self.column
        )
    }
}

/// Parses one JSON value filling the whole text (surrounding whitespace allowed).
pub(crate) fn parse(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser { text, pos: 0 };
    p.skip_ws();
    let value = p.value(0)?;
    p.skip_ws();
    if p.pos < text.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok(value)
}

/// Deep enough for any qstat reply (Jobs -> job -> Resource_List -> value is 4), shallow
/// enough that hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn error(&self, message: &str) -> JsonError {
        let before = &self.text[..self.pos.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        JsonError {
            line,
            column,
            message: message.to_owned(),
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::Scalar),
            Some(b',' | b'}' | b']' | b':') => Err(self.error("expected a value")),
            Some(_) => {
                let token = self.bare_token();
                if token.is_empty() {
                    return Err(self.error("expected a value"));
                }
                if token == "null" {
                    Ok(Value::Null)
                } else {
                    Ok(Value::Scalar(token.to_owned()))
                }
            }
            None => Err(self.error("unexpected end of input, expected a value")),
        }
    }

    /// A number or keyword, or one of PBS's unquoted values: everything up to a delimiter.
    fn bare_token(&mut self) -> &str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(
                b,
                b',' | b'}' | b']' | b':' | b' ' | b'\t' | b'\n' | b'\r' | b'"'
            ) {
                break;
            }
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.pos += 1; // '{'
        let mut members = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                Some(b'"') => {}
                None => return Err(self.error("unexpected end of input inside an object")),
                Some(_) => return Err(self.error("expected a quoted key or '}'")),
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':' after the key"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_ws();
            match self.peek() {
                // A trailing comma before '}' is accepted by the loop above (hand-trimmed samples).
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                None => return Err(self.error("unexpected end of input inside an object")),
                Some(_) => return Err(self.error("expected ',' or '}' after a member")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                None => return Err(self.error("unexpected end of input inside an array")),
                Some(_) => {}
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                None => return Err(self.error("unexpected end of input inside an array")),
                Some(_) => return Err(self.error("expected ',' or ']' after an item")),
            }
        }
    }

    /// A quoted string; the opening quote is at `pos`. Unknown escapes (`\'`, `\,`) stand for
    /// the escaped character itself, and raw control characters are kept.
    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                _ => return Err(self.error("unterminated string")),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let Some(c) = self.text[self.pos..].chars().next() else {
            return Err(self.error("unterminated string"));
        };
        self.pos += c.len_utf8();
        match c {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' => {
                let first = self.hex4();
                match first {
                    Some(hi @ 0xD800..=0xDBFF) if self.text[self.pos..].starts_with("\\u") => {
                        let save = self.pos;
                        self.pos += 2;
                        match self.hex4() {
                            Some(lo @ 0xDC00..=0xDFFF) => {
                                let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                            }
                            _ => {
                                self.pos = save;
                                out.push('\u{FFFD}');
                            }
                        }
                    }
                    Some(code) => out.push(char::from_u32(code).unwrap_or('\u{FFFD}')),
                    // `\u` without four hex digits: keep it literally rather than fail.
                    None => out.push_str("\\u"),
                }
            }
            // `"`, `\`, `/` and PBS's invalid `\'` and `\,` all mean the character itself.
            other => out.push(other),
        }
        Ok(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        let code = u32::from_str_radix(digits, 16).ok()?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += 4;
        Some(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(s: &str) -> Value {
        Value::Scalar(s.to_owned())
    }

    #[test]
    fn numeric_looking_tokens_stay_text() {
        let v = parse(r#"{"foo":005, "n":1.50, "b":true, "z":null}"#).unwrap();
        assert_eq!(v.get("foo"), Some(&scalar("005")));
        assert_eq!(v.get("n"), Some(&scalar("1.50")));
        assert_eq!(v.get("b"), Some(&scalar("true")));
        assert_eq!(v.get("z"), Some(&Value::Null));
    }

    #[test]
    fn invalid_escapes_mean_the_character() {
        let v =
            parse(r#"{"MYVAR":"\'\"asads\"\'", "C":"ab\,c", "u":"\u00e9\ud83d\ude00"}"#).unwrap();
        assert_eq!(v.get("MYVAR"), Some(&scalar("'\"asads\"'")));
        assert_eq!(v.get("C"), Some(&scalar("ab,c")));
        assert_eq!(v.get("u"), Some(&scalar("é😀")));
    }

    #[test]
    fn trailing_commas_and_duplicates_are_accepted() {
        let v = parse("{\"a\":1,\"a\":2,}").unwrap();
        assert_eq!(v.get("a"), Some(&scalar("2")));
        assert_eq!(
            parse("[1,2,]").unwrap(),
            Value::Array(vec![scalar("1"), scalar("2")])
        );
    }

    #[test]
    fn truncated_input_fails_with_a_position() {
        let err = parse("{\n  \"a\": {\n    \"b\": 1\n  },\n").unwrap_err();
        assert_eq!(err.line, 5);
        assert!(err.message.contains("end of input"), "{err}");
        assert!(parse("{\"a\" 1}").is_err());
        assert!(parse("{\"a\":1} x").is_err());
        assert!(parse("{\"a\":\"open").is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "[".repeat(200);
        assert!(parse(&deep).unwrap_err().message.contains("too deep"));
    }
}
