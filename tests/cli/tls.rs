//! `keygate serve --tls-cert --tls-key` end to end, with a CA made at test
//! time: the CLI enrolls and logs in over HTTPS trusting that CA with
//! `--ca-file` and refuses a server its CAs do not vouch for; SIGHUP swaps
//! the certificate without dropping a connection; clients that never finish
//! a handshake do not hold up the others; bad files stop `serve` with a
//! message naming them.

use crate::common;
use crate::key_cli::{SoftToken, key_args, session_of};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::tls::{KeyKind, Leaf, TestCa, client_trusting, serve_https};
use common::{keygate_fails as fails, keygate_ok as ok};
use openssl::ssl::{SslConnector, SslMethod, SslStream};

const PASSWORD: &str = "correct horse battery";

crate::on_both_engines!(url: the_cli_enrolls_and_logs_in_over_https);

fn the_cli_enrolls_and_logs_in_over_https(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pw = format!("{PASSWORD}\n");
    ok(&["user", "add", "alice", "--password-stdin", "--database", database], &pw);
    let ca = TestCa::new(dir.path(), "keygate-test-ca");
    let leaf = ca.leaf(dir.path(), "server", KeyKind::Ecdsa);
    let (_server, url) = serve_https(dir.path(), database, &ca.cert, &leaf, |_| {});
    let token = SoftToken::start(&dir.path().join("token.json"), "auto");
    let ca_file = ca.cert.to_str().unwrap();

    // The system's CAs do not vouch for the server, nor does another CA.
    let untrusted = fails(&key_args("login", &url, &token.spec, &[]), &pw);
    assert!(untrusted.contains("is not trusted (signed by an unknown CA)"), "{untrusted}");
    assert!(untrusted.contains("--ca-file"), "{untrusted}");
    let other = TestCa::new(dir.path(), "another-ca");
    let wrong =
        fails(&key_args("login", &url, &token.spec, &["--ca-file", other.cert.to_str().unwrap()]), &pw);
    assert!(wrong.contains("is not trusted (signed by an unknown CA)"), "{wrong}");
    let missing = fails(&key_args("login", &url, &token.spec, &["--ca-file", "/nonexistent/ca.pem"]), &pw);
    assert!(missing.starts_with("keygate: --ca-file /nonexistent/ca.pem: "), "{missing}");

    // With the CA: enroll, log in, use the session.
    let out = ok(&key_args("enroll", &url, &token.spec, &["--ca-file", ca_file, "--name", "tls key"]), &pw);
    assert!(out.contains("enrolled key"), "{out}");
    let session = session_of(&ok(&key_args("login", &url, &token.spec, &["--ca-file", ca_file]), &pw));
    let list = ok(&key_args("list", &url, &token.spec, &["--ca-file", ca_file, "--session", &session]), "");
    assert!(list.contains("\ttls key\t"), "{list}");

    // Under TLS the browser cookies are __Host- and Secure, and HSTS is sent.
    let page = client_trusting(&ca.cert).get(format!("{url}/sign-in")).send().unwrap();
    assert_eq!(page.status(), 200);
    let hsts = page.headers().get("strict-transport-security").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(hsts.as_deref(), Some("max-age=31536000"));
    let cookies: Vec<&str> =
        page.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(!cookies.is_empty(), "the sign-in page sets its CSRF cookie");
    for cookie in cookies {
        assert!(cookie.starts_with("__Host-") && cookie.contains("; Secure"), "{cookie}");
        assert!(cookie.contains("; Path=/") && !cookie.contains("Domain="), "{cookie}");
    }
}

/// One HTTP/1.1 connection over TLS, kept open across requests.
struct Connection {
    stream: SslStream<TcpStream>,
}

impl Connection {
    fn open(addr: SocketAddr, ca: &Path) -> Connection {
        Self::open_with_alpn(addr, ca, b"\x08http/1.1")
    }

    /// A connection offering `alpn` (wire format: length-prefixed names).
    fn open_with_alpn(addr: SocketAddr, ca: &Path, alpn: &[u8]) -> Connection {
        let mut builder = SslConnector::builder(SslMethod::tls_client()).unwrap();
        builder.set_ca_file(ca).unwrap();
        builder.set_alpn_protos(alpn).unwrap();
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let stream = builder.build().connect("localhost", tcp).expect("TLS handshake");
        Connection { stream }
    }

    /// The DER of the certificate the server presented.
    fn server_certificate(&self) -> Vec<u8> {
        self.stream.ssl().peer_certificate().expect("a server certificate").to_der().unwrap()
    }

    /// `GET path`; the status line.
    fn get(&mut self, path: &str) -> String {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        self.stream.write_all(request.as_bytes()).unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            self.stream.read_exact(&mut byte).expect("the answer's head");
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned))
            .and_then(|n| n.trim().parse().ok())
            .expect("a content length");
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body).expect("the answer's body");
        head.lines().next().unwrap_or_default().to_owned()
    }
}

/// A server over HTTPS on a fresh SQLite database with a `kind` leaf from a
/// new test CA; the temp dir holds the files and lives as long as it.
struct Https {
    dir: tempfile::TempDir,
    ca: TestCa,
    leaf: Leaf,
    server: common::Server,
    url: String,
}

impl Https {
    fn start(kind: KeyKind) -> Https {
        let dir = tempfile::tempdir().unwrap();
        let database = common::db::sqlite_url(&dir.path().join("keygate.db"));
        let ca = TestCa::new(dir.path(), "keygate-test-ca");
        let leaf = ca.leaf(dir.path(), "server", kind);
        let (server, url) = serve_https(dir.path(), &database, &ca.cert, &leaf, |_| {});
        Https { dir, ca, leaf, server, url }
    }
}

#[test]
fn sighup_swaps_the_certificate_and_keeps_open_connections() {
    let Https { dir, ca, leaf: first, server, url: _ } = Https::start(KeyKind::Ecdsa);
    let mut open = Connection::open(server.addr, &ca.cert);
    assert_eq!(open.server_certificate(), first.der);
    assert_eq!(open.get("/healthz"), "HTTP/1.1 200 OK");

    // Renewal: new files in place, then SIGHUP.
    let second = ca.leaf(dir.path(), "server", KeyKind::Ecdsa);
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Connection::open(server.addr, &ca.cert).server_certificate() != second.der {
        assert!(Instant::now() < deadline, "the new certificate was not served: {}", server.logged());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(open.get("/healthz"), "HTTP/1.1 200 OK", "the open connection survives the reload");
    assert!(server.logged().contains("TLS certificate reloaded"));

    // A broken key file at the next SIGHUP: the current certificate stays.
    std::fs::write(&second.key, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
        .unwrap();
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.logged().contains("TLS certificate not reloaded") {
        assert!(Instant::now() < deadline, "no reload failure logged: {}", server.logged());
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut fresh = Connection::open(server.addr, &ca.cert);
    assert_eq!(fresh.server_certificate(), second.der);
    assert_eq!(fresh.get("/healthz"), "HTTP/1.1 200 OK");
    assert_eq!(open.get("/healthz"), "HTTP/1.1 200 OK");
    let metrics = client_trusting(&ca.cert).get(format!("{}/metrics", server.url())).send().unwrap();
    let metrics = metrics.text().unwrap();
    assert!(metrics.contains(r#"keygate_tls_reloads_total{outcome="ok"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"keygate_tls_reloads_total{outcome="error"} 1"#), "{metrics}");
}

#[test]
fn clients_that_never_finish_a_handshake_do_not_hold_up_the_others() {
    let Https { dir: _dir, ca, server, url, leaf: _ } = Https::start(KeyKind::Ecdsa);
    // Connections that say nothing, and some that send half a ClientHello.
    let mut silent: Vec<TcpStream> = (0..200).map(|_| TcpStream::connect(server.addr).unwrap()).collect();
    for stream in silent.iter_mut().take(50) {
        stream.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    }
    // Every one of them still within the server's handshake deadline, a
    // real client is served well before that deadline would free the loop.
    let client = reqwest::blocking::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&std::fs::read(&ca.cert).unwrap()).unwrap()])
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for _ in 0..5 {
        let answer = client.get(format!("{url}/healthz")).send().expect("served beside the silent clients");
        assert_eq!(answer.status(), 200);
    }
    // Garbage instead of a ClientHello costs only its own connection.
    let mut garbage = TcpStream::connect(server.addr).unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    garbage.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut rest = Vec::new();
    let _ = garbage.read_to_end(&mut rest);
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));
    assert_eq!(client.get(format!("{url}/healthz")).send().unwrap().status(), 200);
    drop(silent);
}

#[test]
fn rsa_certificates_are_served_too() {
    let Https { dir: _dir, ca, leaf, server, url } = Https::start(KeyKind::Rsa);
    assert_eq!(Connection::open(server.addr, &ca.cert).server_certificate(), leaf.der);
    let answer = client_trusting(&ca.cert).get(format!("{url}/healthz")).send().unwrap();
    assert_eq!(answer.status(), 200);
    // Browsers offer h2 first and get it; HTTP/1.1 clients get that.
    let h2 = Connection::open_with_alpn(server.addr, &ca.cert, b"\x02h2\x08http/1.1");
    assert_eq!(h2.stream.ssl().selected_alpn_protocol(), Some(&b"h2"[..]));
    let h1 = Connection::open(server.addr, &ca.cert);
    assert_eq!(h1.stream.ssl().selected_alpn_protocol(), Some(&b"http/1.1"[..]));
}

#[test]
fn bad_tls_settings_stop_serve_with_a_message_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let database = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let ca = TestCa::new(dir.path(), "keygate-test-ca");
    let one = ca.leaf(dir.path(), "one", KeyKind::Ecdsa);
    let two = ca.leaf(dir.path(), "two", KeyKind::Ecdsa);
    let serve = |cert: &Path, key: &Path, origin: &str| {
        let addr = common::free_addr().to_string();
        let args = ["serve", "--database", &database, "--listen", &addr, "--origin", origin];
        let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
        fails(&[&args[..], &["--tls-cert", cert, "--tls-key", key]].concat(), "")
    };
    let https = "https://localhost:8443";
    let mismatch = serve(&one.cert, &two.key, https);
    assert!(mismatch.contains("does not belong to the certificate"), "{mismatch}");
    let missing = serve(Path::new("/nonexistent/cert.pem"), &one.key, https);
    assert!(missing.contains("cannot use the TLS certificate /nonexistent/cert.pem"), "{missing}");
    let not_a_key = serve(&one.cert, &one.cert, https);
    assert!(not_a_key.contains(&format!("cannot use the TLS key {}", one.cert.display())), "{not_a_key}");
    let plain = serve(&one.cert, &one.key, "http://localhost:8080");
    assert!(plain.contains("with TLS the origin must be https://"), "{plain}");
}

#[test]
fn sighup_without_tls_leaves_a_plain_server_running() {
    // The systemd unit's `ExecReload=` sends SIGHUP whatever the configuration.
    let dir = tempfile::tempdir().unwrap();
    let database = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let mut server = common::Server::with_database(dir.path(), &database);
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.logged().contains("SIGHUP ignored") {
        assert!(Instant::now() < deadline, "SIGHUP not handled: {}", server.logged());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(server.child.try_wait().unwrap().is_none(), "serve exited on SIGHUP");
    let health = reqwest::blocking::get(format!("{}/healthz", server.url())).unwrap();
    assert_eq!(health.status(), 200);
}
