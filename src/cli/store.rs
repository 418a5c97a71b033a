//! `caplet store export` and `caplet store import`: a whole fs/kv store
//! as a dump (JSON lines, see `caplet_store::dump`) on stdout or stdin,
//! from or into SQLite (`--data DIR`) or PostgreSQL (`--store URL`), with
//! progress on stderr.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StoreCommand {
    /// Write every volume, file, directory, kv store and key to stdout.
    Export(Location),
    /// Read a dump from stdin into the store, in one transaction: all of
    /// it or nothing. What it holds replaces the same paths and keys.
    Import(Location),
}

/// Which store: SQLite in `--data DIR` (the default) or PostgreSQL.
#[derive(Debug, clap::Args)]
struct Location {
    /// The data directory of a SQLite store.
    #[arg(long, value_name = "DIR", default_value = caplet_broker::config::DEFAULT_DATA_DIR)]
    data: PathBuf,
    /// A PostgreSQL store (`postgres://USER@HOST:PORT/DB`) instead.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// caplet.toml, for `[store]` (url, password_secret) and `[secrets]`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl Location {
    async fn open(&self, create: bool) -> anyhow::Result<caplet_store::Backend> {
        let mut config = match &self.config {
            Some(path) => caplet_broker::BuiltinConfig::load(path)?,
            None => caplet_broker::BuiltinConfig::from_env()?,
        };
        if let Some(url) = &self.store {
            config.set_store_url(url)?;
        }
        Ok(match &config.postgres {
            Some(options) => {
                caplet_store::Backend::Postgres(caplet_store::PgStore::connect(options).await?)
            }
            None => {
                if !create && !self.data.join(caplet_store::db::DB_FILE).exists() {
                    anyhow::bail!("no store in {}", self.data.display());
                }
                caplet_store::Backend::Sqlite(caplet_store::Store::open(&self.data)?)
            }
        })
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut progress = |line: &str| eprintln!("{line}");
    match args.command {
        StoreCommand::Export(location) => {
            let backend = location.open(false).await?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let counts = backend.export(&mut out, &mut progress).await?;
            eprintln!("exported {counts}");
        }
        StoreCommand::Import(location) => {
            let backend = location.open(true).await?;
            let stdin = std::io::stdin();
            let counts = backend.import(&mut stdin.lock(), &mut progress).await?;
            eprintln!("imported {counts}");
        }
    }
    Ok(())
}
