//! From the `cel` crate's syntax tree to [`Node`], the tree [`super::eval`]
//! walks: names resolved to variables or loop slots, operators and functions
//! to their own variants, constant literals folded into JSON values, regular
//! expressions compiled, and the macros recognized by the shapes the parser
//! expands them to.

use cel::common::ast::{
    operators as op, CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr, LiteralValue,
};
use protocol::Value;
use regex::Regex;

use super::val::Arith;
use super::MAX_DEPTH;

/// A compiled expression.
#[derive(Debug)]
pub(super) enum Node {
    /// A literal, or a list or map of literals, as a JSON value.
    Const(Value),
    /// A `uint` literal (JSON has none).
    Uint(u64),
    /// The message's value.
    Msg,
    /// The message's topic.
    Topic,
    /// The message's sequence number.
    Seq,
    /// A loop variable, by its depth among the loops around it.
    Local(usize),
    /// `a.f`, or `has(a.f)` when `test`.
    Select {
        of: Box<Node>,
        field: Box<str>,
        test: bool,
    },
    Index(Box<[Node; 2]>),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Not(Box<Node>),
    Neg(Box<Node>),
    And(Box<[Node; 2]>),
    Or(Box<[Node; 2]>),
    Cond(Box<[Node; 3]>),
    Compare(Cmp, Box<[Node; 2]>),
    Arith(Arith, Box<[Node; 2]>),
    In(Box<[Node; 2]>),
    Call(Func, Box<Node>, Option<Box<Node>>),
    Matches(Box<Node>, Box<Regex>),
    Loop(Box<Loop>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A built-in function of one or two arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Func {
    Size,
    Contains,
    StartsWith,
    EndsWith,
    Int,
    Uint,
    Double,
    String,
    Bool,
    Dyn,
}

/// A macro over a list (its elements) or a map (its keys).
#[derive(Debug)]
pub(super) struct Loop {
    pub range: Node,
    pub kind: LoopKind,
}

/// Which macro, with its bodies; the loop variable is `Local` at the loop's
/// depth.
#[derive(Debug)]
pub(super) enum LoopKind {
    All(Node),
    Exists(Node),
    ExistsOne(Node),
    /// `map(x, f)`, `map(x, p, f)` and `filter(x, p)` (whose `f` is `x`).
    Map {
        keep: Option<Node>,
        each: Node,
    },
}

type Compiled = Result<Node, String>;

/// Compiles a parsed expression; also says whether it reads `msg` (if not,
/// nobody needs to parse the message for it).
pub(super) fn compile(e: &IdedExpr) -> Result<(Node, bool), String> {
    let mut compiler = Compiler {
        scope: Vec::new(),
        reads_msg: false,
    };
    let root = compiler.node(e, 0)?;
    Ok((root, compiler.reads_msg))
}

struct Compiler<'a> {
    /// Loop variables in scope, outermost first.
    scope: Vec<&'a str>,
    /// Whether `msg` appeared.
    reads_msg: bool,
}

impl<'a> Compiler<'a> {
    fn node(&mut self, e: &'a IdedExpr, depth: usize) -> Compiled {
        if depth > MAX_DEPTH {
            return Err(format!("expression nests deeper than {MAX_DEPTH} levels"));
        }
        let d = depth + 1;
        match &e.expr {
            Expr::Literal(l) => literal(l),
            Expr::Ident(name) => self.ident(name),
            Expr::Select(s) => Ok(Node::Select {
                of: Box::new(self.node(&s.operand, d)?),
                field: s.field.as_str().into(),
                test: s.test,
            }),
            Expr::List(l) => {
                if !l.optional_indices.is_empty() {
                    return Err("optional list elements are not supported".into());
                }
                let items = l
                    .elements
                    .iter()
                    .map(|x| self.node(x, d))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(fold_list(items))
            }
            Expr::Map(m) => {
                let mut entries = Vec::with_capacity(m.entries.len());
                for entry in &m.entries {
                    let EntryExpr::MapEntry(x) = &entry.expr else {
                        return Err("struct fields in a map literal".into());
                    };
                    if x.optional {
                        return Err("optional map entries are not supported".into());
                    }
                    entries.push((self.node(&x.key, d)?, self.node(&x.value, d)?));
                }
                Ok(fold_map(entries))
            }
            Expr::Call(c) => self.call(c, d),
            Expr::Comprehension(c) => self.comprehension(c, d),
            Expr::Struct(s) => Err(format!("message type {} is not supported", s.type_name)),
            Expr::Unspecified => Err("empty expression".into()),
        }
    }

    fn ident(&mut self, name: &str) -> Compiled {
        if let Some(slot) = self.scope.iter().rposition(|&v| v == name) {
            return Ok(Node::Local(slot));
        }
        match name {
            "msg" => {
                self.reads_msg = true;
                Ok(Node::Msg)
            }
            "topic" => Ok(Node::Topic),
            "seq" => Ok(Node::Seq),
            _ => Err(format!(
                "undeclared reference to '{name}' (the variables are msg, topic and seq)"
            )),
        }
    }

    fn two(
        &mut self,
        a: &'a IdedExpr,
        b: &'a IdedExpr,
        d: usize,
    ) -> Result<Box<[Node; 2]>, String> {
        Ok(Box::new([self.node(a, d)?, self.node(b, d)?]))
    }

    fn call(&mut self, c: &'a CallExpr, d: usize) -> Compiled {
        let name = c.func_name.as_str();
        let args: Vec<&'a IdedExpr> = c.target.as_deref().into_iter().chain(&c.args).collect();
        let binary = |this: &mut Self| match args[..] {
            [a, b] => this.two(a, b, d),
            _ => Err(format!("'{name}' takes two operands")),
        };
        let node = match name {
            op::LOGICAL_AND => Node::And(binary(self)?),
            op::LOGICAL_OR => Node::Or(binary(self)?),
            op::EQUALS => Node::Compare(Cmp::Eq, binary(self)?),
            op::NOT_EQUALS => Node::Compare(Cmp::Ne, binary(self)?),
            op::LESS => Node::Compare(Cmp::Lt, binary(self)?),
            op::LESS_EQUALS => Node::Compare(Cmp::Le, binary(self)?),
            op::GREATER => Node::Compare(Cmp::Gt, binary(self)?),
            op::GREATER_EQUALS => Node::Compare(Cmp::Ge, binary(self)?),
            op::ADD => Node::Arith(Arith::Add, binary(self)?),
            op::SUBSTRACT => Node::Arith(Arith::Sub, binary(self)?),
            op::MULTIPLY => Node::Arith(Arith::Mul, binary(self)?),
            op::DIVIDE => Node::Arith(Arith::Div, binary(self)?),
            op::MODULO => Node::Arith(Arith::Rem, binary(self)?),
            op::IN => Node::In(binary(self)?),
            op::INDEX => Node::Index(binary(self)?),
            op::LOGICAL_NOT | op::NEGATE => {
                let [a] = args[..] else {
                    return Err(format!("'{name}' takes one operand"));
                };
                let a = Box::new(self.node(a, d)?);
                if name == op::NEGATE {
                    Node::Neg(a)
                } else {
                    Node::Not(a)
                }
            }
            op::CONDITIONAL => {
                let [a, b, c] = args[..] else {
                    return Err("'?:' takes three operands".into());
                };
                Node::Cond(Box::new([
                    self.node(a, d)?,
                    self.node(b, d)?,
                    self.node(c, d)?,
                ]))
            }
            "matches" => {
                let [s, pattern] = args[..] else {
                    return Err("matches takes a string and a pattern".into());
                };
                Node::Matches(Box::new(self.node(s, d)?), Box::new(regex(pattern)?))
            }
            _ => {
                let func = function(name)?;
                match args[..] {
                    [a] if !func.takes_two() => Node::Call(func, Box::new(self.node(a, d)?), None),
                    [a, b] if func.takes_two() => Node::Call(
                        func,
                        Box::new(self.node(a, d)?),
                        Some(Box::new(self.node(b, d)?)),
                    ),
                    _ => return Err(format!("wrong number of arguments to '{name}'")),
                }
            }
        };
        Ok(node)
    }

    /// A macro, from the comprehension the parser expanded it to.
    fn comprehension(&mut self, c: &'a ComprehensionExpr, d: usize) -> Compiled {
        if c.iter_var2.is_some() {
            return Err("two-variable comprehensions are not supported".into());
        }
        let range = self.node(&c.iter_range, d)?;
        let accu = c.accu_var.as_str();
        self.scope.push(&c.iter_var);
        let kind = self.loop_kind(c, accu, d);
        self.scope.pop();
        Ok(Node::Loop(Box::new(Loop { range, kind: kind? })))
    }

    fn loop_kind(
        &mut self,
        c: &'a ComprehensionExpr,
        accu: &str,
        d: usize,
    ) -> Result<LoopKind, String> {
        let unsupported = || Err::<LoopKind, _>("unsupported comprehension".to_owned());
        let step = match &c.loop_step.expr {
            Expr::Call(step) => step,
            _ => return unsupported(),
        };
        let is_accu = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(n) if n == accu);
        match (&c.accu_init.expr, step.func_name.as_str(), &step.args[..]) {
            (Expr::Literal(LiteralValue::Boolean(b)), op::LOGICAL_AND, [a, p])
                if **b && is_accu(a) =>
            {
                Ok(LoopKind::All(self.node(p, d)?))
            }
            (Expr::Literal(LiteralValue::Boolean(b)), op::LOGICAL_OR, [a, p])
                if !**b && is_accu(a) =>
            {
                Ok(LoopKind::Exists(self.node(p, d)?))
            }
            (Expr::Literal(LiteralValue::Int(_)), op::CONDITIONAL, [p, _, otherwise])
                if is_accu(otherwise) =>
            {
                Ok(LoopKind::ExistsOne(self.node(p, d)?))
            }
            (Expr::List(_), op::ADD, [a, each]) if is_accu(a) => Ok(LoopKind::Map {
                keep: None,
                each: self.appended(each, d)?,
            }),
            (Expr::List(_), op::CONDITIONAL, [p, add, otherwise]) if is_accu(otherwise) => {
                let Expr::Call(add) = &add.expr else {
                    return unsupported();
                };
                match &add.args[..] {
                    [a, each] if is_accu(a) => Ok(LoopKind::Map {
                        keep: Some(self.node(p, d)?),
                        each: self.appended(each, d)?,
                    }),
                    _ => unsupported(),
                }
            }
            _ => unsupported(),
        }
    }

    /// The `f` of a map step `accu + [f]`.
    fn appended(&mut self, e: &'a IdedExpr, d: usize) -> Compiled {
        match &e.expr {
            Expr::List(l) if l.elements.len() == 1 => self.node(&l.elements[0], d),
            _ => Err("unsupported comprehension".into()),
        }
    }
}

impl Func {
    fn takes_two(self) -> bool {
        matches!(self, Func::Contains | Func::StartsWith | Func::EndsWith)
    }
}

fn function(name: &str) -> Result<Func, String> {
    Ok(match name {
        "size" => Func::Size,
        "contains" => Func::Contains,
        "startsWith" => Func::StartsWith,
        "endsWith" => Func::EndsWith,
        "int" => Func::Int,
        "uint" => Func::Uint,
        "double" => Func::Double,
        "string" => Func::String,
        "bool" => Func::Bool,
        "dyn" => Func::Dyn,
        _ => return Err(format!("undeclared function '{name}'")),
    })
}

fn literal(l: &LiteralValue) -> Compiled {
    Ok(match l {
        LiteralValue::Boolean(b) => Node::Const(Value::Bool(**b)),
        LiteralValue::Int(i) => Node::Const(Value::Int(**i)),
        LiteralValue::UInt(u) => Node::Uint(**u),
        LiteralValue::Double(f) => Node::Const(Value::Float(**f)),
        LiteralValue::String(s) => Node::Const(Value::Str(s.inner().to_owned())),
        LiteralValue::Null => Node::Const(Value::Null),
        LiteralValue::Bytes(_) => return Err("bytes literals are not supported".into()),
    })
}

/// A pattern for `matches`: a string literal, compiled once here (a pattern
/// computed per message would compile per message).
fn regex(pattern: &IdedExpr) -> Result<Regex, String> {
    let Expr::Literal(LiteralValue::String(s)) = &pattern.expr else {
        return Err("the pattern of matches must be a string literal".into());
    };
    regex::RegexBuilder::new(s.inner())
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("bad pattern for matches: {}", first_line(&e.to_string())))
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s)
}

/// A list literal of constants as one constant.
fn fold_list(items: Vec<Node>) -> Node {
    if items.iter().all(|n| matches!(n, Node::Const(_))) {
        let values = items
            .into_iter()
            .filter_map(|n| match n {
                Node::Const(v) => Some(v),
                _ => None,
            })
            .collect();
        Node::Const(Value::List(values))
    } else {
        Node::List(items)
    }
}

/// A map literal of constants with string keys as one constant.
fn fold_map(entries: Vec<(Node, Node)>) -> Node {
    let foldable = entries
        .iter()
        .all(|e| matches!(e, (Node::Const(Value::Str(_)), Node::Const(_))));
    if !foldable {
        return Node::Map(entries);
    }
    let dict = entries
        .into_iter()
        .filter_map(|e| match e {
            (Node::Const(Value::Str(k)), Node::Const(v)) => Some((k, v)),
            _ => None,
        })
        .collect();
    Node::Const(Value::Dict(dict))
}
