//! `examples/guestbook`, the README's app: configuration (title, quote
//! URL), key-value storage (entries kept across restarts) and an outgoing
//! fetch that reaches its origin only when `--app-allow-outbound` names it.

mod common;

use common::*;
use std::net::SocketAddr;

fn curl(args: &[&str]) -> (String, String) {
    curl_status(&[&["--http2-prior-knowledge"], args].concat())
}

fn guestbook(store: &str, quote_url: &str, allow: Option<&str>) -> ServeProcess {
    let app = example_component("guestbook");
    let title = "title=Our <guest> book".to_string();
    let quote = format!("quote-url={quote_url}");
    let bucket = format!("guestbook={store}");
    let mut args = vec![
        "--h2c",
        "--app",
        app.to_str().unwrap(),
        "--app-config",
        &title,
        "--app-config",
        &quote,
        "--app-keyvalue",
        &bucket,
    ];
    if let Some(origin) = allow {
        args.extend(["--app-allow-outbound", origin]);
    }
    ServeProcess::start(&args, false)
}

#[test]
fn the_guestbook_keeps_entries_and_fetches_only_what_it_is_allowed() {
    let dir = scratch_dir("h2wasm-guestbook-");
    let quotes = dir.path().join("quotes");
    std::fs::create_dir(&quotes).unwrap();
    std::fs::write(
        quotes.join("quote.txt"),
        "Simplicity is prerequisite for reliability.\n",
    )
    .unwrap();
    let port = free_port();
    let quote_server = ServeProcess::spawn(
        &[
            "--h2c".into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            quotes.display().to_string(),
        ],
        false,
        &[],
        &[SocketAddr::from(([127, 0, 0, 1], port))],
    );
    let origin = format!("http://127.0.0.1:{port}");
    let quote_url = format!("{origin}/quote.txt");
    let store = dir.path().join("guestbook.redb").display().to_string();

    let server = guestbook(&store, &quote_url, Some(&origin));
    let base = format!("http://{}", server.addr);
    for i in 1..=22 {
        let form = format!("name=guest+{i}&message=hello+%3Cb%3E{i}%3C%2Fb%3E");
        let (status, _) = curl(&["-d", &form, &format!("{base}/sign")]);
        assert_eq!(status, "303", "signature {i}");
    }
    let (status, _) = curl(&["-d", "name=&message=x", &format!("{base}/sign")]);
    assert_eq!(status, "400");
    let (status, page) = curl(&[&format!("{base}/")]);
    assert_eq!(status, "200");
    assert!(page.contains("<h1>Our &lt;guest&gt; book</h1>"), "{page}");
    assert!(
        page.contains("<p class=quote>Simplicity is prerequisite for reliability.</p>"),
        "{page}"
    );
    assert!(page.contains("<p>22 signatures</p>"), "{page}");
    // The 20 newest, newest first, escaped.
    let shown: Vec<&str> = page.lines().filter(|l| l.starts_with("<li>")).collect();
    assert_eq!(shown.len(), 20, "{page}");
    assert_eq!(
        shown[0],
        "<li><b>guest 22</b>: hello &lt;b&gt;22&lt;/b&gt;</li>"
    );
    assert_eq!(
        shown[19],
        "<li><b>guest 3</b>: hello &lt;b&gt;3&lt;/b&gt;</li>"
    );
    assert!(server.stop().status.success());

    // Restarted without the outbound entry: the entries are still there,
    // and the quote's origin (loopback) is not reached.
    let server = guestbook(&store, &quote_url, None);
    let (_, page) = curl(&[&format!("http://{}/", server.addr)]);
    assert!(page.contains("<p>22 signatures</p>"), "{page}");
    assert!(
        page.contains("<p class=quote>(no quote: ErrorCode::HttpRequestDenied)</p>"),
        "{page}"
    );
    assert!(server.stop().status.success());
    drop(quote_server);
}
