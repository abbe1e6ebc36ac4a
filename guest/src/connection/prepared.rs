//! Prepared response headers: checked once, sent many times. A server
//! answering the same cached file over and over skips moving, checking
//! and (while the HPACK table is unchanged) encoding its headers again.

use crate::error::CommandError;
use crate::headers::{self, BlockKind, HeaderField};
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
}

impl PreparedHeaders {
    pub(super) fn new(fields: Vec<HeaderField>) -> Self {
        PreparedHeaders {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            fields: fields.into(),
        }
    }

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
