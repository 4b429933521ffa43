//! Large payloads between two links over real mutual TLS, through a proxy that cuts every
//! connection after a few hundred kilobytes: the transfer resumes where it stopped and the
//! receiver keeps only bytes that hash to the blob's name.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use common::free_port;
use limes_federation::MessageType;
use limes_link::{Link, LinkConfig, Running};
use limes_model::AgencyId;
use sha2::{Digest, Sha256};

/// Blobs up to 16 MiB.
fn config(agency: &str, country: &str, port: u16, url: String) -> LinkConfig {
    LinkConfig { max_blob_bytes: 16 << 20, ..common::config(agency, country, port, url) }
}

struct Pair {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    ro: Link,
    ua: Link,
    _running: (Running, Running),
    proxy: limes_netlab::FaultProxy,
}

/// `ro` reaches `ua` through a proxy; `ua` has `ro` as a partner.
async fn pair() -> Pair {
    let (dir_ro, dir_ua) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ro_port, ua_port) = (free_port(), free_port());
    let proxy = limes_netlab::FaultProxy::start(SocketAddr::from(([127, 0, 0, 1], ua_port))).unwrap();
    let ro =
        limes_link::open(dir_ro.path(), config("ro-igpf", "RO", ro_port, format!("https://127.0.0.1:{ro_port}")), None)
            .unwrap();
    let ua = limes_link::open(
        dir_ua.path(),
        config("ua-dpsu", "UA", ua_port, format!("https://{}", proxy.local_addr())),
        None,
    )
    .unwrap();
    let alert: BTreeSet<MessageType> = [MessageType::new("alert").unwrap()].into();
    ro.add_partner(ua.anchor().unwrap(), alert.clone(), BTreeSet::new()).unwrap();
    ua.add_partner(ro.anchor().unwrap(), BTreeSet::new(), alert).unwrap();
    let running = (ro.start().await.unwrap(), ua.start().await.unwrap());
    Pair { _dirs: (dir_ro, dir_ua), ro, ua, _running: running, proxy }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_crosses_in_chunks_resumes_after_each_cut_and_is_verified() {
    let p = pair().await;
    // Every connection is cut after at most 700 kB: a 2.5 MB file needs several.
    p.proxy.set_random_cuts(Some(limes_netlab::RandomCuts::bytes_up_to(700_000)));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("drone-clip.bin");
    let bytes: Vec<u8> = (0..2_500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let ua = AgencyId::new("ua-dpsu").unwrap();
    let sha = p.ro.send_blob(&ua, &file, 200).await.unwrap();
    assert_eq!(sha, <[u8; 32]>::from(Sha256::digest(&bytes)));
    let stored = p.ua.blob_path(&sha).expect("the receiver holds the verified blob");
    assert_eq!(std::fs::read(stored).unwrap(), bytes);
    assert!(p.proxy.stats().cut >= 3, "the transfer was interrupted: {:?}", p.proxy.stats());
    // Sending it again costs nothing: the receiver has it.
    p.proxy.set_random_cuts(None);
    assert_eq!(p.ro.send_blob(&ua, &file, 3).await.unwrap(), sha);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_do_not_hash_to_the_name_are_deleted_and_refused() {
    let p = pair().await;
    // A sender that names a blob by one hash and sends other bytes (a fault, or a lie).
    let ro_identity_dir = p.ro.identity();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(
            limes_link::tls::client_config(ro_identity_dir, p.ua.identity().fingerprint()).unwrap(),
        )
        .build()
        .unwrap();
    let claimed: [u8; 32] = Sha256::digest(b"the real clip").into();
    let name: String = claimed.iter().map(|b| format!("{b:02x}")).collect();
    let url = format!("https://{}/federation/v1/blobs/{name}", p.ua.config().listen);
    let r = client.put(format!("{url}?offset=0&total=13")).body("another clip!").send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "bad_digest", "{body}");
    assert!(p.ua.blob_path(&claimed).is_none());
    let status: serde_json::Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["received"], 0, "the bad bytes are gone: {status}");
    // A chunk at the wrong offset is told where to resume; one too big for the limit is refused.
    client.put(format!("{url}?offset=0&total=13")).body("the real").send().await.unwrap();
    let r = client.put(format!("{url}?offset=2&total=13")).body("xx").send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CONFLICT);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["received"], 8);
    let r = client.put(format!("{url}?offset=8&total=99999999999")).body(" clip").send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE);
    let r = client.put(format!("{url}?offset=8&total=13")).body(" clip").send().await.unwrap();
    assert!(r.status().is_success());
    assert!(p.ua.blob_path(&claimed).is_some());
}
