//! The runner's [`SandboxPort`] onto a sandbox's own store: `plusbox run --data DIR` on the
//! sandbox's machine, and in-process sandboxes in tests and benchmarks. It is the only place
//! where the runner meets the sandbox's internals; the runner itself sees only the port.
//!
//! A local run is one device among others: it holds its buyer like a run over the API does (the
//! same `test_run` rows, device id 0), so a local run and an app run on one buyer refuse each
//! other.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use plusbox_clock::{Clock, SharedClock};
use plusbox_core::catalogue::TrafficEntry;
use plusbox_core::money::Amount;
use plusbox_core::result_code::ResultCode;
use plusbox_runner::port::{
    BuyerState, OrderRefusal, PaymentState, PendingPayment, PortError, PortResult, Rule, SandboxApp,
    SandboxPort, ScannedOrder,
};
use plusbox_sandbox::store::{BuyerDecision, MockAction, MockScope, OrderCodeRefusal, Tamper};
use plusbox_sandbox::{OffsetClock, Scenario, Store, StoreError};
use time::Duration;

/// The device id local runs hold buyers under (paired devices start at 1).
pub const LOCAL_DEVICE: i64 = 0;

/// Wakes an in-process sandbox's worker.
pub type Poke = Arc<dyn Fn() + Send + Sync>;

/// A sandbox reached through its SQLite store.
#[derive(Clone)]
pub struct LocalPort {
    store: Arc<Store>,
    clock: OffsetClock,
    poke: Option<Poke>,
}

impl std::fmt::Debug for LocalPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPort").field("store", &self.store.path()).finish_non_exhaustive()
    }
}

impl LocalPort {
    /// A port onto `store`, on the sandbox clock `clock`.
    pub fn new(store: Arc<Store>, clock: OffsetClock) -> LocalPort {
        LocalPort { store, clock, poke: None }
    }

    /// Wakes the sandbox's worker after each arrangement (an in-process sandbox; one in another
    /// process polls its store by itself).
    pub fn with_poke(mut self, poke: Poke) -> LocalPort {
        self.poke = Some(poke);
        self
    }

    fn at(&self) -> String {
        self.store.path().display().to_string()
    }

    fn err(&self, what: &str, error: StoreError) -> PortError {
        match error {
            StoreError::Sqlite(_) | StoreError::Io(_) => {
                PortError::Unreachable { at: self.at(), detail: format!("{what}: {error}") }
            }
            StoreError::NotFound(message) => {
                PortError::Refused { what: what.to_owned(), code: "NOT_FOUND".into(), message }
            }
            other => PortError::Refused {
                what: what.to_owned(),
                code: "INVALID_STATE".into(),
                message: other.to_string(),
            },
        }
    }

    /// Runs blocking store work off the async threads.
    async fn with<T: Send + 'static>(
        &self,
        what: &str,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> PortResult<T> {
        let store = Arc::clone(&self.store);
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(result) => result.map_err(|e| self.err(what, e)),
            Err(e) => Err(PortError::Unreachable { at: self.at(), detail: format!("{what}: {e}") }),
        }
    }
}

fn owned(text: &str) -> String {
    text.to_owned()
}

/// The data directory holding the store, for [`SandboxPort::describe`].
fn data_dir(store: &Store) -> PathBuf {
    store.path().parent().map(PathBuf::from).unwrap_or_default()
}

#[async_trait]
impl SandboxPort for LocalPort {
    fn clock(&self) -> SharedClock {
        Arc::new(self.clock.clone())
    }

    fn describe(&self) -> String {
        data_dir(&self.store).display().to_string()
    }

    fn poke(&self) {
        if let Some(poke) = &self.poke {
            poke();
        }
    }

    async fn begin_run(&self, account: &str) -> PortResult<i64> {
        let (account, now) = (owned(account), self.clock.now());
        let held = self.with("begin the run", move |s| s.begin_test_run(LOCAL_DEVICE, &account, now)).await?;
        held.map_err(|active| PortError::Refused {
            what: "begin the run".into(),
            code: "RUN_ACTIVE".into(),
            message: format!(
                "buyer {} already has an active run (run {} of device {}, started {}); wait for it to end or use another buyer",
                active.account, active.id, active.device_id, active.started_at
            ),
        })
    }

    async fn end_run(&self, run: i64) -> PortResult<()> {
        let now = self.clock.now();
        self.with("end the run", move |s| s.end_test_run(LOCAL_DEVICE, run, now)).await.map(drop)
    }

    async fn ensure_buyer_like(&self, id: &str, like: &str) -> PortResult<bool> {
        let (id, like, now) = (owned(id), owned(like), self.clock.now());
        self.with("make the buyer", move |s| s.ensure_buyer_like(&id, &like, now)).await
    }

    async fn magic_amounts_on(&self) -> PortResult<()> {
        self.with("switch magic amounts on", |s| s.set_magic_amounts(true)).await
    }

    async fn buyer(&self, account: &str) -> PortResult<BuyerState> {
        let account = owned(account);
        let view = self.with("read the buyer", move |s| s.account(&account)).await?;
        let mut balances = Vec::new();
        for b in view.balances {
            let value = b.value.parse().map_err(|_| PortError::Garbage {
                what: "read the buyer".into(),
                detail: format!("balance {} is not minor units", b.value),
            })?;
            balances.push((b.currency, value));
        }
        Ok(BuyerState { scenario: view.scenario, balances })
    }

    async fn set_scenario(&self, account: &str, scenario: &str) -> PortResult<()> {
        let parsed = Scenario::from_str(scenario).map_err(|e| PortError::Refused {
            what: "set the scenario".into(),
            code: "BAD_SCENARIO".into(),
            message: format!("scenario {scenario:?}: {e}"),
        })?;
        let account = owned(account);
        self.with("set the scenario", move |s| s.set_scenario(&account, &parsed)).await
    }

    async fn set_wallet(&self, account: &str, wallet: &str) -> PortResult<String> {
        let (account, wallet) = (owned(account), owned(wallet));
        self.with("set the wallet", move |s| s.set_wallet(&account, &wallet)).await
    }

    async fn topup(&self, account: &str, amount: Amount) -> PortResult<()> {
        let (account, now) = (owned(account), self.clock.now());
        self.with("top up", move |s| s.topup(&account, &amount, now)).await.map(drop)
    }

    async fn issue_code(&self, account: &str, age: Duration) -> PortResult<String> {
        let account = owned(account);
        let issued_at = plusbox_clock::add_saturating(self.clock.now(), -age);
        Ok(self.with("issue a code", move |s| s.issue_code(&account, issued_at)).await?.code)
    }

    async fn add_rule(
        &self,
        account: &str,
        api: &str,
        rule: Rule,
        count: u32,
        minutes: u32,
    ) -> PortResult<i64> {
        let action = match rule {
            Rule::Force(code) => {
                MockAction::Force(ResultCode::from_wire(&code).ok_or_else(|| PortError::Refused {
                    what: "add a mock rule".into(),
                    code: "BAD_REQUEST".into(),
                    message: format!("{code} is not a result code the sandbox knows"),
                })?)
            }
            Rule::TamperBody => MockAction::Tamper(Tamper::Body),
        };
        let (scope, api, now) = (MockScope::account(account), owned(api), self.clock.now());
        let rule = self
            .with("add a mock rule", move |s| {
                s.add_scoped_mock(&api, action, Some(count), Some(minutes), &scope, now)
            })
            .await?;
        Ok(rule.id)
    }

    async fn remove_rule(&self, id: i64) -> PortResult<()> {
        self.with("remove a mock rule", move |s| s.remove_mock(id)).await.map(drop)
    }

    async fn hold_notifications(&self, account: &str, delay: Duration, minutes: u32) -> PortResult<()> {
        let account = owned(account);
        let until = plusbox_clock::add_saturating(self.clock.now(), Duration::minutes(i64::from(minutes)));
        self.with("hold notifications", move |s| s.hold_notifications(&account, delay, until)).await
    }

    async fn release_notifications(&self, account: &str) -> PortResult<()> {
        let account = owned(account);
        self.with("release notifications", move |s| s.release_notifications(&account)).await.map(drop)
    }

    async fn age_payments(&self, payment_ids: &[String], by: Duration) -> PortResult<usize> {
        let ids = payment_ids.to_vec();
        self.with("age payments", move |s| s.age_payments(&ids, by)).await
    }

    async fn payment(&self, payment_id: &str) -> PortResult<Option<PaymentState>> {
        let id = owned(payment_id);
        let record = self.with("read a payment", move |s| s.payment_by_id(&id)).await?;
        Ok(record.map(|r| PaymentState {
            state: r.state.as_str().to_owned(),
            fail_code: r.fail_code.map(|c| c.as_str().to_owned()),
            currency: r.amount.currency.code().to_owned(),
            value: r.amount.value,
            expires_at: r.expires_at,
            payment_request_id: r.payment_request_id,
            payment_id: r.payment_id,
        }))
    }

    async fn pending(&self, account: &str) -> PortResult<Vec<PendingPayment>> {
        let now = self.clock.now();
        let all = self.with("read pending payments", move |s| s.pending(now)).await?;
        Ok(all
            .into_iter()
            .filter(|p| p.account == account)
            .map(|p| PendingPayment {
                payment_id: p.payment_id,
                payment_request_id: p.payment_request_id,
                account: p.account,
                value: p.amount.value.parse().unwrap_or(0),
                currency: p.amount.currency,
            })
            .collect())
    }

    async fn confirm(&self, payment_id: &str, pin: &str) -> PortResult<()> {
        let (id, pin, now) = (owned(payment_id), owned(pin), self.clock.now());
        self.with("confirm", move |s| s.confirm(&id, &pin, now)).await.map(drop)
    }

    async fn decline(&self, payment_id: &str) -> PortResult<()> {
        let (id, now) = (owned(payment_id), self.clock.now());
        self.with("decline", move |s| s.decline(&id, now)).await.map(drop)
    }

    async fn traffic_mark(&self) -> PortResult<i64> {
        self.with("read the traffic", |s| s.traffic_max_id()).await
    }

    async fn traffic(&self, after: i64, limit: u32) -> PortResult<(Vec<TrafficEntry>, i64)> {
        let page: Vec<TrafficEntry> = self.with("read the traffic", move |s| s.traffic(after, limit)).await?;
        let next = page.last().map_or(after, |e| e.id);
        Ok((page, next))
    }

    async fn app(&self) -> PortResult<SandboxApp> {
        let view = self.with("read the application", |s| s.app_view()).await?;
        Ok(SandboxApp {
            client_id: view.client_id,
            acquirer_id: view.acquirer_id,
            notify_url: view.notify_url,
        })
    }

    async fn open_dispute(
        &self,
        kind: &str,
        payment_id: &str,
        amount: Option<Amount>,
    ) -> PortResult<Result<String, (String, String)>> {
        let kind = match kind {
            "retrieval" => plusbox_sandbox::store::DisputeKind::Retrieval,
            "escalation" => plusbox_sandbox::store::DisputeKind::Escalation,
            other => {
                return Ok(Err(("BAD_KIND".to_owned(), format!("{other:?} is not retrieval or escalation"))))
            }
        };
        let input =
            plusbox_sandbox::store::DisputeInput { kind, payment: owned(payment_id), reason: None, amount };
        let now = self.clock.now();
        let opened = self.with("start a dispute", move |s| s.open_dispute(&input, now)).await?;
        // The outbox worker sends the initiate call now, not at its next poll.
        self.poke();
        Ok(opened.map(|d| d.dispute_request_id).map_err(|r| (r.code.to_owned(), r.message)))
    }

    async fn decode_order_code(
        &self,
        account: &str,
        code: &str,
    ) -> PortResult<Result<ScannedOrder, OrderRefusal>> {
        // As the companion API does: an order code is looked up, a private order code decoded by
        // its ACQP (`userInitiatedPay`).
        let clock: plusbox_sandbox::SharedClock = Arc::new(self.clock.clone());
        let decoded = plusbox_sandbox::private_code::decode_scanned(
            Arc::clone(&self.store),
            clock,
            owned(code),
            owned(account),
        )
        .await
        .map_err(|e| self.err("decode an order code", e))?;
        Ok(decoded
            .map(|view| ScannedOrder {
                merchant: view.merchant,
                display_amount: view.display_amount,
                pin_required: view.pin_required,
            })
            .map_err(refusal))
    }

    async fn answer_order_code(
        &self,
        account: &str,
        code: &str,
        confirm: bool,
        pin: Option<&str>,
    ) -> PortResult<Result<String, OrderRefusal>> {
        let (account, code, pin, now) = (owned(account), owned(code), pin.map(owned), self.clock.now());
        let answered = self
            .with("answer an order code", move |s| {
                let decision =
                    if confirm { BuyerDecision::Confirm(pin.as_deref()) } else { BuyerDecision::Decline };
                s.answer_order_code(&code, &account, decision, now)
            })
            .await?;
        Ok(answered.map(|payment| payment.payment_result().result_code.to_string()).map_err(refusal))
    }
}

/// The wallet's refusal in the port's terms.
fn refusal(refused: OrderCodeRefusal) -> OrderRefusal {
    OrderRefusal { code: refused.code.to_owned(), message: refused.message }
}
