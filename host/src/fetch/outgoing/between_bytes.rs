//! A deadline between a body's frames: a peer that stops sending in the
//! middle of a body (an upstream after its response's head, a client in
//! the middle of a request it has us forward) would otherwise hold the
//! stream and the connection under it for as long as it likes.

use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::Error;

/// `body`, failing with [`Error::ConnectionReadTimeout`] when no frame
/// comes for `limit`. The timer is set again only when the body waits
/// (not at every frame): a body that keeps coming costs a clock read per
/// frame.
pub(crate) struct BetweenBytes<B> {
    body: B,
    limit: Duration,
    /// When the last frame came (or the body began).
    progress: Instant,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> BetweenBytes<B> {
    pub(crate) fn new(body: B, limit: Duration) -> BetweenBytes<B> {
        BetweenBytes {
            body,
            limit,
            progress: Instant::now(),
            timer: None,
        }
    }
}

impl<B> Body for BetweenBytes<B>
where
    B: Body<Error = Error> + Unpin,
{
    type Data = B::Data;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            this.progress = Instant::now();
            return Poll::Ready(frame);
        }
        loop {
            let deadline = this.progress + this.limit;
            let timer = this
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            ready!(timer.as_mut().poll(cx));
            if Instant::now() >= this.progress + this.limit {
                return Poll::Ready(Some(Err(Error::ConnectionReadTimeout)));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::BodyExt;
    use http_body_util::combinators::UnsyncBoxBody;

    type Chunks = UnsyncBoxBody<Bytes, Error>;

    /// Frames sent through a channel, as a peer would.
    fn channel() -> (tokio::sync::mpsc::Sender<Bytes>, Chunks) {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        let stream = futures_util::StreamExt::map(stream, |b| Ok::<_, Error>(Frame::data(b)));
        (tx, http_body_util::StreamBody::new(stream).boxed_unsync())
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_coming_is_never_cut() {
        let (tx, body) = channel();
        let mut body = BetweenBytes::new(body, Duration::from_secs(5));
        tokio::spawn(async move {
            // 30 s in all, never 5 s between frames.
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_secs(3)).await;
                tx.send(Bytes::from_static(b"x")).await.unwrap();
            }
        });
        let mut got = 0;
        while let Some(frame) = body.frame().await {
            got += frame.unwrap().into_data().unwrap().len();
        }
        assert_eq!(got, 10);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_fails_after_the_limit() {
        let (tx, body) = channel();
        let mut body = BetweenBytes::new(body, Duration::from_secs(5));
        tx.send(Bytes::from_static(b"x")).await.unwrap();
        assert!(body.frame().await.unwrap().is_ok());
        let start = Instant::now();
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(matches!(err, Error::ConnectionReadTimeout), "{err:?}");
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        drop(tx);
    }
}
