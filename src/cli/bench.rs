//! `plusbox bench sandbox`: signed pay + inquiryPayment over loopback, at a fixed rate and flat
//! out, beside the signing ceiling measured in the same run.

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
}

/// Runs `plusbox bench …`.
pub fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Sandbox(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(bench(args))
        }
        BenchCommand::Suite(args) => super::bench_suite::run(args),
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
    let client = Arc::new(Client {
        http: reqwest::Client::builder().pool_max_idle_per_host(256).build()?,
        base: sandbox.base_url().to_string(),
        client_id: app.client_id.clone(),
        key,
        sandbox_key: app.private_key()?.public_key()?,
        codes: Mutex::new(codes),
    });

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
            "Fixed rate {} pairs/s for {} s: achieved {achieved:.0}/s, {} ok, {errors} errors",
            args.rate,
            args.seconds,
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
