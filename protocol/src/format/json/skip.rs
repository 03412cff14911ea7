//! Stepping over the value of an ignored key: JSON syntax is checked and
//! nothing else (spec §3: unknown keys are ignored, whatever they hold).

use super::parse::Parser;
use crate::error::DecodeError;

impl Parser<'_> {
    /// Steps over one value of an ignored key, checking JSON syntax only.
    ///
    /// Spec §3: unknown keys are ignored, so what they hold need not be
    /// something both formats can carry (a `\b` escape, a 20-digit integer,
    /// deep nesting). Iterative, so deep nesting cannot exhaust the stack.
    pub(super) fn skip_value(&mut self) -> Result<(), DecodeError> {
        // One entry per open container: `true` for an object.
        let mut open: Vec<bool> = Vec::new();
        loop {
            self.ws();
            match self.peek() {
                Some(b'{') => {
                    self.pos += 1;
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        open.push(true);
                        self.skip_key()?;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.pos += 1;
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                    } else {
                        open.push(false);
                        continue;
                    }
                }
                Some(b'"') => {
                    self.pos += 1;
                    self.skip_string()?;
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => {
                    self.scan_number()?;
                }
                Some(_) => return Err(self.err("expected a value")),
                None => return Err(self.err("unexpected end of input")),
            }
            // A value is complete: close containers until one wants another value.
            loop {
                let Some(&object) = open.last() else {
                    return Ok(());
                };
                self.ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if object {
                            self.skip_key()?;
                        }
                        break;
                    }
                    Some(b'}') if object => {
                        self.pos += 1;
                        open.pop();
                    }
                    Some(b']') if !object => {
                        self.pos += 1;
                        open.pop();
                    }
                    _ if object => return Err(self.err("expected ',' or '}'")),
                    _ => return Err(self.err("expected ',' or ']'")),
                }
            }
        }
    }

    /// Steps over `"key" :` inside an ignored object.
    fn skip_key(&mut self) -> Result<(), DecodeError> {
        self.ws();
        self.expect(b'"', "expected a string key")?;
        self.skip_string()?;
        self.ws();
        self.expect(b':', "expected ':'")
    }

    /// Steps over a string whose opening quote was consumed, checking only
    /// JSON syntax (escapes well-formed, no raw control characters).
    fn skip_string(&mut self) -> Result<(), DecodeError> {
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            self.hex4()?;
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                Some(0..=0x1F) => return Err(self.err("control character in string")),
                Some(_) => self.pos += 1,
            }
        }
    }
}
