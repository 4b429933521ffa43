//! The hash-set store with real files: NSRL's own `NSRLFile.txt` lines from the shared samples,
//! an RDS 3 SQLite database built with NIST's published schema, VICS documents in both forms.

use std::path::PathBuf;

use limes_triage::known::{self, Category, KnownHash, Scheme, parse_hex};
use limes_triage_scan::store::HashSets;

fn md5(text: &str) -> [u8; 16] {
    parse_hex(text).unwrap().unwrap()
}

#[test]
fn nsrl_rds2_lines_from_the_shared_sample_are_known_software() {
    let sample = match std::env::var_os("LIMES_SHARED") {
        Some(d) => std::fs::read_to_string(PathBuf::from(d).join("samples/nsrl_rds_NSRLFile_excerpt.txt")).unwrap(),
        None => return eprintln!("LIMES_SHARED is not set: the NSRL sample is not read here"),
    };
    let hashes = known::parse_nsrl_txt(&sample).unwrap();
    assert_eq!(hashes.len(), 2);
    assert_eq!(hashes[0].md5, Some(md5("8ED4B4ED952526D89899E723F3488DE4")));
    assert_eq!(hashes[0].category().to_string(), "nsrl");
    assert!(hashes[0].name.as_deref().unwrap().starts_with("wow64_microsoft-windows"));
    let dir = tempfile::tempdir().unwrap();
    let mut sets = HashSets::open(dir.path()).unwrap();
    assert_eq!(sets.import("nsrl-2.x", "nsrl-txt", hashes).unwrap(), 2);
    let sha1: [u8; 20] = parse_hex("00000079FD7AAC9B2F9C988C50750E1F50B27EB5").unwrap().unwrap();
    let hits = sets.exact(&[0; 16], &sha1, &[0; 32]).unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|h| h.category.class() == known::Class::KnownGood));
    // Hostile text: no header, a broken row.
    assert!(known::parse_nsrl_txt("").is_err());
    let e = known::parse_nsrl_txt(&format!("{sample}\"zz\",\"8ED4\",\"1\",\"x\",1,1,\"1\",\"\"\n")).unwrap_err();
    assert_eq!(e.location, "line 4, SHA-1");
}

#[test]
fn nsrl_rds3_sqlite_is_read_row_by_row_and_a_bad_row_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rds = dir.path().join("RDS_2026.09_modern_minimal.db");
    let db = rusqlite::Connection::open(&rds).unwrap();
    db.execute_batch(
        "CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL, file_name VARCHAR NOT NULL,
             file_size INTEGER NOT NULL, package_id INTEGER NOT NULL);
         INSERT INTO FILE VALUES
           ('E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855', 'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709',
            'D41D8CD98F00B204E9800998ECF8427E', 'empty.dat', 0, 1),
           ('2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824', 'AAF4C61DDCC5E8A2DABEDE0F3B482CD9AEA9434D',
            '5D41402ABC4B2A76B9719D911017C592', 'hello.txt', 5, 2);",
    )
    .unwrap();
    drop(db);
    let triage = tempfile::tempdir().unwrap();
    let mut sets = HashSets::open(triage.path()).unwrap();
    assert_eq!(sets.import_nsrl_rds3("nsrl", &rds).unwrap(), 2);
    let hits = sets.exact(&md5("5D41402ABC4B2A76B9719D911017C592"), &[0; 20], &[0; 32]).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].category.class(), known::Class::KnownGood);

    // A row with a broken hash: the import fails naming it, and the earlier import stays.
    let db = rusqlite::Connection::open(&rds).unwrap();
    db.execute("INSERT INTO FILE VALUES ('', 'NOT-HEX', '', 'x', 1, 3)", []).unwrap();
    drop(db);
    let e = sets.import_nsrl_rds3("nsrl", &rds).unwrap_err().to_string();
    assert!(e.contains("FILE row 3, sha1"), "{e}");
    assert_eq!(sets.sources().unwrap()[0].hashes, 2);
    assert_eq!(sets.exact(&md5("5D41402ABC4B2A76B9719D911017C592"), &[0; 20], &[0; 32]).unwrap().len(), 1);
    // Not an RDS at all: a text file, a database without FILE.
    let text = dir.path().join("not.db");
    std::fs::write(&text, "hello").unwrap();
    assert!(sets.import_nsrl_rds3("nsrl", &text).is_err());
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE x(y)").unwrap();
    assert!(sets.import_nsrl_rds3("nsrl", &other).unwrap_err().to_string().contains("no FILE table"));
}

#[test]
fn vics_in_both_forms_and_icse_are_kept_per_source_and_replaced_by_a_new_release() {
    let media = r#"{"@odata.context":"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media",
        "value":[{"MediaID":1,"Category":1,"MD5":"0CC175B9C0F1B6A831C399E269772661","SHA1":"86F7E437FAA5A7FCE15D1DDCB9EAEAEA377667B8",
                  "MediaFiles":[{"FileName":"a.jpg","FilePath":"/x/a.jpg"}]},
                 {"MediaID":2,"Category":null,"MD5":"92EB5FFEE6AE2FEC3AD71C777531578F"}]}"#;
    let cases = r#"{"odata.metadata":"http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Cases",
        "value":[{"CaseNumber":"X","Media":[{"MediaID":7,"Category":"3","MD5":"0CC175B9C0F1B6A831C399E269772661",
                  "AlternativeHashes":[{"HashName":"PhotoDNA","HashValue":"AAAA"}]}]}]}"#;
    let icse = "MD5;Category\n0cc175b9c0f1b6a831c399e269772661;baseline\n";
    let dir = tempfile::tempdir().unwrap();
    let mut sets = HashSets::open(dir.path()).unwrap();
    sets.import("vic-media", "vics", known::parse_vics(media, Scheme::VicsUs).unwrap()).unwrap();
    sets.import("vic-cases", "vics", known::parse_vics(cases, Scheme::VicsUs).unwrap()).unwrap();
    sets.import("icse", "icse", known::parse_icse_csv(icse).unwrap()).unwrap();
    let a = md5("0CC175B9C0F1B6A831C399E269772661");
    let mut hits: Vec<String> =
        sets.exact(&a, &[0; 20], &[0; 32]).unwrap().iter().map(|h| format!("{}={}", h.source, h.category)).collect();
    hits.sort();
    assert_eq!(hits, ["icse=icse:baseline", "vic-cases=vics-us:3", "vic-media=vics-us:1"]);
    // A new release of a source replaces the old one.
    sets.import(
        "vic-media",
        "vics",
        [KnownHash {
            md5: Some([9; 16]),
            category: Some(Category::parse("vics-us:0").unwrap()),
            ..KnownHash::default()
        }],
    )
    .unwrap();
    assert_eq!(sets.exact(&a, &[0; 20], &[0; 32]).unwrap().len(), 2);
    let sources: Vec<(String, u64)> = sets.sources().unwrap().into_iter().map(|s| (s.name, s.hashes)).collect();
    assert_eq!(sources, [("icse".to_string(), 1), ("vic-cases".to_string(), 1), ("vic-media".to_string(), 1)]);
}
