//! Plusbox companion app: a thin Tauri 2 shell around the companion commands and the `ui/` build.
//!
//! Every companion command (declared once in `plusbox_companion::commands`) reaches the same
//! [`dispatch`](plusbox_companion::commands::dispatch) through one generic invoke handler
//! ([`handle_invoke`]), so `invoke(name, {args})` in the app and `POST /rpc/<name>` in a browser
//! give the same JSON. The shell adds the app-mode commands ([`SHELL_COMMANDS`]): the embedded
//! sandbox and its LAN sharing, linked mode, and the in-process reference acquirer and POS.
//!
//! Only this shell (and the CLI and tests) wires sandbox, acquirer and companion together; the
//! crates never depend on Tauri.

pub mod host;
pub mod merchant_page;
pub mod modes;

use std::path::PathBuf;
use std::sync::Arc;

use plusbox_companion::commands::{self as companion, COMMANDS};
use plusbox_companion::error::{CommandError, ErrorCode};
use serde::Deserialize;
use serde_json::Value;
use tauri::ipc::{Invoke, InvokeBody};
use tauri::{AppHandle, Manager as _, Runtime};

use crate::host::AppHost;
use crate::modes::{Mode, Shell};

/// The commands the shell adds to the companion's, for the app-mode screen.
pub const SHELL_COMMANDS: &[&str] = &[
    "app_state",
    "set_sharing",
    "use_mode",
    "link_sandbox",
    "start_acquirer",
    "pos_charge",
    "open_merchant_page",
];

/// Where the app keeps its data when started with `PLUSBOX_APP_DATA` (tests, side-by-side
/// instances); otherwise the platform's app data dir.
pub const DATA_ENV: &str = "PLUSBOX_APP_DATA";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SharingArgs {
    on: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeArgs {
    mode: Mode,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LinkArgs {
    /// The pairing link (`http://host:port/#pair=…`) or the sandbox URL.
    link: String,
    /// The short code, when the link carries none.
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    device_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChargeArgs {
    code: String,
    amount: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MerchantPageArgs {
    /// The entry code: the merchant page's HTTPS URL.
    url: String,
    /// The SHA-256 fingerprint the person compared and trusts for the page's address.
    #[serde(default)]
    trust_fingerprint: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

fn parse<T: serde::de::DeserializeOwned>(command: &str, args: Value) -> Result<T, CommandError> {
    let args = if args.is_null() { Value::Object(Default::default()) } else { args };
    serde_json::from_value(args)
        .map_err(|e| CommandError::bad_request(format!("arguments of {command}: {e}")))
}

fn json<T: serde::Serialize>(value: &T) -> Result<Value, CommandError> {
    serde_json::to_value(value).map_err(|e| CommandError::internal(format!("cannot encode the result: {e}")))
}

/// Runs one command by name: a companion command through `plusbox_companion`'s dispatch, or a
/// shell command. This is the whole command surface of the app.
pub async fn run_command<R: Runtime>(
    app: AppHandle<R>,
    shell: Arc<Shell>,
    name: &str,
    args: Value,
) -> Result<Value, CommandError> {
    if name == "link_invite" {
        return link_invite(app, shell, args).await;
    }
    if COMMANDS.contains(&name) {
        return companion::dispatch(AppHost::new(app, shell), name, args).await;
    }
    match name {
        "app_state" => {
            parse::<NoArgs>(name, args)?;
        }
        "set_sharing" => {
            let SharingArgs { on } = parse(name, args)?;
            shell.set_sharing(on).await?;
            restart_events(&app, &shell).await;
        }
        "use_mode" => {
            let ModeArgs { mode } = parse(name, args)?;
            match mode {
                Mode::Embedded => shell.use_embedded().await?,
                Mode::Linked => shell.use_linked()?,
            }
            restart_events(&app, &shell).await;
        }
        "link_sandbox" => {
            let LinkArgs { link, code, device_name } = parse(name, args)?;
            let previous = shell.current();
            let previous_link = shell.linked_url();
            shell.link(&link)?;
            let code = code.filter(|c| !c.trim().is_empty()).unwrap_or_else(|| link.clone());
            let pair = companion::PairWithCodeArgs { code, device_name };
            let paired = companion::dispatch(
                AppHost::new(app.clone(), Arc::clone(&shell)),
                "pair_with_code",
                json(&pair)?,
            )
            .await;
            if let Err(e) = paired {
                // A failed link leaves the app where it was, with the shared sandbox it knew.
                shell.restore_linked_url(previous_link.as_deref())?;
                match previous.mode {
                    Mode::Embedded => shell.use_embedded().await?,
                    Mode::Linked => shell.use_linked()?,
                }
                return Err(e);
            }
            restart_events(&app, &shell).await;
        }
        "start_acquirer" => {
            parse::<NoArgs>(name, args)?;
            shell.start_acquirer().await?;
        }
        "pos_charge" => {
            let ChargeArgs { code, amount } = parse(name, args)?;
            return json(&shell.pos_charge(&code, &amount).await?);
        }
        "open_merchant_page" => {
            let MerchantPageArgs { url, trust_fingerprint } = parse(name, args)?;
            return json(&merchant_page::open(&app, &shell, &url, trust_fingerprint.as_deref()).await?);
        }
        other => {
            return Err(CommandError::new(ErrorCode::NotFound, format!("there is no command {other:?}")))
        }
    }
    json(&shell.state().await?)
}

/// `link_invite` in the app: an invite link names its sandbox, so the app first links to that
/// sandbox (linked mode), as `link_sandbox` does for a pairing link; a failed link leaves the app
/// where it was. A link without an address links with the sandbox of the current mode.
async fn link_invite<R: Runtime>(
    app: AppHandle<R>,
    shell: Arc<Shell>,
    args: Value,
) -> Result<Value, CommandError> {
    let link = args.get("link").and_then(Value::as_str).unwrap_or_default().trim().to_string();
    let base = link
        .split_once('#')
        .map(|(base, _)| base.trim_end_matches('/').to_string())
        .filter(|base| base.starts_with("http://") || base.starts_with("https://"));
    let Some(base) = base else {
        return companion::dispatch(AppHost::new(app, shell), "link_invite", args).await;
    };
    let previous = shell.current();
    let previous_link = shell.linked_url();
    shell.link(&base)?;
    let linked =
        companion::dispatch(AppHost::new(app.clone(), Arc::clone(&shell)), "link_invite", args).await;
    if linked.is_err() {
        shell.restore_linked_url(previous_link.as_deref())?;
        match previous.mode {
            Mode::Embedded => shell.use_embedded().await?,
            Mode::Linked => shell.use_linked()?,
        }
        return linked;
    }
    restart_events(&app, &shell).await;
    linked
}

/// The JSON arguments of an invoke: `{args: {...}}` as the UI's transport sends them. A camera
/// frame may come as raw bytes (no Base64 or JSON on platforms with raw IPC) with its size in
/// the `x-width` and `x-height` headers.
fn args_of<R: Runtime>(invoke: &Invoke<R>) -> Result<Value, CommandError> {
    match invoke.message.payload() {
        InvokeBody::Json(Value::Object(map)) => Ok(map.get("args").cloned().unwrap_or(Value::Null)),
        InvokeBody::Json(Value::Null) => Ok(Value::Null),
        InvokeBody::Json(_) => {
            Err(CommandError::bad_request("the arguments must be an object {args: {...}}"))
        }
        InvokeBody::Raw(bytes) if invoke.message.command() == "scan_frame" => {
            use base64::Engine as _;
            let header = |name: &str| -> Result<u32, CommandError> {
                invoke
                    .message
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok())
                    .ok_or_else(|| CommandError::bad_request(format!("a raw frame needs the {name} header")))
            };
            let (width, height) = (header("x-width")?, header("x-height")?);
            let grey = base64::engine::general_purpose::STANDARD.encode(bytes);
            Ok(serde_json::json!({ "width": width, "height": height, "grey": grey }))
        }
        InvokeBody::Raw(_) => Err(CommandError::bad_request("this command takes JSON arguments")),
    }
}

/// The app's one invoke handler: every command name in [`COMMANDS`] and [`SHELL_COMMANDS`]
/// runs through [`run_command`] on the async runtime; other names are not handled.
pub fn handle_invoke<R: Runtime>(invoke: Invoke<R>) -> bool {
    let name = invoke.message.command().to_string();
    if !COMMANDS.contains(&name.as_str()) && !SHELL_COMMANDS.contains(&name.as_str()) {
        return false;
    }
    let args = match args_of(&invoke) {
        Ok(args) => args,
        Err(e) => {
            invoke.resolver.reject(e);
            return true;
        }
    };
    let app = invoke.message.webview().app_handle().clone();
    let Some(shell) = app.try_state::<Arc<Shell>>().map(|s| Arc::clone(&s)) else {
        invoke.resolver.reject(CommandError::internal("the app is still starting"));
        return true;
    };
    let resolver = invoke.resolver;
    tauri::async_runtime::spawn(async move {
        match run_command(app, shell, &name, args).await {
            Ok(value) => resolver.resolve(value),
            Err(error) => resolver.reject(error),
        }
    });
    true
}

/// (Re)starts the live-event relay for the current mode.
async fn restart_events<R: Runtime>(app: &AppHandle<R>, shell: &Arc<Shell>) {
    let app = app.clone();
    let for_hosts = Arc::clone(shell);
    shell.watch_events(move || AppHost::new(app.clone(), Arc::clone(&for_hosts))).await;
}

/// Starts the embedded sandbox when it is the mode in use (or not yet decided) and pairs the app
/// with it, then relays live events. Runs before the window loads, so the UI finds the app
/// paired on its first call.
pub async fn start<R: Runtime>(app: &AppHandle<R>, shell: &Arc<Shell>) -> Result<(), CommandError> {
    if shell.current().mode == Mode::Embedded {
        shell.start_embedded().await?;
        let host = AppHost::new(app.clone(), Arc::clone(shell));
        if plusbox_companion::host::Host::device_token(&host).is_none() {
            let args = companion::PairLoopbackArgs { device_name: Some(device_name()) };
            companion::dispatch(host, "pair_loopback", json(&args)?).await?;
        }
    }
    restart_events(app, shell).await;
    Ok(())
}

fn device_name() -> String {
    let platform = if cfg!(target_os = "android") {
        "Android"
    } else if cfg!(target_os = "ios") {
        "iPhone"
    } else {
        std::env::consts::OS
    };
    format!("Plusbox app ({platform})")
}

/// The app's data dir: the one given, else `PLUSBOX_APP_DATA` when set, else the platform's.
fn data_dir<R: Runtime>(
    app: &AppHandle<R>,
    given: Option<PathBuf>,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    if let Some(dir) = given {
        return Ok(dir);
    }
    if let Some(dir) = std::env::var_os(DATA_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    Ok(app.path().app_data_dir()?)
}

/// What every entry point adds to its builder (the app, and the mock-runtime tests): the
/// invoke handler and the setup that starts the embedded sandbox, its data under `data_dir`
/// (default: `PLUSBOX_APP_DATA`, else the platform's app data dir).
pub fn configure<R: Runtime>(builder: tauri::Builder<R>, data_dir: Option<PathBuf>) -> tauri::Builder<R> {
    builder.invoke_handler(handle_invoke::<R>).setup(move |app| {
        let handle = app.handle().clone();
        let shell = Shell::new(self::data_dir(&handle, data_dir.clone())?)?;
        app.manage(Arc::clone(&shell));
        tauri::async_runtime::block_on(start(&handle, &shell))?;
        #[cfg(target_os = "linux")]
        if let Some(window) = app.get_webview_window("main") {
            if let Err(e) = webkit::configure(&window) {
                eprintln!("plusbox-app: the webview keeps its defaults (no camera): {e}");
            }
        }
        Ok(())
    })
}

/// Runs the app (desktop `main`, and the mobile entry point).
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    // WebKitGTK's DMA-BUF renderer serves GPU compositing, which the window turns off
    // (`webkit::configure`); without a GPU (VMs, Xvfb) it leaves the window blank, and probing
    // for it cost 12 MB RSS at idle. Set here, before any thread starts, so it reaches only this
    // process and the WebKit processes it spawns; a value the user set wins.
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
        std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
    }
    let app = match configure(tauri::Builder::default(), None).build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("plusbox-app: cannot start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            if let Some(shell) = handle.try_state::<Arc<Shell>>() {
                // Finish in-flight requests and checkpoint the SQLite file before the process ends.
                tauri::async_runtime::block_on(shell.shutdown());
            }
        }
    });
}

/// WebKitGTK settings for the companion's window: the camera, and memory.
///
/// The camera: `getUserMedia` is off by default and its permission request goes unanswered, so
/// turn the media stream on and allow camera requests (and nothing else).
///
/// Memory: a phone-sized page of forms and codes needs neither GPU compositing nor a browser's
/// caches. Accelerated compositing on a software GL stack (Mesa's llvmpipe, as under Xvfb or in
/// a VM) cost the web process about 80 MB at idle; the `DocumentViewer` cache model keeps no
/// back/forward or dead-resource caches for a single-page app that never navigates.
#[cfg(target_os = "linux")]
mod webkit {
    use webkit2gtk::glib::prelude::Cast as _;
    use webkit2gtk::{
        CacheModel, HardwareAccelerationPolicy, PermissionRequestExt as _, SettingsExt as _,
        UserMediaPermissionRequestExt as _, WebContextExt as _, WebViewExt as _,
    };

    /// Applies the settings to the window's webview.
    pub fn configure<R: tauri::Runtime>(window: &tauri::WebviewWindow<R>) -> tauri::Result<()> {
        window.with_webview(|webview| {
            let view = webview.inner();
            if let Some(settings) = view.settings() {
                settings.set_enable_media_stream(true);
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
            if let Some(context) = view.context() {
                context.set_cache_model(CacheModel::DocumentViewer);
            }
            view.connect_permission_request(|_, request| {
                let camera = request
                    .downcast_ref::<webkit2gtk::UserMediaPermissionRequest>()
                    .is_some_and(|media| media.is_for_video_device() && !media.is_for_audio_device());
                if camera {
                    request.allow();
                } else {
                    request.deny();
                }
                true
            });
        })
    }
}
