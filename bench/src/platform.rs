//! The platform measurement: a worker whose invocation touches `URL`,
//! `TextEncoder`, `crypto.subtle.digest` and `Intl.NumberFormat`, each
//! built lazily on first use, cold (load + first invoke, so every global
//! is built) and warm (the same worker again, everything already built).

use std::time::Instant;

use caplet_client::{Connection, WorkerCode};

use crate::stats::Summary;

/// Touches four platform areas and checks what they return; gives its
/// input back.
const PLATFORM: &str = r#"
export default {
  async run(input) {
    const url = new URL(`https://example.com/items?id=${input}`);
    const bytes = new TextEncoder().encode(url.searchParams.get("id"));
    const digest = await crypto.subtle.digest("SHA-256", bytes);
    const money = new Intl.NumberFormat("de-DE", { style: "currency", currency: "EUR" }).format(1234.5);
    if (digest.byteLength !== 32 || money !== "1.234,50\u00a0€") throw new Error(`wrong output ${money}`);
    return input;
  },
};
"#;

/// Wall time of `n` cold runs (load a fresh worker and invoke it once) and
/// `n` warm invocations of one worker.
pub async fn cold_and_warm(conn: &Connection, n: usize) -> anyhow::Result<(Summary, Summary)> {
    let code = WorkerCode::new("platform.js", PLATFORM);
    let mut cold = Vec::with_capacity(n);
    for i in 0..n {
        let input = i.to_string();
        let start = Instant::now();
        let worker = conn.load(&code).await?;
        let output = worker.invoke("run", &input).await?.output;
        cold.push(start.elapsed());
        anyhow::ensure!(
            output == input,
            "wrong output {output:?}, expected {input:?}"
        );
    }
    let worker = conn.load(&code).await?;
    worker.invoke("run", "0").await?;
    let mut warm = Vec::with_capacity(n);
    for i in 0..n {
        let input = i.to_string();
        let start = Instant::now();
        let output = worker.invoke("run", &input).await?.output;
        warm.push(start.elapsed());
        anyhow::ensure!(
            output == input,
            "wrong output {output:?}, expected {input:?}"
        );
    }
    Ok((Summary::times(cold), Summary::times(warm)))
}
