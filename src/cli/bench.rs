//! `plusbox bench sandbox`: signed pay + inquiryPayment over loopback, at a fixed rate and flat
//! out, beside the signing ceiling measured in the same run (optionally with live SSE
//! subscribers listening). `plusbox bench soak`: pay, inquiry, refund and notifications at a
//! fixed rate for minutes, printing WAL size, RSS and latency percentiles per interval.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use plusbox_core::money::{Amount, Currency};
use plusbox_core::signing::{MessageParts, PrivateKey, PublicKey};
use plusbox_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use tokio::sync::Mutex;

/// `plusbox bench …`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Benchmark the sandbox gateway: p50/p99 at a fixed rate, max throughput, signing ceiling.
    Sandbox(BenchArgs),
    /// Run the UPM acceptance suite against the reference acquirer on compressed time; report the
    /// total and each case's duration.
    Suite(super::bench_suite::SuiteArgs),
    /// Sustained load: pay + inquiry pairs at a fixed rate (every Nth also refunded, every pay
    /// notified to a signing receiver); prints WAL size, RSS and p50/p99 per interval.
    Soak(SoakArgs),
    /// QR scanning on the camera-photo corpus: images read per category and median decode time,
    /// ours beside zxing-cpp and zbar (in process), and the camera path's cost per frame.
    Scan(super::bench_scan::ScanBenchArgs),
}

/// Options of `plusbox bench sandbox`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Fixed arrival rate, pay+inquiry pairs per second.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Seconds of the fixed-rate phase and of the flat-out phase.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent clients in the flat-out phase.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Live `/app/v1/pending/stream` subscribers held open during the fixed-rate phase.
    #[arg(long, default_value_t = 0)]
    pub subscribers: usize,
}

/// Runs `plusbox bench …`.
pub fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Sandbox(args) => {
            let runtime = plusbox_sandbox::runtime()?;
            runtime.block_on(bench(args))
        }
        BenchCommand::Suite(args) => super::bench_suite::run(args),
        BenchCommand::Soak(args) => {
            let runtime = plusbox_sandbox::runtime()?;
            runtime.block_on(soak(args))
        }
        BenchCommand::Scan(args) => super::bench_scan::run(args),
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    client_id: String,
    key: PrivateKey,
    sandbox_key: PublicKey,
    codes: Mutex<Vec<String>>,
}

impl Client {
    /// A signing client for `sandbox`'s application, keeping up to `pool` idle connections.
    fn new(
        sandbox: &Sandbox,
        app: &plusbox_sandbox::store::AppRecord,
        key: PrivateKey,
        pool: usize,
        codes: Vec<String>,
    ) -> anyhow::Result<Arc<Client>> {
        Ok(Arc::new(Client {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(pool)
                // Below the server's keep-alive wait (its header timeout, 10 s): a pooled
                // connection is never reused just as the server closes it.
                .pool_idle_timeout(Duration::from_secs(5))
                .build()?,
            base: sandbox.base_url().to_string(),
            client_id: app.client_id.clone(),
            key,
            sandbox_key: app.private_key()?.public_key()?,
            codes: Mutex::new(codes),
        }))
    }

    async fn call(&self, api: &str, body: &Value) -> anyhow::Result<Value> {
        let path = format!("/aps/api/v1/payments/{api}");
        let body = body.to_string();
        let time = plusbox_core::protocol::time::format_instant(time::OffsetDateTime::now_utc());
        let parts = MessageParts {
            method: "POST",
            uri: &path,
            client_id: &self.client_id,
            time: &time,
            body: body.as_bytes(),
        };
        let signature = self.key.sign_message(&parts, Some(1))?;
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json; charset=UTF-8")
            .header("client-id", &self.client_id)
            .header("request-time", &time)
            .header("signature", signature)
            .body(body)
            .send()
            .await?;
        let header = |name: &str| -> anyhow::Result<String> {
            Ok(response
                .headers()
                .get(name)
                .ok_or_else(|| anyhow!("response without {name}"))?
                .to_str()?
                .to_string())
        };
        let (client_id, response_time, signature) =
            (header("client-id")?, header("response-time")?, header("signature")?);
        let raw = response.text().await?;
        let parts = MessageParts {
            method: "POST",
            uri: &path,
            client_id: &client_id,
            time: &response_time,
            body: raw.as_bytes(),
        };
        self.sandbox_key.verify_message(&signature, &parts)?;
        Ok(serde_json::from_str(&raw)?)
    }

    /// One pay + inquiryPayment; returns (pay latency, inquiry latency).
    async fn pair(&self, id: &str) -> anyhow::Result<(Duration, Duration)> {
        let code = self.codes.lock().await.pop().ok_or_else(|| anyhow!("ran out of payment codes"))?;
        let amount = json!({"currency": "USD", "value": "1"});
        let body = json!({
            "paymentRequestId": id,
            "paymentAmount": amount,
            "paymentMethod": {"paymentMethodType": "CONNECT_WALLET", "paymentMethodId": code},
            "paymentFactor": {"isInStorePayment": "true", "inStorePaymentScenario": "PaymentCode"},
            "order": {"referenceOrderId": id, "orderDescription": "bench", "orderAmount": amount,
                      "merchant": {"referenceMerchantId": "M0001", "store": {"referenceStoreId": "S0001"}}}
        });
        let started = Instant::now();
        let pay = self.call("pay", &body).await?;
        let pay_time = started.elapsed();
        if pay["result"]["resultCode"] != "SUCCESS" {
            return Err(anyhow!("pay answered {}", pay["result"]));
        }
        let started = Instant::now();
        let inquiry = self.call("inquiryPayment", &json!({"paymentRequestId": id})).await?;
        let inquiry_time = started.elapsed();
        if inquiry["paymentResult"]["resultCode"] != "SUCCESS" {
            return Err(anyhow!("inquiry answered {}", inquiry));
        }
        Ok((pay_time, inquiry_time))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("plusbox-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sandbox = Sandbox::start(SandboxConfig::new(&dir, "127.0.0.1:0".parse()?)).await?;
    let store = sandbox.store();
    let key = PrivateKey::generate()?;
    let now = time::OffsetDateTime::now_utc();
    store.set_acqp_key(&key.public_key()?.to_base64(), 1, now)?;
    store.topup("buyer-1", &Amount::from_minor(Currency::USD, 1_000_000_000), now)?;
    // Codes live 60 s; the run is shorter than that. Enough for both phases at a generous pace.
    let needed = (args.rate as usize) * (args.seconds as usize) + 4000 * args.seconds as usize;
    let mut codes = Vec::with_capacity(needed);
    for _ in 0..needed {
        codes.push(store.issue_code("buyer-1", now)?.code);
    }
    let app = store.app()?;
    let client = Client::new(&sandbox, &app, key, 256, codes)?;

    // Signing ceiling: one pay+inquiry costs 4 signatures (2 requests, 2 answers) and 4
    // verifications; measured here, single-threaded.
    let (sign_us, verify_us) = signing_costs(&client.key)?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    let per_pair_us = 4.0 * sign_us + 4.0 * verify_us;
    let ceiling = cores * 1_000_000.0 / per_pair_us;

    // Warm up connections.
    for i in 0..20 {
        client.pair(&format!("warm-{i}")).await.context("warm-up")?;
    }
    let listeners = subscribe(&sandbox, args.subscribers).await?;

    // Phase 1: open loop at a fixed rate.
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let total = args.rate as usize * args.seconds as usize;
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        tokio::time::sleep_until(start + interval * i as u32).await;
        let client = Arc::clone(&client);
        tasks.push(tokio::spawn(async move {
            let begun = Instant::now();
            let result = client.pair(&format!("rate-{i}")).await;
            result.map(|(pay, inquiry)| (pay, inquiry, begun.elapsed()))
        }));
    }
    let mut pays = Vec::new();
    let mut inquiries = Vec::new();
    let mut pairs = Vec::new();
    let mut errors = 0usize;
    for task in tasks {
        match task.await {
            Ok(Ok((pay, inquiry, pair))) => {
                pays.push(pay);
                inquiries.push(inquiry);
                pairs.push(pair);
            }
            _ => errors += 1,
        }
    }
    let achieved = pairs.len() as f64 / start.elapsed().as_secs_f64();
    for listener in listeners {
        listener.abort();
    }
    pays.sort();
    inquiries.sort();
    pairs.sort();

    // Phase 2: closed loop, flat out.
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let flat_start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let client = Arc::clone(&client);
        workers.push(tokio::spawn(async move {
            let mut done = 0usize;
            let mut failed = 0usize;
            let mut first_error = None;
            let mut i = 0usize;
            while Instant::now() < deadline {
                match client.pair(&format!("flat-{w}-{i}")).await {
                    Ok(_) => done += 1,
                    Err(error) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| error.to_string());
                    }
                }
                i += 1;
            }
            (done, failed, first_error)
        }));
    }
    let mut flat_done = 0usize;
    let mut flat_failed = 0usize;
    let mut flat_error: Option<String> = None;
    for worker in workers {
        if let Ok((done, failed, error)) = worker.await {
            flat_done += done;
            flat_failed += failed;
            flat_error = flat_error.or(error);
        }
    }
    let max_throughput = flat_done as f64 / flat_start.elapsed().as_secs_f64();
    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);

    let report = json!({
        "cores": cores,
        "signUs": sign_us,
        "verifyUs": verify_us,
        "signingCeilingPairsPerSec": ceiling,
        "fixedRate": {
            "subscribers": args.subscribers,
            "targetPerSec": args.rate,
            "achievedPerSec": achieved,
            "pairs": pairs.len(),
            "errors": errors,
            "payP50Ms": percentile(&pays, 50.0),
            "payP99Ms": percentile(&pays, 99.0),
            "inquiryP50Ms": percentile(&inquiries, 50.0),
            "inquiryP99Ms": percentile(&inquiries, 99.0),
            "pairP50Ms": percentile(&pairs, 50.0),
            "pairP99Ms": percentile(&pairs, 99.0),
        },
        "flatOut": {
            "concurrency": args.concurrency,
            "pairsPerSec": max_throughput,
            "pairs": flat_done,
            "errors": flat_failed,
            "shareOfCeiling": max_throughput / ceiling,
        },
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("Signing: sign {sign_us:.0} µs, verify {verify_us:.0} µs; one pay+inquiry = 4 signs + 4 verifies (client and sandbox)");
        println!("Signing ceiling on {cores} cores: {ceiling:.0} pay+inquiry pairs/s");
        println!(
            "Fixed rate {} pairs/s for {} s ({} SSE subscribers): achieved {achieved:.0}/s, {} ok, {errors} errors",
            args.rate,
            args.seconds,
            args.subscribers,
            pairs.len()
        );
        println!("  pay      p50 {:.2} ms  p99 {:.2} ms", percentile(&pays, 50.0), percentile(&pays, 99.0));
        println!(
            "  inquiry  p50 {:.2} ms  p99 {:.2} ms",
            percentile(&inquiries, 50.0),
            percentile(&inquiries, 99.0)
        );
        println!("  pair     p50 {:.2} ms  p99 {:.2} ms", percentile(&pairs, 50.0), percentile(&pairs, 99.0));
        println!(
            "Flat out ({} clients, {} s): {max_throughput:.0} pairs/s ({:.0}% of the signing ceiling), {flat_failed} errors",
            args.concurrency,
            args.seconds,
            100.0 * max_throughput / ceiling
        );
        if let Some(error) = &flat_error {
            println!("  first error: {error}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn signing_costs(key: &PrivateKey) -> anyhow::Result<(f64, f64)> {
    let public = key.public_key()?;
    let content = vec![b'x'; 700];
    let rounds = 200;
    let started = Instant::now();
    let mut signature = Vec::new();
    for _ in 0..rounds {
        signature = key.sign(&content)?;
    }
    let sign_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    let started = Instant::now();
    for _ in 0..rounds * 5 {
        public.verify(&content, &signature)?;
    }
    let verify_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds * 5);
    Ok((sign_us, verify_us))
}

/// Opens `count` live pending-list streams (one paired device) and keeps reading them.
async fn subscribe(sandbox: &Sandbox, count: usize) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let token = sandbox.store().create_device("bench", time::OffsetDateTime::now_utc())?;
    let auth = format!("Bearer {}", token.expose());
    let http = reqwest::Client::builder().pool_max_idle_per_host(count).build()?;
    let url = format!("{}/app/v1/pending/stream", sandbox.base_url());
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        let mut response = http.get(&url).header("authorization", &auth).send().await?;
        if !response.status().is_success() {
            return Err(anyhow!("SSE subscribe answered {}", response.status()));
        }
        tasks.push(tokio::spawn(async move { while let Ok(Some(_)) = response.chunk().await {} }));
    }
    Ok(tasks)
}

/// Options of `plusbox bench soak`.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// How long, in minutes (fractions allowed).
    #[arg(long, default_value_t = 30.0)]
    pub minutes: f64,
    /// Fixed arrival rate, pay+inquiry pairs per second.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Every Nth pair is also refunded in full (0 = no refunds).
    #[arg(long, default_value_t = 4)]
    pub refund_every: u32,
    /// Seconds per printed interval.
    #[arg(long, default_value_t = 60)]
    pub interval_seconds: u64,
    /// WAL size in MiB past which checkpoints truncate it; 0 turns the bound off (the behaviour
    /// before issue 9, for comparison).
    #[arg(long, default_value_t = 16)]
    pub wal_bound_mb: u64,
    /// Print the result as JSON (the intervals and the verdicts).
    #[arg(long)]
    pub json: bool,
}

/// Latencies and counts of one interval.
#[derive(Default)]
struct Window {
    pays: Vec<Duration>,
    inquiries: Vec<Duration>,
    refunds: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
}

/// Resident set size of this process in bytes (Linux `/proc/self/status`; 0 elsewhere).
fn rss_bytes() -> u64 {
    proc_status_number("VmRSS:").saturating_mul(1024)
}

/// A notify receiver that acknowledges with a signature by the ACQP key; counts what it got.
async fn ack_receiver(key: PrivateKey) -> anyhow::Result<(String, Arc<std::sync::atomic::AtomicU64>)> {
    use axum::http::{HeaderMap, StatusCode, Uri};
    use axum::response::IntoResponse;
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let state = (Arc::new(key), Arc::clone(&count));
    let app = axum::Router::new()
        .fallback(
            |axum::extract::State((key, count)): axum::extract::State<(Arc<PrivateKey>, Arc<std::sync::atomic::AtomicU64>)>,
             uri: Uri,
             headers: HeaderMap| async move {
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let target = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
                let client_id = headers.get("client-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                let ack = json!({"result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"}})
                    .to_string();
                let time = plusbox_core::protocol::time::format_instant(time::OffsetDateTime::now_utc());
                let parts = MessageParts { method: "POST", uri: &target, client_id: &client_id, time: &time, body: ack.as_bytes() };
                let signature = key.sign_message(&parts, Some(1)).unwrap_or_default();
                let mut response = (StatusCode::OK, ack).into_response();
                for (name, value) in
                    [("content-type", "application/json".to_string()), ("client-id", client_id), ("response-time", time), ("signature", signature)]
                {
                    if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
                        response.headers_mut().insert(name, value);
                    }
                }
                response
            },
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://{addr}/notify"), count))
}

async fn soak(args: SoakArgs) -> anyhow::Result<ExitCode> {
    if !(args.minutes.is_finite() && args.minutes > 0.0 && args.minutes <= 24.0 * 60.0) {
        return Err(anyhow!("--minutes must be above 0 and at most 1440"));
    }
    if args.rate == 0 || args.interval_seconds == 0 {
        return Err(anyhow!("--rate and --interval-seconds must be at least 1"));
    }
    let dir = std::env::temp_dir().join(format!("plusbox-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sandbox = Sandbox::start(SandboxConfig::new(&dir, "127.0.0.1:0".parse()?)).await?;
    let store = sandbox.store();
    store.set_wal_bound((args.wal_bound_mb > 0).then(|| args.wal_bound_mb * 1024 * 1024));
    let key = PrivateKey::generate()?;
    let now = time::OffsetDateTime::now_utc();
    store.set_acqp_key(&key.public_key()?.to_base64(), 1, now)?;
    store.topup("buyer-1", &Amount::from_minor(Currency::USD, 1_000_000_000_000), now)?;
    let (notify_url, notified) = ack_receiver(PrivateKey::parse(key.to_base64().expose())?).await?;
    store.set_notify_url(Some(&notify_url))?;
    let app = store.app()?;
    let client = Client::new(&sandbox, &app, key, 512, Vec::new())?;
    let window = Arc::new(std::sync::Mutex::new(Window::default()));
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let total = Duration::from_secs_f64(args.minutes * 60.0);
    let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // A closed loop would hide queueing; an open loop with a cap keeps memory bounded if the
    // server falls behind (those arrivals count as errors).
    let max_in_flight = (args.rate as usize) * 10;
    let started = tokio::time::Instant::now();
    let mut next_report = started + Duration::from_secs(args.interval_seconds);
    let mut rows: Vec<Value> = Vec::new();
    let mut last_notified = 0u64;
    let mut index: u64 = 0;
    if !args.json {
        println!(
            "Soak: {} pairs/s for {} min, refund every {}, WAL bound {}",
            args.rate,
            args.minutes,
            args.refund_every,
            if args.wal_bound_mb == 0 { "off".to_string() } else { format!("{} MiB", args.wal_bound_mb) }
        );
        println!(
            "{:>6} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6}",
            "min",
            "pairs/s",
            "errors",
            "pay p50",
            "pay p99",
            "inq p99",
            "ref p99",
            "notified",
            "WAL MB",
            "DB MB",
            "RSS MB",
            "threads",
            "load"
        );
    }
    loop {
        let due = started + interval * u32::try_from(index).unwrap_or(u32::MAX);
        if due >= started + total {
            break;
        }
        if due >= next_report {
            tokio::time::sleep_until(next_report).await;
            let taken = std::mem::take(&mut *window.lock().unwrap_or_else(|e| e.into_inner()));
            let count = notified.load(std::sync::atomic::Ordering::Relaxed);
            let row =
                report_row(&taken, &store, started.elapsed(), args.interval_seconds, count - last_notified);
            last_notified = count;
            if !args.json {
                print_row(&row);
            }
            rows.push(row);
            next_report += Duration::from_secs(args.interval_seconds);
        }
        tokio::time::sleep_until(due).await;
        let i = index;
        index += 1;
        if in_flight.load(std::sync::atomic::Ordering::Relaxed) >= max_in_flight {
            let mut w = window.lock().unwrap_or_else(|e| e.into_inner());
            w.errors += 1;
            w.first_error.get_or_insert_with(|| "the server fell behind: too many requests in flight".into());
            continue;
        }
        in_flight.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (client, window, store, in_flight) =
            (Arc::clone(&client), Arc::clone(&window), Arc::clone(&store), Arc::clone(&in_flight));
        let refund = args.refund_every > 0 && i % u64::from(args.refund_every) == 0;
        tokio::spawn(async move {
            let result = soak_pair(&client, &store, i, refund).await;
            let mut w = window.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Ok((pay, inquiry, refund)) => {
                    w.pays.push(pay);
                    w.inquiries.push(inquiry);
                    w.refunds.extend(refund);
                }
                Err(error) => {
                    w.errors += 1;
                    w.first_error.get_or_insert_with(|| error.to_string());
                }
            }
            in_flight.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        });
    }
    // Let the last arrivals finish, then report the tail interval if it has data.
    for _ in 0..300 {
        if in_flight.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let taken = std::mem::take(&mut *window.lock().unwrap_or_else(|e| e.into_inner()));
    if !taken.pays.is_empty() || taken.errors > 0 {
        let count = notified.load(std::sync::atomic::Ordering::Relaxed);
        let row = report_row(&taken, &store, started.elapsed(), args.interval_seconds, count - last_notified);
        if !args.json {
            print_row(&row);
        }
        rows.push(row);
    }
    let verdict = soak_verdict(&rows);
    let outbox = store.outbox_counts()?;
    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    let report = json!({
        "rate": args.rate,
        "minutes": args.minutes,
        "refundEvery": args.refund_every,
        "walBoundMb": args.wal_bound_mb,
        "intervals": rows,
        "outbox": outbox,
        "verdict": verdict,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "Max WAL {:.1} MB (target ≤ 64); RSS first→last {:.0}→{:.0} MB ({:+.1} %, target ±10 %); pay p99 first→last {:.2}→{:.2} ms ({:.2}×, target ≤ 1.5×); errors {}",
            verdict["maxWalMb"].as_f64().unwrap_or_default(),
            verdict["firstRssMb"].as_f64().unwrap_or_default(),
            verdict["lastRssMb"].as_f64().unwrap_or_default(),
            verdict["rssChangePct"].as_f64().unwrap_or_default(),
            verdict["firstPayP99Ms"].as_f64().unwrap_or_default(),
            verdict["lastPayP99Ms"].as_f64().unwrap_or_default(),
            verdict["p99Ratio"].as_f64().unwrap_or_default(),
            verdict["errors"].as_u64().unwrap_or_default(),
        );
        println!("Outbox: {}", serde_json::to_string(&outbox)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// One soak pair: a fresh code, pay, inquiry and (when asked) a full refund.
async fn soak_pair(
    client: &Client,
    store: &Arc<plusbox_sandbox::Store>,
    i: u64,
    refund: bool,
) -> anyhow::Result<(Duration, Duration, Option<Duration>)> {
    let issuer = Arc::clone(store);
    let code =
        tokio::task::spawn_blocking(move || issuer.issue_code("buyer-1", time::OffsetDateTime::now_utc()))
            .await??
            .code;
    client.codes.lock().await.push(code);
    let id = format!("soak-{i}");
    let (pay, inquiry) = client.pair(&id).await?;
    let refund_time = if refund {
        let started = Instant::now();
        let body = json!({"paymentRequestId": id, "refundRequestId": format!("{id}-r"), "refundAmount": {"currency": "USD", "value": "1"}});
        let answer = client.call("refund", &body).await?;
        if answer["result"]["resultCode"] != "SUCCESS" {
            return Err(anyhow!("refund answered {}", answer["result"]));
        }
        Some(started.elapsed())
    } else {
        None
    };
    Ok((pay, inquiry, refund_time))
}

fn report_row(
    window: &Window,
    store: &plusbox_sandbox::Store,
    elapsed: Duration,
    interval_seconds: u64,
    notified: u64,
) -> Value {
    let sorted = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    let (pays, inquiries, refunds) =
        (sorted(&window.pays), sorted(&window.inquiries), sorted(&window.refunds));
    let db = std::fs::metadata(store.path()).map(|m| m.len()).unwrap_or(0);
    json!({
        "minute": elapsed.as_secs_f64() / 60.0,
        "pairsPerSec": pays.len() as f64 / interval_seconds as f64,
        "errors": window.errors,
        "firstError": window.first_error,
        "payP50Ms": percentile(&pays, 50.0),
        "payP99Ms": percentile(&pays, 99.0),
        "inquiryP50Ms": percentile(&inquiries, 50.0),
        "inquiryP99Ms": percentile(&inquiries, 99.0),
        "refundP99Ms": percentile(&refunds, 99.0),
        "notified": notified,
        "walMb": store.wal_bytes() as f64 / 1_048_576.0,
        "dbMb": db as f64 / 1_048_576.0,
        "rssMb": rss_bytes() as f64 / 1_048_576.0,
        "threads": proc_status_number("Threads:"),
        "loadAverage": load_average(),
    })
}

/// The number of a `/proc/self/status` field (`VmRSS:` is in kB; Linux; 0 elsewhere).
fn proc_status_number(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// The one-minute load average (Linux; 0 elsewhere): how busy the machine was besides us.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

fn print_row(row: &Value) {
    let f = |k: &str| row[k].as_f64().unwrap_or_default();
    println!(
        "{:>6.1} {:>8.0} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9} {:>8.1} {:>8.1} {:>8.1} {:>8} {:>6.1}",
        f("minute"),
        f("pairsPerSec"),
        row["errors"],
        f("payP50Ms"),
        f("payP99Ms"),
        f("inquiryP99Ms"),
        f("refundP99Ms"),
        row["notified"],
        f("walMb"),
        f("dbMb"),
        f("rssMb"),
        row["threads"],
        f("loadAverage")
    );
    if let Some(error) = row["firstError"].as_str() {
        println!("       first error: {error}");
    }
}

/// The soak's figures against the issue's targets: WAL ≤ 64 MB, RSS within ±10 % from the first
/// interval to the last, last interval's pay p99 within 1.5× of the first's.
fn soak_verdict(rows: &[Value]) -> Value {
    let f = |row: Option<&Value>, k: &str| row.and_then(|r| r[k].as_f64()).unwrap_or_default();
    let max_wal = rows.iter().map(|r| r["walMb"].as_f64().unwrap_or_default()).fold(0.0, f64::max);
    let max_rss = rows.iter().map(|r| r["rssMb"].as_f64().unwrap_or_default()).fold(0.0, f64::max);
    let errors: u64 = rows.iter().map(|r| r["errors"].as_u64().unwrap_or_default()).sum();
    let (first, last) = (rows.first(), rows.last());
    let (rss0, rss1) = (f(first, "rssMb"), f(last, "rssMb"));
    let (p0, p1) = (f(first, "payP99Ms"), f(last, "payP99Ms"));
    let rss_change = if rss0 > 0.0 { 100.0 * (rss1 - rss0) / rss0 } else { 0.0 };
    let ratio = if p0 > 0.0 { p1 / p0 } else { 0.0 };
    json!({
        "maxWalMb": max_wal,
        "maxRssMb": max_rss,
        "firstRssMb": rss0,
        "lastRssMb": rss1,
        "rssChangePct": rss_change,
        "firstPayP99Ms": p0,
        "lastPayP99Ms": p1,
        "p99Ratio": ratio,
        "errors": errors,
        "walWithinTarget": max_wal <= 64.0,
        "rssWithinTarget": rss_change.abs() <= 10.0,
        "p99WithinTarget": ratio <= 1.5,
    })
}
