//! No API request waits forever for a response that will never start (a
//! connection whose peer vanished), while a watch whose response has
//! started may stay quiet as long as it likes. Against a hand-written HTTP
//! server on loopback that plays each part.

use std::path::PathBuf;
use std::time::Duration;

use ferrolb_k8s::process::client_with_timeout;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ListParams, WatchParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LIMIT: Duration = Duration::from_millis(300);

/// A kubeconfig for `http://127.0.0.1:port`, in a fresh directory.
fn kubeconfig(port: u16) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ferrolb-request-timeout-{}-{port}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\n\
         contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {{}}\n"
    );
    std::fs::write(&path, text).expect("kubeconfig");
    path
}

/// A listener on loopback, and a client for it with the test's limit.
async fn server_and_client() -> (TcpListener, Api<ConfigMap>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let client = client_with_timeout(Some(&kubeconfig(port)), LIMIT)
        .await
        .expect("client");
    (listener, Api::namespaced(client, "default"))
}

#[tokio::test]
async fn a_request_whose_response_never_starts_fails_after_the_limit() {
    let (listener, api) = server_and_client().await;
    // Takes the request and says nothing, like a peer gone mid-connection.
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        head_of(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(stream);
    });
    let outcome =
        tokio::time::timeout(Duration::from_secs(10), api.list(&ListParams::default())).await;
    server.abort();
    match outcome {
        Ok(Err(e)) => assert!(
            e.to_string().contains("timed out") || format!("{e:?}").contains("Elapsed"),
            "{e:?}"
        ),
        Ok(Ok(_)) => panic!("a list answered by nobody succeeded"),
        Err(_) => panic!("the list still waits after 10 s: no request limit"),
    }
}

#[tokio::test]
async fn a_started_watch_may_stay_quiet_longer_than_the_limit() {
    let (listener, api) = server_and_client().await;
    // Starts the response at once, then sends one event after 4 limits.
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        head_of(&mut stream).await;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        stream.write_all(head.as_bytes()).await.expect("head");
        tokio::time::sleep(LIMIT * 4).await;
        let event = r#"{"type":"ADDED","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"late","namespace":"default","resourceVersion":"2"}}}"#;
        let line = format!("{event}\n");
        let chunk = format!("{:x}\r\n{line}\r\n", line.len());
        stream.write_all(chunk.as_bytes()).await.expect("chunk");
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    let stream = api
        .watch(&WatchParams::default(), "1")
        .await
        .expect("the watch starts");
    futures::pin_mut!(stream);
    let first = tokio::time::timeout(
        Duration::from_secs(10),
        futures::StreamExt::next(&mut stream),
    )
    .await;
    server.abort();
    match first {
        Ok(Some(Ok(kube::api::WatchEvent::Added(cm)))) => {
            assert_eq!(cm.metadata.name.as_deref(), Some("late"));
        }
        other => panic!("the quiet watch did not deliver its late event: {other:?}"),
    }
}

/// Reads one request's head and returns it.
async fn head_of(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A watch whose connection stalls (the server stops sending without
/// closing, as a node cut off from the API server sees it) is replaced by a
/// new watch within `WATCH_TIMEOUT_SECS` plus the watcher's 5 s margin,
/// not kube's default of five minutes: a Service created meanwhile is seen.
/// About a minute long.
#[tokio::test]
async fn a_stalled_watch_is_replaced_within_the_watch_timeout() {
    use ferrolb_k8s::watch::{WATCH_TIMEOUT_SECS, watch};
    use std::sync::{Arc, Mutex};
    use tokio::time::Instant;

    let (listener, api) = server_and_client().await;
    let watches: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = watches.clone();
    // Lists answer an empty list; watches start their response and then
    // say nothing, ever.
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                loop {
                    let head = head_of(&mut stream).await;
                    if head.is_empty() {
                        return;
                    }
                    if head.contains("watch=true") {
                        seen.lock().expect("lock").push(Instant::now());
                        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                        let _ = stream.write_all(head.as_bytes()).await;
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    let body = r#"{"apiVersion":"v1","kind":"ConfigMapList","metadata":{"resourceVersion":"1"},"items":[]}"#;
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let events = watch(api, kube::runtime::watcher::Config::default(), |_| ());
    let drive = tokio::spawn(async move {
        futures::pin_mut!(events);
        while futures::StreamExt::next(&mut events).await.is_some() {}
    });
    let bound = Duration::from_secs(u64::from(WATCH_TIMEOUT_SECS) + 5 + 20);
    let deadline = Instant::now() + bound;
    let replaced = loop {
        let times = watches.lock().expect("lock").clone();
        if times.len() >= 2 {
            break Some(times[1] - times[0]);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drive.abort();
    server.abort();
    let gap = replaced.unwrap_or_else(|| panic!("no new watch within {bound:?} of a stalled one"));
    assert!(
        gap >= Duration::from_secs(u64::from(WATCH_TIMEOUT_SECS)),
        "the stalled watch was replaced after {gap:?}, before the server could have ended it"
    );
}
