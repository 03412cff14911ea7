//! A NATS client speaking the protocol by hand over a plain socket, for the
//! NATS door's tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A NATS client over a plain socket.
pub struct Nats {
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
}

impl Nats {
    pub fn connect(addr: std::net::SocketAddr) -> Nats {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut c = Nats {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        let info = c.line();
        assert!(info.starts_with("INFO {"), "{info}");
        assert!(
            info.contains("\"max_payload\":1048576") && info.contains("\"headers\":true"),
            "{info}"
        );
        c
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    pub fn line(&mut self) -> String {
        let mut l = String::new();
        self.reader.read_line(&mut l).expect("a line");
        l.trim_end_matches("\r\n").to_owned()
    }

    /// PING, and everything before the PONG.
    pub fn sync(&mut self) -> Vec<String> {
        self.send(b"PING\r\n");
        let mut before = Vec::new();
        loop {
            let l = self.line();
            if l == "PONG" {
                return before;
            }
            before.push(l);
        }
    }

    /// The next `HMSG`: its header line, header block and payload.
    pub fn hmsg(&mut self) -> (String, Vec<u8>, Vec<u8>) {
        let line = self.line();
        assert!(line.starts_with("HMSG "), "{line}");
        let mut fields = line.rsplit(' ');
        let total: usize = fields.next().unwrap().parse().unwrap();
        let hlen: usize = fields.next().unwrap().parse().unwrap();
        let mut body = vec![0; total + 2];
        self.reader.read_exact(&mut body).unwrap();
        body.truncate(total);
        let payload = body.split_off(hlen);
        (line, body, payload)
    }

    /// The next `MSG`: its header line and payload.
    pub fn msg(&mut self) -> (String, Vec<u8>) {
        let header = self.line();
        assert!(header.starts_with("MSG "), "{header}");
        let len: usize = header.rsplit(' ').next().unwrap().parse().unwrap();
        let mut payload = vec![0; len + 2];
        self.reader.read_exact(&mut payload).unwrap();
        payload.truncate(len);
        (header, payload)
    }
}

/// A broker with its NATS door open, and that door's address.
pub fn broker() -> (super::TestBroker, std::net::SocketAddr) {
    let b = super::start_broker_with(broker::Config {
        nats: Some("127.0.0.1:0".parse().unwrap()),
        ..broker::Config::default()
    });
    let addr = b.door(broker::doors::Door::Nats);
    (b, addr)
}
