//! The results collector, `POST /app/v1/results` (issue 14): a linked device uploads a bundle of
//! finished runs, signed with its Ed25519 key (`Bundle-Signature: algorithm=Ed25519,
//! signature=<base64>` over the exact body bytes). The collector checks, in this order, and
//! refuses with `{code, message}` at the first failure, writing nothing:
//!
//! 1. the device token (401 `UNAUTHORIZED` / `DEVICE_REVOKED`), the invite not revoked (403
//!    `INVITE_REVOKED`);
//! 2. the size: [`MAX_BUNDLE_BYTES`] for the body (413 `TOO_LARGE`);
//! 3. the signature with the device's registered public key (401 `BAD_SIGNATURE`);
//! 4. the JSON shape (400 `INVALID_BUNDLE`, naming the field), with [`MAX_RUNS`] runs,
//!    [`MAX_PHOTOS`] photos a run and [`MAX_PHOTO_BYTES`] a photo (413 `TOO_LARGE`);
//! 5. the bundle's `inviteId` and `mid` are the token's (403 `WRONG_MERCHANT`);
//! 6. every photo is an image by its bytes, its header decoded (400 `INVALID_IMAGE`);
//!
//! then stores the bundle, its runs and photos in one transaction ([`crate::store::Store::store_bundle`]):
//! 201 `{bundleId, runs, stored: true}`; the same bundle again 200 `{…, stored: false}`; the
//! same id with other content 409 `BUNDLE_CONFLICT`.
//!
//! A browser device (no key) does not upload: the `/rpc` host inside `plusbox serve` records its
//! runs with [`crate::store::Store::store_bundle`] directly.

use std::io::Cursor;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::store::{
    BundleOutcome, BundlePhoto, BundleRun, CollectedBundle, DeviceAuth, InviteView, StoreError,
};
use crate::Shared;

/// Largest bundle body, in bytes (16 MiB: a run with a few phone photos).
pub const MAX_BUNDLE_BYTES: usize = 16 * 1024 * 1024;

/// Most runs in one bundle.
pub const MAX_RUNS: usize = 50;

/// Most photos of one run.
pub const MAX_PHOTOS: usize = 20;

/// Largest photo, in bytes (decoded), as the companion's `run_photo` takes.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

/// Longest run JSON kept (the RunResult without photo bytes).
pub const MAX_RUN_JSON_BYTES: usize = 4 * 1024 * 1024;

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow.
pub const ED25519_SPKI_PREFIX: [u8; 12] =
    [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// A collector or link refusal: `{code, message}` with its status.
#[derive(Debug)]
pub(crate) struct AppError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl AppError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> AppError {
        AppError { status, code, message: message.into() }
    }

    fn invalid(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, "INVALID_BUNDLE", message)
    }

    fn too_large(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE", message)
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(message) => AppError::new(StatusCode::NOT_FOUND, "NOT_FOUND", message),
            StoreError::Invalid(message) => AppError::new(StatusCode::CONFLICT, "INVALID_STATE", message),
            other => {
                tracing::error!(error = %other, "collector store failure");
                AppError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "STORE_UNAVAILABLE",
                    "the sandbox store is unavailable; retry",
                )
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"code": self.code, "message": self.message}))).into_response()
    }
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/results", post(upload))
}

/// The raw 32 key bytes of a Base64 Ed25519 SubjectPublicKeyInfo, or why it is not one.
pub fn ed25519_key_of_spki(base64_der: &str) -> Result<[u8; 32], String> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(base64_der.trim())
        .map_err(|e| format!("publicKey is not Base64: {e}"))?;
    let key = der
        .strip_prefix(&ED25519_SPKI_PREFIX[..])
        .filter(|rest| rest.len() == 32)
        .ok_or("publicKey is not an Ed25519 SubjectPublicKeyInfo (DER, 44 bytes)")?;
    let mut out = [0u8; 32];
    out.copy_from_slice(key);
    Ok(out)
}

/// The Base64 signature of a `Bundle-Signature: algorithm=Ed25519, signature=<base64>` value.
pub fn bundle_signature(value: &str) -> Result<Vec<u8>, String> {
    let mut algorithm = None;
    let mut signature = None;
    for part in value.split(',') {
        let (key, val) =
            part.split_once('=').ok_or("Bundle-Signature must be `algorithm=Ed25519, signature=<base64>`")?;
        match key.trim().to_ascii_lowercase().as_str() {
            "algorithm" => algorithm = Some(val.trim().to_string()),
            // Base64 may end in '=': split_once keeps the rest of the part whole.
            "signature" => signature = Some(val.trim().to_string()),
            other => return Err(format!("Bundle-Signature has an unknown field {other:?}")),
        }
    }
    if !algorithm.is_some_and(|a| a.eq_ignore_ascii_case("ed25519")) {
        return Err("Bundle-Signature: algorithm must be Ed25519".into());
    }
    let signature = signature.ok_or("Bundle-Signature has no signature")?;
    base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|e| format!("Bundle-Signature: the signature is not Base64: {e}"))
}

/// Verifies an Ed25519 signature over `body` with a Base64 SPKI public key.
pub fn verify_bundle(public_key: &str, body: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = ed25519_key_of_spki(public_key) else { return false };
    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, key)
        .verify(body, signature)
        .is_ok()
}

/// The media type of an image by its bytes, its header decoded: PNG, JPEG, GIF or WebP.
pub fn image_media_type(bytes: &[u8]) -> Result<&'static str, String> {
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read it: {e}"))?;
    let format = reader.format().ok_or("it is not an image (PNG, JPEG, GIF or WebP)")?;
    let (media_type, (width, height)) = match format {
        image::ImageFormat::Png | image::ImageFormat::Jpeg => {
            let media = if format == image::ImageFormat::Png { "image/png" } else { "image/jpeg" };
            (media, reader.into_dimensions().map_err(|e| format!("its header does not decode: {e}"))?)
        }
        // Decoders for these are not built in; their headers are simple enough to read here.
        image::ImageFormat::Gif => {
            let size = bytes.get(6..10).ok_or("its GIF header is cut short")?;
            (
                "image/gif",
                (
                    u32::from(u16::from_le_bytes([size[0], size[1]])),
                    u32::from(u16::from_le_bytes([size[2], size[3]])),
                ),
            )
        }
        image::ImageFormat::WebP => {
            let chunk = bytes.get(12..16).ok_or("its WebP header is cut short")?;
            if !matches!(chunk, b"VP8 " | b"VP8L" | b"VP8X") || bytes.len() < 30 {
                return Err("its WebP header does not decode".into());
            }
            ("image/webp", (1, 1))
        }
        other => {
            return Err(format!(
                "a {other:?} image is not a photo this collector keeps (PNG, JPEG, GIF or WebP)"
            ))
        }
    };
    if width == 0 || height == 0 {
        return Err(format!("it is {width}×{height} pixels"));
    }
    Ok(media_type)
}

fn field<'a>(object: &'a Map<String, Value>, name: &str, path: &str) -> Result<&'a Value, AppError> {
    object.get(name).ok_or_else(|| AppError::invalid(format!("{path}.{name} is missing")))
}

fn text_field<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    path: &str,
    max: usize,
) -> Result<&'a str, AppError> {
    let text = field(object, name, path)?
        .as_str()
        .ok_or_else(|| AppError::invalid(format!("{path}.{name} must be a string")))?;
    if text.trim().is_empty() || text.len() > max || text.chars().any(char::is_control) {
        return Err(AppError::invalid(format!(
            "{path}.{name} must be 1 to {max} characters without control characters"
        )));
    }
    Ok(text)
}

fn id_field<'a>(object: &'a Map<String, Value>, name: &str, path: &str) -> Result<&'a str, AppError> {
    let text = text_field(object, name, path, 64)?;
    if text.len() < 4 || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(AppError::invalid(format!("{path}.{name} must be 4 to 64 letters, digits, - or _")));
    }
    Ok(text)
}

fn millis_field(
    object: &Map<String, Value>,
    name: &str,
    path: &str,
    required: bool,
) -> Result<Option<i64>, AppError> {
    match object.get(name) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(AppError::invalid(format!("{path}.{name} is missing"))),
        Some(Value::String(text)) => {
            let at = plusbox_core::protocol::time::parse_instant(text).map_err(|_| {
                AppError::invalid(format!("{path}.{name} must be an RFC 3339 time, not {text:?}"))
            })?;
            Ok(Some(i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)))
        }
        Some(_) => Err(AppError::invalid(format!("{path}.{name} must be an RFC 3339 time string"))),
    }
}

/// A run's photos as uploaded (check, bytes), before the image check.
type RawPhotos = Vec<(String, Vec<u8>)>;

/// A bundle's parsed, checked content (before the merchant and image checks).
struct Parsed {
    id: String,
    invite_id: String,
    mid: String,
    runs: Vec<(BundleRun, RawPhotos)>,
}

const VERDICTS: &[&str] = &["PASS", "FAIL", "ERROR", "SKIPPED", "INCOMPLETE"];

/// Parses and checks a bundle's JSON shape; errors name the field.
fn parse_bundle(body: &[u8]) -> Result<Parsed, AppError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| AppError::invalid(format!("the bundle is not JSON: {e}")))?;
    let root = value.as_object().ok_or_else(|| AppError::invalid("the bundle must be a JSON object"))?;
    let id = id_field(root, "bundleId", "bundle")?.to_string();
    let invite_id = id_field(root, "inviteId", "bundle")?.to_string();
    let mid = text_field(root, "mid", "bundle", 64)?.to_string();
    let runs = field(root, "runs", "bundle")?
        .as_array()
        .ok_or_else(|| AppError::invalid("bundle.runs must be an array"))?;
    if runs.is_empty() {
        return Err(AppError::invalid("bundle.runs is empty: a bundle carries at least one run"));
    }
    if runs.len() > MAX_RUNS {
        return Err(AppError::too_large(format!(
            "bundle.runs has {} runs; at most {MAX_RUNS} a bundle",
            runs.len()
        )));
    }
    let mut out = Vec::with_capacity(runs.len());
    let mut seen = std::collections::BTreeSet::new();
    for (i, run) in runs.iter().enumerate() {
        let path = format!("bundle.runs[{i}]");
        let run = run.as_object().ok_or_else(|| AppError::invalid(format!("{path} must be an object")))?;
        let mut result = field(run, "result", &path)?.clone();
        let result_path = format!("{path}.result");
        let result_object = result
            .as_object_mut()
            .ok_or_else(|| AppError::invalid(format!("{result_path} must be an object")))?;
        let summary_path = format!("{result_path}.summary");
        let summary = field(result_object, "summary", &result_path)?
            .as_object()
            .ok_or_else(|| AppError::invalid(format!("{summary_path} must be an object")))?;
        let run_id = id_field(summary, "runId", &summary_path)?.to_string();
        if !seen.insert(run_id.clone()) {
            return Err(AppError::invalid(format!(
                "{summary_path}.runId {run_id} appears twice in the bundle"
            )));
        }
        let case_id = text_field(summary, "caseId", &summary_path, 64)?.to_string();
        let verdict = text_field(summary, "verdict", &summary_path, 16)?.to_string();
        if !VERDICTS.contains(&verdict.as_str()) {
            return Err(AppError::invalid(format!(
                "{summary_path}.verdict must be one of {}, not {verdict:?}",
                VERDICTS.join(", ")
            )));
        }
        let started_at = millis_field(summary, "startedAt", &summary_path, true)?.unwrap_or_default();
        let ended_at = millis_field(summary, "finishedAt", &summary_path, false)?;
        // The stored run keeps the photos' names and checks, not their bytes.
        if let Some(Value::Array(photos)) = result_object.get_mut("photos") {
            for photo in photos.iter_mut().filter_map(Value::as_object_mut) {
                photo.insert("dataUrl".into(), Value::String(String::new()));
            }
        }
        let body =
            serde_json::to_string(&result).map_err(|e| AppError::invalid(format!("{result_path}: {e}")))?;
        if body.len() > MAX_RUN_JSON_BYTES {
            return Err(AppError::too_large(format!(
                "{result_path} is over {} MiB without its photos",
                MAX_RUN_JSON_BYTES >> 20
            )));
        }
        let photos = match run.get("photos") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(list)) => list.as_slice(),
            Some(_) => return Err(AppError::invalid(format!("{path}.photos must be an array"))),
        };
        if photos.len() > MAX_PHOTOS {
            return Err(AppError::too_large(format!(
                "{path}.photos has {}; at most {MAX_PHOTOS} a run",
                photos.len()
            )));
        }
        let mut raw = Vec::with_capacity(photos.len());
        for (j, photo) in photos.iter().enumerate() {
            let photo_path = format!("{path}.photos[{j}]");
            let photo = photo
                .as_object()
                .ok_or_else(|| AppError::invalid(format!("{photo_path} must be an object")))?;
            let check = text_field(photo, "check", &photo_path, 128)?.to_string();
            let data = text_field(photo, "data", &photo_path, MAX_PHOTO_BYTES / 3 * 4 + 8).map_err(|e| {
                if e.message.contains("characters") {
                    AppError::too_large(format!("{photo_path}.data is over {} MiB", MAX_PHOTO_BYTES >> 20))
                } else {
                    e
                }
            })?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| AppError::invalid(format!("{photo_path}.data is not Base64: {e}")))?;
            if bytes.len() > MAX_PHOTO_BYTES {
                return Err(AppError::too_large(format!(
                    "{photo_path} is over {} MiB",
                    MAX_PHOTO_BYTES >> 20
                )));
            }
            raw.push((check, bytes));
        }
        out.push((
            BundleRun { id: run_id, case_id, verdict, started_at, ended_at, body, photos: Vec::new() },
            raw,
        ));
    }
    Ok(Parsed { id, invite_id, mid, runs: out })
}

/// The device's invite and key, refusing revoked invites and devices.
async fn linked_device(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
) -> Result<(i64, InviteView, Option<String>), AppError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            AppError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "send Authorization: Bearer <device token>",
            )
        })?;
    let now = shared.now();
    let auth = shared.blocking(move |store| store.authenticate_device(&token, now)).await?;
    let (device, revoked) = match auth {
        DeviceAuth::Active(device) => (device, false),
        DeviceAuth::Revoked(device) => (device, true),
        DeviceAuth::Unknown => {
            return Err(AppError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "unknown device token; link the device with its invite",
            ))
        }
    };
    let id = device.id;
    let linked = shared.blocking(move |store| store.device_invite(id)).await?;
    match linked {
        Some((invite, _)) if invite.revoked_at.is_some() => Err(AppError::new(
            StatusCode::FORBIDDEN,
            "INVITE_REVOKED",
            format!(
                "the invitation {} of {} was revoked; its results are no longer collected",
                invite.id, invite.merchant
            ),
        )),
        _ if revoked => Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "DEVICE_REVOKED",
            format!("this device ({}) was revoked", device.name),
        )),
        Some((invite, key)) => Ok((id, invite, key)),
        None => Err(AppError::new(
            StatusCode::FORBIDDEN,
            "WRONG_MERCHANT",
            "this device was not linked through an invitation, so it has no merchant to upload for",
        )),
    }
}

/// `POST /results`: see the module doc.
async fn upload(State(shared): State<Arc<Shared>>, request: Request) -> Result<Response, AppError> {
    let headers = request.headers().clone();
    let (device_id, invite, key) = linked_device(&shared, &headers).await?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let limit = || AppError::too_large(format!("the bundle is larger than {} MiB", MAX_BUNDLE_BYTES >> 20));
    if declared.is_some_and(|n| n > MAX_BUNDLE_BYTES as u64) {
        return Err(limit());
    }
    let body = axum::body::to_bytes(request.into_body(), MAX_BUNDLE_BYTES).await.map_err(|_| limit())?;
    let key = key.ok_or_else(|| {
        AppError::new(
            StatusCode::UNAUTHORIZED,
            "BAD_SIGNATURE",
            "this device registered no signing key when it linked (a browser); its runs are recorded by the sandbox itself",
        )
    })?;
    let signature = headers
        .get("bundle-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            AppError::new(
                StatusCode::UNAUTHORIZED,
                "BAD_SIGNATURE",
                "send Bundle-Signature: algorithm=Ed25519, signature=<base64>",
            )
        })
        .and_then(|v| {
            bundle_signature(v).map_err(|e| AppError::new(StatusCode::UNAUTHORIZED, "BAD_SIGNATURE", e))
        })?;
    if !verify_bundle(&key, &body, &signature) {
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "BAD_SIGNATURE",
            "the signature does not verify with this device's key: the bundle was changed, or signed by another device",
        ));
    }
    let bundle = checked_bundle(&body, &invite, device_id)?;
    let id = bundle.id.clone();
    let now = shared.now();
    let outcome = shared.blocking(move |store| store.store_bundle(&bundle, now)).await?;
    match outcome {
        BundleOutcome::Stored(n) => {
            tracing::info!(bundle = %id, invite = %invite.id, runs = n, "results bundle stored");
            Ok((StatusCode::CREATED, Json(json!({"bundleId": id, "runs": n, "stored": true})))
                .into_response())
        }
        BundleOutcome::Duplicate(n) => {
            Ok(Json(json!({"bundleId": id, "runs": n, "stored": false})).into_response())
        }
        BundleOutcome::Conflict(message) => {
            Err(AppError::new(StatusCode::CONFLICT, "BUNDLE_CONFLICT", message))
        }
        BundleOutcome::Revoked => Err(AppError::new(
            StatusCode::FORBIDDEN,
            "INVITE_REVOKED",
            format!("the invitation {} was revoked", invite.id),
        )),
    }
}

/// Checks a bundle's shape, merchant and photos against the device's invite; the bundle to store.
fn checked_bundle(body: &[u8], invite: &InviteView, device_id: i64) -> Result<CollectedBundle, AppError> {
    let parsed = parse_bundle(body)?;
    if parsed.invite_id != invite.id || parsed.mid != invite.mid {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "WRONG_MERCHANT",
            format!(
                "the bundle is for invite {} (MID {}), but this device belongs to invite {} (MID {})",
                parsed.invite_id, parsed.mid, invite.id, invite.mid
            ),
        ));
    }
    let mut runs = Vec::with_capacity(parsed.runs.len());
    for (i, (mut run, photos)) in parsed.runs.into_iter().enumerate() {
        for (j, (check, bytes)) in photos.into_iter().enumerate() {
            let media_type = image_media_type(&bytes).map_err(|why| {
                AppError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALID_IMAGE",
                    format!("bundle.runs[{i}].photos[{j}] ({check}): {why}"),
                )
            })?;
            run.photos.push(BundlePhoto { check, media_type: media_type.to_string(), bytes });
        }
        runs.push(run);
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    let bundle = CollectedBundle {
        id: parsed.id.clone(),
        invite_id: invite.id.clone(),
        device_id,
        sha256: digest.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        size: i64::try_from(body.len()).unwrap_or(i64::MAX),
        runs,
    };
    Ok(bundle)
}

/// Records a browser device's finished run (`{result, photos}` as a bundle carries it) with the
/// same checks as an upload, under the bundle id `srv-<runId>`: what `plusbox serve` does for a
/// device linked through an invitation without a key. `Ok(None)` when the device is not such a
/// device (nothing to record); the bundle id when recorded (or recorded before).
pub fn record_browser_run(
    store: &crate::store::Store,
    device_id: i64,
    run: Value,
    now: time::OffsetDateTime,
) -> Result<Option<String>, String> {
    let Some((invite, None)) = store.device_invite(device_id).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let run_id = run
        .pointer("/result/summary/runId")
        .and_then(Value::as_str)
        .ok_or("the run has no result.summary.runId")?
        .to_string();
    let bundle_id = format!("srv-{run_id}");
    let value = json!({"bundleId": bundle_id, "inviteId": invite.id, "mid": invite.mid, "runs": [run]});
    let body = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
    let bundle =
        checked_bundle(&body, &invite, device_id).map_err(|e| format!("{}: {}", e.code, e.message))?;
    match store.store_bundle(&bundle, now).map_err(|e| e.to_string())? {
        BundleOutcome::Stored(_) | BundleOutcome::Duplicate(_) => Ok(Some(bundle_id)),
        BundleOutcome::Conflict(message) => Err(message),
        BundleOutcome::Revoked => Err(format!("the invitation {} was revoked", invite.id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_header_needs_ed25519_and_base64() {
        assert_eq!(bundle_signature("algorithm=Ed25519, signature=AAEC").ok(), Some(vec![0, 1, 2]));
        assert_eq!(bundle_signature("signature=AAE=, algorithm=ed25519").ok(), Some(vec![0, 1]));
        assert!(bundle_signature("algorithm=RSA, signature=AAEC").is_err());
        assert!(bundle_signature("algorithm=Ed25519").is_err());
        assert!(bundle_signature("algorithm=Ed25519, signature=!!").is_err());
        assert!(bundle_signature("garbage").is_err());
    }

    #[test]
    fn only_an_ed25519_spki_is_a_public_key() {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend([7u8; 32]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        assert_eq!(ed25519_key_of_spki(&b64).ok(), Some([7u8; 32]));
        der.push(0);
        assert!(ed25519_key_of_spki(&base64::engine::general_purpose::STANDARD.encode(&der)).is_err());
        assert!(ed25519_key_of_spki("not base64!").is_err());
    }

    #[test]
    fn a_photo_is_an_image_by_its_decoded_header() {
        assert!(image_media_type(b"%PDF-1.7 not a photo").is_err());
        assert!(image_media_type(b"").is_err());
        // A PNG signature with a broken header is not an image.
        assert!(image_media_type(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0]).is_err());
        let mut png = Vec::new();
        image::GrayImage::new(2, 3)
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap_or_default();
        assert_eq!(image_media_type(&png).ok(), Some("image/png"));
    }

    #[test]
    fn a_bundle_error_names_the_field() {
        let message = |body: &str| parse_bundle(body.as_bytes()).err().map(|e| e.message).unwrap_or_default();
        assert!(message("{").contains("not JSON"));
        assert!(message("{}").contains("bundle.bundleId is missing"));
        assert!(message(r#"{"bundleId":"bnd_1","inviteId":"inv_1","mid":"M","runs":[{"result":{"summary":{"runId":"run-1","caseId":"C","verdict":"MAYBE","startedAt":"2026-01-01T00:00:00Z"}}}]}"#)
            .contains("bundle.runs[0].result.summary.verdict"));
        assert!(message(r#"{"bundleId":"bnd_1","inviteId":"inv_1","mid":"M","runs":[]}"#)
            .contains("bundle.runs is empty"));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_as_a_bundle_are_refused_with_a_message_or_parsed(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            match parse_bundle(&bytes) {
                Ok(parsed) => proptest::prop_assert!(!parsed.runs.is_empty()),
                Err(e) => proptest::prop_assert!(!e.message.is_empty()),
            }
        }

        #[test]
        fn any_bytes_as_a_photo_are_refused_or_an_image(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128)) {
            if let Ok(media) = image_media_type(&bytes) {
                proptest::prop_assert!(media.starts_with("image/"));
            }
        }
    }
}
