//! An invited merchant's phone sees and moves only its own buyer (issue 14): two merchants
//! invited to one sandbox, each linked over HTTP, each refused the other's buyer on every wallet
//! route of the companion API, with lists and live streams filtered to its own buyer; the
//! sandbox owner's device still sees everything. Real sandbox on an ephemeral port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use plusbox_sandbox::store::NewInvite;
use plusbox_sandbox::Scenario;
use serde_json::{json, Value};

async fn next_data(response: &mut reqwest::Response, buffer: &mut String) -> (String, Value) {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let name = event.lines().find_map(|l| l.strip_prefix("event:")).unwrap_or("").trim().to_string();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) {
                return (name, serde_json::from_str(data.trim()).unwrap());
            }
            continue;
        }
        let chunk = response.chunk().await.unwrap().expect("stream open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// The next `wanted` event of a stream; every `payment` event passed on the way must be `own`'s.
async fn next_named(response: &mut reqwest::Response, buffer: &mut String, wanted: &str, own: &str) -> Value {
    loop {
        let (name, data) = next_data(response, buffer).await;
        if name == "payment" {
            assert_eq!(data["accountId"], own, "a payment event of another buyer: {data}");
        }
        if name == wanted {
            return data;
        }
    }
}

/// Links a device through an invite over HTTP; its bearer token and its buyer.
async fn link(h: &Harness, merchant: &str, mid: &str) -> (String, String) {
    let new = NewInvite {
        merchant: merchant.into(),
        mid: mid.into(),
        email: format!("{mid}@example.com"),
        products: vec!["upm".into()],
        cases: vec![],
    };
    let (_, token) = h.sandbox.store().create_invite(&new, h.clock_now()).unwrap();
    let answer = h
        .http
        .post(h.url("/app/v1/invites/link"))
        .header("content-type", "application/json")
        .body(json!({"token": token.expose(), "deviceName": format!("{merchant} phone")}).to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let answer: Value = serde_json::from_str(&answer).unwrap();
    let buyer = answer["invite"]["accounts"][0].as_str().unwrap().to_string();
    (format!("Bearer {}", answer["token"].as_str().unwrap()), buyer)
}

async fn status_and_code(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_invited_device_sees_and_moves_only_its_own_buyer() {
    let h = Harness::start().await;
    let api = |path: &str| h.url(&format!("/app/v1{path}"));
    let (tea, tea_buyer) = link(&h, "Tea House", "M-TEA").await;
    let (noodle, noodle_buyer) = link(&h, "Noodle Bar", "M-NOODLE").await;
    let owner = format!(
        "Bearer {}",
        h.sandbox.store().create_device("owner laptop", h.clock_now()).unwrap().expose()
    );

    // The list of buyers: its own only; the owner's device sees all (3 seeded + 2 invited).
    let (status, accounts) =
        status_and_code(h.http.get(api("/accounts")).header("authorization", &tea).send().await.unwrap())
            .await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = accounts.as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![tea_buyer.as_str()]);
    let (_, all) =
        status_and_code(h.http.get(api("/accounts")).header("authorization", &owner).send().await.unwrap())
            .await;
    assert_eq!(all.as_array().unwrap().len(), 5);

    // Every wallet route of another merchant's buyer is refused, naming the device's own buyer.
    let other = noodle_buyer.as_str();
    let refused = [
        h.http.post(api(&format!("/accounts/{other}/codes"))).header("authorization", &tea),
        h.http
            .post(api(&format!("/accounts/{other}/topup")))
            .header("authorization", &tea)
            .body(r#"{"amount":"10.00 USD"}"#),
        h.http.get(api(&format!("/accounts/{other}/history"))).header("authorization", &tea),
        h.http.get(api(&format!("/accounts/{other}/activity"))).header("authorization", &tea),
        h.http
            .post(api(&format!("/accounts/{other}/scenario")))
            .header("authorization", &tea)
            .body(r#"{"scenario":"pin"}"#),
        h.http.post(api("/accounts/buyer-1/codes")).header("authorization", &tea),
    ];
    for request in refused {
        let (status, body) = status_and_code(request.send().await.unwrap()).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["code"], "NOT_IN_SCOPE");
        assert!(body["message"].as_str().unwrap().contains(&tea_buyer), "{body}");
    }
    assert_eq!(
        h.sandbox.store().account(other).unwrap().scenario,
        Scenario::Success.to_string(),
        "nothing changed"
    );

    // Devices are the owner's business.
    for request in [
        h.http.get(api("/devices")).header("authorization", &tea),
        // Device 2 is the noodle bar's phone.
        h.http.post(api("/devices/2/revoke")).header("authorization", &tea),
    ] {
        let (status, body) = status_and_code(request.send().await.unwrap()).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("NOT_IN_SCOPE")), "{body}");
    }
    let (status, _) =
        status_and_code(h.http.get(api("/devices")).header("authorization", &owner).send().await.unwrap())
            .await;
    assert_eq!(status, 200);

    // Live streams and lists: the noodle bar's pending payment never reaches the tea house.
    let mut tea_events = h.http.get(api("/events")).header("authorization", &tea).send().await.unwrap();
    let mut tea_pending =
        h.http.get(api("/pending/stream")).header("authorization", &tea).send().await.unwrap();
    let mut noodle_events = h.http.get(api("/events")).header("authorization", &noodle).send().await.unwrap();
    let (mut a, mut b, mut c) = (String::new(), String::new(), String::new());
    assert_eq!(next_data(&mut tea_events, &mut a).await, ("pending".into(), json!([])));
    assert_eq!(next_data(&mut tea_pending, &mut b).await, ("pending".into(), json!([])));
    assert_eq!(next_data(&mut noodle_events, &mut c).await, ("pending".into(), json!([])));

    let (status, _) = status_and_code(
        h.http
            .post(api(&format!("/accounts/{other}/scenario")))
            .header("authorization", &noodle)
            .body(r#"{"scenario":"pin"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = status_and_code(
        h.http
            .post(api(&format!("/accounts/{other}/topup")))
            .header("authorization", &noodle)
            .body(r#"{"amount":"100.00 USD"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "its own buyer is its own to top up");
    let (_, code) = status_and_code(
        h.http
            .post(api(&format!("/accounts/{other}/codes")))
            .header("authorization", &noodle)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let answer = h.call("pay", &pay_body("scope-1", code["code"].as_str().unwrap(), "USD", "700")).await;
    assert_eq!(answer.code(), "PAYMENT_IN_PROCESS");
    let pending = next_named(&mut noodle_events, &mut c, "pending", other).await;
    assert_eq!(pending[0]["accountId"], other);
    let payment_id = pending[0]["paymentId"].as_str().unwrap().to_string();

    for path in ["/pending", "/pending/details"] {
        let (_, list) =
            status_and_code(h.http.get(api(path)).header("authorization", &tea).send().await.unwrap()).await;
        assert_eq!(list, json!([]), "{path}");
        let (_, list) =
            status_and_code(h.http.get(api(path)).header("authorization", &noodle).send().await.unwrap())
                .await;
        assert_eq!(list.as_array().unwrap().len(), 1, "{path}");
    }
    let (_, owner_list) =
        status_and_code(h.http.get(api("/pending")).header("authorization", &owner).send().await.unwrap())
            .await;
    assert_eq!(owner_list.as_array().unwrap().len(), 1);
    let (status, _) = status_and_code(
        h.http
            .get(api(&format!("/codes/{}", code["code"].as_str().unwrap())))
            .header("authorization", &tea)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404, "another buyer's code is not the tea house's to look up");

    // The tea house can neither confirm nor decline the noodle bar's payment.
    for action in ["confirm", "decline"] {
        let (status, body) = status_and_code(
            h.http
                .post(api(&format!("/payments/{payment_id}/{action}")))
                .header("authorization", &tea)
                .body(r#"{"pin":"1234"}"#)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status, body["code"].as_str()), (403, Some("NOT_IN_SCOPE")), "{action}: {body}");
    }
    let (status, body) = status_and_code(
        h.http
            .post(api(&format!("/payments/{payment_id}/confirm")))
            .header("authorization", &noodle)
            .body(r#"{"pin":"1234"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["paymentResult"]["resultCode"], "SUCCESS");
    // Its own stream hears the change; the tea house's streams heard nothing in between: the
    // next thing each gets is a payment of its own (a tea-house payment made now).
    let change = loop {
        let change = next_named(&mut noodle_events, &mut c, "payment", other).await;
        if change["state"] != "PROCESSING" {
            break change;
        }
    };
    assert_eq!(change["state"], "SUCCESS", "{change}");
    h.sandbox.store().set_scenario(&tea_buyer, &Scenario::Pin).unwrap();
    let (_, tea_code) = status_and_code(
        h.http
            .post(api(&format!("/accounts/{tea_buyer}/codes")))
            .header("authorization", &tea)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        h.call("pay", &pay_body("scope-2", tea_code["code"].as_str().unwrap(), "USD", "300")).await.code(),
        "PAYMENT_IN_PROCESS"
    );
    let (event, list) = next_data(&mut tea_pending, &mut b).await;
    assert_eq!(event, "pending");
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["account"], tea_buyer.as_str(), "the first thing the tea house hears is its own");
    let list = next_named(&mut tea_events, &mut a, "pending", &tea_buyer).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["accountId"], tea_buyer.as_str());

    // Unpairing itself is every device's right.
    let (status, body) = status_and_code(
        h.http.post(api("/devices/1/revoke")).header("authorization", &tea).send().await.unwrap(),
    )
    .await;
    assert_eq!((status, body["name"].as_str()), (200, Some("Tea House phone")), "{body}");
}

async fn try_link(client: &reqwest::Client, h: &Harness, token: &str) -> reqwest::Response {
    client
        .post(h.url("/app/v1/invites/link"))
        .header("content-type", "application/json")
        .body(json!({"token": token}).to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn guessing_invite_links_is_rate_limited_per_address_and_a_good_link_still_works_elsewhere() {
    let h = Harness::start().await;
    let new = NewInvite {
        merchant: "Tea House".into(),
        mid: "M-TEA".into(),
        email: "tea@example.com".into(),
        products: vec!["upm".into()],
        cases: vec![],
    };
    let (invite, token) = h.sandbox.store().create_invite(&new, h.clock_now()).unwrap();
    let guesser = reqwest::Client::builder()
        .local_address("127.0.0.1".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    for n in 0..10 {
        let guess = format!("invite_guess{n:035}");
        let (status, body) = status_and_code(try_link(&guesser, &h, &guess).await).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("INVITE_UNKNOWN")), "guess {n}");
    }
    // The eleventh is refused before the token is even looked at: a right one too.
    let refused = try_link(&guesser, &h, token.expose()).await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=7).contains(&retry), "Retry-After {retry}");
    let (_, body) = status_and_code(refused).await;
    assert_eq!(body["code"], "TOO_MANY_ATTEMPTS");
    assert!(body["message"].as_str().unwrap().contains(&format!("{retry} s")), "{body}");
    let listed = h.sandbox.store().invites().unwrap();
    assert!(listed.iter().all(|i| i.id != invite.id || i.linked_at.is_none()), "nothing was linked");

    // Another address (all of 127/8 is this machine) is not held up by the guesser.
    let phone = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let (status, body) = status_and_code(try_link(&phone, &h, token.expose()).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["invite"]["inviteId"], invite.id.as_str());
}
