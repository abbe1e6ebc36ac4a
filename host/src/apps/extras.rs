//! `h2wasm:http2/response-extras` for wasi:http components: 1xx
//! informational responses, server push and stream priority, for the
//! request an instance serves. The glue only: what each call does is
//! the request's own [`Informational`] and [`Http2Stream`] handles, as a
//! Rust service has them.

use crate::service::{Http2Stream, Informational, Priority, full};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use wasmtime::component::{HasData, Linker};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "h2wasm:http2/app-extras",
        imports: { default: async },
    });
}

use bindings::h2wasm::http2::response_extras::{self as extras, StreamPriority};

/// What an instance may do for its request beyond wasi:http: the
/// request's handles, taken from its extensions.
#[derive(Clone, Default)]
pub struct ResponseExtras {
    informational: Option<Informational>,
    http2: Option<Http2Stream>,
    /// The request's scheme and authority, which its pushes take.
    origin: Option<(http::uri::Scheme, http::uri::Authority)>,
}

impl ResponseExtras {
    /// The handles in `request`'s extensions.
    pub fn of<B>(request: &Request<B>) -> ResponseExtras {
        let uri = request.uri();
        ResponseExtras {
            informational: request.extensions().get::<Informational>().cloned(),
            http2: request.extensions().get::<Http2Stream>().cloned(),
            origin: uri.scheme().cloned().zip(uri.authority().cloned()),
        }
    }
}

struct HasExtras;

impl HasData for HasExtras {
    type Data<'a> = &'a mut ResponseExtras;
}

/// Links the interface into `linker`; each instance's handles given by
/// `view`. A component that does not import it is unaffected.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> &mut ResponseExtras,
) -> wasmtime::Result<()> {
    extras::add_to_linker::<_, HasExtras>(linker, view)
}

/// `fields` as a header map; `None` if one is not a valid field.
fn header_map(fields: Vec<(String, Vec<u8>)>) -> Option<HeaderMap> {
    let mut map = HeaderMap::with_capacity(fields.len());
    for (name, value) in fields {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(&value).ok()?;
        map.append(name, value);
    }
    Some(map)
}

impl extras::Host for &mut ResponseExtras {
    async fn send_informational(&mut self, status: u16, fields: Vec<(String, Vec<u8>)>) -> bool {
        let (Some(informational), Ok(status), Some(headers)) = (
            &self.informational,
            StatusCode::from_u16(status),
            header_map(fields),
        ) else {
            return false;
        };
        informational.send(status, headers).await
    }

    async fn push_allowed(&mut self) -> bool {
        self.http2.as_ref().is_some_and(Http2Stream::push_allowed)
    }

    async fn push(
        &mut self,
        path: String,
        status: u16,
        fields: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    ) -> bool {
        let (Some(http2), Some((scheme, authority))) = (&self.http2, &self.origin) else {
            return false;
        };
        let uri = http::Uri::builder()
            .scheme(scheme.clone())
            .authority(authority.clone())
            .path_and_query(path.as_str())
            .build();
        let (Ok(status), Some(headers), Ok(promise)) = (
            StatusCode::from_u16(status),
            header_map(fields),
            uri.map(|uri| Request::get(uri).body(())),
        ) else {
            return false;
        };
        let Ok(promise) = promise else {
            return false;
        };
        if !http2.push_allowed() || !path.starts_with('/') || status.is_informational() {
            return false;
        }
        let Some(pushed) = http2.push(promise).await else {
            return false;
        };
        let mut response = Response::new(full(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        pushed.respond(response).await;
        true
    }

    async fn get_priority(&mut self) -> Option<StreamPriority> {
        let state = self.http2.as_ref()?.state().await?;
        Some(StreamPriority {
            parent: state.parent,
            exclusive: false,
            weight: state.weight,
        })
    }

    async fn set_priority(&mut self, priority: StreamPriority) -> bool {
        let Some(http2) = &self.http2 else {
            return false;
        };
        http2
            .set_priority(Priority {
                parent: priority.parent,
                exclusive: priority.exclusive,
                weight: priority.weight,
            })
            .await
    }
}
