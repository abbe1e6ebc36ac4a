//! The connection's flow-control windows (RFC 9113 §6.9): what we may
//! still send, and what the peer may.

use crate::flow::{RecvWindow, SendWindow};
use crate::settings::DEFAULT_WINDOW_SIZE;
use crate::snapshot::{Corrupt, Reader, Writer};

pub(super) struct ConnectionWindows {
    pub(super) send: SendWindow,
    pub(super) recv: RecvWindow,
}

impl Default for ConnectionWindows {
    fn default() -> Self {
        ConnectionWindows {
            send: SendWindow::new(DEFAULT_WINDOW_SIZE),
            recv: RecvWindow::new(DEFAULT_WINDOW_SIZE),
        }
    }
}

impl ConnectionWindows {
    pub(super) fn write(&self, w: &mut Writer) {
        self.send.write(w);
        self.recv.write(w);
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Corrupt> {
        Ok(ConnectionWindows {
            send: SendWindow::read(r)?,
            recv: RecvWindow::read(r)?,
        })
    }
}
