//! Loads the embedded engine component with wasmtime, runs a client and a
//! server connection in two separate instances, relays bytes between them,
//! and completes requests with bodies: the WIT surface end to end.

use h2wasm::bindings::{
    Event, HeaderField, HeldSpan, Options, RequestOptions, RespondOptions, Role,
};
use h2wasm::{DriveInput, EngineConnection, Runtime, RuntimeConfig};
use std::collections::HashMap;

fn field(name: &str, value: &[u8]) -> HeaderField {
    HeaderField {
        name: name.into(),
        value: value.to_vec(),
        sensitive: false,
    }
}

/// A GET with no body.
const POST: RequestOptions = RequestOptions {
    end_stream: false,
    ..GET
};

const GET: RequestOptions = RequestOptions {
    end_stream: true,
    wait_for_trailers: false,
    priority: None,
    manual_consume: false,
};

/// A client and a server connection, each in its own instance.
async fn connected(config: RuntimeConfig) -> (Runtime, EngineConnection, EngineConnection) {
    let runtime = Runtime::embedded(&config).unwrap();
    let mut options = runtime.default_options().await.unwrap();
    options.authority = "localhost".into();
    let client = runtime.connect(Role::Client, &options, 0).await.unwrap();
    let server = runtime.connect(Role::Server, &options, 0).await.unwrap();
    (runtime, client, server)
}

/// Moves bytes both ways until both sides are idle; returns the events
/// each side produced.
async fn relay(
    client: &mut EngineConnection,
    server: &mut EngineConnection,
) -> (Vec<Event>, Vec<Event>) {
    let (mut ce, mut se) = (Vec::new(), Vec::new());
    loop {
        let to_server = client.poll_transmit(256 * 1024).await.unwrap().octets;
        if !to_server.is_empty() {
            server.receive(0, &to_server).await.unwrap().unwrap();
        }
        let to_client = server.poll_transmit(256 * 1024).await.unwrap().octets;
        if !to_client.is_empty() {
            client.receive(0, &to_client).await.unwrap().unwrap();
        }
        ce.extend(client.poll_events().await.unwrap());
        se.extend(server.poll_events().await.unwrap());
        if to_server.is_empty() && to_client.is_empty() {
            return (ce, se);
        }
    }
}

/// A pool for a pair of connections. The default one reserves ~40 TiB of
/// address space, and tests run side by side in this process.
fn pair_config() -> RuntimeConfig {
    RuntimeConfig {
        max_connections: 4,
        ..RuntimeConfig::default()
    }
}

#[tokio::test]
async fn client_and_server_instances_exchange_requests_with_bodies() {
    let (_runtime, mut client, mut server) = connected(RuntimeConfig {
        max_connections: 4,
        ..Default::default()
    })
    .await;

    // Three POSTs with bodies of different sizes, concurrently.
    let sizes = [0usize, 70_000, 300_000];
    let mut sent: HashMap<u32, Vec<u8>> = HashMap::new();
    for (i, &size) in sizes.iter().enumerate() {
        let body: Vec<u8> = (0..size).map(|b| (b * 7 + i) as u8).collect();
        let id = client
            .request(
                &[field(":method", b"POST"), field(":path", b"/echo")],
                RequestOptions {
                    end_stream: false,
                    wait_for_trailers: false,
                    priority: None,
                    manual_consume: false,
                },
            )
            .await
            .unwrap()
            .unwrap();
        client.write(id, &body).await.unwrap().unwrap();
        client.end(id).await.unwrap().unwrap();
        sent.insert(id, body);
    }

    // The server echoes each body back once the request is complete.
    let mut received: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut requests = Vec::new();
    let mut responses: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut finished = 0;
    for _ in 0..100 {
        let (ce, se) = relay(&mut client, &mut server).await;
        for e in se {
            match e {
                Event::Request(h) => {
                    let path = h.headers.iter().find(|f| f.name == ":path").unwrap();
                    assert_eq!(path.value, b"/echo");
                    requests.push(h.stream_id);
                    received.entry(h.stream_id).or_default();
                    if h.end_stream {
                        echo(&mut server, h.stream_id, &[]).await;
                    }
                }
                Event::Data(d) => {
                    received.entry(d.stream_id).or_default().extend(&d.data);
                    if d.end_stream {
                        let body = received[&d.stream_id].clone();
                        echo(&mut server, d.stream_id, &body).await;
                    }
                }
                _ => {}
            }
        }
        for e in ce {
            match e {
                Event::Response(h) => {
                    assert_eq!(h.headers[0].name, ":status");
                    assert_eq!(h.headers[0].value, b"200");
                    responses.entry(h.stream_id).or_default();
                }
                Event::Data(d) => {
                    responses.entry(d.stream_id).or_default().extend(&d.data);
                }
                Event::StreamClosed(c) => {
                    assert_eq!(c.code, 0);
                    finished += 1;
                }
                _ => {}
            }
        }
        if finished == sizes.len() {
            break;
        }
    }
    assert_eq!(requests.len(), sizes.len());
    assert_eq!(finished, sizes.len(), "every stream closed cleanly");
    for (id, body) in &sent {
        assert_eq!(&received[id], body, "request body of stream {id}");
        assert_eq!(&responses[id], body, "response body of stream {id}");
    }
    let state = server.state().await.unwrap();
    assert_eq!(state.last_proc_stream_id, 5);
    assert_eq!(
        client.remote_settings().await.unwrap().max_frame_size,
        Some(16_384)
    );
}

async fn echo(server: &mut EngineConnection, id: u32, body: &[u8]) {
    server
        .respond(
            id,
            &[field(":status", b"200")],
            RespondOptions {
                end_stream: false,
                wait_for_trailers: false,
            },
        )
        .await
        .unwrap()
        .unwrap();
    server.write(id, body).await.unwrap().unwrap();
    server.end(id).await.unwrap().unwrap();
}

#[tokio::test]
async fn malformed_input_is_an_error_value_not_a_trap() {
    let runtime = Runtime::embedded(&RuntimeConfig {
        max_connections: 2,
        ..Default::default()
    })
    .unwrap();
    let options = runtime.default_options().await.unwrap();
    let mut server = runtime.connect(Role::Server, &options, 0).await.unwrap();
    let err = server
        .receive(0, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("no trap")
        .expect_err("not an HTTP/2 preface");
    assert_eq!(err.code, 1, "PROTOCOL_ERROR");
    let out = server.poll_transmit(4096).await.unwrap().octets;
    // Walk the frames: the server's SETTINGS, then GOAWAY(PROTOCOL_ERROR).
    let mut kinds = Vec::new();
    let mut rest = &out[..];
    while rest.len() >= 9 {
        let len = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]) as usize;
        kinds.push((rest[3], rest[9..9 + len].to_vec()));
        rest = &rest[9 + len..];
    }
    assert_eq!(kinds[0].0, 0x4, "SETTINGS first");
    let goaway = &kinds.last().unwrap();
    assert_eq!(goaway.0, 0x7, "GOAWAY last");
    assert_eq!(goaway.1[4..8], [0, 0, 0, 1], "PROTOCOL_ERROR");
    assert!(server.is_closed().await.unwrap());
}

#[tokio::test]
async fn utilities_reach_embedders_through_wit() {
    use h2wasm::bindings::NodeHeaderValue;
    let runtime = Runtime::embedded(&RuntimeConfig {
        max_connections: 4,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let table = runtime.constants().await.unwrap();
    let number = |name: &str| {
        table
            .numbers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    };
    assert_eq!(number("NGHTTP2_REFUSED_STREAM"), Some(7));
    assert_eq!(number("NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL"), Some(8));
    assert_eq!(number("NGHTTP2_PUSH_PROMISE"), Some(5));
    assert_eq!(number("HTTP_STATUS_NOT_FOUND"), Some(404));
    assert!(
        table
            .strings
            .contains(&("HTTP2_HEADER_CONTENT_TYPE".into(), "content-type".into()))
    );
    assert!(
        table
            .strings
            .contains(&("HTTP2_METHOD_GET".into(), "GET".into()))
    );

    let view = runtime
        .node_headers(&[
            field(":status", b"200"),
            field("set-cookie", b"a=1"),
            field("set-cookie", b"b=2"),
            field("cookie", b"x=1"),
            field("cookie", b"y=2"),
            field("content-length", b"5"),
            field("content-length", b"6"),
            field("vary", b"a"),
            field("vary", b"b"),
        ])
        .await
        .unwrap();
    let get = |name: &str| {
        view.iter()
            .find(|h| h.name == name)
            .map(|h| h.value.clone())
    };
    assert!(matches!(get(":status"), Some(NodeHeaderValue::Number(200))));
    assert!(matches!(get("set-cookie"), Some(NodeHeaderValue::Values(v)) if v == ["a=1", "b=2"]));
    assert!(matches!(get("cookie"), Some(NodeHeaderValue::Text(t)) if t == "x=1; y=2"));
    assert!(matches!(get("content-length"), Some(NodeHeaderValue::Text(t)) if t == "5"));
    assert!(matches!(get("vary"), Some(NodeHeaderValue::Text(t)) if t == "a, b"));
}

#[tokio::test]
async fn respond_with_file_reads_only_the_preopened_directory() {
    use h2wasm::bindings::CommandError;
    let root = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 249) as u8).collect();
    std::fs::write(root.path().join("big.bin"), &data).unwrap();
    // A secret next to the root, and a symlink inside pointing at it.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "no").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("link")).unwrap();
    let (_runtime, mut client, mut server) = connected(RuntimeConfig {
        max_connections: 4,
        files_root: Some(root.path().to_path_buf()),
        ..Default::default()
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(
            client
                .request(&[field(":path", b"/")], GET)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    relay(&mut client, &mut server).await;
    for path in [
        "/files/../etc/passwd",
        "/etc/passwd",
        "/files/link",
        "/files/missing",
    ] {
        let r = server
            .respond_with_file(ids[0], &[], path, 0, None)
            .await
            .unwrap();
        assert!(
            matches!(
                r,
                Err(CommandError::File(_) | CommandError::InvalidArgument(_))
            ),
            "{path}: {r:?}"
        );
    }
    let stat = server
        .respond_with_file(ids[0], &[], "/files/big.bin", 100, Some(200_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stat.size, 300_000);
    let (events, _) = relay(&mut client, &mut server).await;
    let body: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            Event::Data(d) if d.stream_id == ids[0] => Some(d.data.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(body, &data[100..200_100]);
}

/// Prepared headers through the WIT: one handle answers many streams,
/// singly and in a batch; refusals come back per stream, and the client
/// instance (a separate HPACK decoder state) decodes every block.
#[tokio::test]
async fn prepared_headers_answer_streams_singly_and_in_batches() {
    use h2wasm::bindings::{CommandError, PreparedResponse};
    let (_runtime, mut client, mut server) = connected(RuntimeConfig {
        max_connections: 4,
        ..Default::default()
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(client.request(&[], GET).await.unwrap().unwrap());
    }
    relay(&mut client, &mut server).await;

    let page = [
        field(":status", b"200"),
        field("content-type", b"text/html"),
        field("x-page", b"cached"),
    ];
    let handle = server.prepare_headers(&page).await.unwrap().unwrap();
    assert!(matches!(
        server
            .prepare_headers(&[field(":status", b"100")])
            .await
            .unwrap(),
        Err(CommandError::InvalidHeader(_))
    ));
    server
        .respond_prepared(ids[0], handle, b"one")
        .await
        .unwrap()
        .unwrap();
    // Bodies back to back: streams 1..4 get "many" each, ids[5] none;
    // stream 99 does not exist, stream 103 names a header list the call
    // did not lend (its octets are skipped all the same), and the last
    // claims more than is left.
    let mut bodies = Vec::new();
    let batch: Vec<PreparedResponse> = ids[1..]
        .iter()
        .map(|&stream_id| {
            let body: &[u8] = if stream_id == ids[5] { b"" } else { b"many" };
            bodies.extend_from_slice(body);
            PreparedResponse {
                stream_id,
                headers: 0,
                body_length: body.len() as u32,
            }
        })
        .chain([
            PreparedResponse {
                stream_id: 99,
                headers: 0,
                body_length: 0,
            },
            PreparedResponse {
                stream_id: 103,
                headers: 1,
                body_length: 2,
            },
            PreparedResponse {
                stream_id: 101,
                headers: 0,
                body_length: 1,
            },
        ])
        .collect();
    bodies.extend_from_slice(b"xx");
    // The batch goes with a drive that takes no output: the relay below
    // carries it.
    let given = DriveInput {
        headers: &[handle],
        responses: &batch,
        bodies: &bodies,
        ..DriveInput::default()
    };
    let refused = server.drive(0, &given, 0).await.unwrap().refused;
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert_eq!(refused[0].0, 99);
    assert!(matches!(refused[0].1, CommandError::UnknownStream));
    assert_eq!(refused[1].0, 103);
    assert!(matches!(refused[1].1, CommandError::InvalidArgument(_)));
    assert_eq!(refused[2].0, 101);
    assert!(matches!(refused[2].1, CommandError::InvalidArgument(_)));
    server.drop_prepared(handle).await.unwrap();

    let (events, _) = relay(&mut client, &mut server).await;
    let mut bodies: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut heads = 0;
    for e in events {
        match e {
            Event::Response(h) => {
                let got: Vec<(&str, &[u8])> = h
                    .headers
                    .iter()
                    .map(|f| (f.name.as_str(), f.value.as_slice()))
                    .collect();
                let want: Vec<(&str, &[u8])> = page
                    .iter()
                    .map(|f| (f.name.as_str(), f.value.as_slice()))
                    .collect();
                assert_eq!(got, want, "stream {}", h.stream_id);
                assert_eq!(h.end_stream, h.stream_id == ids[5]);
                heads += 1;
            }
            Event::Data(d) => bodies.entry(d.stream_id).or_default().extend(&d.data),
            _ => {}
        }
    }
    assert_eq!(heads, 6);
    assert_eq!(bodies[&ids[0]], b"one");
    for id in &ids[1..5] {
        assert_eq!(bodies[id], b"many");
    }
}

/// A received header list as (kind, stream, fields, end-stream), from
/// either form of event; other events are `None`.
type Received = (&'static str, u32, Vec<(String, Vec<u8>, bool)>, bool);

fn received(event: Event) -> Option<Received> {
    use h2wasm::bindings::HeaderKind;
    let plain = |fields: Vec<HeaderField>| {
        fields
            .into_iter()
            .map(|f| (f.name, f.value, f.sensitive))
            .collect::<Vec<_>>()
    };
    Some(match event {
        Event::Request(h) => ("request", h.stream_id, plain(h.headers), h.end_stream),
        Event::Response(h) => ("response", h.stream_id, plain(h.headers), h.end_stream),
        Event::Informational(h) => ("informational", h.stream_id, plain(h.headers), h.end_stream),
        Event::Trailers(h) => ("trailers", h.stream_id, plain(h.headers), h.end_stream),
        Event::HeaderBlock(b) => {
            let kind = match b.kind {
                HeaderKind::Request => "request",
                HeaderKind::Response => "response",
                HeaderKind::Informational => "informational",
                HeaderKind::Trailers => "trailers",
            };
            let mut at = 0;
            let mut fields = Vec::new();
            for span in &b.headers.fields {
                let (n, v) = (span.name_len as usize, span.value_len as usize);
                let name = String::from_utf8(b.headers.octets[at..at + n].to_vec()).unwrap();
                fields.push((
                    name,
                    b.headers.octets[at + n..at + n + v].to_vec(),
                    span.sensitive,
                ));
                at += n + v;
            }
            assert_eq!(
                at,
                b.headers.octets.len(),
                "the spans cover the buffer exactly"
            );
            (kind, b.stream_id, fields, b.end_stream)
        }
        _ => return None,
    })
}

/// One exchange with every kind of received header list (a request with a
/// sensitive field and an empty value, 103, a response, trailers), on a
/// pair of connections with `header-blocks` set as given.
async fn headers_received(blocks: bool) -> (Vec<Received>, Vec<Received>, usize) {
    let runtime = Runtime::embedded(&pair_config()).unwrap();
    let mut options = runtime.default_options().await.unwrap();
    assert!(!options.header_blocks, "plain header events by default");
    options.authority = "localhost".into();
    options.header_blocks = blocks;
    let mut client = runtime.connect(Role::Client, &options, 0).await.unwrap();
    let mut server = runtime.connect(Role::Server, &options, 0).await.unwrap();
    let mut secret = field("x-secret", b"s3cret");
    secret.sensitive = true;
    let request = [
        field(":method", b"GET"),
        field(":path", b"/a?b=c"),
        field("x-empty", b""),
        secret,
        field("accept", b"*/*"),
    ];
    client.request(&request, GET).await.unwrap().unwrap();
    let (mut at_client, mut at_server, mut blocks_seen) = (Vec::new(), Vec::new(), 0);
    for _ in 0..20 {
        let (ce, se) = relay(&mut client, &mut server).await;
        for e in se {
            blocks_seen += usize::from(matches!(e, Event::HeaderBlock(_)));
            if let Event::WantTrailers(id) = e {
                let trailers = [field("x-checksum", b"abc")];
                server.send_trailers(id, &trailers).await.unwrap().unwrap();
                continue;
            }
            if let Some(r) = received(e) {
                let id = r.1;
                at_server.push(r);
                server
                    .additional_headers(id, &[field(":status", b"103"), field("link", b"</s>")])
                    .await
                    .unwrap()
                    .unwrap();
                let opts = RespondOptions {
                    end_stream: false,
                    wait_for_trailers: true,
                };
                let head = [field(":status", b"200"), field("x-r", b"1")];
                server.respond(id, &head, opts).await.unwrap().unwrap();
                server.write(id, b"body").await.unwrap().unwrap();
                server.end(id).await.unwrap().unwrap();
            }
        }
        for e in ce {
            blocks_seen += usize::from(matches!(e, Event::HeaderBlock(_)));
            if let Some(r) = received(e) {
                at_client.push(r);
            }
        }
        if at_client.iter().any(|r| r.0 == "trailers") {
            break;
        }
    }
    (at_client, at_server, blocks_seen)
}

#[tokio::test]
async fn header_blocks_carry_what_header_events_carry() {
    let (plain_client, plain_server, none) = headers_received(false).await;
    let (block_client, block_server, blocks) = headers_received(true).await;
    assert_eq!(none, 0, "no header-block events unless asked for");
    assert_eq!(blocks, 4, "request, 103, response and trailers as blocks");
    let kinds: Vec<_> = block_client.iter().map(|r| r.0).collect();
    assert_eq!(kinds, ["informational", "response", "trailers"]);
    assert_eq!(block_server.len(), 1);
    let request = &block_server[0].2;
    assert!(request.contains(&("x-empty".into(), Vec::new(), false)));
    assert!(request.contains(&("x-secret".into(), b"s3cret".to_vec(), true)));
    assert_eq!(
        block_client[2].2,
        [("x-checksum".into(), b"abc".to_vec(), false)]
    );
    assert!(block_client[2].3, "trailers end the stream");
    assert_eq!(block_client, plain_client);
    assert_eq!(block_server, plain_server);
}

#[tokio::test]
async fn a_request_equal_to_the_previous_one_comes_as_a_repeated_request() {
    let runtime = Runtime::embedded(&pair_config()).unwrap();
    let mut options = runtime.default_options().await.unwrap();
    options.authority = "localhost".into();
    options.header_blocks = true;
    let mut client = runtime.connect(Role::Client, &options, 0).await.unwrap();
    let mut server = runtime.connect(Role::Server, &options, 0).await.unwrap();
    let get = |path: &str| [field(":method", b"GET"), field(":path", path.as_bytes())];
    let mut secret = get("/a").to_vec();
    secret[1].sensitive = true;
    let long = "/".to_string() + &"x".repeat(600);
    // (request, repeated?) in the order sent, one stream each.
    let cases: Vec<(Vec<HeaderField>, bool)> = vec![
        (get("/a").to_vec(), false),
        (get("/a").to_vec(), true),
        (get("/a").to_vec(), true),
        (get("/b").to_vec(), false),
        (get("/a").to_vec(), false),
        // Never-indexed is part of a field: not a repeat.
        (secret.clone(), false),
        (secret, true),
        // Lists over 512 octets are not kept, so never repeated.
        (get(&long).to_vec(), false),
        (get(&long).to_vec(), false),
    ];
    for (fields, _) in &cases {
        client.request(fields, GET).await.unwrap().unwrap();
    }
    let (ce, se) = relay(&mut client, &mut server).await;
    // (stream, the block's octets, or None for a repeat)
    let requests: Vec<(u32, Option<Vec<u8>>)> = se
        .into_iter()
        .filter_map(|e| match e {
            Event::HeaderBlock(b) => Some((b.stream_id, Some(b.headers.octets))),
            Event::RepeatedRequest(r) => {
                assert!(r.end_stream, "a GET ends its stream");
                Some((r.stream_id, None))
            }
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), cases.len());
    for ((_, octets), (fields, repeated)) in requests.iter().zip(&cases) {
        assert_eq!(octets.is_none(), *repeated, "{fields:?}");
        if let Some(octets) = octets {
            let path = fields[1].value.as_slice();
            let at = octets.windows(path.len()).position(|w| w == path);
            assert!(at.is_some(), "a fresh block carries its fields");
        }
    }
    // Only requests repeat: the client's response blocks never do.
    for (id, _) in requests.iter().map(|r| (r.0, ())) {
        let head = [field(":status", b"200")];
        let opts = RespondOptions {
            end_stream: true,
            wait_for_trailers: false,
        };
        server.respond(id, &head, opts).await.unwrap().unwrap();
    }
    let (responses, _) = relay(&mut client, &mut server).await;
    let responses: Vec<_> = ce
        .into_iter()
        .chain(responses)
        .filter_map(|e| match e {
            Event::HeaderBlock(_) => Some(false),
            Event::RepeatedRequest(_) => Some(true),
            _ => None,
        })
        .collect();
    assert_eq!(responses, vec![false; cases.len()]);
}

/// The body data a server's `drive` reported, as (stream, octets, end,
/// from `input-data`?), resolving `input-data` against `input`.
fn body_events(events: Vec<Event>, input: &[u8]) -> Vec<(u32, Vec<u8>, bool, bool)> {
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Data(d) => Some((d.stream_id, d.data, d.end_stream, false)),
            Event::InputData(d) => {
                let (at, len) = (d.at as usize, d.length as usize);
                Some((
                    d.stream_id,
                    input[at..at + len].to_vec(),
                    d.end_stream,
                    true,
                ))
            }
            _ => None,
        })
        .collect()
}

/// A client and a server past their handshake, and a POST the client has
/// opened (its headers not yet sent).
async fn posting(
    runtime: &Runtime,
    client_options: &Options,
    server_options: &Options,
) -> (EngineConnection, EngineConnection, u32) {
    let mut client = runtime
        .connect(Role::Client, client_options, 0)
        .await
        .unwrap();
    let mut server = runtime
        .connect(Role::Server, server_options, 0)
        .await
        .unwrap();
    relay(&mut client, &mut server).await;
    let id = client
        .request(&[field(":method", b"POST")], POST)
        .await
        .unwrap()
        .unwrap();
    (client, server, id)
}

#[tokio::test]
async fn data_parsed_in_place_is_reported_as_where_it_sits_in_the_input() {
    let runtime = Runtime::embedded(&pair_config()).unwrap();
    let mut options = runtime.default_options().await.unwrap();
    assert!(!options.input_data, "plain data events by default");
    options.authority = "localhost".into();
    for input_data in [false, true] {
        let mut server_options = options.clone();
        server_options.input_data = input_data;
        let (mut client, mut server, id) = posting(&runtime, &options, &server_options).await;
        let body: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        client.write(id, &body).await.unwrap().unwrap();
        client.end(id).await.unwrap().unwrap();
        let wire = client.poll_transmit(1 << 20).await.unwrap().octets;
        // Two drives: the cut falls inside a DATA frame, whose payload
        // cannot be a slice of either input.
        let cut = wire.len() - 5_000;
        let mut got = Vec::new();
        for part in [&wire[..cut], &wire[cut..]] {
            let r = server
                .drive(
                    0,
                    &DriveInput {
                        input: part,
                        ..DriveInput::default()
                    },
                    1 << 16,
                )
                .await
                .unwrap();
            got.extend(body_events(r.events, part));
        }
        let octets: Vec<u8> = got.iter().flat_map(|g| g.1.clone()).collect();
        assert_eq!(octets, body, "the body, whole and in order");
        assert!(got.last().unwrap().2, "the last data ends the stream");
        let placed = got.iter().filter(|g| g.3).count();
        match input_data {
            false => assert_eq!(placed, 0),
            true => {
                assert!(placed >= 2, "{got:?}");
                assert!(
                    got.iter().any(|g| !g.3),
                    "the frame across the cut is a list"
                );
            }
        }
        // `poll-events` after `receive` never reports input offsets.
        let id = client
            .request(&[field(":method", b"POST")], POST)
            .await
            .unwrap()
            .unwrap();
        client.write(id, b"tail").await.unwrap().unwrap();
        client.end(id).await.unwrap().unwrap();
        let wire = client.poll_transmit(1 << 20).await.unwrap().octets;
        server.receive(0, &wire).await.unwrap().unwrap();
        let events = server.poll_events().await.unwrap();
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Data(d) if d.data == b"tail"))
        );
        assert!(!events.iter().any(|e| matches!(e, Event::InputData(_))));
    }
}

/// Splits `part` (of a stream of frames, `left` octets of a frame begun
/// before it still to come) as a host keeping DATA payloads may: the
/// octets passed, and spans for the unpadded DATA payloads of `min`
/// octets or more whole in it.
fn hold_payloads(part: &[u8], left: &mut usize, min: usize) -> (Vec<u8>, Vec<HeldSpan>) {
    let (mut passed, mut held) = (Vec::new(), Vec::new());
    let mut at = (*left).min(part.len());
    *left -= at;
    passed.extend_from_slice(&part[..at]);
    while part.len() - at >= 9 {
        let h = &part[at..at + 9];
        let len = (h[0] as usize) << 16 | (h[1] as usize) << 8 | h[2] as usize;
        passed.extend_from_slice(h);
        at += 9;
        let rest = part.len() - at;
        if h[3] == 0 && h[4] & 0x8 == 0 && len >= min.max(1) && len <= rest {
            held.push(HeldSpan {
                at: passed.len() as u32,
                length: len as u32,
            });
        } else {
            passed.extend_from_slice(&part[at..at + len.min(rest)]);
            *left = len.saturating_sub(rest);
        }
        at += len.min(rest);
    }
    assert_eq!(at, part.len(), "cut inside a frame header");
    (passed, held)
}

/// DATA payloads a host keeps out of `drive`'s input (`held`) are framed
/// and accounted as if passed: the same body comes back, from where it
/// sits in the host's read, and the server sends the same octets (its
/// WINDOW_UPDATEs) as one given the whole input. A span that does not
/// fall on an unpadded DATA payload ends the connection with
/// INTERNAL_ERROR, as the host's mistake.
#[tokio::test]
async fn held_payloads_are_framed_as_if_passed() {
    let runtime = Runtime::embedded(&pair_config()).unwrap();
    let mut options = runtime.default_options().await.unwrap();
    options.authority = "localhost".into();
    // As `serve` runs: data parsed in place is reported in place too.
    options.input_data = true;
    // Frames of 16 KiB, then one of 100 octets: held only when `min`
    // lets it be, else reported in place after the held ones.
    let body: Vec<u8> = (0..3 * 16_384 + 100u32).map(|i| (i % 253) as u8).collect();
    let mut outputs = Vec::new();
    for holding in [None, Some(1), Some(1024)] {
        // Each run its own pair: both clients send the same octets.
        let (mut client, mut server, id) = posting(&runtime, &options, &options).await;
        client.write(id, &body).await.unwrap().unwrap();
        client.end(id).await.unwrap().unwrap();
        let wire = client.poll_transmit(1 << 20).await.unwrap().octets;
        // The second cut falls inside the second DATA frame: that one is
        // passed.
        let headers_end =
            9 + ((wire[0] as usize) << 16 | (wire[1] as usize) << 8 | wire[2] as usize);
        let cut = headers_end + 9 + 16_384 + 5_000;
        let (mut got, mut sent, mut left) = (Vec::new(), Vec::new(), 0);
        for part in [&wire[..headers_end], &wire[headers_end..cut], &wire[cut..]] {
            let (passed, held) = match holding {
                Some(min) => hold_payloads(part, &mut left, min),
                None => (part.to_vec(), Vec::new()),
            };
            if holding.is_some() && part.len() > 20_000 {
                assert!(!held.is_empty(), "{held:?}");
            }
            let given = DriveInput {
                input: &passed,
                held: &held,
                ..DriveInput::default()
            };
            let r = server.drive(0, &given, 1 << 16).await.unwrap();
            assert!(r.error.is_none(), "{:?}", r.error);
            sent.extend(r.output.octets);
            got.extend(body_events(r.events, part));
        }
        let octets: Vec<u8> = got.iter().flat_map(|g| g.1.clone()).collect();
        assert_eq!(octets, body, "the body, whole and in order");
        assert!(got.last().unwrap().2, "the last data ends the stream");
        if holding.is_some() {
            assert!(got.iter().any(|g| g.3), "held data is reported in place");
        }
        outputs.push(sent);
    }
    assert_eq!(outputs[0], outputs[1], "the same frames out, held or not");
    assert_eq!(outputs[0], outputs[2], "the same frames out, held or not");

    // Spans that are not a DATA payload: the HEADERS block's, then one
    // off by an octet.
    for shift in [None, Some(1u32)] {
        let (mut client, mut server, id) = posting(&runtime, &options, &options).await;
        client.write(id, &body[..5_000]).await.unwrap().unwrap();
        let wire = client.poll_transmit(1 << 20).await.unwrap().octets;
        let (passed, mut held) = hold_payloads(&wire, &mut 0, 1);
        let held = match shift {
            None => vec![HeldSpan {
                at: 9,
                length: held[0].at - 18,
            }],
            Some(d) => {
                held[0].at += d;
                held
            }
        };
        let given = DriveInput {
            input: &passed,
            held: &held,
            ..DriveInput::default()
        };
        let r = server.drive(0, &given, 1 << 16).await.unwrap();
        let e = r.error.expect("a connection error");
        assert_eq!(e.code, 0x2, "INTERNAL_ERROR: {e:?}");
    }
}

/// `drive` applies its credits and writes before anything else, and says
/// for each write, in order, what `write` would have: credit for a stream
/// that is not open is ignored, a write to one is refused, and the rest
/// go out in that drive's own output.
#[tokio::test]
async fn drive_takes_credits_and_writes_first_and_answers_each_write() {
    use h2wasm::bindings::{BodyChunk, CommandError, StreamCredit, StreamWrite};
    let runtime = Runtime::embedded(&pair_config()).unwrap();
    let mut options = runtime.default_options().await.unwrap();
    options.authority = "localhost".into();
    let mut server_options = options.clone();
    server_options.manual_consume = true;
    let (mut client, mut server, id) = posting(&runtime, &options, &server_options).await;
    // The whole connection window: the client can send no more until the
    // server hands credit back.
    client.write(id, &[5u8; 65_535]).await.unwrap().unwrap();
    relay(&mut client, &mut server).await;
    client.write(id, b"more").await.unwrap().unwrap();
    assert!(
        client
            .poll_transmit(1 << 16)
            .await
            .unwrap()
            .octets
            .is_empty(),
        "the window is spent"
    );
    let head = RespondOptions {
        end_stream: false,
        wait_for_trailers: false,
    };
    server
        .respond(id, &[field(":status", b"200")], head)
        .await
        .unwrap()
        .unwrap();
    let credits = [
        StreamCredit {
            stream_id: 99,
            octets: 10,
        },
        StreamCredit {
            stream_id: id,
            octets: 65_535,
        },
    ];
    let write = |stream_id, octets: &[u8]| StreamWrite {
        stream_id,
        chunk: BodyChunk::Octets(octets.to_vec()),
    };
    let writes = [write(id, b"hello"), write(97, b"x"), write(id, b" there")];
    let given = DriveInput {
        credits: &credits,
        writes: &writes,
        ..DriveInput::default()
    };
    let r = server.drive(0, &given, 1 << 16).await.unwrap();
    assert!(matches!(
        r.written[..],
        [Ok(true), Err(CommandError::UnknownStream), Ok(true)]
    ));
    // That drive's output: the response, both chunks, and the credit.
    client.receive(0, &r.output.octets).await.unwrap().unwrap();
    let events = client.poll_events().await.unwrap();
    let body: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            Event::Data(d) if d.stream_id == id => Some(d.data.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(body, b"hello there");
    assert!(
        !client
            .poll_transmit(1 << 16)
            .await
            .unwrap()
            .octets
            .is_empty(),
        "the credit reopened the window"
    );
}
