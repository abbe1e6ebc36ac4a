//! What a connection's streams share while it holds an instance: the
//! service, the handles' channel, and the facts every request carries.

use super::control::{StreamCommand, StreamSink};
use crate::service::body::BodyNote;
use crate::service::{ConnectionInfo, SharedService};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What a connection's streams share.
pub(crate) struct StreamContext<'a> {
    /// Locked only to call it (never across an await): the connection's
    /// own clone, so that a request costs no clone of the service.
    pub service: &'a std::sync::Mutex<SharedService>,
    pub commands: &'a mpsc::Sender<StreamCommand>,
    /// Shared by every request's `Http2Stream` and `Informational`.
    pub sink: &'a Arc<StreamSink>,
    pub consumed: &'a mpsc::UnboundedSender<BodyNote>,
    pub info: &'a ConnectionInfo,
    /// Where [`ServeFile`] paths inside the instance are on the host.
    pub files_root: Option<&'a Path>,
}
