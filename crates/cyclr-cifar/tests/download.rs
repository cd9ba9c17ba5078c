//! Downloading against a local HTTP server: success, HTTP errors, a dropped connection and a
//! wrong checksum; no partial file ever takes the final name, and a second attempt works.

use std::io::{Read, Write};
use std::net::TcpListener;

use cyclr_cifar::download::{DownloadError, DownloadSpec, download};
use md5::{Digest, Md5};

fn serve(behaviours: Vec<&'static str>, body: Vec<u8>) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/data.tar.gz", listener.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        for b in behaviours {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = |len: usize| {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
            };
            match b {
                "404" => {
                    let _ = s.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
                "stall" => {
                    let _ = s.write_all(head(body.len()).as_bytes());
                    let _ = s.write_all(&body[..body.len() / 3]);
                    // Hold the connection open until the client gives up (or 30 s pass).
                    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
                        .unwrap();
                    let _ = s.read(&mut buf);
                }
                "drop" => {
                    let _ = s.write_all(head(body.len()).as_bytes());
                    let _ = s.write_all(&body[..body.len() / 3]);
                }
                "flip" => {
                    let mut bad = body.clone();
                    bad[1000] ^= 0xff;
                    let _ = s.write_all(head(bad.len()).as_bytes());
                    let _ = s.write_all(&bad);
                }
                _ => {
                    let _ = s.write_all(head(body.len()).as_bytes());
                    let _ = s.write_all(&body);
                }
            }
        }
    });
    (url, h)
}

#[test]
fn faults_then_success() {
    let body: Vec<u8> = (0..500_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let md5 = format!("{:x}", Md5::digest(&body));
    let (url, handle) = serve(vec!["404", "drop", "flip", "ok"], body.clone());
    let spec = DownloadSpec {
        url,
        md5,
        size: Some(body.len() as u64),
        stall_timeout: std::time::Duration::from_secs(60),
    };
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("cache").join("data.tar.gz");
    let mut seen = 0u64;

    let e = download(&spec, &dest, &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(e, DownloadError::Http { .. }) && e.to_string().contains("404"),
        "{e}"
    );
    let e = download(&spec, &dest, &mut |_, _| {}).unwrap_err();
    assert!(matches!(e, DownloadError::Incomplete { .. }), "{e}");
    assert!(e.to_string().contains("stopped after"), "{e}");
    let e = download(&spec, &dest, &mut |_, _| {}).unwrap_err();
    assert!(matches!(e, DownloadError::Checksum { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("It was deleted; run the command again")
    );
    let files: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .flatten()
        .collect();
    assert!(files.is_empty(), "nothing left behind after failures");

    let got = download(&spec, &dest, &mut |n, total| {
        assert_eq!(total, Some(body.len() as u64));
        seen = n;
    })
    .unwrap();
    assert_eq!(std::fs::read(got).unwrap(), body);
    assert_eq!(seen, body.len() as u64, "progress reached the end");
    handle.join().unwrap();
}

#[test]
fn a_stalled_transfer_fails_instead_of_hanging() {
    let body: Vec<u8> = (0..500_000u32).map(|i| (i * 3 % 256) as u8).collect();
    let md5 = format!("{:x}", Md5::digest(&body));
    let (url, handle) = serve(vec!["stall"], body.clone());
    let spec = DownloadSpec {
        url,
        md5,
        size: Some(body.len() as u64),
        stall_timeout: std::time::Duration::from_secs(1),
    };
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("data.tar.gz");
    let e = download(&spec, &dest, &mut |_, _| {}).unwrap_err();
    assert!(matches!(e, DownloadError::Incomplete { .. }), "{e}");
    assert!(
        e.to_string().contains("timeout"),
        "the client gave up, not the server: {e}"
    );
    assert!(
        !dest.exists(),
        "a stalled transfer never takes the final name"
    );
    handle.join().unwrap();
}
