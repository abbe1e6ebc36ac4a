//! An in-memory client/server pair: two connections wired back to back.
//! Used by the tests and benchmarks, and handy for embedders who want to
//! exercise application logic without sockets.

use crate::connection::Connection;
use crate::error::ConnectionError;
use crate::events::Event;
use crate::options::{Options, Role};
use crate::transmit::PayloadRef;
use bytes::Bytes;
use std::collections::HashMap;

/// A client and a server connected in memory: `run` moves octets both
/// ways until neither has more to say.
pub struct Pair {
    /// The client end.
    pub client: Connection,
    /// The server end.
    pub server: Connection,
    /// Events taken from each side by `run`, in order.
    pub client_events: Vec<Event>,
    #[allow(missing_docs)]
    pub server_events: Vec<Event>,
    /// The clock both sides see, in nanoseconds.
    pub now: u64,
    /// Largest chunk moved per `poll_transmit`.
    pub chunk: usize,
    /// The host bodies the server's `respond_with_payload` names, by id.
    pub bodies: HashMap<u64, Bytes>,
    /// Bodies the server released, in order.
    pub released: Vec<u64>,
    /// Octets of host payload spliced into the server's output.
    pub referenced: usize,
    /// Payload references to bodies not in `bodies`, or past their end
    /// (sent as zeros): a test expects none.
    pub bad_refs: usize,
}

impl Pair {
    /// Both ends with their options, prefaces queued, nothing run yet.
    pub fn new(client: Options, server: Options) -> Result<Pair, ConnectionError> {
        Ok(Pair {
            client: Connection::new(Role::Client, client, 0)?,
            server: Connection::new(Role::Server, server, 0)?,
            client_events: Vec::new(),
            server_events: Vec::new(),
            now: 0,
            chunk: 64 * 1024,
            bodies: HashMap::new(),
            released: Vec::new(),
            referenced: 0,
            bad_refs: 0,
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
            while let Some(t) = self.client.poll_transmit(self.chunk) {
                moved = true;
                if let Err(e) = self.server.receive(self.now, &t.octets) {
                    first_err.get_or_insert(e);
                }
            }
            while let Some(t) = self.server.poll_transmit(self.chunk) {
                moved = true;
                let bytes = t.assemble(|r, dest| self.fill(r, dest));
                self.released.extend(&t.released);
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

    fn fill(&mut self, r: &PayloadRef, dest: &mut [u8]) {
        self.referenced += r.length;
        let found = self.bodies.get(&r.body).and_then(|b| {
            let start = usize::try_from(r.offset).ok()?;
            b.get(start..start.checked_add(r.length)?)
        });
        match found {
            Some(src) => dest.copy_from_slice(src),
            None => self.bad_refs += 1,
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
