//! Bodies of edge sizes up to 256 MiB, both directions, through our server
//! and our client, checked by SHA-256 with memory staying bounded.

mod common;

use common::*;

fn echo_round_trip(server: &TestServer, size: u64, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let input = data_file(dir.path(), size, seed);
    let output = dir.path().join("out");
    let mut get = h2wasm_bin();
    get.arg("get");
    if server.tls {
        get.arg("--cacert").arg(certs().0);
    } else {
        get.arg("--prior-knowledge");
    }
    let o = run(get
        .arg("-d")
        .arg(format!("@{}", input.display()))
        .arg("-o")
        .arg(&output)
        .arg(server.url("/echo")));
    assert!(o.status.success(), "size {size}: {}", stderr(&o));
    assert_eq!(
        std::fs::metadata(&output).unwrap().len(),
        size,
        "size {size}"
    );
    assert_eq!(sha256_file(&output), sha256_file(&input), "size {size}");
}

/// Peak resident memory of this process (the server runs in it).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn bodies_of_edge_sizes_both_directions() {
    let h2c = TestServer::start(false, builtin());
    let tls = TestServer::start(true, builtin());
    for (i, size) in [0u64, 1, 16_383, 16_384, 16_385, 1 << 20]
        .into_iter()
        .enumerate()
    {
        echo_round_trip(&h2c, size, i as u64 + 1);
        echo_round_trip(&tls, size, i as u64 + 100);
    }
    // 256 MiB up and 256 MiB back, streamed: the server's memory must not
    // grow with the body.
    echo_round_trip(&h2c, 256 << 20, 4242);
    let peak_mib = peak_rss_kib() / 1024;
    assert!(
        peak_mib < 200,
        "server peak RSS {peak_mib} MiB while echoing 256 MiB"
    );
}
