//! `limes triage` and `limes hashset` as an investigator runs them: three thousand generated
//! pictures, a hash set made with `limes pdq`, a triage killed half way and run again, the
//! progress lines, the reports; and imports that fail, saying where, without losing the set
//! already imported.

mod util;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn picture(seed: u32) -> Vec<u8> {
    // Blocks of 8 × 8 pixels, each of a grey drawn from the seed: pictures far apart in PDQ.
    let grey = |bx: u32, by: u32| {
        let mut h = seed.wrapping_mul(0x9e37_79b1) ^ (bx * 31 + by).wrapping_mul(0x85eb_ca6b);
        h ^= h >> 15;
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^= h >> 13;
        (h & 0xff) as u8
    };
    let img = image::RgbImage::from_fn(64, 64, |x, y| {
        let g = grey(x / 8, y / 8);
        image::Rgb([g, g.wrapping_add(20), g / 2])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn rows(case_db: &Path) -> i64 {
    let Ok(db) = rusqlite::Connection::open_with_flags(case_db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return 0;
    };
    db.query_row("SELECT count(*) FROM files", [], |r| r.get(0)).unwrap_or(0)
}

#[test]
fn a_triage_of_thousands_of_pictures_killed_half_way_resumes_and_reports() {
    const N: u32 = 3000;
    let tmp = tempfile::tempdir().unwrap();
    let evidence = tmp.path().join("evidence");
    for i in 0..N {
        let dir = evidence.join(format!("{:02}", i % 30));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{i:05}.png")), picture(i)).unwrap();
    }
    let dir = tmp.path().join("triage");
    let dir_s = dir.to_str().unwrap();

    // A known picture's PDQ, as `limes pdq` prints it, imported as a graded list.
    let known = evidence.join("07/00007.png");
    let out = util::limes(&["pdq", known.to_str().unwrap()]);
    assert!(out.status.success());
    let list = tmp.path().join("known.pdq");
    std::fs::write(&list, &out.stdout).unwrap();
    let out = util::limes(&[
        "hashset",
        "import",
        list.to_str().unwrap(),
        "--format",
        "pdq",
        "--source",
        "unit-list",
        "--category",
        "vics-us:1",
        "--dir",
        dir_s,
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("unit-list: 1 hashes imported"));

    // Killed once some files are recorded…
    let case_db = dir.join("RO-2026-1/case.sqlite");
    let mut child = Command::new(util::limes_bin())
        .args([
            "triage",
            evidence.to_str().unwrap(),
            "--case",
            "RO-2026-1",
            "--dir",
            dir_s,
            "--threads",
            "1",
            "--progress",
            "lines",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    util::wait_until(Duration::from_secs(120), || rows(&case_db) >= 100);
    child.kill().unwrap();
    child.wait().unwrap();
    let recorded_at_kill = rows(&case_db);
    assert!(recorded_at_kill < i64::from(N), "the triage ended before it could be killed: make N larger");

    // …then run again: it goes on from there.
    let out = util::limes(&[
        "triage",
        evidence.to_str().unwrap(),
        "--case",
        "RO-2026-1",
        "--dir",
        dir_s,
        "--progress",
        "lines",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let before: i64 = stdout
        .split(" recorded before")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(before >= recorded_at_kill, "{stdout}");
    assert!(stdout.contains(&format!("{N} files found")), "{stdout}");
    assert_eq!(rows(&case_db), i64::from(N));
    // The progress: files done, files a second, time left.
    let last =
        stderr.lines().rfind(|l| l.starts_with("triage: ")).unwrap_or_else(|| panic!("no progress line: {stderr}"));
    assert!(
        last.contains(&format!("{}/{} files", i64::from(N) - before, i64::from(N) - before))
            && last.contains("files/s, ETA"),
        "{last}"
    );
    assert!(stdout.contains("near-match 1") && stdout.contains(&format!("unknown {}", N - 1)), "{stdout}");

    // The reports: the HTML summary names the near-match; the VICS export holds every picture.
    let html = std::fs::read_to_string(dir.join("RO-2026-1/report.html")).unwrap();
    assert!(html.contains("00007.png") && html.contains("vics-us:1"), "{html}");
    let vics = std::fs::read_to_string(dir.join("RO-2026-1/vics.json")).unwrap();
    let exported = limes_triage::known::parse_vics(&vics, limes_triage::known::Scheme::VicsUs).unwrap();
    assert_eq!(exported.len(), N as usize);

    // The export imported as a hash set: a second seizure of the same pictures is all known,
    // and `limes triage report` judges the first case again.
    let vics_file = dir.join("RO-2026-1/vics.json");
    let out = util::limes(&[
        "hashset",
        "import",
        vics_file.to_str().unwrap(),
        "--format",
        "vics",
        "--source",
        "case-1",
        "--dir",
        dir_s,
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = util::limes(&["triage", "report", "--case", "RO-2026-1", "--dir", dir_s]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("known {N}")), "{stdout}");
    let out = util::limes(&["hashset", "list", "--dir", dir_s]);
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains(&format!("case-1,vics,{N},")) && list.contains("unit-list,pdq,1,"), "{list}");
}

#[test]
fn bad_hash_sets_and_case_ids_are_refused_saying_where_and_keep_what_was_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("triage");
    let dir_s = dir.to_str().unwrap();
    let good = tmp.path().join("good.md5");
    std::fs::write(&good, "d41d8cd98f00b204e9800998ecf8427e\n").unwrap();
    let out =
        util::limes(&["hashset", "import", good.to_str().unwrap(), "--format", "md5", "--source", "s", "--dir", dir_s]);
    assert!(out.status.success());
    for (name, content, format, says) in [
        ("bad.md5", &b"d41d8cd98f00b204e9800998ecf8427e\nnonsense\n"[..], "md5", "line 2"),
        ("bad.json", b"{\"@odata.context\":\"x#Media\",\"value\":[{\"Category\":7,\"MD5\":\"d41d8cd98f00b204e9800998ecf8427e\"}]}", "vics", "value[0].Category"),
        ("bad.csv", b"MD5;Category\nd41d8cd98f00b204e9800998ecf8427e;worst\n", "icse", "line 2, Category"),
        ("latin1.json", b"{\"@odata.context\":\"caf\xe9#Media\",\"value\":[]}", "vics", "not UTF-8"),
        ("fake.db", b"not sqlite", "nsrl", "nothing imported"),
    ] {
        let file = tmp.path().join(name);
        std::fs::write(&file, content).unwrap();
        let out = util::limes(&["hashset", "import", file.to_str().unwrap(), "--format", format, "--source", "s", "--dir", dir_s]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(says), "{name}: {stderr}");
    }
    let out = util::limes(&["hashset", "list", "--dir", dir_s]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("s,md5,1,"));
    // A list's names may be in any encoding (md5sum writes them as they are): only the hash,
    // first on the line, is read.
    let latin1 = tmp.path().join("latin1.md5");
    std::fs::write(&latin1, b"d41d8cd98f00b204e9800998ecf8427e  caf\xe9.jpg\n").unwrap();
    let out = util::limes(&[
        "hashset",
        "import",
        latin1.to_str().unwrap(),
        "--format",
        "md5",
        "--source",
        "l",
        "--dir",
        dir_s,
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for case in ["../escape", ".hidden", "a/b", ""] {
        let out = util::limes(&["triage", tmp.path().to_str().unwrap(), "--case", case, "--dir", dir_s]);
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("is not a case id"), "{case:?}");
    }
    assert!(!tmp.path().join("escape").exists());
}

/// Unknown pictures with faces first: the 1927 Solvay conference photograph and Newton's
/// portrait (public domain, among the fetched models' test pictures; the portrait inside a zip,
/// so it is read back out of the archive) before generated patterns, which have none.
#[test]
fn unknown_pictures_with_faces_are_ranked_first_for_review() {
    use limes_vision::models::ModelId;
    let models = util::models();
    let checked = limes_vision::models::check(Path::new(&models)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let evidence = tmp.path().join("evidence");
    std::fs::create_dir_all(&evidence).unwrap();
    for i in 0..3 {
        std::fs::write(evidence.join(format!("a-pattern-{i}.png")), picture(i)).unwrap();
    }
    std::fs::copy(checked.path(ModelId::GroupPhoto), evidence.join("z-group.jpg")).unwrap();
    let newton = std::fs::read(checked.path(ModelId::PortraitNewton)).unwrap();
    let mut zip = zip::ZipWriter::new(std::fs::File::create(evidence.join("m-portraits.zip")).unwrap());
    zip.start_file("old/portrait.jpg", zip::write::SimpleFileOptions::default()).unwrap();
    std::io::Write::write_all(&mut zip, &newton).unwrap();
    zip.finish().unwrap();
    let dir = tmp.path().join("triage");
    let out = util::limes(&[
        "triage",
        evidence.to_str().unwrap(),
        "--case",
        "faces",
        "--dir",
        dir.to_str().unwrap(),
        "--models",
        &models,
        "--progress",
        "off",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("faces: 5 unknown pictures counted, 2 with faces"), "{stdout}");
    let db = rusqlite::Connection::open(dir.join("faces/case.sqlite")).unwrap();
    let group: u32 = db.query_row("SELECT faces FROM files WHERE path LIKE '%z-group.jpg'", [], |r| r.get(0)).unwrap();
    assert!(group >= 20, "{group} faces in the group photograph");
    // The review table: the two pictures with faces, then the patterns.
    let html = std::fs::read_to_string(dir.join("faces/report.html")).unwrap();
    let review = &html[html.find("id=\"review\"").unwrap()..];
    let rows: Vec<&str> = review.split("<tr><td>").skip(1).take(5).collect();
    assert!(rows[0].contains("z-group.jpg") || rows[0].contains("portrait.jpg"), "{rows:#?}");
    assert!(rows[1].contains("z-group.jpg") || rows[1].contains("portrait.jpg"), "{rows:#?}");
    assert!(rows[2..].iter().all(|r| r.contains("a-pattern")), "{rows:#?}");
    // Counted pictures are not counted again.
    let out =
        util::limes(&["triage", "report", "--case", "faces", "--dir", dir.to_str().unwrap(), "--models", &models]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("faces: 0 unknown pictures counted"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The review, on a node whose `[triage] dir` holds a case: only the victim-identification role
/// opens it (every other role of the tester, supervisor and DPO included, is refused and the
/// refusal logged); thumbnails are grey and blurred until one is revealed, and the reveal and
/// the category given are each in the audit log; the category reaches the case's VICS export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_is_the_specialised_units_alone_blurred_until_revealed_and_audited() {
    let triage = tempfile::tempdir().unwrap();
    let dir = triage.path().to_str().unwrap().to_owned();
    let seized = tempfile::tempdir().unwrap();
    let evidence = seized.path().join("e");
    std::fs::create_dir_all(&evidence).unwrap();
    for i in 0..3 {
        std::fs::write(evidence.join(format!("{i}.png")), picture(100 + i)).unwrap();
    }
    let out = util::limes(&[
        "triage",
        evidence.to_str().unwrap(),
        "--case",
        "RO-REV-1",
        "--dir",
        &dir,
        "--owner",
        "DIICOT, victim identification",
        "--progress",
        "off",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let node = util::TestNode::start_edited(|c| format!("{c}\n[triage]\ndir = {dir:?}\n"));

    // A member of the specialised unit, signed in for the investigation.
    let password = node.dir.path().join("vid-password");
    std::fs::write(&password, "victim identification 2026").unwrap();
    let out = Command::new(util::limes_bin())
        .args(["user", "add", "vid", "--password-file", password.to_str().unwrap(), "--role", "victim_identification"])
        .env("LIMES_URL", &node.url)
        .env("LIMES_TOKEN", &node.admin_token)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(util::limes_bin())
        .args([
            "login",
            "--user",
            "vid",
            "--password-file",
            password.to_str().unwrap(),
            "--purpose",
            "investigation",
            "--legal-basis",
            util::TEST_LEGAL_BASIS,
        ])
        .env("LIMES_URL", &node.url)
        .env_remove("LIMES_TOKEN")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let vid = util::bearer_client(String::from_utf8(out.stdout).unwrap().trim());

    let cases: serde_json::Value = vid.get(node.at("/api/v1/triage/cases")).send().await.unwrap().json().await.unwrap();
    assert_eq!(cases[0]["case"], "RO-REV-1", "{cases}");
    assert_eq!(cases[0]["owner"], "DIICOT, victim identification");
    assert_eq!(cases[0]["to_review"], 3);
    let files: serde_json::Value =
        vid.get(node.at("/api/v1/triage/cases/RO-REV-1/files")).send().await.unwrap().json().await.unwrap();
    let files = files.as_array().unwrap();
    assert_eq!(files.len(), 3);
    let id = files[0]["id"].as_u64().unwrap();
    let thumb = files[0]["thumbnail"].as_str().unwrap().to_owned();

    // Grey and blurred by default; in colour once revealed; never cached.
    let r = vid.get(node.at(&thumb)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let hidden = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(hidden.color(), image::ColorType::L8);
    let r = vid.get(node.at(&format!("{thumb}?reveal=true"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let clear = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(clear.color(), image::ColorType::Rgb8);

    // Categorised (VICS 1), refused for a category that does not exist.
    let r = vid
        .put(node.at(&format!("/api/v1/triage/cases/RO-REV-1/files/{id}/category")))
        .json(&serde_json::json!({"category": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = vid
        .put(node.at(&format!("/api/v1/triage/cases/RO-REV-1/files/{id}/category")))
        .json(&serde_json::json!({"category": "7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let files: serde_json::Value =
        vid.get(node.at("/api/v1/triage/cases/RO-REV-1/files?show=all")).send().await.unwrap().json().await.unwrap();
    let reviewed = files.as_array().unwrap().iter().find(|f| f["id"] == id).unwrap();
    assert_eq!(
        (reviewed["category"].as_str(), reviewed["reviewed_by"].as_str()),
        (Some("vics-us:1"), Some("user:vid")),
        "{reviewed}"
    );

    // Everyone else is refused, supervisor and DPO included.
    let tester = util::bearer_client(&node.session);
    for path in ["/api/v1/triage/cases", "/api/v1/triage/cases/RO-REV-1/files", &thumb] {
        assert_eq!(tester.get(node.at(path)).send().await.unwrap().status(), 403, "{path}");
    }
    // A case id that climbs out of the folder is refused before anything is opened.
    assert_eq!(vid.get(node.at("/api/v1/triage/cases/..%2Fetc/files")).send().await.unwrap().status(), 400);

    // The reveal, the category and the refusals are in the audit log.
    let records = util::audit_records(&node, &[]);
    let of = |object: &str, action: &str| {
        records.iter().any(|r| r["object"].as_str().is_some_and(|o| o.starts_with(object)) && r["action"] == action)
    };
    assert!(of(&format!("triage:RO-REV-1/{id}"), "consult"), "the reveal");
    assert!(of(&format!("triage:RO-REV-1/{id}=vics-us:1"), "alter"), "the category");
    assert!(records.iter().any(|r| r["action"] == "denied"
        && r["actor"].as_str().is_some_and(|a| a.contains("tester"))
        && r["object"] == "triage:cases"));
    drop(node);

    // The reviewer's category is in the case's VICS export.
    let out = util::limes(&["triage", "report", "--case", "RO-REV-1", "--dir", &dir]);
    assert!(out.status.success());
    let vics = std::fs::read_to_string(triage.path().join("RO-REV-1/vics.json")).unwrap();
    let back = limes_triage::known::parse_vics(&vics, limes_triage::known::Scheme::VicsUs).unwrap();
    assert_eq!(back.iter().filter(|k| k.category.as_ref().is_some_and(|c| c.to_string() == "vics-us:1")).count(), 1);
}
