//! Prepared response headers: checked once, sent many times. A server
//! answering the same cached file over and over skips moving, checking
//! and (while the HPACK table is unchanged) encoding its headers again.

use super::{Connection, RespondOptions};
use crate::error::CommandError;
use crate::headers::{self, BlockKind, HeaderField};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Ids are unique in the process, so one list can serve every connection
/// and each connection's encoder can cache its block under the id.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A checked final-response header list (see `Connection::prepare_headers`).
#[derive(Clone, Debug)]
pub struct PreparedHeaders {
    id: u64,
    fields: Arc<[HeaderField]>,
    /// Their `priority` field (RFC 9218), parsed once.
    urgency: Option<crate::urgency::Urgency>,
}

impl PreparedHeaders {
    pub(super) fn new(fields: Vec<HeaderField>) -> Self {
        let urgency = crate::headers::find(&fields, "priority")
            .and_then(|v| crate::urgency::Urgency::parse(v));
        PreparedHeaders {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            fields: fields.into(),
            urgency,
        }
    }

    /// The response's own priority, if its fields say one.
    pub(super) fn urgency(&self) -> Option<crate::urgency::Urgency> {
        self.urgency
    }

    /// The checked fields, `:status` first.
    pub fn fields(&self) -> &[HeaderField] {
        &self.fields
    }

    pub(super) fn id(&self) -> u64 {
        self.id
    }

    pub(super) fn shared_fields(&self) -> Arc<[HeaderField]> {
        self.fields.clone()
    }
}

/// The rules for a final response: `respond`'s checks, and no 1xx status
/// (those go through `additional_headers`).
pub(super) fn final_response_headers(
    fields: Vec<HeaderField>,
) -> Result<Vec<HeaderField>, CommandError> {
    let fields = headers::prepare_outgoing(fields, BlockKind::Response)?;
    if headers::find(&fields, ":status").and_then(|s| s.first()) == Some(&b'1') {
        return Err(CommandError::InvalidHeader(
            "1xx status: use additional_headers".into(),
        ));
    }
    Ok(fields)
}

/// One response of a [`Connection::respond_prepared_batch`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchedResponse {
    /// The stream it answers.
    pub stream_id: u32,
    /// Its prepared headers: an index into the call's list.
    pub headers: u32,
    /// Its body: the next this many octets of the call's bodies.
    pub body_length: u32,
}

impl Connection {
    /// Server: a whole response in one call: prepared headers, `body`
    /// (none if empty) and the end of the stream.
    pub fn respond_prepared_with_body(
        &mut self,
        stream_id: u32,
        prepared: &PreparedHeaders,
        body: Bytes,
    ) -> Result<(), CommandError> {
        let opts = RespondOptions {
            end_stream: body.is_empty(),
            wait_for_trailers: false,
        };
        self.respond_prepared(stream_id, prepared, opts)?;
        self.end_with_body(stream_id, body)
    }

    /// Server: `respond` a whole response: headers, `body` (none if
    /// empty) and the end of the stream.
    pub fn respond_with_body(
        &mut self,
        stream_id: u32,
        fields: Vec<HeaderField>,
        body: Bytes,
    ) -> Result<(), CommandError> {
        let opts = RespondOptions {
            end_stream: body.is_empty(),
            wait_for_trailers: false,
        };
        self.respond(stream_id, fields, opts)?;
        self.end_with_body(stream_id, body)
    }

    /// Server: many whole responses in one call (one crossing of the
    /// component boundary for a read full of requests). `headers` finds
    /// a response's prepared list by its index; the bodies lie back to
    /// back in `bodies`, in the order of `responses`. Returns the
    /// responses refused and why; the others went out. A body that runs
    /// past the end of `bodies`, or an index with no list, is refused
    /// with `InvalidArgument` (that response only).
    pub fn respond_prepared_batch<'a>(
        &mut self,
        headers: impl Fn(usize) -> Option<&'a PreparedHeaders>,
        responses: impl IntoIterator<Item = BatchedResponse>,
        bodies: &[u8],
    ) -> Vec<(u32, CommandError)> {
        let mut at = 0usize;
        let mut refused = Vec::new();
        for r in responses {
            let end = at.checked_add(r.body_length as usize);
            let Some(body) = end.and_then(|end| bodies.get(at..end)) else {
                let why = "body-length runs past the end of bodies";
                refused.push((r.stream_id, CommandError::InvalidArgument(why)));
                continue;
            };
            at += body.len();
            let Some(prepared) = headers(r.headers as usize) else {
                let why = "headers is not an index into the batch's headers";
                refused.push((r.stream_id, CommandError::InvalidArgument(why)));
                continue;
            };
            // A copy of its own: a body must not keep the whole batch
            // alive while its stream waits for window.
            let body = Bytes::copy_from_slice(body);
            if let Err(e) = self.respond_prepared_with_body(r.stream_id, prepared, body) {
                refused.push((r.stream_id, e));
            }
        }
        refused
    }

    /// The body and end of a response whose headers went out without
    /// END_STREAM (nothing when there is no body: they carried it).
    fn end_with_body(&mut self, stream_id: u32, body: Bytes) -> Result<(), CommandError> {
        if body.is_empty() {
            return Ok(());
        }
        self.write(stream_id, body)?;
        self.end(stream_id)
    }
}
