//! The engine composes: `examples/h2get`, a wasi:cli command that imports
//! `h2wasm:http2/session`, is plugged into the engine component with wac,
//! and the result runs under a plain wasmtime-wasi command host (what
//! `wasmtime run -S inherit-network` is), not h2wasm's runtime. It fetches
//! from nghttpd, which speaks only HTTP/2.

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::Command as WasiCommand;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

struct Ctx {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Runs a command component with `args`, network allowed; returns its
/// exit (ok or not), stdout and stderr.
fn run_command(wasm: &std::path::Path, args: &[&str]) -> (bool, Vec<u8>, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let engine = Engine::new(Config::new().wasm_component_model(true)).unwrap();
        let component = Component::from_file(&engine, wasm).unwrap();
        let mut linker = Linker::<Ctx>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
        let stdout = MemoryOutputPipe::new(16 << 20);
        let stderr = MemoryOutputPipe::new(1 << 20);
        let wasi = WasiCtx::builder()
            .args(args)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .inherit_network()
            .allow_tcp(true)
            .allow_ip_name_lookup(true)
            .build();
        let mut store = Store::new(
            &engine,
            Ctx {
                wasi,
                table: ResourceTable::new(),
            },
        );
        let command = WasiCommand::instantiate_async(&mut store, &component, &linker)
            .await
            .unwrap();
        let ran = tokio::time::timeout(
            Duration::from_secs(60),
            command.wasi_cli_run().call_run(&mut store),
        )
        .await
        .expect("the command finished")
        .unwrap();
        let err = String::from_utf8_lossy(&stderr.contents()).into_owned();
        (ran.is_ok(), stdout.contents().to_vec(), err)
    })
}

#[test]
fn a_component_that_imports_the_engine_fetches_from_nghttpd() {
    let dir = tempfile::tempdir().unwrap();
    let engine = dir.path().join("h2wasm_engine.wasm");
    std::fs::write(&engine, h2wasm::EMBEDDED_ENGINE).unwrap();
    let composed = dir.path().join("h2get-composed.wasm");
    let o = run(Command::new("wac")
        .arg("plug")
        .arg(example_component("h2get"))
        .arg("--plug")
        .arg(&engine)
        .arg("-o")
        .arg(&composed));
    assert!(o.status.success(), "wac plug: {}", stderr(&o));

    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    let page = data_file(&site, 300_000, 9);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut nghttpd = Command::new("nghttpd")
        .args(["--no-tls", "-a", "127.0.0.1", "-d"])
        .arg(&site)
        .arg(port.to_string())
        .spawn()
        .expect("nghttpd is installed");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nghttpd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!(
        "http://127.0.0.1:{port}/{}",
        page.file_name().unwrap().to_str().unwrap()
    );
    let (ok, body, err) = run_command(&composed, &["h2get", &url]);
    let missing = run_command(
        &composed,
        &["h2get", &format!("http://127.0.0.1:{port}/none")],
    );
    let _ = nghttpd.kill();
    let _ = nghttpd.wait();
    assert!(ok, "{err}");
    assert!(err.starts_with(":status: 200\n"), "{err}");
    assert_eq!(body, std::fs::read(&page).unwrap());
    assert!(missing.2.starts_with(":status: 404\n"), "{}", missing.2);

    // The command alone imports the engine's interface: a plain WASI host
    // cannot run it until it is composed.
    let engine = Engine::new(Config::new().wasm_component_model(true)).unwrap();
    let alone = Component::from_file(&engine, example_component("h2get")).unwrap();
    let mut linker = Linker::<Ctx>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    let refused = linker.instantiate_pre(&alone).err().unwrap();
    assert!(
        format!("{refused:#}").contains("h2wasm:http2/session"),
        "{refused:#}"
    );
}
