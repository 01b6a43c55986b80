//! A device key in the platform keystore (issue 14), against a real Secret Service: GNOME
//! Keyring's daemon on a private D-Bus session bus, unlocked with a test password. A CI device
//! linked with `--key-store platform` keeps its key there and nowhere in its directory; libsecret's
//! `secret-tool` (an independent client) reads the item back and Python `cryptography` derives
//! from its seed the very public key the sandbox registered; a run uploads signed with it. When the keystore goes away,
//! the next run stops before it starts, naming the keystore, and no second key is made. `auto`
//! without a keystore keeps the key in the owner-only file and says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Output, Stdio};

use acquirer_common::Env;
use base64::Engine as _;
use plusbox_acquirer::Timing;
use plusbox_sandbox::store::NewInvite;

const NEEDS: &str = "this test needs dbus-daemon, gnome-keyring-daemon and secret-tool: \
     apt-get install dbus-daemon gnome-keyring libsecret-tools (scripts/test.sh installs them as root)";

/// A private session bus with a Secret Service on it; both stopped on drop.
struct SecretService {
    home: tempfile::TempDir,
    bus: String,
    dbus: Child,
    keyring: Option<Child>,
}

impl SecretService {
    fn start() -> SecretService {
        let home = tempfile::tempdir().unwrap();
        let runtime = home.path().join("run");
        std::fs::create_dir_all(&runtime).unwrap();
        let mut dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", runtime.join("bus").display()))
            .stdout(Stdio::piped())
            .spawn()
            .expect(NEEDS);
        let mut address = String::new();
        BufReader::new(dbus.stdout.take().unwrap()).read_line(&mut address).unwrap();
        let bus = address.trim().to_string();
        assert!(bus.starts_with("unix:"), "dbus-daemon printed {address:?}");
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("HOME", home.path())
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(NEEDS);
        // The password of the login keyring it makes (and unlocks), on stdin, then end of input.
        keyring.stdin.take().unwrap().write_all(b"plusbox-test").unwrap();
        let service = SecretService { home, bus, dbus, keyring: Some(keyring) };
        let mut owned = false;
        for _ in 0..100 {
            let reply = Command::new("dbus-send")
                .args(["--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"])
                .args(["org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets"])
                .env("DBUS_SESSION_BUS_ADDRESS", &service.bus)
                .output()
                .expect(NEEDS);
            if String::from_utf8_lossy(&reply.stdout).contains("boolean true") {
                owned = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(owned, "the Secret Service never appeared on the test bus");
        service
    }

    /// `secret-tool` against this Secret Service.
    fn secret_tool(&self, args: &[&str]) -> Output {
        Command::new("secret-tool")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .output()
            .expect(NEEDS)
    }

    /// The keystore goes away (as when a desktop session ends).
    fn stop_keyring(&mut self) {
        if let Some(mut keyring) = self.keyring.take() {
            let _ = keyring.kill();
            let _ = keyring.wait();
        }
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        self.stop_keyring();
        let _ = self.dbus.kill();
        let _ = self.dbus.wait();
        let _ = &self.home;
    }
}

async fn plusbox(args: Vec<String>, bus: &str) -> Output {
    let bus = bus.to_string();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_plusbox"))
            .args(args)
            .env_remove("PLUSBOX_TOKEN")
            .env("DBUS_SESSION_BUS_ADDRESS", bus)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The SubjectPublicKeyInfo (Base64 DER) that Python `cryptography` derives from the private
/// seed of an Ed25519 PKCS#8 document (RFC 8410; the version 2 document carries the public key
/// too, which is exactly what must not be trusted here, so only the seed is handed over).
fn python_public_key(pkcs8: &[u8]) -> String {
    // SEQUENCE { INTEGER version, AlgorithmIdentifier, OCTET STRING { OCTET STRING seed(32) } … }
    assert_eq!(&pkcs8[..2], &[0x30, pkcs8.len() as u8 - 2], "a short-form SEQUENCE");
    assert_eq!(
        &pkcs8[5..14],
        &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22],
        "Ed25519, then the key"
    );
    assert_eq!(&pkcs8[14..16], &[0x04, 0x20]);
    let seed = base64::engine::general_purpose::STANDARD.encode(&pkcs8[16..48]);
    let script = "import base64,sys\n\
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey\n\
        from cryptography.hazmat.primitives import serialization as s\n\
        k = Ed25519PrivateKey.from_private_bytes(base64.b64decode(sys.argv[1]))\n\
        print(base64.b64encode(k.public_key().public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)).decode())\n";
    let out = Command::new("python3").args(["-c", script, &seed]).output().unwrap();
    assert!(out.status.success(), "python3 cryptography: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_device_key_kept_in_secret_service_signs_uploads_and_a_missing_keystore_stops_the_run() {
    let mut keystore = SecretService::start();
    let env = Env::start_compressed(&[], Timing::default(), 10).await;
    let store = env.sandbox.store();
    let new = NewInvite {
        merchant: "Reference shop".into(),
        mid: "M0001".into(),
        email: "ops@shop.example".into(),
        products: vec!["upm".into()],
        cases: vec!["UPM-PAY-001".into()],
    };
    let (invite, token) = store.create_invite(&new, time::OffsetDateTime::now_utc()).unwrap();
    let link = format!("{}/#invite={}", env.sandbox.base_url(), token.expose());
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("device");
    let dir_arg = dir.to_string_lossy().into_owned();

    let linked = plusbox(
        vec![
            "device".into(),
            "link".into(),
            link.clone(),
            "--device-dir".into(),
            dir_arg.clone(),
            "--key-store".into(),
            "platform".into(),
        ],
        &keystore.bus,
    )
    .await;
    assert!(linked.status.success(), "{}", text(&linked));
    assert!(text(&linked).contains("Device key (never sent): Secret Service"), "{}", text(&linked));
    assert!(!dir.join("device-key.p8").exists(), "the key must not touch the directory");
    assert_eq!(std::fs::read_to_string(dir.join("device-key.keystore")).unwrap().trim(), "Secret Service");

    // libsecret finds exactly one item for the device; openssl derives from it the public key
    // the sandbox registered for this device.
    let found = keystore.secret_tool(&["search", "--all", "service", "dev.plusbox.companion.device-key"]);
    let listing = text(&found);
    assert_eq!(listing.matches("secret = ").count(), 1, "{listing}");
    let secret = listing.lines().find_map(|l| l.strip_prefix("secret = ")).unwrap().trim();
    let pkcs8 = base64::engine::general_purpose::STANDARD.decode(secret).unwrap();
    let (_, registered) = store.device_invite(1).unwrap().unwrap();
    assert_eq!(Some(python_public_key(&pkcs8)), registered);

    let run = |data: &str| {
        vec![
            "run".into(),
            "UPM-PAY-001".into(),
            "--device-dir".into(),
            dir_arg.clone(),
            "--pos".into(),
            env.base_url.clone(),
            "--data".into(),
            work.path().join(data).to_string_lossy().into_owned(),
            "--upload".into(),
        ]
    };
    let ran = plusbox(run("runs-1"), &keystore.bus).await;
    assert!(ran.status.success(), "{}", text(&ran));
    assert!(text(&ran).contains("Upload: 1 uploaded, 0 waiting, 0 refused"), "{}", text(&ran));
    let collected = store.collected().unwrap();
    assert_eq!(collected.len(), 1, "{collected:?}");
    assert_eq!(
        (collected[0].invite_id.as_str(), collected[0].verdict.as_str()),
        (invite.id.as_str(), "PASS")
    );

    // The keystore goes away: the next run stops before it starts and says where the key is.
    keystore.stop_keyring();
    let refused = plusbox(run("runs-2"), &keystore.bus).await;
    assert!(!refused.status.success(), "{}", text(&refused));
    let said = text(&refused);
    assert!(said.contains("kept in Secret Service, which cannot give it now"), "{said}");
    assert!(!said.contains("case(s) in"), "nothing ran: {said}");
    assert!(!dir.join("device-key.p8").exists(), "no second key was made");
    assert_eq!(store.collected().unwrap().len(), 1);
    let status = plusbox(
        vec!["device".into(), "status".into(), "--device-dir".into(), dir_arg.clone()],
        &keystore.bus,
    )
    .await;
    assert!(
        text(&status).contains("Device key: this device's key is kept in Secret Service"),
        "{}",
        text(&status)
    );

    // `auto` where no Secret Service answers: the owner-only file, and the reason.
    let (_, token2) = store
        .create_invite(&NewInvite { mid: "M0002".into(), ..new }, time::OffsetDateTime::now_utc())
        .unwrap();
    let second = work.path().join("device-2");
    let linked = plusbox(
        vec![
            "device".into(),
            "link".into(),
            format!("{}/#invite={}", env.sandbox.base_url(), token2.expose()),
            "--device-dir".into(),
            second.to_string_lossy().into_owned(),
            "--key-store".into(),
            "auto".into(),
        ],
        &format!("unix:path={}", work.path().join("no-bus").display()),
    )
    .await;
    assert!(linked.status.success(), "{}", text(&linked));
    let said = text(&linked);
    assert!(said.contains("owner-only file") && said.contains("(no keystore: Secret Service:"), "{said}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(second.join("device-key.p8")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(!second.join("device-key.keystore").exists());
    env.stop().await;
}
