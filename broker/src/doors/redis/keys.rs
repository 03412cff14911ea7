//! `SET`, `SETEX`, `GET`, `DEL`, `EXISTS`, `EXPIRE`, `TTL`, `PTTL`: their
//! arguments checked as redis-server checks them (options, numbers, expire
//! times, with its error texts), then handed to the core's key space.

use std::time::{SystemTime, UNIX_EPOCH};

use super::commands::{Args, Cmd};
use super::parse::string2ll;
use super::RedisCodec;
use crate::core::keyspace::{Condition, ExpireIf, Expiry, KeyCommand};
use crate::core::Command;
use crate::doors::Action;

const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";

/// Milliseconds since the Unix epoch, for the overflow checks redis-server
/// makes when it turns a relative time into an absolute one.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// How a `SET` expiry was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Millis,
    UnixSeconds,
    UnixMillis,
}

/// The expiry `text` in `unit` for command `cmd`, as redis-server's
/// `getExpireMillisecondsOrReply` reads it; `Err` is the error reply.
fn expiry(text: &[u8], unit: Unit, cmd: &str) -> Result<Expiry, String> {
    let invalid = || format!("ERR invalid expire time in '{cmd}' command");
    let n = string2ll(text).ok_or_else(|| NOT_AN_INTEGER.to_owned())?;
    let seconds = matches!(unit, Unit::Seconds | Unit::UnixSeconds);
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(invalid());
    }
    let ms = if seconds { n * 1000 } else { n };
    match unit {
        Unit::Seconds | Unit::Millis => {
            if ms.checked_add(now_ms()).is_none() {
                return Err(invalid());
            }
            Ok(Expiry::In(ms.unsigned_abs()))
        }
        Unit::UnixSeconds | Unit::UnixMillis => Ok(Expiry::At(ms.unsigned_abs())),
    }
}

impl RedisCodec {
    /// A key-space command, or its error answered here.
    pub(super) fn key_command<'a>(
        &mut self,
        cmd: Cmd,
        args: &Args<'a, '_>,
        out: &mut Vec<u8>,
    ) -> Action<'a> {
        match key_command(cmd, args) {
            Ok(k) => Action::Command(Command::Keys(k)),
            Err(e) => {
                self.resp.error(out, &e);
                Action::Answered
            }
        }
    }
}

/// The key-space command of a request whose arity was checked, or the
/// error reply's text.
fn key_command<'a>(cmd: Cmd, args: &Args<'a, '_>) -> Result<KeyCommand<'a>, String> {
    let keys = || args.from(1).count();
    Ok(match cmd {
        Cmd::Get => KeyCommand::Get(args.cow(1)),
        Cmd::Del => KeyCommand::Del((1..=keys()).map(|i| args.cow(i)).collect()),
        Cmd::Exists => KeyCommand::Exists((1..=keys()).map(|i| args.cow(i)).collect()),
        Cmd::Ttl | Cmd::Pttl => KeyCommand::Ttl {
            key: args.cow(1),
            millis: cmd == Cmd::Pttl,
        },
        Cmd::Setex => KeyCommand::Set {
            key: args.cow(1),
            value: args.cow(3),
            expiry: Some(expiry(args.get(2), Unit::Seconds, "setex")?),
            condition: Condition::Always,
            get: false,
        },
        Cmd::Set => set(args)?,
        Cmd::Expire => expire(args)?,
        _ => return Err("ERR unknown command".to_owned()),
    })
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT t | PXAT t | KEEPTTL]`.
fn set<'a>(args: &Args<'a, '_>) -> Result<KeyCommand<'a>, String> {
    let syntax = || "ERR syntax error".to_owned();
    let mut condition = Condition::Always;
    let mut get = false;
    let mut keep = false;
    let mut timed: Option<(Unit, &[u8])> = None;
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j);
        let next = (j + 1 < args.len()).then(|| args.get(j + 1));
        let is = |name: &str| opt.eq_ignore_ascii_case(name.as_bytes());
        if is("NX") && condition != Condition::Present {
            condition = Condition::Absent;
        } else if is("XX") && condition != Condition::Absent {
            condition = Condition::Present;
        } else if is("GET") {
            get = true;
        } else if is("KEEPTTL") && timed.is_none() {
            keep = true;
        } else if let (Some(unit), Some(value), false, None) = (
            [
                ("EX", Unit::Seconds),
                ("PX", Unit::Millis),
                ("EXAT", Unit::UnixSeconds),
                ("PXAT", Unit::UnixMillis),
            ]
            .into_iter()
            .find(|(n, _)| is(n))
            .map(|(_, u)| u),
            next,
            keep,
            timed,
        ) {
            timed = Some((unit, value));
            j += 1;
        } else {
            return Err(syntax());
        }
        j += 1;
    }
    let expiry = match timed {
        Some((unit, text)) => Some(expiry(text, unit, "set")?),
        None if keep => Some(Expiry::Keep),
        None => None,
    };
    Ok(KeyCommand::Set {
        key: args.cow(1),
        value: args.cow(2),
        expiry,
        condition,
        get,
    })
}

/// `EXPIRE key seconds [NX | XX | GT | LT]`.
fn expire<'a>(args: &Args<'a, '_>) -> Result<KeyCommand<'a>, String> {
    let when = string2ll(args.get(2)).ok_or_else(|| NOT_AN_INTEGER.to_owned())?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in args.from(3) {
        let is = |name: &str| opt.eq_ignore_ascii_case(name.as_bytes());
        if is("NX") {
            nx = true;
        } else if is("XX") {
            xx = true;
        } else if is("GT") {
            gt = true;
        } else if is("LT") {
            lt = true;
        } else {
            return Err(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            ));
        }
    }
    if nx && (xx || gt || lt) {
        return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
    }
    if gt && lt {
        return Err("ERR GT and LT options at the same time are not compatible".into());
    }
    let invalid = || "ERR invalid expire time in 'expire' command".to_owned();
    let ms = when.checked_mul(1000).ok_or_else(invalid)?;
    if ms.checked_add(now_ms()).is_none() {
        return Err(invalid());
    }
    // GT implies a time to live (none counts as infinite); XX LT does not.
    let condition = if nx {
        ExpireIf::NoTtl
    } else if gt {
        ExpireIf::Later
    } else if lt && xx {
        ExpireIf::EarlierThanTtl
    } else if lt {
        ExpireIf::Earlier
    } else if xx {
        ExpireIf::HasTtl
    } else {
        ExpireIf::Always
    };
    Ok(KeyCommand::Expire {
        key: args.cow(1),
        in_ms: ms,
        condition,
    })
}
