//! Full reads through the engine and through the real connectors against APIs that enforce
//! their quotas.
//!
//! 1. *Engine read*: a local wiremock server serves a paginated stream over many partitions
//!    (list partition router, page-number paginator, per-partition datetime cursor); reports
//!    records per second and peak memory. Sizes via `BENCH_PARTITIONS` (default 200),
//!    `BENCH_PAGES` (pages per partition, default 25), `BENCH_PAGE_SIZE` (default 100) and
//!    `BENCH_WORKERS` (default 8).
//! 2. *Quota workloads*: Pinterest `ads` and `ad_analytics`, Klaviyo `events` and TikTok `ads`,
//!    each read by its connector (in-process, exactly as the binary runs, real time, pinned
//!    `AIRBYTE_TEST_NOW`) from [`integration_tests::quota_api`], a local API that enforces the
//!    API's published quotas with sliding windows counted at arrival and answers over-quota
//!    requests the way the API does. For each: records, requests, throttled answers, wall
//!    time, the quota-bound minimum wall time (the least time any client needs for that many
//!    requests without a throttled answer) and wall/minimum, and peak memory. Each read runs
//!    in a child process of its own (this binary re-executed with `BENCH_READ`) and the local
//!    API in another (`BENCH_SERVE`), so the peak memory is the connector's own, as a user
//!    would see it. Sizes via
//!    `BENCH_PINTEREST_ACCOUNTS` (5) x `BENCH_PINTEREST_ADS` (20,000),
//!    `BENCH_ANALYTICS_ADS` (300; x 90 days, the connector's analytics range),
//!    `BENCH_KLAVIYO_EVENTS` (50,000), `BENCH_TIKTOK_ADVERTISERS` (20) x `BENCH_TIKTOK_ADS`
//!    (5,000). `BENCH_ONLY=engine,pinterest_ads,...` runs a subset.
//!
//! `cargo bench -p integration_tests --bench engine` runs the sizes above. `cargo test` runs
//! this same binary unoptimised (without `--bench`) with tiny defaults, as a smoke check.
//!
//! Exits non-zero if any read fails, loses, duplicates or invents a record, or if any API
//! served a throttled answer. Wall times are printed, never asserted.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use connector_runtime::output::Output;
use connector_runtime::prelude::*;
use connector_runtime::secrets::Secrets;
use integration_tests::quota_api::{peak_rss_kib, QuotaApi, RecordCheck, Workload, NOW};
use integration_tests::{catalog, env, DeclaredSource, Files};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const VAR: &str = "BENCH_BASE_URL";

/// `name` from the environment, else the full size under `cargo bench`, the smoke size under
/// `cargo test`.
fn setting(name: &str, full: usize, smoke: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full_run() { full } else { smoke })
}

/// `cargo bench` passes `--bench`; `cargo test` does not.
fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn selected(name: &str) -> bool {
    std::env::var("BENCH_ONLY")
        .map(|only| only.split(',').any(|n| n.trim() == name))
        .unwrap_or(true)
}

/// Resets the process's peak resident memory (`VmHWM`) so that the next read's peak is its
/// own. Linux only; elsewhere peaks accumulate over the run.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's resident memory now (`VmRSS`), in MiB; 0 where unknown.
fn resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn peak_memory() -> String {
    match peak_rss_kib() {
        Some(kib) => format!("{:.1} MiB", kib as f64 / 1024.0),
        None => "n/a".into(),
    }
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

fn main() {
    // As the connector binaries start (`cli::main`), so the reading child's memory is theirs.
    connector_runtime::memory::tune_allocator();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Ok(spec) = std::env::var(SERVE_VAR) {
        runtime.block_on(serve(&spec));
        return;
    }
    if let Ok(name) = std::env::var(READ_VAR) {
        let ok = runtime.block_on(quota_workloads(Some(&name)));
        std::process::exit(if ok { 0 } else { 1 });
    }
    let mut ok = true;
    if selected("engine") {
        ok &= runtime.block_on(engine_read());
    }
    ok &= runtime.block_on(quota_workloads(None));
    if !ok {
        eprintln!("the benchmark found a failed, incomplete or throttled read (see above)");
        std::process::exit(1);
    }
}

/// The generic engine read: throughput of the engine alone.
async fn engine_read() -> bool {
    let partitions = setting("BENCH_PARTITIONS", 200, 10);
    let pages = setting("BENCH_PAGES", 25, 3).max(1);
    let page_size = setting("BENCH_PAGE_SIZE", 100, 50).max(2);
    let workers = setting("BENCH_WORKERS", 8, 4).max(1);
    reset_peak_memory();
    let server = MockServer::builder()
        .disable_request_recording()
        .start()
        .await;
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
        .router(PartitionRouter::list(
            "p",
            (0..partitions).map(|i| json!(i)),
        ))
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
    let args: Vec<String> = [
        "source-declared",
        "read",
        "--config",
        &config,
        "--catalog",
        &cat,
    ]
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
    println!(
        "  throughput   {:.0} records/s",
        records as f64 / elapsed.max(1e-9)
    );
    println!("  peak memory  {} (VmHWM, whole process)", peak_memory());
    let ok = code == 0 && records == expected;
    if !ok {
        eprintln!("engine read: the read did not complete as expected");
    }
    ok
}

/// One connector read against a quota-enforcing API.
struct Case {
    name: &'static str,
    workload: Workload,
    base_url_var: &'static str,
    config: Value,
    stream: &'static str,
}

/// What one case measured.
struct Measured {
    records: u64,
    requests: u64,
    throttled: u64,
    wall: f64,
    minimum: f64,
    peak: String,
    ok: bool,
}

/// Reads every selected workload, each in a child process of its own (`reader` `None`), or,
/// in such a child, reads the one named `reader` and reports what it measured.
async fn quota_workloads(reader: Option<&str>) -> bool {
    let mut cases = Vec::new();
    let accounts = setting("BENCH_PINTEREST_ACCOUNTS", 5, 2);
    let ads = setting("BENCH_PINTEREST_ADS", 20_000, 300);
    let pinterest_config = |start: Option<&str>| {
        let mut c = json!({"credentials": {
            "auth_method": "oauth2.0", "client_id": "bench-client", "client_secret": "bench-secret-1",
            "refresh_token": "bench-refresh-1", "access_token": "bench-access-1",
            "token_expiry_date": "2099-01-01T00:00:00+00:00"}});
        if let Some(s) = start {
            c["start_date"] = json!(s);
        }
        c
    };
    cases.push(Case {
        name: "pinterest_ads",
        workload: Workload::PinterestAds { accounts, ads },
        base_url_var: source_pinterest::BASE_URL_VAR,
        config: pinterest_config(Some("2024-01-01")),
        stream: "ads",
    });
    cases.push(Case {
        name: "pinterest_ad_analytics",
        // Without a start date the analytics streams read the API's 90 days (today - 89
        // days through today).
        workload: Workload::PinterestAdAnalytics {
            ads: setting("BENCH_ANALYTICS_ADS", 300, 3),
            days: 90,
        },
        base_url_var: source_pinterest::BASE_URL_VAR,
        config: pinterest_config(None),
        stream: "ad_analytics",
    });
    cases.push(Case {
        name: "klaviyo_events",
        workload: Workload::KlaviyoEvents {
            events: setting("BENCH_KLAVIYO_EVENTS", 50_000, 450),
            days: 30,
        },
        base_url_var: source_klaviyo::BASE_URL_VAR,
        config: json!({"api_key": "pk_bench_0123456789", "start_date": "2024-05-11T12:00:00Z"}),
        stream: "events",
    });
    cases.push(Case {
        name: "tiktok_ads",
        workload: Workload::TiktokAds {
            advertisers: setting("BENCH_TIKTOK_ADVERTISERS", 20, 2),
            ads: setting("BENCH_TIKTOK_ADS", 5_000, 1_200),
        },
        base_url_var: source_tiktok_marketing::BASE_URL_VAR,
        config: json!({"credentials": {"auth_type": "oauth2.0", "app_id": "bench-app",
            "secret": "bench-secret-2", "access_token": "bench-token-2"}, "start_date": "2024-06-01"}),
        stream: "ads",
    });
    // Each connector's own concurrency setting, when `BENCH_CONCURRENCY` gives one: the quotas
    // must hold at every setting, not only at the defaults.
    if let Some(n) = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        for case in &mut cases {
            let field = match case.base_url_var {
                v if v == source_tiktok_marketing::BASE_URL_VAR => "concurrency_level",
                _ => "num_workers",
            };
            case.config[field] = json!(n);
        }
    }
    let mut rows = Vec::new();
    let mut ok = true;
    for case in cases.into_iter().filter(|c| selected(c.name)) {
        let Some(name) = reader else {
            let m = read_in_child(case.name);
            ok &= m.ok;
            rows.push((case.name, m));
            continue;
        };
        if name != case.name {
            continue;
        }
        let m = match case.name {
            n if n.starts_with("pinterest") => {
                measure(&source_pinterest::SourcePinterest, &case).await
            }
            "klaviyo_events" => measure(&source_klaviyo::SourceKlaviyo, &case).await,
            _ => measure(&source_tiktok_marketing::SourceTiktokMarketing, &case).await,
        };
        println!(
            "{RESULT} {} {} {} {} {} {} {}",
            m.records, m.requests, m.throttled, m.wall, m.minimum, m.ok, m.peak
        );
        return m.ok;
    }
    if reader.is_some() {
        eprintln!("{READ_VAR}: no selected workload of that name");
        return false;
    }
    if rows.is_empty() {
        return ok;
    }
    println!();
    println!("| workload | records | requests | throttled | wall | quota-bound minimum | wall / minimum | peak memory |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, m) in &rows {
        let ratio = if m.minimum > 0.0 {
            format!("{:.3}", m.wall / m.minimum)
        } else {
            "- (quota allows one burst)".into()
        };
        println!(
            "| {name} | {} | {} | {} | {:.2} s | {:.2} s | {ratio} | {} |",
            m.records, m.requests, m.throttled, m.wall, m.minimum, m.peak
        );
    }
    ok
}

async fn measure(source: &dyn connector_runtime::source::DynSource, case: &Case) -> Measured {
    let api = ChildApi::start(case.workload);
    reset_peak_memory();
    let before = resident_mib();
    let check = RecordCheck::new(case.workload);
    let output = Output::new(Box::new(check.clone()), Secrets::new());
    let files = Files::new();
    let config = files.json("config.json", &case.config);
    let cat = files.json("catalog.json", &catalog(&[(case.stream, "incremental")]));
    let args: Vec<String> = [
        source.name(),
        "read",
        "--config",
        &config,
        "--catalog",
        &cat,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Real time: the budget paces at the published rates, as in production.
    let mut vars = std::collections::HashMap::new();
    vars.insert(case.base_url_var.to_string(), api.uri());
    vars.insert("AIRBYTE_TEST_NOW".to_string(), NOW.to_string());
    let run_env = connector_runtime::env::RunEnv::from_vars(vars).expect("a valid run environment");
    let started = Instant::now();
    let code = connector_runtime::cli::run(source, &args, run_env, output).await;
    let wall = started.elapsed().as_secs_f64();
    let peak = peak_memory();
    let checked = check.result();
    let ServerReport {
        requests,
        throttled,
        unknown,
        quotas,
    } = api.finish();
    let minimum = quotas
        .iter()
        .map(|(_, _, d)| d.as_secs_f64())
        .fold(0.0, f64::max);
    println!();
    println!("{}: exit code {code}", case.name);
    println!(
        "  records      {} (expected {}; lost {}, duplicated {}, unexpected {})",
        checked.records,
        case.workload.expected(),
        checked.lost,
        checked.duplicates,
        checked.foreign
    );
    println!("  output       {:.1} MiB", checked.bytes as f64 / 1048576.0);
    println!("  requests     {requests} (throttled {throttled}, unrouted {unknown})");
    for (name, count, min) in &quotas {
        println!(
            "    quota {name:<14} {count:>6} admitted, quota-bound minimum {:.2} s",
            min.as_secs_f64()
        );
    }
    println!("  wall         {wall:.2} s (quota-bound minimum {minimum:.2} s)");
    println!(
        "  peak memory  {peak} (VmHWM of the connector's process, {before:.1} MiB resident when the read started; the local API runs in a child)"
    );
    let ok = code == 0 && checked.exact() && throttled == 0 && unknown == 0;
    if !ok {
        eprintln!(
            "{}: the read failed, was incomplete or was throttled",
            case.name
        );
    }
    Measured {
        records: checked.records,
        requests,
        throttled,
        wall,
        minimum,
        peak,
        ok,
    }
}

/// Set in the child process that serves a workload's local API: the workload as
/// [`workload_spec`] writes it.
const SERVE_VAR: &str = "BENCH_SERVE";

fn workload_spec(w: Workload) -> String {
    match w {
        Workload::PinterestAds { accounts, ads } => format!("pinterest_ads {accounts} {ads}"),
        Workload::PinterestAdAnalytics { ads, days } => {
            format!("pinterest_ad_analytics {ads} {days}")
        }
        Workload::KlaviyoEvents { events, days } => format!("klaviyo_events {events} {days}"),
        Workload::TiktokAds { advertisers, ads } => format!("tiktok_ads {advertisers} {ads}"),
    }
}

fn parse_workload(spec: &str) -> Option<Workload> {
    let mut parts = spec.split_whitespace();
    let name = parts.next()?;
    let a: usize = parts.next()?.parse().ok()?;
    let b: usize = parts.next()?.parse().ok()?;
    Some(match name {
        "pinterest_ads" => Workload::PinterestAds {
            accounts: a,
            ads: b,
        },
        "pinterest_ad_analytics" => Workload::PinterestAdAnalytics { ads: a, days: b },
        "klaviyo_events" => Workload::KlaviyoEvents { events: a, days: b },
        "tiktok_ads" => Workload::TiktokAds {
            advertisers: a,
            ads: b,
        },
        _ => return None,
    })
}

/// The child process: serves the workload's API, prints its URI, and when its stdin says
/// `report` (or closes), prints the counts and exits.
async fn serve(spec: &str) {
    let Some(workload) = parse_workload(spec) else {
        eprintln!("{SERVE_VAR}: not a workload: {spec:?}");
        std::process::exit(2);
    };
    let api = QuotaApi::start(workload).await;
    println!("{}", api.uri());
    let _ = std::io::stdout().flush();
    let _ = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    })
    .await;
    let mut out = format!(
        "counts {} {} {}\n",
        api.counts.requests.load(Ordering::Relaxed),
        api.counts.throttled.load(Ordering::Relaxed),
        api.counts.unknown.load(Ordering::Relaxed)
    );
    for (name, count, min) in api.report() {
        out.push_str(&format!("quota {name} {count} {}\n", min.as_secs_f64()));
    }
    out.push_str("end\n");
    print!("{out}");
    let _ = std::io::stdout().flush();
}

/// What the local API counted.
struct ServerReport {
    requests: u64,
    throttled: u64,
    unknown: u64,
    /// `(quota, admitted requests, quota-bound minimum)`.
    quotas: Vec<(String, u64, std::time::Duration)>,
}

/// A workload's local API in a child process.
struct ChildApi {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    uri: String,
}

impl ChildApi {
    fn start(workload: Workload) -> Self {
        let exe = std::env::current_exe().expect("the benchmark's own path");
        let mut child = Command::new(exe)
            .env(SERVE_VAR, workload_spec(workload))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the local API's process starts");
        let stdin = child.stdin.take().expect("a piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("a piped stdout"));
        let mut uri = String::new();
        stdout
            .read_line(&mut uri)
            .expect("the local API prints its address");
        assert!(
            uri.starts_with("http://"),
            "the local API did not start: {uri:?}"
        );
        ChildApi {
            child,
            stdin,
            stdout,
            uri: uri.trim().to_string(),
        }
    }

    fn uri(&self) -> String {
        self.uri.clone()
    }

    /// Asks for the counts and ends the child.
    fn finish(mut self) -> ServerReport {
        let _ = writeln!(self.stdin, "report");
        let _ = self.stdin.flush();
        let mut report = ServerReport {
            requests: 0,
            throttled: 0,
            unknown: 0,
            quotas: Vec::new(),
        };
        let mut line = String::new();
        loop {
            line.clear();
            match self.stdout.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["counts", r, t, u] => {
                    report.requests = r.parse().unwrap_or(0);
                    report.throttled = t.parse().unwrap_or(0);
                    report.unknown = u.parse().unwrap_or(0);
                }
                ["quota", name, count, min] => report.quotas.push((
                    name.to_string(),
                    count.parse().unwrap_or(0),
                    std::time::Duration::from_secs_f64(min.parse().unwrap_or(0.0)),
                )),
                _ => break,
            }
        }
        let _ = self.child.wait();
        report
    }
}

/// Set in the child process that reads one workload: the workload's name.
const READ_VAR: &str = "BENCH_READ";
/// Starts the line in which a reading child reports what it measured.
const RESULT: &str = "bench-result";

/// Reads workload `name` in a child process of its own (this binary, same arguments and
/// environment, with `BENCH_READ`), so its peak memory is that read's alone and not lifted by
/// the heap an earlier read in the same process kept. The child's report is passed through.
fn read_in_child(name: &str) -> Measured {
    let failed = Measured {
        records: 0,
        requests: 0,
        throttled: 0,
        wall: 0.0,
        minimum: 0.0,
        peak: "n/a".into(),
        ok: false,
    };
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let child = Command::new(exe)
        .args(std::env::args().skip(1))
        .env(READ_VAR, name)
        .stdout(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("{name}: the reading process did not start");
        return failed;
    };
    let mut measured = None;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let Some(rest) = line.strip_prefix(RESULT) else {
                println!("{line}");
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            if let [records, requests, throttled, wall, minimum, ok, peak @ ..] = f.as_slice() {
                measured = Some(Measured {
                    records: records.parse().unwrap_or(0),
                    requests: requests.parse().unwrap_or(0),
                    throttled: throttled.parse().unwrap_or(0),
                    wall: wall.parse().unwrap_or(0.0),
                    minimum: minimum.parse().unwrap_or(0.0),
                    peak: peak.join(" "),
                    ok: *ok == "true",
                });
            }
        }
    }
    let exited = child.wait().map(|s| s.success()).unwrap_or(false);
    match measured {
        Some(m) => Measured {
            ok: m.ok && exited,
            ..m
        },
        None => {
            eprintln!("{name}: the reading process reported nothing");
            failed
        }
    }
}
