//! Whole responses with prepared headers, queued while a turn handles its
//! events and handed to the engine with the next `drive`: a read full of
//! requests is answered in the call that also takes the output, with no
//! call of its own (at one request per read, two calls per request where
//! there were three).

use crate::bindings::PreparedResponse;
use crate::engine::DriveInput;
use wasmtime::component::ResourceAny;

/// Bodies kept across turns up to this many octets; a burst of larger
/// ones is not kept for the quiet that follows.
const KEEP_BODIES: usize = 64 * 1024;

/// The responses of one `drive`. Each response's body is below
/// `payload::MIN_CHUNK` (larger ones go as host payload), and there is at
/// most one per stream the connection has open: bounded by the peer's
/// `max-concurrent-streams`.
///
/// `H`: the engine's handle of a prepared list.
pub(crate) struct ResponseBatch<H = ResourceAny> {
    /// The prepared header lists the responses use, each lent once per
    /// drive and named by its index here; with each list's
    /// `PreparedHeaders::id`.
    headers: Vec<H>,
    header_ids: Vec<u64>,
    responses: Vec<PreparedResponse>,
    /// The responses' bodies back to back, in their order.
    bodies: Vec<u8>,
    /// Each response's status, for the log and the metrics.
    statuses: Vec<u16>,
}

/// A response the engine took from a batch: for the log and the metrics.
pub(super) struct Sent {
    pub(super) stream_id: u32,
    pub(super) status: u16,
    pub(super) body_length: u32,
}

impl<H> Default for ResponseBatch<H> {
    fn default() -> Self {
        ResponseBatch {
            headers: Vec::new(),
            header_ids: Vec::new(),
            responses: Vec::new(),
            bodies: Vec::new(),
            statuses: Vec::new(),
        }
    }
}

impl ResponseBatch {
    /// Lends the batch to a drive.
    pub(super) fn lend<'a>(&'a self, input: &mut DriveInput<'a>) {
        input.headers = &self.headers;
        input.responses = &self.responses;
        input.bodies = &self.bodies;
    }
}

impl<H> ResponseBatch<H> {
    pub(super) fn is_empty(&self) -> bool {
        self.responses.is_empty()
    }

    /// Adds a header list the batch has not used yet; returns its index.
    pub(super) fn add_headers(&mut self, id: u64, handle: H) -> u32 {
        self.headers.push(handle);
        self.header_ids.push(id);
        (self.headers.len() - 1) as u32
    }

    /// Queues a response with the header list at `headers`.
    pub(super) fn push(&mut self, stream_id: u32, headers: u32, body: &[u8], status: u16) {
        self.responses.push(PreparedResponse {
            stream_id,
            headers,
            body_length: u32::try_from(body.len()).unwrap_or(u32::MAX),
        });
        self.bodies.extend_from_slice(body);
        self.statuses.push(status);
    }

    /// Empties the batch once a drive took it: the ids of the header lists
    /// it used, then each response but those `refused`.
    pub(super) fn taken<'a>(
        &'a mut self,
        refused: &'a [(u32, crate::bindings::CommandError)],
    ) -> (
        impl Iterator<Item = u64> + 'a,
        impl Iterator<Item = Sent> + 'a,
    ) {
        self.headers.clear();
        self.bodies.clear();
        if self.bodies.capacity() > KEEP_BODIES {
            self.bodies = Vec::new();
        }
        let sent = self
            .responses
            .drain(..)
            .zip(self.statuses.drain(..))
            .filter(|(r, _)| !refused.iter().any(|(id, _)| *id == r.stream_id))
            .map(|(r, status)| Sent {
                stream_id: r.stream_id,
                status,
                body_length: r.body_length,
            });
        (self.header_ids.drain(..), sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::CommandError;

    #[test]
    fn a_batch_names_each_list_once_and_reports_what_went_out() {
        let mut batch = ResponseBatch::<&str>::default();
        assert!(batch.is_empty());
        let page = batch.add_headers(7, "page");
        let missing = batch.add_headers(9, "missing");
        batch.push(1, page, b"hello", 200);
        batch.push(3, missing, b"", 404);
        batch.push(5, page, b"bye", 200);
        assert_eq!(batch.headers, ["page", "missing"]);
        assert_eq!(batch.bodies, b"hellobye");
        let lists = batch.responses.iter().map(|r| (r.headers, r.body_length));
        assert_eq!(lists.collect::<Vec<_>>(), [(0, 5), (1, 0), (0, 3)]);

        let refused = [(3, CommandError::UnknownStream)];
        let (ids, sent) = batch.taken(&refused);
        assert_eq!(ids.collect::<Vec<_>>(), [7, 9]);
        let sent: Vec<_> = sent
            .map(|s| (s.stream_id, s.status, s.body_length))
            .collect();
        assert_eq!(sent, [(1, 200, 5), (5, 200, 3)]);
        assert!(batch.is_empty());
        assert!(batch.headers.is_empty() && batch.bodies.is_empty() && batch.statuses.is_empty());
    }
}
