//! Header compression state (RFC 7541): our encoder and decoder, with
//! what the last request list was found to be.

use crate::headers::{self, BlockKind, HeaderList, MessageInfo};
use crate::hpack::{HeaderDecoder, HeaderEncoder};
use crate::snapshot::{Corrupt, Reader, Writer};

pub(super) struct HeaderCodec {
    pub(super) encoder: HeaderEncoder,
    pub(super) decoder: HeaderDecoder,
    /// The last request list found valid, whether extended CONNECT was
    /// enabled, and what the check found. A repeated block (the same
    /// list, from the decoder) is not checked again.
    request_checked: Option<(HeaderList, bool, MessageInfo)>,
    /// Scratch space for encoding, kept between blocks.
    pub(super) buf: Vec<u8>,
}

impl HeaderCodec {
    pub(super) fn new(max_deflate_dynamic_table_size: u32) -> Self {
        HeaderCodec {
            encoder: HeaderEncoder::new(max_deflate_dynamic_table_size),
            decoder: HeaderDecoder::new(4096),
            request_checked: None,
            buf: Vec::new(),
        }
    }

    /// Checks a received request list (RFC 9113 §8.3.1); `connect` is
    /// whether extended CONNECT is enabled.
    pub(super) fn check_request(
        &mut self,
        fields: &HeaderList,
        connect: bool,
    ) -> Result<MessageInfo, &'static str> {
        if let Some((list, checked_connect, info)) = &self.request_checked
            && list.same(fields)
            && *checked_connect == connect
        {
            return Ok(info.clone());
        }
        let info = headers::check_received(fields, BlockKind::Request, connect)?;
        self.request_checked = Some((fields.clone(), connect, info.clone()));
        Ok(info)
    }

    /// Octets both tables hold: the decoding table twice, as the `hpack`
    /// crate and our copy of it (see `HeaderDecoder`) each hold it.
    pub(super) fn memory(&self) -> usize {
        self.encoder.table_fill() as usize + 2 * self.decoder.table_fill()
    }

    pub(super) fn write(&self, w: &mut Writer) {
        self.encoder.write(w);
        self.decoder.write(w);
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Corrupt> {
        Ok(HeaderCodec {
            encoder: HeaderEncoder::read(r)?,
            decoder: HeaderDecoder::read(r)?,
            request_checked: None,
            buf: Vec::new(),
        })
    }
}
