//! `limes triage` and `limes hashset`: media triage of seized devices (issue #12) from the
//! command line. The work is `limes-triage-scan`'s; this parses arguments and prints.

use std::path::{Path, PathBuf};

use anyhow::Context;
use limes_triage::known::{self, Category, ListKind, Scheme};
use limes_triage_scan::scan::{self, Options, Progress};
use limes_triage_scan::store::{CaseStore, HashSets};
use limes_triage_scan::{deconflict, faces, matching, report};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct TriageArgs {
    #[command(subcommand)]
    command: Option<TriageCommand>,
    /// Folders and files of the seized media (a path named `report` is written `./report`).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    case: CaseArgs,
    /// Threads hashing (all cores by default).
    #[arg(long)]
    threads: Option<usize>,
    /// Progress: `auto` (a bar on a terminal, a line every two seconds otherwise), `lines`, `off`.
    #[arg(long, default_value = "auto", value_parser = ["auto", "lines", "off"])]
    progress: String,
    /// The ffmpeg that reads videos.
    #[arg(long, env = "LIMES_FFMPEG", default_value = "ffmpeg")]
    ffmpeg: PathBuf,
}

#[derive(Debug, clap::Args)]
struct CaseArgs {
    /// The case: its files go to DIR/CASE/ (letters, digits, '.', '_', '-').
    // An `Option` only so that `limes triage report --case …` parses: the `limes triage` before
    // it holds these arguments too, and clap cannot make a `String` of one that is absent.
    #[arg(long, required = true)]
    case: Option<String>,
    #[command(flatten)]
    dir: DirArg,
    /// PDQ distance up to which a picture is a near-match of a known one (and of its series).
    #[arg(long, default_value_t = limes_triage::mih::DEFAULT_RADIUS, value_parser = clap::value_parser!(u32).range(0..=128))]
    radius: u32,
    /// The fetched models folder (`limes models fetch`): count the faces of unknown pictures
    /// and put those with faces first for review.
    #[arg(long)]
    models: Option<PathBuf>,
    /// Whom to contact about the case (unit, name, telephone): told to the owners of the node's
    /// other cases that share its new files, cameras or pictures. Kept from one run to the next.
    #[arg(long)]
    owner: Option<String>,
}

impl CaseArgs {
    /// The case id (clap has made sure there is one).
    fn id(&self) -> &str {
        self.case.as_deref().unwrap_or_default()
    }
}

#[derive(Debug, clap::Args)]
struct DirArg {
    /// The triage folder: hash sets (hashsets.sqlite) and one folder per case.
    #[arg(long, env = "LIMES_TRIAGE_DIR", default_value = "limes-triage")]
    dir: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
enum TriageCommand {
    /// Judge the case's files again against the hash sets (after an import) and write its
    /// reports: DIR/CASE/report.html and DIR/CASE/vics.json.
    Report(CaseArgs),
}

pub fn triage(a: TriageArgs) -> anyhow::Result<()> {
    if let Some(TriageCommand::Report(c)) = a.command {
        let mut case = CaseStore::open(&c.dir.dir, c.id())?;
        return judge_and_report(&mut case, &c);
    }
    let c = a.case;
    let mut case = CaseStore::open(&c.dir.dir, c.id())?;
    let options = Options {
        threads: a.threads.unwrap_or_else(|| Options::default().threads),
        progress: match a.progress.as_str() {
            "lines" => Progress::Lines,
            "off" => Progress::Off,
            _ => Progress::Auto,
        },
        ffmpeg: a.ffmpeg,
        ..Options::default()
    };
    let s = scan::scan(&mut case, &a.paths, &options)?;
    println!(
        "case {}: {} files found ({} recorded before), {} records written ({} with a note) in {:.1} s ({:.0} files/s)",
        c.id(),
        s.found,
        s.already,
        s.recorded,
        s.noted,
        s.seconds,
        (s.found - s.already) as f64 / s.seconds.max(1e-3)
    );
    judge_and_report(&mut case, &c)
}

fn judge_and_report(case: &mut CaseStore, c: &CaseArgs) -> anyhow::Result<()> {
    let sets = HashSets::open_read(&c.dir.dir)?;
    let m = matching::match_case(case, &sets, c.radius)?;
    let counts: Vec<String> = m.by_status.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!("verdicts: {}; {} series of near-duplicates", counts.join(", "), m.series);
    if let Some(models) = &c.models {
        let counted = count_faces(case, models)?;
        println!(
            "faces: {} unknown pictures counted, {} with faces{}",
            counted.pictures,
            counted.with_faces,
            if counted.failed > 0 {
                format!(", {} could not be (see the report)", counted.failed)
            } else {
                String::new()
            }
        );
    }
    let notices = deconflict::deconflict(&c.dir.dir, c.id(), case, c.owner.as_deref().unwrap_or_default(), c.radius)?;
    for n in &notices {
        let contact = if n.owner.is_empty() { "no owner given".to_owned() } else { format!("contact: {}", n.owner) };
        let o = n.overlap;
        println!(
            "deconfliction: case {} ({contact}) shares {} new files, {} cameras, {} near pictures with this case",
            n.case, o.files, o.devices, o.pictures
        );
    }
    let files = report::load(case, &sets)?;
    let html = case.dir().join("report.html");
    let vics = case.dir().join("vics.json");
    std::fs::write(&html, report::html(c.id(), &files, &notices)).with_context(|| html.display().to_string())?;
    std::fs::write(&vics, report::vics_export(c.id(), &files)).with_context(|| vics.display().to_string())?;
    println!("reports: {} {}", html.display(), vics.display());
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct HashsetArgs {
    #[command(subcommand)]
    command: HashsetCommand,
}

#[derive(Debug, clap::Subcommand)]
enum HashsetCommand {
    /// Import a hash set; importing a source again replaces it.
    Import {
        file: PathBuf,
        /// The source's name (`projectvic-2026-10`, `nsrl-2026.09`, `unit-list`).
        #[arg(long)]
        source: String,
        /// `vics` (VICS 2.0 JSON), `icse` (Interpol ICSE CSV), `nsrl` (RDS 3 SQLite),
        /// `nsrl-txt` (RDS 2 NSRLFile.txt), or a plain list: `md5`, `sha1`, `sha256`, `pdq`.
        #[arg(long, value_parser = ["vics", "icse", "nsrl", "nsrl-txt", "md5", "sha1", "sha256", "pdq"])]
        format: String,
        /// How a VICS export's numeric categories are read: `vics-us` or `caid`.
        #[arg(long, default_value = "vics-us")]
        scheme: String,
        /// The category of every hash of a plain list (`vics-us:1`, `caid:A`, `icse:baseline`,
        /// `nsrl`); a list without one is known, not graded.
        #[arg(long)]
        category: Option<String>,
        #[command(flatten)]
        dir: DirArg,
    },
    /// The imported sources.
    List {
        #[command(flatten)]
        dir: DirArg,
    },
}

/// The largest hash set read as text (a VICS export of millions of media is a few GB).
const MAX_TEXT: u64 = 8 << 30;

/// A hash set's text. JSON must be UTF-8; lists and CSV files may carry names in any encoding
/// (NSRL's are not always UTF-8, `md5sum` writes names as they are), and only their hashes and
/// categories, which are ASCII, are read, so their other bytes are taken as they come.
fn read_text(file: &Path, strict: bool) -> anyhow::Result<String> {
    let size = std::fs::metadata(file).with_context(|| file.display().to_string())?.len();
    anyhow::ensure!(size <= MAX_TEXT, "{}: {size} bytes, more than the {MAX_TEXT} read as a hash set", file.display());
    let bytes = std::fs::read(file).with_context(|| file.display().to_string())?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) if strict => anyhow::bail!(
            "{}: not UTF-8 text (byte {}); nothing imported",
            file.display(),
            e.utf8_error().valid_up_to()
        ),
        Err(e) => Ok(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

pub fn hashset(a: HashsetArgs) -> anyhow::Result<()> {
    match a.command {
        HashsetCommand::Import { file, source, format, scheme, category, dir } => {
            let category = category.map(|c| Category::parse(&c)).transpose().map_err(anyhow::Error::msg)?;
            let scheme = match Scheme::from_name(&scheme) {
                Some(s @ (Scheme::VicsUs | Scheme::Caid)) => s,
                _ => anyhow::bail!("--scheme {scheme:?}: vics-us or caid"),
            };
            let mut sets = HashSets::open(&dir.dir)?;
            let at = |e: known::ImportError| anyhow::anyhow!("{}: {e}; nothing imported", file.display());
            let n = match format.as_str() {
                "nsrl" => {
                    sets.import_nsrl_rds3(&source, &file).map_err(|e| anyhow::anyhow!("{e}; nothing imported"))?
                }
                other => {
                    let text = read_text(&file, other == "vics")?;
                    let hashes = match other {
                        "vics" => known::parse_vics(&text, scheme).map_err(at)?,
                        "icse" => known::parse_icse_csv(&text).map_err(at)?,
                        "nsrl-txt" => known::parse_nsrl_txt(&text).map_err(at)?,
                        "md5" => known::parse_list(&text, ListKind::Md5, category).map_err(at)?,
                        "sha1" => known::parse_list(&text, ListKind::Sha1, category).map_err(at)?,
                        "sha256" => known::parse_list(&text, ListKind::Sha256, category).map_err(at)?,
                        _ => known::parse_list(&text, ListKind::Pdq, category).map_err(at)?,
                    };
                    sets.import(&source, other, hashes)?
                }
            };
            println!("{source}: {n} hashes imported from {}", file.display());
        }
        HashsetCommand::List { dir } => {
            let sets = HashSets::open_read(&dir.dir)?;
            println!("source,format,hashes,imported");
            for s in sets.sources()? {
                println!("{},{},{},{}", s.name, s.format, s.hashes, s.imported);
            }
        }
    }
    Ok(())
}

/// The faces of the case's unknown pictures, by the node's face detector (CenterFace), one
/// detector per thread.
fn count_faces(case: &mut CaseStore, models: &Path) -> anyhow::Result<faces::Counted> {
    use limes_vision::faces::{FaceDetector, FaceSettings};
    let checked = limes_vision::models::check(models)?;
    let runtime = limes_vision::runtime::Runtime::load(&checked)?;
    let threads = Options::default().threads;
    Ok(faces::count_faces(
        case,
        threads,
        || {
            FaceDetector::new(&runtime, &checked, FaceSettings { threads: 1, ..FaceSettings::default() })
                .map_err(|e| e.to_string())
        },
        |d, picture| d.faces(picture).map(|f| f.len()).map_err(|e| e.to_string()),
    )?)
}
