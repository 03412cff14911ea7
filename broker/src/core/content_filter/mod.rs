//! [`ContentFilter`]: a subscription's CEL expression over the messages it
//! would receive (v2 §14).
//!
//! The `cel` crate parses the text (CEL's grammar and macros, with its error
//! positions); [`compile`] turns the syntax tree into our own small tree,
//! which [`eval`] walks over the message where it lies. We do not run the
//! crate's interpreter: it copies every variable into its own values, looks
//! names up by string at each step (about 0.9 µs for the spec's example
//! against 0.17 µs here, `docs/protocol.md` section 11) and has no bound on
//! the work one evaluation may do. Here every evaluation has a budget
//! ([`BUDGET`]); spending it is an evaluation error, so the message does not
//! pass.
//!
//! What is built in: `msg`, `topic`, `seq`; literals; `.` and `[]`; `has()`;
//! `! - * / % + == != < <= > >= && || ?: in`; `size`, `contains`,
//! `startsWith`, `endsWith`, `matches` (its pattern a string literal,
//! compiled once), `int`, `uint`, `double`, `string`, `bool`, `dyn`; and the
//! macros `all`, `exists`, `exists_one`, `map`, `filter`. Anything else is a
//! compile error, so a filter never fails later for want of a function.

mod compile;
mod eval;
mod val;

use protocol::Value;

use compile::Node;

/// Longest filter text, in bytes (v2 §14's 4 KiB).
pub const MAX_FILTER_LEN: usize = 4096;

/// Work one evaluation may do, in units of one expression step, one list
/// element or map entry handled, or 32 bytes of text scanned (8 for a
/// regex). About 0.5 ms of CPU at the worst (`docs/protocol.md` section 11);
/// a filter of the usual kind uses a dozen.
pub const BUDGET: u32 = 25_000;

/// Deepest nesting of expressions a filter may have; evaluation recurses
/// along it.
pub const MAX_DEPTH: usize = 64;

/// Most `(` in a filter's text: calls and grouping.
pub const MAX_CALLS: usize = 64;

/// Most nodes of a parsed filter, macros expanded.
pub const MAX_NODES: usize = 2048;

/// Why a filter was refused at `SUBSCRIBE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Over [`MAX_FILTER_LEN`].
    #[error("filter is {len} bytes, over the limit of {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not CEL, or CEL we do not build in; the text says where and what.
    #[error("filter does not compile: {0}")]
    Invalid(String),
}

/// Why an evaluation stopped. A filter whose evaluation faults rejects the
/// message (v2 §14: an error counts as false).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// An operator or function applied to a type it has no overload for.
    Type,
    /// A field or key that is not there, an index out of range.
    Missing,
    /// Overflow, division by zero, a conversion out of range.
    Range,
    /// The evaluation spent its [`BUDGET`].
    Budget,
}

/// A compiled content filter.
#[derive(Debug)]
pub struct ContentFilter {
    root: Node,
    reads_msg: bool,
}

impl ContentFilter {
    /// Compiles `text`.
    ///
    /// # Errors
    /// [`FilterError`] when it is too long, does not parse, uses what is not
    /// built in, or nests deeper than [`MAX_DEPTH`].
    pub fn compile(text: &str) -> Result<ContentFilter, FilterError> {
        if text.len() > MAX_FILTER_LEN {
            return Err(FilterError::TooLong {
                len: text.len(),
                max: MAX_FILTER_LEN,
            });
        }
        // Each call (a macro above all) expands to many nodes, and the
        // parser's work grows faster than the text: bounded before parsing.
        let calls = text.bytes().filter(|&b| b == b'(').count();
        if calls > MAX_CALLS {
            return Err(FilterError::Invalid(format!(
                "more than {MAX_CALLS} calls and parentheses"
            )));
        }
        let ast = cel::parser::PrattParser::new()
            .max_recursion_depth(u16::try_from(MAX_DEPTH).unwrap_or(u16::MAX))
            .max_expression_node_count(MAX_NODES)
            .parse(text)
            .map_err(|e| FilterError::Invalid(first_line(&e.to_string())))?;
        let (root, reads_msg) = compile::compile(&ast).map_err(FilterError::Invalid)?;
        Ok(ContentFilter { root, reads_msg })
    }

    /// Whether the expression reads the message's value (`msg`); one that
    /// does not (`seq % 2 == 0`) is evaluated without parsing it.
    #[must_use]
    pub fn reads_msg(&self) -> bool {
        self.reads_msg
    }

    /// Whether the message passes, its value read through `value` only if
    /// the expression needs it (`None` from `value`: it does not pass).
    pub fn accepts_lazily<'v>(
        &self,
        value: impl FnOnce() -> Option<&'v Value>,
        topic: &str,
        seq: u64,
    ) -> bool {
        if !self.reads_msg {
            return self.accepts(&Value::Null, topic, seq);
        }
        value().is_some_and(|v| self.accepts(v, topic, seq))
    }

    /// Whether the message `msg`, published on `topic` as number `seq`,
    /// passes: the expression is `true`. Any other value, an error, or a
    /// spent budget is a no.
    #[must_use]
    pub fn accepts(&self, msg: &Value, topic: &str, seq: u64) -> bool {
        eval::run(&self.root, msg, topic, seq)
    }
}

/// The first line of the parser's report, without its `ERROR: <input>:`
/// prefix (the client knows which input).
fn first_line(report: &str) -> String {
    let line = report.lines().next().unwrap_or(report);
    line.strip_prefix("ERROR: <input>:")
        .unwrap_or(line)
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests;
