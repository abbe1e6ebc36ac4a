//! An in-memory client/server pair: two connections wired back to back.
//! Used by the tests and benchmarks, and handy for embedders who want to
//! exercise application logic without sockets.

use crate::connection::Connection;
use crate::error::ConnectionError;
use crate::events::Event;
use crate::options::{Options, Role};

pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    /// Events taken from each side by `run`, in order.
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    /// The clock both sides see, in nanoseconds.
    pub now: u64,
    /// Largest chunk moved per `poll_transmit`.
    pub chunk: usize,
}

impl Pair {
    pub fn new(client: Options, server: Options) -> Result<Pair, ConnectionError> {
        Ok(Pair {
            client: Connection::new(Role::Client, client, 0)?,
            server: Connection::new(Role::Server, server, 0)?,
            client_events: Vec::new(),
            server_events: Vec::new(),
            now: 0,
            chunk: 64 * 1024,
        })
    }

    /// A pair with default options (client authority `localhost`).
    pub fn with_defaults() -> Result<Pair, ConnectionError> {
        let client = Options {
            authority: "localhost".into(),
            ..Options::default()
        };
        Pair::new(client, Options::default())
    }

    /// Moves bytes both ways until neither side has anything to send;
    /// collects events. Returns the first connection error either side saw.
    pub fn run(&mut self) -> Result<(), ConnectionError> {
        let mut first_err = None;
        loop {
            let mut moved = false;
            while let Some(bytes) = self.client.poll_transmit(self.chunk) {
                moved = true;
                if let Err(e) = self.server.receive(self.now, &bytes) {
                    first_err.get_or_insert(e);
                }
            }
            while let Some(bytes) = self.server.poll_transmit(self.chunk) {
                moved = true;
                if let Err(e) = self.client.receive(self.now, &bytes) {
                    first_err.get_or_insert(e);
                }
            }
            self.collect();
            if !moved {
                break;
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Takes pending events from both sides without moving bytes.
    pub fn collect(&mut self) {
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e);
        }
    }
}
