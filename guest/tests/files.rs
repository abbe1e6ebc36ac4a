//! `respond_with_file` and `stat_file` (Node's `respondWithFile` and
//! `statCheck`), natively on a temporary directory.

mod common;

use common::*;
use h2wasm_engine::connection::{FileStat, stat_file};
use h2wasm_engine::error::CommandError;
use h2wasm_engine::pair::Pair;
use h2wasm_engine::{ErrorCode, Options};
use std::path::PathBuf;

fn temp_file(name: &str, len: usize) -> (PathBuf, Vec<u8>) {
    // Under target/ (cargo's directory for integration tests' files), not
    // the system's temporary directory, which nothing would clean.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("h2wasm-files-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    (path, data)
}

fn open_get(p: &mut Pair) -> u32 {
    open_gets(p, "/file", 1)[0]
}

#[test]
fn whole_file_with_content_length_through_small_windows() {
    let (path, data) = temp_file("whole.bin", 1 << 20);
    // A small receive window on the client: the file is read as the
    // window opens, never all at once.
    let client = Options {
        authority: "localhost".into(),
        settings: h2wasm_engine::Settings {
            initial_window_size: Some(16_384),
            ..Default::default()
        },
        ..Options::default()
    };
    let mut p = Pair::new(client, Options::default()).unwrap();
    let id = open_get(&mut p);
    let stat = p
        .server
        .respond_with_file(
            id,
            vec![h("content-type", "application/octet-stream")],
            path.to_str().unwrap(),
            0,
            None,
        )
        .unwrap();
    assert_eq!(stat.size, 1 << 20);
    assert!(stat.modified_ns.is_some());
    assert_eq!(stat_file(path.to_str().unwrap()).unwrap(), stat);
    p.run().unwrap();
    assert_eq!(body(&p.client_events, id), data);
    assert_ok_response(&p.client_events, id, "1048576");
}

#[test]
fn offset_and_length_select_a_range() {
    let (path, data) = temp_file("range.bin", 100_000);
    let mut p = Pair::with_defaults().unwrap();
    let id = open_get(&mut p);
    p.server
        .respond_with_file(id, status("206"), path.to_str().unwrap(), 1000, Some(5000))
        .unwrap();
    p.run().unwrap();
    assert_eq!(body(&p.client_events, id), &data[1000..6000]);
    assert_eq!(
        response_header(&p.client_events, id, "content-length").as_deref(),
        Some("5000")
    );
    // A length past the end is cut to the file.
    let id = open_get(&mut p);
    p.server
        .respond_with_file(id, vec![], path.to_str().unwrap(), 99_000, Some(1 << 30))
        .unwrap();
    p.run().unwrap();
    assert_eq!(body(&p.client_events, id), &data[99_000..]);
}

#[test]
fn refusals_leave_the_stream_answerable() {
    let (path, _) = temp_file("small.txt", 10);
    let mut p = Pair::with_defaults().unwrap();
    let id = open_get(&mut p);
    let path = path.to_str().unwrap();
    assert!(matches!(
        p.server
            .respond_with_file(id, vec![], "/definitely/missing", 0, None),
        Err(CommandError::File(_))
    ));
    assert!(matches!(
        p.server
            .respond_with_file(id, vec![], &format!("{path}/../small.txt"), 0, None),
        Err(CommandError::InvalidArgument(_))
    ));
    assert!(matches!(
        p.server.respond_with_file(id, vec![], path, 11, None),
        Err(CommandError::InvalidArgument(_))
    ));
    let dir = std::path::Path::new(path)
        .parent()
        .unwrap()
        .to_str()
        .unwrap();
    assert!(matches!(stat_file(dir), Err(CommandError::File(_))));
    assert!(matches!(
        p.client.respond_with_file(id, vec![], path, 0, None),
        Err(CommandError::WrongRole)
    ));
    let stat: FileStat = p
        .server
        .respond_with_file(id, vec![], path, 0, None)
        .unwrap();
    assert_eq!(stat.size, 10);
    p.run().unwrap();
    assert_eq!(body(&p.client_events, id).len(), 10);
    // Nothing can be written after a file body.
    assert!(p.server.write(id, bytes::Bytes::from_static(b"x")).is_err());
}

#[test]
fn a_file_that_shrinks_mid_stream_resets_it() {
    let (path, _) = temp_file("shrink.bin", 300_000);
    let mut p = Pair::with_defaults().unwrap();
    let id = open_get(&mut p);
    p.server
        .respond_with_file(id, vec![], path.to_str().unwrap(), 0, None)
        .unwrap();
    std::fs::write(&path, b"short now").unwrap();
    p.run().unwrap();
    assert_eq!(
        closed_code(&p.client_events, id),
        Some(ErrorCode::INTERNAL_ERROR)
    );
    assert!(body(&p.client_events, id).len() < 300_000);
    // The connection goes on.
    let next = open_get(&mut p);
    p.server
        .respond(
            next,
            status("204"),
            h2wasm_engine::RespondOptions {
                end_stream: true,
                ..Default::default()
            },
        )
        .unwrap();
    p.run().unwrap();
    assert_eq!(
        closed_code(&p.client_events, next),
        Some(ErrorCode::NO_ERROR)
    );
}

#[test]
fn an_open_file_serves_a_range_and_stays_usable_to_its_owner() {
    use std::io::{Read, Seek};
    let (path, data) = temp_file("fd.bin", 100_000);
    let mut mine = std::fs::File::open(&path).unwrap();
    let mut p = Pair::with_defaults().unwrap();
    let id = open_get(&mut p);
    // Node's respondWithFD: the engine reads its own handle of the file.
    let stat = p
        .server
        .respond_with_fd(id, mine.try_clone().unwrap(), vec![], 1_000, Some(50_000))
        .unwrap();
    assert_eq!(stat.size, 100_000);
    p.run().unwrap();
    assert_eq!(
        response_header(&p.client_events, id, "content-length").as_deref(),
        Some("50000")
    );
    assert_eq!(body(&p.client_events, id), &data[1_000..51_000]);
    assert!(ended(&p.client_events, id));
    // The caller's own handle is still open and reads the whole file.
    let mut all = Vec::new();
    mine.seek(std::io::SeekFrom::Start(0)).unwrap();
    mine.read_to_end(&mut all).unwrap();
    assert_eq!(all, data);

    let id = open_get(&mut p);
    let dir = std::fs::File::open(path.parent().unwrap()).unwrap();
    assert!(matches!(
        p.server.respond_with_fd(id, dir, vec![], 0, None),
        Err(CommandError::File(_))
    ));
    let file = std::fs::File::open(&path).unwrap();
    assert!(matches!(
        p.server.respond_with_fd(id, file, vec![], 100_001, None),
        Err(CommandError::InvalidArgument(_))
    ));
}

/// Many file responses to a client with open windows that does not read
/// (the host takes only a little output): what the files have read ahead
/// is bounded per connection, not per stream, and is counted in session
/// memory.
#[test]
fn read_ahead_is_bounded_per_connection() {
    let (path, _) = temp_file("many.bin", 1 << 20);
    let big = (1u32 << 31) - 1;
    let client = Options {
        authority: "localhost".into(),
        settings: h2wasm_engine::Settings {
            initial_window_size: Some(big),
            ..Default::default()
        },
        connection_window_size: big,
        ..Options::default()
    };
    let mut p = Pair::new(client, Options::default()).unwrap();
    let ids = open_gets(&mut p, "/file", 100);
    let before = p.server.session_memory();
    for &id in &ids {
        p.server
            .respond_with_file(id, Vec::new(), path.to_str().unwrap(), 0, None)
            .unwrap();
    }
    // One host-sized batch of output, as a host whose socket is full
    // takes no more.
    let mut taken = 0;
    while let Some(b) = p.server.poll_transmit(256 * 1024 - taken) {
        taken += b.len();
        if taken >= 256 * 1024 {
            break;
        }
    }
    let held = p.server.session_memory() - before;
    // Each stream sent a 16 KiB frame; what is read beyond that is shared:
    // at most 32 KiB plus a frame, not 100 x 32 KiB.
    assert!(held < 48 * 1024, "read ahead: {held} octets");
}
