//! The edit-distance queries of the search benchmark as PostgreSQL `pg_trgm`
//! similarity queries on the same list, side by side with limes in one run.
//!
//! The `--index-entries` plates of the search benchmark (same seed, same list)
//! are loaded with `COPY` into an unlogged table with a GIN trigram index; the
//! first [`SAMPLE`] of its edit-distance ≤ 2 queries (same seed, same queries)
//! run as `plate % $1`, timed one by one from this client, including the transfer
//! of the rows. limes answers the same sample again in this run, and both are
//! scored against the brute-force oracle by entry id.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, bail};
use limes_hotlist::{BruteForce, MaxEdits, SearchHit};
use limes_plate::PlateText;
use postgres::{Client, NoTls};

use super::matching::{Agreement, Hotlist, Latency, SEARCH_LIMIT, edit_queries, ids, timed_search};
use super::{BenchArgs, figure};

/// Queries run on both sides: the first this many of the search benchmark's.
const SAMPLE: usize = 1_000;

/// Untimed queries first, so that PostgreSQL's caches hold what the queries touch.
const WARM_UP: usize = 50;

/// The trigram similarity threshold of `%` for the figures. A plate of 7 or 8
/// characters has 8 or 9 trigrams (pg_trgm pads a word with two spaces before and
/// one after), and each edit can break 3 of them, so two plates 2 edits apart can
/// share as little as 2 of 14 trigrams (similarity 0.14) or 3 of 15 (0.2). The
/// default, 0.3, finds hardly any 2-edit neighbours; 0.15 finds most of them
/// (at 0.1 a query costs several times as much, for little more recall).
const THRESHOLD: f64 = 0.15;

/// pg_trgm's default threshold, measured too, as a user would first try it.
const DEFAULT_THRESHOLD: f64 = 0.3;

const TABLE: &str = "limes_bench_plates";

pub fn run(a: &BenchArgs) -> anyhow::Result<()> {
    eprintln!("== pgtrgm: edit-distance queries as pg_trgm similarity queries over {} plates", a.index_entries);
    let mut client = Client::connect(&a.postgres, NoTls).with_context(|| {
        format!("cannot connect to PostgreSQL with {:?}: is it running? (pass another with --postgres)", a.postgres)
    })?;
    let version: String = client.query_one("SHOW server_version", &[])?.get(0);
    eprintln!("PostgreSQL {version}");
    client
        .batch_execute("SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pg_trgm")
        .context("CREATE EXTENSION pg_trgm")?;

    let cfg = super::matching::sim_config(a);
    let list = super::matching::hotlist(&cfg, a.index_entries)?;
    let plates = super::matching::edit_query_plates(&list.entries, a.queries, a.seed);
    let plates = &plates[..SAMPLE.min(plates.len())];
    if plates.is_empty() {
        bail!("--queries is 0: there is nothing to compare");
    }
    let queries = edit_queries(plates, MaxEdits::Two);
    figure(
        "pgtrgm.queries",
        plates.len(),
        &format!("queries (the first {} of the search benchmark's, edit distance ≤ 2)", plates.len()),
    );

    let t = Instant::now();
    let want = BruteForce::new(&list.entries).search_many(&queries, list.now, SEARCH_LIMIT);
    eprintln!("oracle answers for the sample in {:.1} s", t.elapsed().as_secs_f64());
    let (results, times) = timed_search(&list.index, &queries, list.now);
    let limes = Latency::of(&times);
    let agreement = Agreement::of(&queries, &ids(&results), &want, 3);
    figure("pgtrgm.limes_us_per_query", format!("{:.1}", limes.mean_us), "µs (the same sample, this run)");
    figure("pgtrgm.limes_recall", format!("{:.6}", agreement.recall()), "fraction");

    let outcome = compare(&mut client, &list, plates, &want, &limes);
    let dropped = client.batch_execute(&format!("DROP TABLE IF EXISTS {TABLE}"));
    outcome?;
    dropped.context("dropping the benchmark table")?;
    Ok(())
}

/// Loads the list, indexes it, runs the queries at both thresholds and prints the figures.
fn compare(
    client: &mut Client,
    list: &Hotlist,
    plates: &[PlateText],
    want: &[Vec<SearchHit>],
    limes: &Latency,
) -> anyhow::Result<()> {
    client.batch_execute(&format!(
        "DROP TABLE IF EXISTS {TABLE};
         CREATE UNLOGGED TABLE {TABLE} (id bigint NOT NULL, plate text NOT NULL, expires bigint)"
    ))?;
    let t = Instant::now();
    let mut writer = client.copy_in(&format!("COPY {TABLE} (id, plate, expires) FROM STDIN"))?;
    let mut buf = Vec::with_capacity(1 << 21);
    for e in &list.entries {
        match e.expires {
            Some(t) => writeln!(buf, "{}\t{}\t{}", e.id, e.plate, t.timestamp())?,
            None => writeln!(buf, "{}\t{}\t\\N", e.id, e.plate)?,
        }
        if buf.len() >= 1 << 20 {
            writer.write_all(&buf)?;
            buf.clear();
        }
    }
    writer.write_all(&buf)?;
    let rows = writer.finish().context("COPY of the plates")?;
    figure("pgtrgm.load_seconds", format!("{:.1}", t.elapsed().as_secs_f64()), &format!("s (COPY of {rows} rows)"));

    let t = Instant::now();
    client.batch_execute(&format!(
        "SET maintenance_work_mem = '1GB';
         CREATE INDEX {TABLE}_trgm ON {TABLE} USING gin (plate gin_trgm_ops);
         ANALYZE {TABLE}"
    ))?;
    figure(
        "pgtrgm.index_seconds",
        format!("{:.1}", t.elapsed().as_secs_f64()),
        "s (GIN gin_trgm_ops with maintenance_work_mem 1GB, and ANALYZE)",
    );
    let sizes = client.query_one(&format!("SELECT pg_table_size('{TABLE}'), pg_relation_size('{TABLE}_trgm')"), &[])?;
    let (table, index): (i64, i64) = (sizes.get(0), sizes.get(1));
    figure("pgtrgm.table_mib", table >> 20, "MiB");
    figure("pgtrgm.index_mib", index >> 20, "MiB");

    // Expired entries are left out, as the index and the oracle leave them out.
    let now = list.now.timestamp();
    let sql = format!("SELECT id FROM {TABLE} WHERE plate % $1 AND (expires IS NULL OR expires > $2)");
    let plan = client.query(
        &format!("EXPLAIN {}", sql.replace("$1", &format!("'{}'", plates[0])).replace("$2", &now.to_string())),
        &[],
    )?;
    eprintln!("plan:");
    for row in plan {
        eprintln!("  {}", row.get::<_, String>(0));
    }
    for (threshold, prefix) in [(THRESHOLD, ""), (DEFAULT_THRESHOLD, "default_threshold.")] {
        client.batch_execute(&format!("SET pg_trgm.similarity_threshold = {threshold}"))?;
        let statement = client.prepare(&sql)?;
        for plate in plates.iter().take(WARM_UP) {
            client.query(&statement, &[&plate.as_str(), &now])?;
        }
        let mut got = Vec::with_capacity(plates.len());
        let mut times = Vec::with_capacity(plates.len());
        for plate in plates {
            let t = Instant::now();
            let rows = client.query(&statement, &[&plate.as_str(), &now])?;
            times.push(t.elapsed());
            got.push(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect::<Vec<u64>>());
        }
        let pg = Latency::of(&times);
        let queries = edit_queries(plates, MaxEdits::Two);
        let agreement = Agreement::of(&queries, &got, want, 0);
        let rows: usize = got.iter().map(Vec::len).sum();
        eprintln!(
            "threshold {threshold}: {:.2} ms per query (p50 {:.2}, p99 {:.2}), {:.1} rows per query, recall {:.4}",
            pg.mean_us / 1e3,
            pg.p50_us / 1e3,
            pg.p99_us / 1e3,
            rows as f64 / plates.len() as f64,
            agreement.recall(),
        );
        // Recall by the distance of the oracle's hits: similarity falls fast with each edit.
        let mut by_distance = [(0usize, 0usize); 3];
        for (got, want) in got.iter().zip(want) {
            for hit in want {
                let d = &mut by_distance[usize::from(hit.distance.min(2))];
                d.0 += 1;
                d.1 += usize::from(got.contains(&hit.entry_id));
            }
        }
        for (d, (expected, found)) in by_distance.iter().enumerate() {
            eprintln!("  oracle hits at distance {d}: {found} of {expected} found");
        }
        let at = format!("(threshold {threshold})");
        figure(&format!("pgtrgm.{prefix}ms_per_query"), format!("{:.2}", pg.mean_us / 1e3), &format!("ms {at}"));
        figure(&format!("pgtrgm.{prefix}ms_per_query_p50"), format!("{:.2}", pg.p50_us / 1e3), &format!("ms {at}"));
        figure(&format!("pgtrgm.{prefix}ms_per_query_p99"), format!("{:.2}", pg.p99_us / 1e3), &format!("ms {at}"));
        figure(
            &format!("pgtrgm.{prefix}rows_per_query"),
            format!("{:.1}", rows as f64 / plates.len() as f64),
            &format!("rows {at}"),
        );
        figure(&format!("pgtrgm.{prefix}recall"), format!("{:.4}", agreement.recall()), &format!("fraction {at}"));
        let speedup = if prefix.is_empty() {
            "search.speedup_vs_pgtrgm".to_owned()
        } else {
            format!("search.speedup_vs_pgtrgm_{}", prefix.trim_end_matches('.'))
        };
        figure(&speedup, format!("{:.0}", pg.mean_us / limes.mean_us), &format!("× (mean time per query) {at}"));
    }
    Ok(())
}
