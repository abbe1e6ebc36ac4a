//! What a server application sees: one [`Request`] per stream, answered
//! through its [`Responder`]. Handlers run as tokio tasks; everything they
//! do reaches the engine as commands through the connection's pump, so a
//! slow handler never blocks other streams.

use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// A header as the host handles it: lower-case name, raw value.
pub type Header = (String, Vec<u8>);

/// Something that arrives on a request body.
#[derive(Debug)]
pub enum BodyItem {
    Data(Bytes),
    Trailers(Vec<Header>),
}

/// Commands a handler sends to its connection's pump.
#[derive(Debug)]
pub(crate) enum Command {
    Respond {
        stream_id: u32,
        headers: Vec<Header>,
        /// `None`: no body (END_STREAM on the headers).
        body: Option<mpsc::Receiver<Bytes>>,
        /// A complete body known up front: written and ended at once, which
        /// saves a round through the body channel for small responses.
        whole: Option<Bytes>,
        /// Trailers will follow the body (`send_trailers`).
        trailers: bool,
    },
    Informational {
        stream_id: u32,
        headers: Vec<Header>,
    },
    Trailers {
        stream_id: u32,
        headers: Vec<Header>,
    },
    Reset {
        stream_id: u32,
        code: u32,
    },
    /// The handler processed this many request-body octets: open the
    /// flow-control window again.
    Consumed {
        stream_id: u32,
        n: u32,
    },
    /// Respond with a file the engine reads itself (`respond-with-file`,
    /// `respond-with-fd`).
    RespondWithFile {
        stream_id: u32,
        headers: Vec<Header>,
        file: FileSource,
        offset: u64,
        length: Option<u64>,
    },
    /// Promise a pushed request on `stream_id`; the promised stream's id
    /// (or `None` if the push was refused) comes back on `reply`.
    Push {
        stream_id: u32,
        headers: Vec<Header>,
        reply: tokio::sync::oneshot::Sender<Option<u32>>,
    },
}

/// Where the engine reads a file response from.
#[derive(Debug)]
pub enum FileSource {
    /// A path inside the instance (under [`crate::GUEST_FILES`]).
    Path(String),
    /// A file the host opened, handed over as a descriptor.
    Open(std::fs::File),
}

/// The request body, delivered with flow control: the peer can send more
/// only as the handler reads.
pub struct Body {
    pub(crate) stream_id: u32,
    /// `None`: the request ended with its headers.
    pub(crate) rx: Option<mpsc::UnboundedReceiver<BodyItem>>,
    pub(crate) commands: mpsc::Sender<Command>,
}

impl Body {
    /// The next chunk or the trailers; `None` at the end of the body.
    pub async fn next(&mut self) -> Option<BodyItem> {
        let item = self.rx.as_mut()?.recv().await?;
        if let BodyItem::Data(d) = &item {
            let n = u32::try_from(d.len()).unwrap_or(u32::MAX);
            let _ = self
                .commands
                .send(Command::Consumed {
                    stream_id: self.stream_id,
                    n,
                })
                .await;
        }
        Some(item)
    }
}

impl Drop for Body {
    /// Data queued for a handler that stopped reading still holds the
    /// peer's flow-control credit: hand it back, or an upload the handler
    /// ignored would stall once it filled the window. (Data arriving after
    /// this is handed back by the pump.)
    fn drop(&mut self) {
        let Some(rx) = self.rx.as_mut() else {
            return;
        };
        rx.close();
        let mut unread: u64 = 0;
        while let Ok(item) = rx.try_recv() {
            if let BodyItem::Data(d) = item {
                unread += d.len() as u64;
            }
        }
        if unread > 0 {
            let n = u32::try_from(unread).unwrap_or(u32::MAX);
            let _ = self.commands.try_send(Command::Consumed {
                stream_id: self.stream_id,
                n,
            });
        }
    }
}

/// Answers one stream.
pub struct Responder {
    pub(crate) stream_id: u32,
    pub(crate) commands: mpsc::Sender<Command>,
}

/// Where a response body is written. Dropping it ends the body.
pub struct BodyWriter {
    tx: mpsc::Sender<Bytes>,
}

impl BodyWriter {
    /// Queues a chunk; waits while the stream is congested. Returns false
    /// if the stream is gone (reset or connection closed).
    pub async fn write(&mut self, data: Bytes) -> bool {
        self.tx.send(data).await.is_ok()
    }

    /// Resolves once the stream can take no more (reset, or the connection
    /// closed): a handler waiting on some other source can stop then.
    pub async fn closed(&self) {
        self.tx.closed().await
    }
}

impl Responder {
    pub fn stream_id(&self) -> u32 {
        self.stream_id
    }

    /// Hands a command to the pump; a closed connection makes it a no-op.
    async fn send(&self, cmd: Command) {
        let _ = self.commands.send(cmd).await;
    }

    async fn send_response(
        &self,
        headers: Vec<Header>,
        body: Option<mpsc::Receiver<Bytes>>,
        whole: Option<Bytes>,
        trailers: bool,
    ) {
        self.send(Command::Respond {
            stream_id: self.stream_id,
            headers,
            body,
            whole,
            trailers,
        })
        .await;
    }

    /// Server push (Node's `pushStream`): promises the request `headers`
    /// (`:path` and `:authority` at least; `:method` defaults to GET) and
    /// returns the responder for the pushed stream, or `None` when the
    /// client disabled push or the promise was refused. Push before the
    /// response that refers to the pushed resource.
    pub async fn push(&self, headers: Vec<Header>) -> Option<Responder> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Push {
            stream_id: self.stream_id,
            headers,
            reply,
        })
        .await;
        let stream_id = rx.await.ok()??;
        Some(Responder {
            stream_id,
            commands: self.commands.clone(),
        })
    }

    /// Responds with `length` octets of a file from `offset`, read by the
    /// engine through wasi:filesystem as flow control allows (Node's
    /// `respondWithFile`): `path` is inside the instance, under
    /// [`crate::GUEST_FILES`] where the runtime pre-opened its
    /// `files_root`. `content-length` is set; a file that cannot be read
    /// resets the stream.
    pub async fn respond_with_file(
        &self,
        headers: Vec<Header>,
        path: String,
        offset: u64,
        length: Option<u64>,
    ) {
        self.send(Command::RespondWithFile {
            stream_id: self.stream_id,
            headers,
            file: FileSource::Path(path),
            offset,
            length,
        })
        .await;
    }

    /// [`Responder::respond_with_file`] from a file already open (Node's
    /// `respondWithFD`), wherever it is: the engine gets a read-only
    /// descriptor of it and drops it once the body is sent. Pass a
    /// `try_clone` to keep the file open here.
    pub async fn respond_with_fd(
        &self,
        headers: Vec<Header>,
        file: std::fs::File,
        offset: u64,
        length: Option<u64>,
    ) {
        self.send(Command::RespondWithFile {
            stream_id: self.stream_id,
            headers,
            file: FileSource::Open(file),
            offset,
            length,
        })
        .await;
    }

    /// Sends a 1xx informational response (e.g. 103 Early Hints).
    pub async fn informational(&self, headers: Vec<Header>) {
        self.send(Command::Informational {
            stream_id: self.stream_id,
            headers,
        })
        .await;
    }

    /// Sends headers with no body.
    pub async fn respond_empty(&self, headers: Vec<Header>) {
        self.send_response(headers, None, None, false).await;
    }

    /// Sends headers; the body follows through the returned writer. With
    /// `trailers`, call [`Responder::send_trailers`] after dropping it.
    pub async fn respond(&self, headers: Vec<Header>, trailers: bool) -> BodyWriter {
        let (tx, rx) = mpsc::channel(8);
        self.send_response(headers, Some(rx), None, trailers).await;
        BodyWriter { tx }
    }

    /// Sends a whole body at once.
    pub async fn respond_bytes(&self, headers: Vec<Header>, body: Bytes) {
        let whole = (!body.is_empty()).then_some(body);
        self.send_response(headers, None, whole, false).await;
    }

    pub async fn send_trailers(&self, headers: Vec<Header>) {
        self.send(Command::Trailers {
            stream_id: self.stream_id,
            headers,
        })
        .await;
    }

    /// Resets the stream (RST_STREAM with `code`).
    pub async fn reset(&self, code: u32) {
        self.send(Command::Reset {
            stream_id: self.stream_id,
            code,
        })
        .await;
    }
}

/// One request stream handed to the application.
pub struct Request {
    pub headers: Vec<Header>,
    /// Names of the fields the client sent never-indexed (Node's
    /// `headers[http2.sensitiveHeaders]`).
    pub sensitive: Vec<String>,
    pub body: Body,
    pub responder: Responder,
}

impl Request {
    /// First value of a header (pseudo-headers included), as UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn method(&self) -> &str {
        self.header(":method").unwrap_or("GET")
    }

    pub fn path(&self) -> &str {
        self.header(":path").unwrap_or("/")
    }
}

/// First value of a header in `headers`, as UTF-8.
pub fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// A complete response known without waiting for anything.
#[derive(Debug)]
pub struct Response {
    pub headers: ResponseHeaders,
    pub body: ResponseBody,
}

/// The body of a [`Response`].
#[derive(Debug)]
pub enum ResponseBody {
    /// In memory; empty: the headers end the stream.
    Bytes(Bytes),
    /// `length` octets of a file from `offset`, read by the engine as flow
    /// control allows (see [`Responder::respond_with_file`]); `path` is
    /// inside the instance. `content-length` is set.
    File {
        path: String,
        offset: u64,
        length: u64,
    },
}

impl From<Bytes> for ResponseBody {
    fn from(b: Bytes) -> Self {
        ResponseBody::Bytes(b)
    }
}

impl ResponseBody {
    /// Octets the body holds.
    pub fn len(&self) -> u64 {
        match self {
            ResponseBody::Bytes(b) => b.len() as u64,
            ResponseBody::File { length, .. } => *length,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Responder {
    /// Sends a complete [`Response`].
    pub async fn respond_with(&self, response: Response) {
        match response.body {
            ResponseBody::Bytes(b) => self.respond_bytes(response.headers.into_vec(), b).await,
            ResponseBody::File {
                path,
                offset,
                length,
            } => {
                self.respond_with_file(response.headers.into_vec(), path, offset, Some(length))
                    .await
            }
        }
    }
}

/// The headers of a [`Response`]: built for this one, or shared by many.
#[derive(Clone, Debug)]
pub enum ResponseHeaders {
    Owned(Vec<Header>),
    Shared(SharedHeaders),
}

impl ResponseHeaders {
    pub fn as_slice(&self) -> &[Header] {
        match self {
            ResponseHeaders::Owned(h) => h,
            ResponseHeaders::Shared(s) => s.headers(),
        }
    }

    pub fn into_vec(self) -> Vec<Header> {
        match self {
            ResponseHeaders::Owned(h) => h,
            ResponseHeaders::Shared(s) => s.headers().to_vec(),
        }
    }
}

impl From<Vec<Header>> for ResponseHeaders {
    fn from(headers: Vec<Header>) -> Self {
        ResponseHeaders::Owned(headers)
    }
}

impl From<SharedHeaders> for ResponseHeaders {
    fn from(headers: SharedHeaders) -> Self {
        ResponseHeaders::Shared(headers)
    }
}

/// Final response headers built once and answered with many times (a
/// cached file's, a fixed page's). The pump hands them to each
/// connection's engine once (`prepare-headers`) and then answers with a
/// handle: they cross into the sandbox and are checked once per
/// connection, and their HPACK block is reused while the table allows.
#[derive(Clone, Debug)]
pub struct SharedHeaders(Arc<SharedInner>);

#[derive(Debug)]
struct SharedInner {
    id: u64,
    headers: Vec<Header>,
}

impl SharedHeaders {
    pub fn new(headers: Vec<Header>) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        SharedHeaders(Arc::new(SharedInner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            headers,
        }))
    }

    pub fn headers(&self) -> &[Header] {
        &self.0.headers
    }

    /// Unique in the process: what a connection knows this list by.
    pub fn id(&self) -> u64 {
        self.0.id
    }
}

/// A server application: called once per request stream, on its own task.
pub trait App: Send + Sync + 'static {
    fn handle(&self, req: Request) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

    /// Answers a request that has no body at once, when the answer needs no
    /// waiting (a cached file, a fixed page): the pump then sends it in the
    /// same pass that read the request, with no task, channel or wake-up.
    /// `None` (the default) hands the request to [`App::handle`].
    fn respond_now(&self, headers: &[Header]) -> Option<Response> {
        let _ = headers;
        None
    }
}

impl<F, Fut> App for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn handle(&self, req: Request) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(self(req))
    }
}

pub type SharedApp = Arc<dyn App>;

/// Builds a header list: `(":status", "200")` style pairs.
pub fn headers<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<Header> {
    pairs
        .into_iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect()
}
