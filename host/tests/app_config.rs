//! What an app reads through `wasi:config/store`: nothing unless given;
//! `--app-config KEY=VALUE`, `--app-config-file` (KEY=VALUE lines) and
//! `--app-secret KEY=ENV` (read from the environment at startup, never
//! logged), a later source overriding an earlier one's key.

mod common;

use common::*;

/// `curl` over h2c for `url`: (status, body).
fn get(url: &str) -> (String, String) {
    curl_status(&["--http2-prior-knowledge", url])
}

#[test]
fn an_app_is_given_no_configuration_by_default() {
    let app = example_component("config");
    let server = ServeProcess::start(&["--h2c", "--app", app.to_str().unwrap()], false);
    let (status, body) = get(&format!("http://{}/", server.addr));
    assert_eq!((status.as_str(), body.as_str()), ("200", ""));
    let (status, _) = get(&format!("http://{}/HOME", server.addr));
    assert_eq!(status, "404", "the server's environment is not the app's");
}

#[test]
fn values_come_from_the_file_the_flags_and_the_environment_in_that_order() {
    let app = example_component("config");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.env");
    std::fs::write(
        &file,
        "# the app's settings\ngreeting=from the file\nregion=eu-west\n\nempty=\n",
    )
    .unwrap();
    let secret = "s3cr3t-4b9e1f";
    let server = ServeProcess::start_with_env(
        &[
            "--h2c",
            "--app",
            app.to_str().unwrap(),
            "--app-config-file",
            file.to_str().unwrap(),
            "--app-config",
            "greeting=hello=world",
            "--app-secret",
            "token=H2WASM_TEST_TOKEN",
        ],
        true,
        &[("H2WASM_TEST_TOKEN", secret), ("RUST_LOG", "h2wasm=debug")],
    );
    let url = |key: &str| format!("http://{}/{key}", server.addr);
    assert_eq!(get(&url("greeting")), ("200".into(), "hello=world".into()));
    assert_eq!(get(&url("region")), ("200".into(), "eu-west".into()));
    assert_eq!(get(&url("empty")), ("200".into(), String::new()));
    assert_eq!(get(&url("token")), ("200".into(), secret.into()));
    assert_eq!(get(&url("missing")).0, "404");
    assert_eq!(
        get(&url("")),
        ("200".into(), "empty\ngreeting\nregion\ntoken\n".into())
    );
    let log = stderr(&server.stop());
    assert!(!log.contains(secret), "the secret was logged: {log}");
}

#[test]
fn bad_configuration_is_refused_with_where_and_what_was_expected() {
    let app = example_component("config");
    let dir = tempfile::tempdir().unwrap();
    let bad_file = dir.path().join("bad.env");
    std::fs::write(&bad_file, "# ok\nfine=1\nno equals sign\n").unwrap();
    let serve = |extra: &[&str]| {
        run(h2wasm_bin()
            .args(["serve", "--h2c", "--listen", "127.0.0.1:0", "--app"])
            .arg(&app)
            .args(extra)
            .env_remove("H2WASM_UNSET_VARIABLE"))
    };
    let o = serve(&["--app-config-file", bad_file.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("bad.env line 3") && err.contains("KEY=VALUE"),
        "{err}"
    );

    let o = serve(&["--app-config", "=value"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("expected KEY=VALUE"), "{}", stderr(&o));

    let o = serve(&["--app-secret", "token=H2WASM_UNSET_VARIABLE"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("H2WASM_UNSET_VARIABLE is not set"), "{err}");

    let o = serve(&["--app-config-file", "/nonexistent/app.env"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("/nonexistent/app.env"),
        "{}",
        stderr(&o)
    );
}
