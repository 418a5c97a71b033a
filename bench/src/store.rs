//! `--only store`: the fs and kv built-ins' storage calls, SQLite against
//! PostgreSQL on loopback, measured in this process on the same calls the
//! capnp servers make (`caplet_store::VolumeHandle` / `KvHandle`): a 1 KiB
//! fs write and read, a 100-byte kv put and get. PostgreSQL is measured
//! when `--pg-url` (or `CAPLET_BENCH_PG_URL`) names a database, e.g. the
//! throwaway cluster of `scripts/pg-test-cluster.sh`.

use std::time::Instant;

use caplet_store::vfs::{Op, Quota};
use caplet_store::{Backend, KvHandle, VolumeHandle};

use crate::report::Report;
use crate::stats::Summary;

/// Times `n` runs of `call(i)`.
async fn time<F, Fut>(n: usize, mut call: F) -> anyhow::Result<Summary>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = caplet_store::Result<()>>,
{
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        call(i).await?;
        samples.push(start.elapsed());
    }
    Ok(Summary::times(samples))
}

async fn measure_one(
    label: &'static str,
    backend: &Backend,
    n: usize,
    report: &mut Report,
    keys: [&'static str; 4],
) -> anyhow::Result<()> {
    let run = std::process::id();
    let volume: VolumeHandle = backend.volume(
        &format!("bench-{run}"),
        "bench",
        Quota {
            max_bytes: 1 << 30,
            max_entries: 1 << 20,
        },
    )?;
    let kv: KvHandle = backend.kv(&format!("bench-{run}"), "bench")?;
    let content = vec![b'x'; 1024];
    let value = vec![b'v'; 100];
    report.add(
        keys[0],
        format!("store {label}: fs write 1 KiB (new file)"),
        time(n, |i| {
            let op = Op::Write {
                path: format!("/f{i}"),
                content: content.clone(),
                create_parents: false,
            };
            let volume = volume.clone();
            async move { volume.exec(&op).await.map(drop) }
        })
        .await,
    );
    report.add(
        keys[1],
        format!("store {label}: fs read 1 KiB"),
        time(n, |i| {
            let op = Op::Read {
                path: format!("/f{i}"),
            };
            let volume = volume.clone();
            async move { volume.exec(&op).await.map(drop) }
        })
        .await,
    );
    report.add(
        keys[2],
        format!("store {label}: kv put 100 B"),
        time(n, |i| {
            let (kv, value) = (kv.clone(), value.clone());
            async move { kv.put(&format!("k{i}"), &value).await }
        })
        .await,
    );
    report.add(
        keys[3],
        format!("store {label}: kv get 100 B"),
        time(n, |i| {
            let kv = kv.clone();
            async move { kv.get(&format!("k{i}")).await.map(drop) }
        })
        .await,
    );
    Ok(())
}

/// Measures SQLite (in a temporary data directory) and, given a URL,
/// PostgreSQL.
pub async fn measure(n: usize, pg_url: Option<&str>, report: &mut Report) -> anyhow::Result<()> {
    eprintln!("  store: SQLite…");
    let dir = tempfile::tempdir()?;
    let sqlite = Backend::Sqlite(caplet_store::Store::open(dir.path())?);
    measure_one(
        "sqlite",
        &sqlite,
        n,
        report,
        [
            "store_sqlite_write",
            "store_sqlite_read",
            "store_sqlite_put",
            "store_sqlite_get",
        ],
    )
    .await?;
    match pg_url {
        Some(url) => {
            eprintln!("  store: PostgreSQL…");
            let pg = Backend::Postgres(
                caplet_store::PgStore::connect(&caplet_store::PgOptions::new(url)).await?,
            );
            measure_one(
                "postgres",
                &pg,
                n,
                report,
                [
                    "store_pg_write",
                    "store_pg_read",
                    "store_pg_put",
                    "store_pg_get",
                ],
            )
            .await?;
        }
        None => report
            .notes
            .push("store: PostgreSQL skipped (no --pg-url / CAPLET_BENCH_PG_URL)".into()),
    }
    Ok(())
}
