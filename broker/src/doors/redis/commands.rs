//! The command table and the checks redis-server makes before running a
//! command, in its order: the name (`unknown command`), the subcommand of a
//! container (`unknown subcommand`), the arity (`wrong number of
//! arguments`), then RESP2's subscribed mode (`Can't execute`). The
//! connection's own commands are here too: `PING`, `ECHO`, `QUIT`,
//! `RESET`, `HELLO`, `SELECT`, `CLIENT`.

use std::borrow::Cow;

use super::parse::{string2ll, ArgsBuf};
use super::reply::Resp;
use super::RedisCodec;
use crate::core::Command;
use crate::doors::Action;

/// The version `HELLO` reports: the door answers as Redis 7.2 for the
/// commands it has (7.2 brought `CLIENT SETINFO`, which redis-py sends).
pub const VERSION: &str = "7.2.0";

/// A request's arguments: ranges of the input, or an inline command's.
#[derive(Debug, Clone, Copy)]
pub struct Args<'a, 'b> {
    input: &'a [u8],
    buf: &'b ArgsBuf,
    inline: bool,
}

impl<'a: 'b, 'b> Args<'a, 'b> {
    /// The arguments `buf` holds for `input`.
    #[must_use]
    pub fn new(input: &'a [u8], buf: &'b ArgsBuf, inline: bool) -> Self {
        Args { input, buf, inline }
    }

    /// How many.
    #[must_use]
    pub fn len(&self) -> usize {
        if self.inline {
            self.buf.inline.len()
        } else {
            self.buf.ranges.len()
        }
    }

    /// Whether there are none (a blank line, `*0`).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Argument `i` (empty past the end).
    #[must_use]
    pub fn get(&self, i: usize) -> &'b [u8] {
        if self.inline {
            self.buf.inline.get(i).map_or(&[], Vec::as_slice)
        } else {
            self.buf
                .ranges
                .get(i)
                .map_or(&[], |r| &self.input[r.clone()])
        }
    }

    /// Argument `i`, borrowed from the input when it can be (as a command
    /// for the router needs it).
    #[must_use]
    pub fn cow(&self, i: usize) -> Cow<'a, [u8]> {
        if self.inline {
            Cow::Owned(self.get(i).to_vec())
        } else {
            match self.buf.ranges.get(i) {
                Some(r) => Cow::Borrowed(&self.input[r.clone()]),
                None => Cow::Borrowed(&[]),
            }
        }
    }

    /// Arguments from `i` on.
    pub fn from(&self, i: usize) -> impl Iterator<Item = &'b [u8]> + '_ {
        (i..self.len()).map(|j| self.get(j))
    }
}

/// What a command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmd {
    Publish,
    Subscribe,
    Psubscribe,
    Unsubscribe,
    Punsubscribe,
    Ping,
    Echo,
    Quit,
    Reset,
    Hello,
    Select,
    Client,
    Pubsub,
    Set,
    Setex,
    Get,
    Del,
    Exists,
    Expire,
    Ttl,
    Pttl,
}

/// One command: its name (lower case), redis-server's arity (exact when
/// positive, a minimum when negative, the name included), and whether
/// RESP2's subscribed mode allows it.
#[derive(Debug)]
struct Spec {
    name: &'static str,
    arity: i32,
    cmd: Cmd,
    in_subscribed_mode: bool,
}

const fn spec(name: &'static str, arity: i32, cmd: Cmd, in_subscribed_mode: bool) -> Spec {
    Spec {
        name,
        arity,
        cmd,
        in_subscribed_mode,
    }
}

/// The commands, the most frequent first.
static COMMANDS: &[Spec] = &[
    spec("publish", 3, Cmd::Publish, false),
    spec("subscribe", -2, Cmd::Subscribe, true),
    spec("psubscribe", -2, Cmd::Psubscribe, true),
    spec("unsubscribe", -1, Cmd::Unsubscribe, true),
    spec("punsubscribe", -1, Cmd::Punsubscribe, true),
    spec("get", 2, Cmd::Get, false),
    spec("set", -3, Cmd::Set, false),
    spec("setex", 4, Cmd::Setex, false),
    spec("del", -2, Cmd::Del, false),
    spec("exists", -2, Cmd::Exists, false),
    spec("expire", -3, Cmd::Expire, false),
    spec("ttl", 2, Cmd::Ttl, false),
    spec("pttl", 2, Cmd::Pttl, false),
    spec("ping", -1, Cmd::Ping, true),
    spec("echo", 2, Cmd::Echo, false),
    spec("quit", -1, Cmd::Quit, true),
    spec("reset", 1, Cmd::Reset, true),
    spec("hello", -1, Cmd::Hello, false),
    spec("select", 2, Cmd::Select, false),
    spec("client", -2, Cmd::Client, false),
    spec("pubsub", -2, Cmd::Pubsub, false),
];

/// The subcommands of `PUBSUB` and `CLIENT` with their arity.
static PUBSUB: &[(&str, i32)] = &[("channels", -2), ("numsub", -2), ("numpat", 2)];
static CLIENT: &[(&str, i32)] = &[("setname", 3), ("getname", 2), ("id", 2), ("setinfo", 4)];

/// `%.*s` of `bytes`: at most `max` bytes, up to a NUL.
fn c_str(bytes: &[u8], max: usize) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end.min(max)]
}

/// redis-server's error for an unknown command.
fn unknown_command(args: &Args<'_, '_>) -> Vec<u8> {
    let mut list = Vec::new();
    for a in args.from(1) {
        if list.len() >= 128 {
            break;
        }
        list.push(b'\'');
        let room = 128 - list.len() + 1;
        list.extend_from_slice(c_str(a, room));
        list.extend_from_slice(b"' ");
    }
    let mut e = b"ERR unknown command '".to_vec();
    e.extend_from_slice(c_str(args.get(0), 128));
    e.extend_from_slice(b"', with args beginning with: ");
    e.extend_from_slice(&list);
    e
}

/// Whether `n` arguments fit `arity`.
fn arity_ok(arity: i32, n: usize) -> bool {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    if arity > 0 {
        n == i64::from(arity)
    } else {
        n >= -i64::from(arity)
    }
}

/// `-ERR wrong number of arguments for 'name' command`.
pub(super) fn arity_error(resp: Resp, out: &mut Vec<u8>, fullname: &str) {
    resp.error(
        out,
        &format!("ERR wrong number of arguments for '{fullname}' command"),
    );
}

impl RedisCodec {
    /// Checks and runs one request; what it answers by itself goes to `out`.
    pub(super) fn execute<'a>(&mut self, args: &Args<'a, '_>, out: &mut Vec<u8>) -> Action<'a> {
        if args.is_empty() {
            return Action::Answered;
        }
        let name = args.get(0);
        let Some(spec) = COMMANDS
            .iter()
            .find(|s| name.eq_ignore_ascii_case(s.name.as_bytes()))
        else {
            self.resp.error_bytes(out, &unknown_command(args));
            return Action::Answered;
        };
        let mut fullname = Cow::Borrowed(spec.name);
        let subs = match spec.cmd {
            Cmd::Pubsub => Some(PUBSUB),
            Cmd::Client => Some(CLIENT),
            _ => None,
        };
        let mut arity = spec.arity;
        if let (Some(table), true) = (subs, args.len() >= 2) {
            let sub = args.get(1);
            match table
                .iter()
                .find(|(n, _)| sub.eq_ignore_ascii_case(n.as_bytes()))
            {
                Some(&(n, a)) => {
                    fullname = Cow::Owned(format!("{}|{n}", spec.name));
                    arity = a;
                }
                None => {
                    let mut e = b"ERR unknown subcommand '".to_vec();
                    e.extend_from_slice(c_str(sub, 128));
                    e.extend_from_slice(b"'. Try ");
                    e.extend_from_slice(spec.name.to_ascii_uppercase().as_bytes());
                    e.extend_from_slice(b" HELP.");
                    self.resp.error_bytes(out, &e);
                    return Action::Answered;
                }
            }
        }
        if !arity_ok(arity, args.len()) {
            arity_error(self.resp, out, &fullname);
            return Action::Answered;
        }
        if self.subscribed_mode() && !spec.in_subscribed_mode {
            self.resp.error(out, &format!(
                "ERR Can't execute '{fullname}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
            ));
            return Action::Answered;
        }
        self.run(spec.cmd, args, out)
    }

    fn run<'a>(&mut self, cmd: Cmd, args: &Args<'a, '_>, out: &mut Vec<u8>) -> Action<'a> {
        let resp = self.resp;
        match cmd {
            Cmd::Publish => return self.publish(args, out),
            Cmd::Subscribe => return self.subscribe(args, false, out),
            Cmd::Psubscribe => return self.subscribe(args, true, out),
            Cmd::Unsubscribe => return self.unsubscribe(args, false, out),
            Cmd::Punsubscribe => return self.unsubscribe(args, true, out),
            Cmd::Pubsub => return self.pubsub(args, out),
            Cmd::Set
            | Cmd::Setex
            | Cmd::Get
            | Cmd::Del
            | Cmd::Exists
            | Cmd::Expire
            | Cmd::Ttl
            | Cmd::Pttl => return self.key_command(cmd, args, out),
            Cmd::Ping => {
                if args.len() > 2 {
                    arity_error(resp, out, "ping");
                } else if self.subscribed_mode() {
                    resp.array(out, 2);
                    resp.bulk(out, b"pong");
                    resp.bulk(out, args.get(1));
                } else if args.len() == 2 {
                    resp.bulk(out, args.get(1));
                } else {
                    resp.simple(out, "PONG");
                }
            }
            Cmd::Echo => resp.bulk(out, args.get(1)),
            Cmd::Quit => {
                resp.simple(out, "OK");
                return Action::Close;
            }
            Cmd::Reset => {
                self.resp.v3 = false;
                self.name = None;
                self.resp.simple(out, "RESET");
                return self.drop_all_subscriptions();
            }
            Cmd::Hello => self.hello(args, out),
            Cmd::Select => match string2ll(args.get(1)) {
                None => resp.error(out, "ERR value is not an integer or out of range"),
                Some(0) => resp.simple(out, "OK"),
                Some(_) => resp.error(out, "ERR DB index is out of range"),
            },
            Cmd::Client => self.client(args, out),
        }
        Action::Answered
    }

    /// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
    fn hello(&mut self, args: &Args<'_, '_>, out: &mut Vec<u8>) {
        let resp = self.resp;
        let mut version = None;
        if args.len() >= 2 {
            match string2ll(args.get(1)) {
                None => {
                    resp.error(
                        out,
                        "ERR Protocol version is not an integer or out of range",
                    );
                    return;
                }
                Some(v @ 2..=3) => version = Some(v),
                Some(_) => {
                    resp.error(out, "NOPROTO unsupported protocol version");
                    return;
                }
            }
        }
        let (mut user, mut name) = (None, None);
        let mut j = 2;
        while j < args.len() {
            let more = args.len() - 1 - j;
            let opt = args.get(j);
            if opt.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
                user = Some(args.get(j + 1));
                j += 2;
            } else if opt.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
                name = Some(args.get(j + 1));
                j += 1;
            } else {
                let mut e = b"ERR Syntax error in HELLO option '".to_vec();
                e.extend_from_slice(c_str(opt, usize::MAX));
                e.push(b'\'');
                resp.error_bytes(out, &e);
                return;
            }
            j += 1;
        }
        // The default user has no password here: any password is right
        // for it, as in a redis-server without `requirepass`.
        if user.is_some_and(|u| u != b"default") {
            resp.error(
                out,
                "WRONGPASS invalid username-password pair or user is disabled.",
            );
            return;
        }
        if let Some(name) = name {
            if !self.set_name(name, out) {
                return;
            }
        }
        if let Some(v) = version {
            self.resp.v3 = v == 3;
        }
        let resp = self.resp;
        resp.map(out, 7);
        resp.bulk(out, b"server");
        resp.bulk(out, b"redis");
        resp.bulk(out, b"version");
        resp.bulk(out, VERSION.as_bytes());
        resp.bulk(out, b"proto");
        resp.int(out, if resp.v3 { 3 } else { 2 });
        resp.bulk(out, b"id");
        resp.int(out, i64::try_from(self.id).unwrap_or(i64::MAX));
        resp.bulk(out, b"mode");
        resp.bulk(out, b"standalone");
        resp.bulk(out, b"role");
        resp.bulk(out, b"master");
        resp.bulk(out, b"modules");
        resp.array(out, 0);
    }

    /// Sets the client's name (empty: none); false after an error reply.
    fn set_name(&mut self, name: &[u8], out: &mut Vec<u8>) -> bool {
        if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
            self.resp.error(
                out,
                "ERR Client names cannot contain spaces, newlines or special characters.",
            );
            return false;
        }
        self.name = (!name.is_empty()).then(|| name.into());
        true
    }

    /// `CLIENT SETNAME | GETNAME | ID | SETINFO` (arity checked).
    fn client(&mut self, args: &Args<'_, '_>, out: &mut Vec<u8>) {
        let resp = self.resp;
        let sub = args.get(1);
        if sub.eq_ignore_ascii_case(b"setname") {
            if self.set_name(args.get(2), out) {
                resp.simple(out, "OK");
            }
        } else if sub.eq_ignore_ascii_case(b"getname") {
            match &self.name {
                Some(n) => resp.bulk(out, n),
                None => resp.null(out),
            }
        } else if sub.eq_ignore_ascii_case(b"id") {
            resp.int(out, i64::try_from(self.id).unwrap_or(i64::MAX));
        } else {
            // SETINFO LIB-NAME | LIB-VER value, as Redis 7.2: accepted and
            // not kept.
            let (attr, value) = (args.get(2), args.get(3));
            let what = if attr.eq_ignore_ascii_case(b"lib-name") {
                "LIB-NAME"
            } else if attr.eq_ignore_ascii_case(b"lib-ver") {
                "LIB-VER"
            } else {
                let mut e = b"ERR Unrecognized option '".to_vec();
                e.extend_from_slice(c_str(attr, usize::MAX));
                e.push(b'\'');
                resp.error_bytes(out, &e);
                return;
            };
            if value.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
                resp.error(
                    out,
                    &format!("ERR {what} cannot contain spaces, newlines or special characters."),
                );
                return;
            }
            resp.simple(out, "OK");
        }
    }

    /// Forgets every subscription without a word (`RESET`).
    fn drop_all_subscriptions<'a>(&mut self) -> Action<'a> {
        let mut tags: Vec<u64> = self.subs.keys().copied().collect();
        tags.sort_unstable();
        self.subs.clear();
        self.channels.clear();
        self.patterns.clear();
        batch(
            tags.into_iter()
                .map(|t| Command::Unsubscribe(crate::core::SubTag(t)))
                .collect(),
        )
    }
}

/// The action for `commands`: nothing, one command, or a batch.
pub(super) fn batch(mut commands: Vec<Command<'_>>) -> Action<'_> {
    match commands.len() {
        0 => Action::Answered,
        1 => commands.pop().map_or(Action::Answered, Action::Command),
        _ => Action::Command(Command::Batch(commands)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: &[u8]) -> (ArgsBuf, bool) {
        let mut buf = ArgsBuf::default();
        let inline = match super::super::parse::parse(input, 1 << 20, &mut buf).unwrap() {
            super::super::parse::Parsed::Request { inline, .. } => inline,
            other => panic!("{other:?}"),
        };
        (buf, inline)
    }

    #[test]
    fn unknown_commands_as_redis_server_words_them() {
        let input = b"foo bar baz\r\n";
        let (buf, inline) = parsed(input);
        let e = unknown_command(&Args::new(input, &buf, inline));
        assert_eq!(
            String::from_utf8(e).unwrap(),
            "ERR unknown command 'foo', with args beginning with: 'bar' 'baz' "
        );
        let long = format!("X {}\r\n", "a".repeat(300));
        let (buf, inline) = parsed(long.as_bytes());
        let e = unknown_command(&Args::new(long.as_bytes(), &buf, inline));
        let text = String::from_utf8(e).unwrap();
        let args = text.split("beginning with: ").nth(1).unwrap();
        assert_eq!(args.len(), 131, "'%.128s' then a space: {args}");
    }

    #[test]
    fn arities() {
        assert!(arity_ok(3, 3));
        assert!(!arity_ok(3, 2));
        assert!(arity_ok(-2, 5));
        assert!(!arity_ok(-2, 1));
    }
}
