//! Throughput and peak memory of a full `read` through the engine.
//!
//! A local wiremock server serves a paginated stream over many partitions (list partition
//! router, page-number paginator, per-partition datetime cursor); the connector runs
//! in-process exactly as the binaries do and writes its protocol output to a counting sink.
//! Reports records per second and the process's peak resident memory (`VmHWM`, which
//! includes the mock server's own share).
//!
//! Run: `cargo bench -p integration_tests --bench engine`. Sizes via `BENCH_PARTITIONS`
//! (default 200), `BENCH_PAGES` (pages per partition, default 25), `BENCH_PAGE_SIZE`
//! (default 100) and `BENCH_WORKERS` (default 8).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use connector_runtime::output::Output;
use connector_runtime::prelude::*;
use connector_runtime::secrets::Secrets;
use integration_tests::{catalog, env, DeclaredSource, Files};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const VAR: &str = "BENCH_BASE_URL";

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Serves `pages` pages per partition: full pages, then a short last page that ends
/// pagination. Bodies are rendered once up front so the server costs little.
struct Pages {
    full: Vec<u8>,
    last: Vec<u8>,
    pages: usize,
}

fn page_body(records: usize) -> Vec<u8> {
    let rows: Vec<Value> = (0..records)
        .map(|i| {
            json!({"id": i, "updated": "2024-01-05", "name": format!("record number {i}"),
                "spend": "12.50", "impressions": "1000", "status": "ACTIVE",
                "nested": {"a": i, "b": [1, 2, 3]}})
        })
        .collect();
    json!({"data": rows}).to_string().into_bytes()
}

impl Respond for Pages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let page: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(1);
        let body = if page >= self.pages {
            &self.last
        } else {
            &self.full
        };
        ResponseTemplate::new(200).set_body_raw(body.clone(), "application/json")
    }
}

/// Counts what the connector writes instead of keeping it.
#[derive(Clone, Default)]
struct Counter {
    bytes: Arc<AtomicU64>,
    records: Arc<AtomicU64>,
    states: Arc<AtomicU64>,
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        // The output writes whole lines through a buffer; count message starts.
        for line in buf.split(|b| *b == b'\n') {
            if line.starts_with(br#"{"type":"RECORD""#) {
                self.records.fetch_add(1, Ordering::Relaxed);
            } else if line.starts_with(br#"{"type":"STATE""#) {
                self.states.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn main() {
    let partitions = setting("BENCH_PARTITIONS", 200);
    let pages = setting("BENCH_PAGES", 25).max(1);
    let page_size = setting("BENCH_PAGE_SIZE", 100).max(2);
    let workers = setting("BENCH_WORKERS", 8).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let server = MockServer::start().await;
        Mock::given(path("/v1/rows"))
            .respond_with(Pages {
                full: page_body(page_size),
                last: page_body(page_size / 2),
                pages,
            })
            .mount(&server)
            .await;
        let source = DeclaredSource::new(move |_c, ctx| {
            let r = Requester::new("https://api.example.invalid/v1/", VAR, &ctx.env)?;
            let day = CursorFormat::new(DatetimeFormat::strftime("%Y-%m-%d"));
            let start = parse_date("2024-01-01").unwrap_or_else(|| ctx.env.clock.now());
            Ok(vec![DeclarativeStream::new(
                "rows",
                json!({"type": "object", "properties": {
                    "id": {"type": "integer"}, "spend": {"type": "number"},
                    "impressions": {"type": "integer"}, "name": {"type": "string"}}}),
                SimpleRetriever::new(&r, |s: &Slice| {
                    HttpRequest::get("rows").query("p", s.get_str("p").unwrap_or_default())
                })
                .paginator(Paginator::page_number(page_size))
                .records_at("data"),
            )
            .router(PartitionRouter::list("p", (0..partitions).map(|i| json!(i))))
            .incremental(
                Incremental::new("updated", day, start, start + Duration::days(9)).per_partition(false),
            )
            .normalize()
            .into_arc()])
        })
        .workers(workers);
        let files = Files::new();
        let config = files.json("config.json", &json!({"api_key": "bench-key-0123"}));
        let cat = files.json("catalog.json", &catalog(&[("rows", "incremental")]));
        let counter = Counter::default();
        let output = Output::new(Box::new(counter.clone()), Secrets::new());
        let args: Vec<String> = ["source-declared", "read", "--config", &config, "--catalog", &cat]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let run_env = env(VAR, &server.uri(), "2024-01-10T00:00:00Z");
        let started = Instant::now();
        let code = connector_runtime::cli::run(&source, &args, run_env, output).await;
        let elapsed = started.elapsed().as_secs_f64();
        let records = counter.records.load(Ordering::Relaxed);
        let expected = (partitions * ((pages - 1) * page_size + page_size / 2)) as u64;
        println!("engine read: exit code {code}");
        println!(
            "  partitions {partitions}, pages/partition {pages}, page size {page_size}, workers {workers}"
        );
        println!("  records      {records} (expected {expected})");
        println!("  states       {}", counter.states.load(Ordering::Relaxed));
        println!(
            "  output       {:.1} MiB",
            counter.bytes.load(Ordering::Relaxed) as f64 / 1048576.0
        );
        println!("  elapsed      {elapsed:.2} s");
        println!("  throughput   {:.0} records/s", records as f64 / elapsed.max(1e-9));
        match peak_rss_kib() {
            Some(kib) => println!("  peak memory  {:.1} MiB (VmHWM, whole process)", kib as f64 / 1024.0),
            None => println!("  peak memory  unavailable (no /proc/self/status)"),
        }
        if code != 0 || records != expected {
            eprintln!("the benchmark read did not complete as expected");
            std::process::exit(1);
        }
    });
}
