//! The connection's side of its requests' handles: what [`Http2Stream`],
//! [`Informational`] and pushed streams ask of it comes here as
//! [`StreamCommand`]s, which the connection's driver applies between
//! turns.
//!
//! [`Http2Stream`]: crate::service::Http2Stream
//! [`Informational`]: crate::service::Informational

use crate::service::{
    BoxError, BoxFuture, Http2Control, InterimSink, Priority, ResponseBody, SessionState, Settings,
    StreamState,
};
use http::{HeaderMap, Request, Response, StatusCode};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What services (through their [`Http2Stream`] and [`Informational`]
/// handles, or their spawned tasks) ask of the connection.
pub(crate) enum StreamCommand {
    /// A response that was not ready at once, or a pushed stream's.
    Respond {
        stream_id: u32,
        /// The request was HEAD: the response's body is not sent.
        head: bool,
        response: Result<Response<ResponseBody>, BoxError>,
    },
    Informational {
        stream_id: u32,
        status: StatusCode,
        headers: HeaderMap,
        done: oneshot::Sender<bool>,
    },
    Push {
        stream_id: u32,
        request: Request<()>,
        reply: oneshot::Sender<Option<u32>>,
    },
    Priority {
        stream_id: u32,
        priority: Priority,
        reply: oneshot::Sender<bool>,
    },
    StreamState {
        stream_id: u32,
        reply: oneshot::Sender<Option<StreamState>>,
    },
    SessionState {
        reply: oneshot::Sender<SessionState>,
    },
    RemoteSettings {
        reply: oneshot::Sender<Settings>,
    },
    SetTimeout {
        stream_id: u32,
        timeout: Option<Duration>,
        reply: oneshot::Sender<bool>,
    },
    /// Answered when the stream times out (dropped if it closes first).
    TimedOut {
        stream_id: u32,
        reply: oneshot::Sender<()>,
    },
    Ping {
        payload: Option<u64>,
        reply: oneshot::Sender<Option<Duration>>,
    },
    Settings {
        settings: Settings,
        reply: oneshot::Sender<bool>,
    },
    Goaway {
        code: u32,
        opaque_data: Vec<u8>,
        reply: oneshot::Sender<bool>,
    },
    LocalWindow {
        size: u32,
        reply: oneshot::Sender<bool>,
    },
}

/// Shared by every handle of a connection's requests: one allocation per
/// connection, so that a request's handles cost it a reference count, not
/// channel senders.
pub(crate) struct StreamSink {
    pub(crate) commands: mpsc::Sender<StreamCommand>,
    /// The client's ENABLE_PUSH.
    pub(crate) push_allowed: bool,
}

impl StreamSink {
    /// Sends `command` and waits for its answer; `None` if the connection
    /// is gone.
    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> StreamCommand) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).await.ok()?;
        answer.await.ok()
    }
}

impl InterimSink for StreamSink {
    fn send(&self, stream_id: u32, status: StatusCode, headers: HeaderMap) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            self.ask(|done| StreamCommand::Informational {
                stream_id,
                status,
                headers,
                done,
            })
            .await
            .unwrap_or(false)
        })
    }
}

impl Http2Control for StreamSink {
    fn push(&self, stream_id: u32, request: Request<()>) -> BoxFuture<'_, Option<u32>> {
        Box::pin(async move {
            self.ask(|reply| StreamCommand::Push {
                stream_id,
                request,
                reply,
            })
            .await
            .flatten()
        })
    }

    fn respond(
        &self,
        stream_id: u32,
        head: bool,
        response: Response<ResponseBody>,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self
                .commands
                .send(StreamCommand::Respond {
                    stream_id,
                    head,
                    response: Ok(response),
                })
                .await;
        })
    }

    fn set_priority(&self, stream_id: u32, priority: Priority) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            self.ask(|reply| StreamCommand::Priority {
                stream_id,
                priority,
                reply,
            })
            .await
            .unwrap_or(false)
        })
    }

    fn stream_state(&self, stream_id: u32) -> BoxFuture<'_, Option<StreamState>> {
        Box::pin(async move {
            self.ask(|reply| StreamCommand::StreamState { stream_id, reply })
                .await
                .flatten()
        })
    }

    fn session_state(&self) -> BoxFuture<'_, Option<SessionState>> {
        Box::pin(async move {
            self.ask(|reply| StreamCommand::SessionState { reply })
                .await
        })
    }

    fn set_timeout(&self, stream_id: u32, timeout: Option<Duration>) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            self.ask(|reply| StreamCommand::SetTimeout {
                stream_id,
                timeout,
                reply,
            })
            .await
            .unwrap_or(false)
        })
    }

    fn timed_out(&self, stream_id: u32) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            self.ask(|reply| StreamCommand::TimedOut { stream_id, reply })
                .await
                .is_some()
        })
    }

    fn remote_settings(&self) -> BoxFuture<'_, Option<Settings>> {
        Box::pin(async move {
            self.ask(|reply| StreamCommand::RemoteSettings { reply })
                .await
        })
    }

    fn ping(&self, payload: Option<u64>) -> BoxFuture<'_, Option<Duration>> {
        Box::pin(async move {
            self.ask(|reply| StreamCommand::Ping { payload, reply })
                .await
                .flatten()
        })
    }

    fn update_settings(&self, settings: Settings) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            self.ask(|reply| StreamCommand::Settings { settings, reply })
                .await
                .unwrap_or(false)
        })
    }

    fn goaway(&self, code: u32, opaque_data: Vec<u8>) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            self.ask(|reply| StreamCommand::Goaway {
                code,
                opaque_data,
                reply,
            })
            .await
            .unwrap_or(false)
        })
    }

    fn set_local_window_size(&self, size: u32) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            self.ask(|reply| StreamCommand::LocalWindow { size, reply })
                .await
                .unwrap_or(false)
        })
    }
}
