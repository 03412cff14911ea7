//! Evaluating a compiled filter against one message, within the budget.
//!
//! Errors follow CEL: `&&` and `||` absorb an error on one side when the
//! other decides (`false && error` is false), and so do `all` and `exists`
//! across elements; everything else passes an error up. A spent budget is
//! never absorbed: once it is gone, every further step fails.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::rc::Rc;

use protocol::Value;

use super::compile::{Cmp, Func, Loop, LoopKind, Node};
use super::val::{arith, compare, equal, spend, weight, Dict, Seq, Val};
use super::{Fault, BUDGET};

type Res<'e> = Result<Val<'e>, Fault>;

/// What an evaluation sees, and what it has left to spend.
struct Cx<'e> {
    msg: &'e Value,
    topic: &'e str,
    seq: u64,
    /// Loop variables, outermost first.
    locals: Vec<Val<'e>>,
    budget: u32,
}

impl Cx<'_> {
    #[inline]
    fn charge(&mut self, units: u32) -> Result<(), Fault> {
        spend(&mut self.budget, units)
    }
}

/// Whether `root` is `true` for the message.
pub(super) fn run(root: &Node, msg: &Value, topic: &str, seq: u64) -> bool {
    let mut cx = Cx {
        msg,
        topic,
        seq,
        locals: Vec::new(),
        budget: BUDGET,
    };
    matches!(eval(root, &mut cx), Ok(Val::Bool(true)))
}

fn eval<'e>(node: &'e Node, cx: &mut Cx<'e>) -> Res<'e> {
    cx.charge(1)?;
    match node {
        Node::Const(v) => Ok(Val::of(v)),
        Node::Uint(u) => Ok(Val::Uint(*u)),
        Node::Msg => Ok(Val::of(cx.msg)),
        Node::Topic => Ok(Val::Str(Cow::Borrowed(cx.topic))),
        Node::Seq => i64::try_from(cx.seq)
            .map(Val::Int)
            .map_err(|_| Fault::Range),
        Node::Local(slot) => cx.locals.get(*slot).cloned().ok_or(Fault::Missing),
        Node::Select { of, field, test } => match eval(of, cx)? {
            Val::Map(m) => match m.field(field, &mut cx.budget)? {
                Some(v) if !*test => Ok(v),
                found => {
                    if *test {
                        Ok(Val::Bool(found.is_some()))
                    } else {
                        Err(Fault::Missing)
                    }
                }
            },
            _ => Err(Fault::Type),
        },
        Node::Not(a) => match eval(a, cx)? {
            Val::Bool(b) => Ok(Val::Bool(!b)),
            _ => Err(Fault::Type),
        },
        Node::And(ab) => logic(false, &ab[0], &ab[1], cx),
        Node::Or(ab) => logic(true, &ab[0], &ab[1], cx),
        Node::Compare(op, ab) => {
            let (a, b) = (eval(&ab[0], cx)?, eval(&ab[1], cx)?);
            let yes = match op {
                Cmp::Eq => equal(&a, &b, &mut cx.budget)?,
                Cmp::Ne => !equal(&a, &b, &mut cx.budget)?,
                Cmp::Lt => compare(&a, &b)? == Ordering::Less,
                Cmp::Le => compare(&a, &b)? != Ordering::Greater,
                Cmp::Gt => compare(&a, &b)? == Ordering::Greater,
                Cmp::Ge => compare(&a, &b)? != Ordering::Less,
            };
            Ok(Val::Bool(yes))
        }
        _ => eval_rare(node, cx),
    }
}

/// The less common nodes, apart so that [`eval`]'s frame stays small for
/// the usual comparisons and field reads (it recurses once per level).
#[inline(never)]
fn eval_rare<'e>(node: &'e Node, cx: &mut Cx<'e>) -> Res<'e> {
    match node {
        Node::Index(ab) => {
            let (of, at) = (eval(&ab[0], cx)?, eval(&ab[1], cx)?);
            index(&of, &at, &mut cx.budget)
        }
        Node::List(items) => {
            let mut all = Vec::with_capacity(items.len());
            for item in items {
                all.push(eval(item, cx)?);
            }
            Ok(Val::List(Seq::Own(Rc::new(all))))
        }
        Node::Map(entries) => {
            let mut all = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                all.push((eval(k, cx)?, eval(v, cx)?));
            }
            Ok(Val::Map(Dict::Own(Rc::new(all))))
        }
        Node::Neg(a) => match eval(a, cx)? {
            Val::Int(i) => i.checked_neg().map(Val::Int).ok_or(Fault::Range),
            Val::Double(f) => Ok(Val::Double(-f)),
            _ => Err(Fault::Type),
        },
        Node::Cond(abc) => match eval(&abc[0], cx)? {
            Val::Bool(true) => eval(&abc[1], cx),
            Val::Bool(false) => eval(&abc[2], cx),
            _ => Err(Fault::Type),
        },
        Node::Arith(op, ab) => {
            let (a, b) = (eval(&ab[0], cx)?, eval(&ab[1], cx)?);
            cx.charge(weight(&a).saturating_add(weight(&b)))?;
            arith(*op, &a, &b)
        }
        Node::In(ab) => {
            let (item, within) = (eval(&ab[0], cx)?, eval(&ab[1], cx)?);
            contains(&within, &item, &mut cx.budget)
        }
        Node::Call(f, a, b) => {
            let a = eval(a, cx)?;
            let b = match b {
                Some(b) => Some(eval(b, cx)?),
                None => None,
            };
            cx.charge(weight(&a))?;
            call(*f, a, b)
        }
        Node::Matches(s, re) => match eval(s, cx)? {
            Val::Str(s) => {
                // A regex scans more slowly than the other string functions.
                cx.charge(u32::try_from(s.len() / 8).unwrap_or(u32::MAX))?;
                Ok(Val::Bool(re.is_match(&s)))
            }
            _ => Err(Fault::Type),
        },
        Node::Loop(l) => run_loop(l, cx),
        _ => Err(Fault::Type),
    }
}

/// `a && b` (`or` false) or `a || b` (`or` true): the side equal to `or`
/// decides, whatever error the other side had.
fn logic<'e>(or: bool, a: &'e Node, b: &'e Node, cx: &mut Cx<'e>) -> Res<'e> {
    let left = eval(a, cx);
    if matches!(left, Ok(Val::Bool(v)) if v == or) {
        return left;
    }
    let right = eval(b, cx);
    match (left, right) {
        (_, Err(Fault::Budget)) => Err(Fault::Budget),
        (_, Ok(Val::Bool(v))) if v == or => Ok(Val::Bool(v)),
        (Ok(Val::Bool(_)), Ok(Val::Bool(v))) => Ok(Val::Bool(v)),
        (Err(e), _) => Err(e),
        (Ok(Val::Bool(_)), Err(e)) => Err(e),
        _ => Err(Fault::Type),
    }
}

fn index<'e>(of: &Val<'e>, at: &Val<'_>, budget: &mut u32) -> Res<'e> {
    match of {
        Val::List(l) => {
            let i = match at {
                Val::Int(i) => usize::try_from(*i).map_err(|_| Fault::Missing)?,
                Val::Uint(u) => usize::try_from(*u).map_err(|_| Fault::Missing)?,
                _ => return Err(Fault::Type),
            };
            l.get(i).ok_or(Fault::Missing)
        }
        Val::Map(m) => m.get(at, budget)?.ok_or(Fault::Missing),
        _ => Err(Fault::Type),
    }
}

fn contains(within: &Val<'_>, item: &Val<'_>, budget: &mut u32) -> Res<'static> {
    let found = match within {
        Val::List(l) => {
            let mut found = false;
            for i in 0..l.len() {
                if let Some(x) = l.get(i) {
                    if equal(&x, item, budget)? {
                        found = true;
                        break;
                    }
                }
            }
            found
        }
        Val::Map(m) => m.get(item, budget)?.is_some(),
        _ => return Err(Fault::Type),
    };
    Ok(Val::Bool(found))
}

fn call<'e>(f: Func, a: Val<'e>, b: Option<Val<'e>>) -> Res<'e> {
    let text = |v: Option<Val<'e>>| match v {
        Some(Val::Str(s)) => Ok(s),
        _ => Err(Fault::Type),
    };
    Ok(match (f, a) {
        (Func::Size, a) => Val::Int(a.size()?),
        (Func::Contains, Val::Str(s)) => Val::Bool(s.contains(text(b)?.as_ref())),
        (Func::StartsWith, Val::Str(s)) => Val::Bool(s.starts_with(text(b)?.as_ref())),
        (Func::EndsWith, Val::Str(s)) => Val::Bool(s.ends_with(text(b)?.as_ref())),
        (Func::Dyn, a) => a,
        (Func::Int, a) => Val::Int(to_int(&a)?),
        (Func::Uint, a) => Val::Uint(to_uint(&a)?),
        (Func::Double, a) => Val::Double(to_double(&a)?),
        (Func::String, a) => Val::Str(to_string(a)?),
        (Func::Bool, Val::Bool(b)) => Val::Bool(b),
        (Func::Bool, Val::Str(s)) => match s.as_ref() {
            "true" | "True" | "TRUE" | "t" | "1" => Val::Bool(true),
            "false" | "False" | "FALSE" | "f" | "0" => Val::Bool(false),
            _ => return Err(Fault::Range),
        },
        _ => return Err(Fault::Type),
    })
}

/// Doubles convert by truncation, and only when the result is in range.
#[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
fn to_int(v: &Val<'_>) -> Result<i64, Fault> {
    match v {
        Val::Int(i) => Ok(*i),
        Val::Uint(u) => i64::try_from(*u).map_err(|_| Fault::Range),
        Val::Double(f)
            if f.is_finite() && *f > -9.223_372_036_854_776e18 && *f < 9.223_372_036_854_776e18 =>
        {
            Ok(*f as i64)
        }
        Val::Str(s) => s.parse().map_err(|_| Fault::Range),
        Val::Double(_) => Err(Fault::Range),
        _ => Err(Fault::Type),
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn to_uint(v: &Val<'_>) -> Result<u64, Fault> {
    match v {
        Val::Uint(u) => Ok(*u),
        Val::Int(i) => u64::try_from(*i).map_err(|_| Fault::Range),
        Val::Double(f) if f.is_finite() && *f >= 0.0 && *f < 1.844_674_407_370_955_2e19 => {
            Ok(*f as u64)
        }
        Val::Str(s) => s.parse().map_err(|_| Fault::Range),
        Val::Double(_) => Err(Fault::Range),
        _ => Err(Fault::Type),
    }
}

#[allow(clippy::cast_precision_loss)]
fn to_double(v: &Val<'_>) -> Result<f64, Fault> {
    match v {
        Val::Double(f) => Ok(*f),
        Val::Int(i) => Ok(*i as f64),
        Val::Uint(u) => Ok(*u as f64),
        Val::Str(s) => s.parse().map_err(|_| Fault::Range),
        _ => Err(Fault::Type),
    }
}

fn to_string(v: Val<'_>) -> Result<Cow<'_, str>, Fault> {
    Ok(match v {
        Val::Str(s) => s,
        Val::Int(i) => Cow::Owned(i.to_string()),
        Val::Uint(u) => Cow::Owned(u.to_string()),
        Val::Double(f) => Cow::Owned(f.to_string()),
        Val::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
        _ => return Err(Fault::Type),
    })
}

/// A macro: the loop variable takes each element of a list, or each key
/// of a map, in order.
fn run_loop<'e>(l: &'e Loop, cx: &mut Cx<'e>) -> Res<'e> {
    let range = eval(&l.range, cx)?;
    let len = match &range {
        Val::List(s) => s.len(),
        Val::Map(m) => m.len(),
        _ => return Err(Fault::Type),
    };
    let item = |i| match &range {
        Val::List(s) => s.get(i),
        Val::Map(m) => m.key(i),
        _ => None,
    };
    cx.locals.push(Val::Null);
    let slot = cx.locals.len() - 1;
    let mut outcome = Outcome::new(&l.kind);
    let mut i = 0;
    let result = loop {
        if i == len || outcome.decided() {
            break outcome.finish();
        }
        if let Err(e) = cx.charge(1) {
            break Err(e);
        }
        cx.locals[slot] = item(i).unwrap_or(Val::Null);
        if let Err(e) = outcome.step(&l.kind, cx) {
            break Err(e);
        }
        i += 1;
    };
    cx.locals.truncate(slot);
    result
}

/// A macro's running result.
enum Outcome<'e> {
    /// `all` (decided by a false) or `exists` (by a true): whether an
    /// element decided it, and an error absorbed meanwhile.
    Quantifier {
        decisive: bool,
        hit: bool,
        error: Option<Fault>,
    },
    Count(u64),
    Built(Vec<Val<'e>>),
}

impl<'e> Outcome<'e> {
    fn new(kind: &LoopKind) -> Self {
        let quantifier = |decisive| Outcome::Quantifier {
            decisive,
            hit: false,
            error: None,
        };
        match kind {
            LoopKind::All(_) => quantifier(false),
            LoopKind::Exists(_) => quantifier(true),
            LoopKind::ExistsOne(_) => Outcome::Count(0),
            LoopKind::Map { .. } => Outcome::Built(Vec::new()),
        }
    }

    /// `all` stops at the first false, `exists` at the first true.
    fn decided(&self) -> bool {
        matches!(self, Outcome::Quantifier { hit: true, .. })
    }

    fn step(&mut self, kind: &'e LoopKind, cx: &mut Cx<'e>) -> Result<(), Fault> {
        match (self, kind) {
            (
                Outcome::Quantifier {
                    decisive,
                    hit,
                    error,
                },
                LoopKind::All(p) | LoopKind::Exists(p),
            ) => match eval(p, cx) {
                Ok(Val::Bool(b)) => *hit = b == *decisive,
                Err(Fault::Budget) => return Err(Fault::Budget),
                Err(e) => *error = Some(e),
                Ok(_) => *error = Some(Fault::Type),
            },
            (Outcome::Count(n), LoopKind::ExistsOne(p)) => match eval(p, cx)? {
                Val::Bool(true) => *n += 1,
                Val::Bool(false) => {}
                _ => return Err(Fault::Type),
            },
            (Outcome::Built(out), LoopKind::Map { keep, each }) => {
                let kept = match keep {
                    Some(p) => match eval(p, cx)? {
                        Val::Bool(b) => b,
                        _ => return Err(Fault::Type),
                    },
                    None => true,
                };
                if kept {
                    out.push(eval(each, cx)?);
                }
            }
            _ => return Err(Fault::Type),
        }
        Ok(())
    }

    fn finish(self) -> Res<'e> {
        match self {
            Outcome::Quantifier {
                decisive,
                hit,
                error,
            } => match (hit, error) {
                (true, _) => Ok(Val::Bool(decisive)),
                (false, Some(e)) => Err(e),
                (false, None) => Ok(Val::Bool(!decisive)),
            },
            Outcome::Count(n) => Ok(Val::Bool(n == 1)),
            Outcome::Built(out) => Ok(Val::List(Seq::Own(Rc::new(out)))),
        }
    }
}
