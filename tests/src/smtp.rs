//! A real SMTP server for tests (`mailin-embedded`, in a thread), recording every message it
//! accepts — mail is asserted as it crossed the wire, not as we meant to send it.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use mailin_embedded::{Handler, Response, Server, SslConfig, response};

/// A real SMTP server on 127.0.0.1, recording every message it accepts.
pub struct Smtp {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

#[derive(Debug, Clone)]
pub struct Received {
    /// Envelope recipients (RCPT TO).
    pub to: Vec<String>,
    /// The message as it crossed the wire.
    pub data: String,
}

impl Received {
    /// The first header of that name, unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let prefix = format!("{}:", name.to_lowercase());
        let mut lines = head.split("\r\n").peekable();
        while let Some(line) = lines.next() {
            if line.to_lowercase().starts_with(&prefix) {
                let mut value = line[prefix.len()..].trim().to_string();
                while let Some(next) = lines.next_if(|l| l.starts_with([' ', '\t'])) {
                    value.push(' ');
                    value.push_str(next.trim());
                }
                return Some(value);
            }
        }
        None
    }

    /// The body, decoded if it was sent quoted-printable (long lines, non-ASCII text).
    pub fn body(&self) -> String {
        let raw = self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        match self.header("Content-Transfer-Encoding").as_deref() {
            Some("quoted-printable") => decode_quoted_printable(raw),
            Some("7bit") | Some("8bit") | None => raw.to_string(),
            Some(other) => panic!("unexpected transfer encoding {other}"),
        }
    }
}

fn decode_quoted_printable(s: &str) -> String {
    let s = s.replace("=\r\n", ""); // soft line breaks
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (s.as_bytes()[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Smtp {
    pub fn start() -> Smtp {
        Smtp::start_on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    pub fn start_on(listener: TcpListener) -> Smtp {
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let handler = Collector {
            received: received.clone(),
            to: Vec::new(),
            data: Vec::new(),
        };
        // mailin's server runs forever; the thread ends with the test process.
        std::thread::spawn(move || {
            let mut server = Server::new(handler);
            server
                .with_name("relay.test")
                .with_ssl(SslConfig::None)
                .expect("no TLS")
                .with_tcp_listener(listener);
            server.serve().expect("SMTP server runs");
        });
        Smtp { port, received }
    }

    /// The `SOTTO_SMTP_URL` that reaches this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    pub fn recipients(&self) -> Vec<Vec<String>> {
        let got = self.received.lock().unwrap();
        got.iter().map(|r| r.to.clone()).collect()
    }

    /// The one message whose envelope went to `to`; fails if there were none or several.
    pub fn only_message_to(&self, to: &str) -> Received {
        let got = self.received.lock().unwrap();
        let matching: Vec<_> = got.iter().filter(|r| r.to == [to]).collect();
        assert_eq!(matching.len(), 1, "messages to {to}: {}", matching.len());
        matching[0].clone()
    }
}

/// mailin clones the handler per connection; the per-message fields are per connection.
#[derive(Clone)]
struct Collector {
    received: Arc<Mutex<Vec<Received>>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, _from: &str, _8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.received.lock().unwrap().push(Received {
            to: std::mem::take(&mut self.to),
            data: String::from_utf8_lossy(&std::mem::take(&mut self.data)).into_owned(),
        });
        response::OK
    }
}
