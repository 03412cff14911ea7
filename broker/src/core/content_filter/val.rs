//! [`Val`]: a CEL value during one evaluation, borrowing the message where it
//! can, and the operators on it with CEL's rules.
//!
//! A message's strings, lists and maps are read in place (no copy of the
//! message per filter); only what an expression builds (`map`, `filter`, a
//! list or map literal that holds variables) is owned, behind an `Rc` so that
//! a loop variable bound to it costs a pointer copy.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::rc::Rc;

use protocol::Value;

use super::Fault;

/// A CEL value: a message's JSON value seen as CEL (integers are `int`, floats
/// `double`), or one an expression made.
#[derive(Debug, Clone)]
pub(super) enum Val<'e> {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    Str(Cow<'e, str>),
    List(Seq<'e>),
    Map(Dict<'e>),
}

/// A list: the message's own, or built.
#[derive(Debug, Clone)]
pub(super) enum Seq<'e> {
    Doc(&'e [Value]),
    Own(Rc<Vec<Val<'e>>>),
}

/// A map: the message's own object, or built.
#[derive(Debug, Clone)]
pub(super) enum Dict<'e> {
    Doc(&'e [(String, Value)]),
    Own(Rc<Vec<(Val<'e>, Val<'e>)>>),
}

impl<'e> Val<'e> {
    /// `v` seen as CEL, borrowed.
    pub fn of(v: &'e Value) -> Val<'e> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Int(i) => Val::Int(*i),
            Value::Float(f) => Val::Double(*f),
            Value::Str(s) => Val::Str(Cow::Borrowed(s)),
            Value::List(l) => Val::List(Seq::Doc(l)),
            Value::Dict(d) => Val::Map(Dict::Doc(d)),
        }
    }

    /// The number of elements, entries or (for a string) code points.
    pub fn size(&self) -> Result<i64, Fault> {
        let n = match self {
            Val::Str(s) => s.chars().count(),
            Val::List(l) => l.len(),
            Val::Map(m) => m.len(),
            _ => return Err(Fault::Type),
        };
        i64::try_from(n).map_err(|_| Fault::Range)
    }
}

impl<'e> Seq<'e> {
    pub fn len(&self) -> usize {
        match self {
            Seq::Doc(l) => l.len(),
            Seq::Own(l) => l.len(),
        }
    }

    pub fn get(&self, i: usize) -> Option<Val<'e>> {
        match self {
            Seq::Doc(l) => l.get(i).map(Val::of),
            Seq::Own(l) => l.get(i).cloned(),
        }
    }
}

impl<'e> Dict<'e> {
    pub fn len(&self) -> usize {
        match self {
            Dict::Doc(d) => d.len(),
            Dict::Own(d) => d.len(),
        }
    }

    /// The value under `key`; of duplicate keys in a message, the last (as
    /// JSON parsers read them). The entries scanned are paid from `budget`.
    pub fn get(&self, key: &Val<'_>, budget: &mut u32) -> Result<Option<Val<'e>>, Fault> {
        spend(budget, u32::try_from(self.len()).unwrap_or(u32::MAX))?;
        Ok(match self {
            Dict::Doc(d) => {
                let Val::Str(k) = key else { return Ok(None) };
                d.iter()
                    .rev()
                    .find(|(name, _)| name == k)
                    .map(|(_, v)| Val::of(v))
            }
            Dict::Own(d) => {
                for (k, v) in d.iter().rev() {
                    if equal(k, key, budget)? {
                        return Ok(Some(v.clone()));
                    }
                }
                None
            }
        })
    }

    /// The value under the field name `key`.
    pub fn field(&self, key: &str, budget: &mut u32) -> Result<Option<Val<'e>>, Fault> {
        self.get(&Val::Str(Cow::Borrowed(key)), budget)
    }

    pub fn key(&self, i: usize) -> Option<Val<'e>> {
        match self {
            Dict::Doc(d) => d.get(i).map(|(k, _)| Val::Str(Cow::Borrowed(k))),
            Dict::Own(d) => d.get(i).map(|(k, _)| k.clone()),
        }
    }
}

/// A number of any of CEL's three kinds, for comparing across them.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Uint(u64),
    Double(f64),
}

fn num(v: &Val<'_>) -> Option<Num> {
    match v {
        Val::Int(i) => Some(Num::Int(*i)),
        Val::Uint(u) => Some(Num::Uint(*u)),
        Val::Double(d) => Some(Num::Double(*d)),
        _ => None,
    }
}

/// Numbers compared by value whatever their kinds (CEL's heterogeneous
/// numeric comparison); `None` when a NaN is involved.
fn compare_nums(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Uint(x), Num::Uint(y)) => Some(x.cmp(&y)),
        (Num::Int(x), Num::Uint(y)) => Some(match u64::try_from(x) {
            Ok(x) => x.cmp(&y),
            Err(_) => Ordering::Less,
        }),
        (Num::Uint(_), Num::Int(_)) => compare_nums(b, a).map(Ordering::reverse),
        (Num::Double(x), Num::Double(y)) => x.partial_cmp(&y),
        (Num::Double(x), Num::Int(y)) => compare_double(x, y as f64, i128::from(y)),
        (Num::Double(x), Num::Uint(y)) => compare_double(x, y as f64, i128::from(y)),
        (_, Num::Double(_)) => compare_nums(b, a).map(Ordering::reverse),
    }
}

/// `x` against an integer `exact` whose nearest double is `approx`: exact
/// where the double rounds.
fn compare_double(x: f64, approx: f64, exact: i128) -> Option<Ordering> {
    match x.partial_cmp(&approx)? {
        Ordering::Equal if x.fract() == 0.0 && x.abs() < 1.7e38 => {
            // An integral double in i128 range compares exactly.
            #[allow(clippy::cast_possible_truncation)]
            Some((x as i128).cmp(&exact))
        }
        o => Some(o),
    }
}

/// Takes `units` from `budget`, or fails having spent it all.
pub(super) fn spend(budget: &mut u32, units: u32) -> Result<(), Fault> {
    match budget.checked_sub(units) {
        Some(left) => {
            *budget = left;
            Ok(())
        }
        None => {
            *budget = 0;
            Err(Fault::Budget)
        }
    }
}

/// CEL equality: numbers by value across kinds, lists and maps element by
/// element, values of different types unequal. Every element compared is
/// paid from `budget` (values an expression builds can share their parts,
/// so their size is not what their construction paid).
pub(super) fn equal(a: &Val<'_>, b: &Val<'_>, budget: &mut u32) -> Result<bool, Fault> {
    spend(budget, 1 + weight(a).min(weight(b)))?;
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return Ok(compare_nums(x, y) == Some(Ordering::Equal));
    }
    Ok(match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::List(x), Val::List(y)) => {
            if x.len() != y.len() {
                return Ok(false);
            }
            for i in 0..x.len() {
                let same = match (x.get(i), y.get(i)) {
                    (Some(p), Some(q)) => equal(&p, &q, budget)?,
                    _ => false,
                };
                if !same {
                    return Ok(false);
                }
            }
            true
        }
        (Val::Map(x), Val::Map(y)) => {
            if x.len() != y.len() {
                return Ok(false);
            }
            for i in 0..x.len() {
                let Some(k) = x.key(i) else {
                    return Ok(false);
                };
                let same = match (x.get(&k, budget)?, y.get(&k, budget)?) {
                    (Some(p), Some(q)) => equal(&p, &q, budget)?,
                    _ => false,
                };
                if !same {
                    return Ok(false);
                }
            }
            true
        }
        _ => false,
    })
}

/// CEL ordering: numbers across kinds, strings by bytes, bools; anything
/// else has no `<`.
pub(super) fn compare(a: &Val<'_>, b: &Val<'_>) -> Result<Ordering, Fault> {
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return compare_nums(x, y).ok_or(Fault::Type);
    }
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Ok(x.as_bytes().cmp(y.as_bytes())),
        (Val::Bool(x), Val::Bool(y)) => Ok(x.cmp(y)),
        _ => Err(Fault::Type),
    }
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// `a op b` on two numbers of the same kind (CEL converts none implicitly),
/// with overflow and division by zero as errors.
pub(super) fn arith<'e>(op: Arith, a: &Val<'e>, b: &Val<'e>) -> Result<Val<'e>, Fault> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => {
            let r = match op {
                Arith::Add => x.checked_add(*y),
                Arith::Sub => x.checked_sub(*y),
                Arith::Mul => x.checked_mul(*y),
                Arith::Div => x.checked_div(*y),
                Arith::Rem => x.checked_rem(*y),
            };
            r.map(Val::Int).ok_or(Fault::Range)
        }
        (Val::Uint(x), Val::Uint(y)) => {
            let r = match op {
                Arith::Add => x.checked_add(*y),
                Arith::Sub => x.checked_sub(*y),
                Arith::Mul => x.checked_mul(*y),
                Arith::Div => x.checked_div(*y),
                Arith::Rem => x.checked_rem(*y),
            };
            r.map(Val::Uint).ok_or(Fault::Range)
        }
        (Val::Double(x), Val::Double(y)) => match op {
            Arith::Add => Ok(Val::Double(x + y)),
            Arith::Sub => Ok(Val::Double(x - y)),
            Arith::Mul => Ok(Val::Double(x * y)),
            Arith::Div => Ok(Val::Double(x / y)),
            Arith::Rem => Err(Fault::Type),
        },
        (Val::Str(x), Val::Str(y)) if op == Arith::Add => {
            Ok(Val::Str(Cow::Owned([x.as_ref(), y.as_ref()].concat())))
        }
        (Val::List(x), Val::List(y)) if op == Arith::Add => {
            let all = (0..x.len())
                .filter_map(|i| x.get(i))
                .chain((0..y.len()).filter_map(|i| y.get(i)))
                .collect();
            Ok(Val::List(Seq::Own(Rc::new(all))))
        }
        _ => Err(Fault::Type),
    }
}

/// The work an operation on `v` does, in budget units: one per element or
/// per 32 bytes of text.
pub(super) fn weight(v: &Val<'_>) -> u32 {
    let n = match v {
        Val::Str(s) => s.len() / 32,
        Val::List(l) => l.len(),
        Val::Map(m) => m.len(),
        _ => 0,
    };
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(a: &Val<'_>, b: &Val<'_>) -> bool {
        equal(a, b, &mut 100).unwrap()
    }

    #[test]
    fn numbers_compare_by_value_across_kinds() {
        assert!(eq(&Val::Int(1), &Val::Double(1.0)));
        assert!(eq(&Val::Uint(1), &Val::Int(1)));
        assert!(!eq(&Val::Int(-1), &Val::Uint(u64::MAX)));
        assert!(!eq(
            &Val::Int(i64::MAX),
            &Val::Double(9_223_372_036_854_775_807.0)
        ));
        assert_eq!(compare(&Val::Int(-1), &Val::Uint(0)), Ok(Ordering::Less));
        assert_eq!(
            compare(&Val::Double(2.5), &Val::Int(2)),
            Ok(Ordering::Greater)
        );
        assert_eq!(
            compare(&Val::Double(f64::NAN), &Val::Int(2)),
            Err(Fault::Type)
        );
        assert!(!eq(&Val::Str("1".into()), &Val::Int(1)), "types differ");
    }

    #[test]
    fn arithmetic_is_checked_and_never_mixes_kinds() {
        assert!(matches!(
            arith(Arith::Add, &Val::Int(i64::MAX), &Val::Int(1)),
            Err(Fault::Range)
        ));
        assert!(matches!(
            arith(Arith::Div, &Val::Int(1), &Val::Int(0)),
            Err(Fault::Range)
        ));
        assert!(matches!(
            arith(Arith::Add, &Val::Int(1), &Val::Double(1.0)),
            Err(Fault::Type)
        ));
        assert!(matches!(
            arith(Arith::Mul, &Val::Int(6), &Val::Int(7)),
            Ok(Val::Int(42))
        ));
    }
}
