//! Rendering and scanning: our own round trip, and independent reader/writer cross-checks
//! with `zbarimg` and `qrencode` (Debian `zbar-tools`, `qrencode`). These tests fail, not
//! skip, when the tools are missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use image::{GrayImage, Luma};
use plusbox_companion::render::{self, RenderSize, Symbology};
use plusbox_companion::scan::{self, scan_file, scan_image, ScanOptions};
use plusbox_companion::zbar;

const PAYMENT_CODES: [&str; 6] = [
    "251001020123456789012345",
    "281010897274821897274821",
    "281006020000000000125733",
    "2893612204263667830",
    "28024456785672301",
    "280244567856723012",
];

fn merchant_texts() -> Vec<&'static str> {
    vec![
        "https://global.alipay.com/2810020400949jph9gDWC1kpeZ1jBICv4qqu",
        "HTTPS://QR.SAMPLEDOMAIN.COM/MPM/3/R1BMRDA5NVBMVlMwMDIwMUNEU0QwMzMwMTE0U0FNUExFUExBVEZPUk0wMjExU0FNUExFTUVSSURDSVJEMDM5MDExMlNBTVBMRUlTU1VFUjAyMDIxMjAzMTNNSU5JUFJPR1JBTUlE",
        "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A",
    ]
}

fn require_tools() {
    assert!(
        zbar::tools_available(),
        "zbarimg and qrencode are required for these tests: {}",
        zbar::INSTALL_HINT
    );
}

fn zbar_texts(path: &Path) -> Vec<(String, String)> {
    zbar::read_files(&[path])
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|s| (s.symbology, s.text))
        .collect()
}

#[test]
fn our_qr_codes_scan_back_in_every_size() {
    for text in PAYMENT_CODES.iter().copied().chain(merchant_texts()) {
        for size in [RenderSize::Phone, RenderSize::Print] {
            let image = render::render_image(text, Symbology::Qr, size).unwrap();
            let found = scan_image(&image, &ScanOptions::fast());
            assert_eq!(found.len(), 1, "{text}");
            assert_eq!(found[0].text, text);
            assert_eq!(found[0].pass, "direct");
        }
    }
}

#[test]
fn quiet_zones_are_there() {
    let grid = render::qr_grid("251001020123456789012345").unwrap();
    for i in 0..grid.width {
        for q in 0..render::QR_QUIET_ZONE {
            assert!(!grid.is_dark(i, q) && !grid.is_dark(q, i));
            assert!(!grid.is_dark(i, grid.height - 1 - q) && !grid.is_dark(grid.width - 1 - q, i));
        }
    }
    let bars = render::code128_grid("251001020123456789012345").unwrap();
    assert!(bars.dark[..render::CODE128_QUIET_ZONE].iter().all(|d| !d));
    assert!(bars.dark[bars.width - render::CODE128_QUIET_ZONE..].iter().all(|d| !d));
    assert!(bars.dark[render::CODE128_QUIET_ZONE]);
    // Start C = bar/space widths 2 1 1 2 3 2; Stop ends with a 2-module bar.
    let start: Vec<bool> = bars.dark[10..21].to_vec();
    let expected: Vec<bool> = "11010011100".chars().map(|c| c == '1').collect();
    assert_eq!(start, expected);
}

#[test]
fn code128_uses_set_c_with_the_reference_module_count() {
    for code in PAYMENT_CODES {
        let symbols = plusbox_core::codes::code128_symbols(code).unwrap();
        let grid = render::code128_grid(code).unwrap();
        assert_eq!(grid.width, symbols.module_count() + 2 * render::CODE128_QUIET_ZONE, "{code}");
    }
    assert!(render::code128_grid("12a4").is_err());
}

#[test]
fn every_render_is_read_by_zbarimg() {
    require_tools();
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    let mut check = |image: &GrayImage, symbology: &str, text: &str| {
        n += 1;
        let path = dir.path().join(format!("r{n}.png"));
        image.save(&path).unwrap();
        let found = zbar_texts(&path);
        assert!(
            found.iter().any(|(s, t)| s == symbology && t == text),
            "zbarimg read {found:?} from {symbology} {text}"
        );
    };
    for size in [RenderSize::Phone, RenderSize::Print] {
        for code in PAYMENT_CODES {
            check(&render::render_image(code, Symbology::Qr, size).unwrap(), "QR-Code", code);
            check(&render::render_image(code, Symbology::Code128, size).unwrap(), "CODE-128", code);
            let both = render::payment_code_image(code, size).unwrap();
            check(&both, "CODE-128", code);
            check(&both, "QR-Code", code);
        }
        for text in merchant_texts() {
            check(&render::render_image(text, Symbology::Qr, size).unwrap(), "QR-Code", text);
        }
    }
    // PNG bytes as written by the CLI path.
    let png = render::render_png(PAYMENT_CODES[0], Symbology::Code128, RenderSize::Phone).unwrap();
    let path = dir.path().join("bytes.png");
    std::fs::write(&path, png).unwrap();
    assert!(zbar_texts(&path).iter().any(|(_, t)| t == PAYMENT_CODES[0]));
}

/// Rasterises the SVG we write (our own path syntax: `M x y h w v h h -w z` runs) so zbarimg
/// can check that the SVG geometry, not just the PNG path, is right.
fn rasterise_svg(svg: &str, scale: u32) -> GrayImage {
    let view_box: Vec<f64> = svg
        .split("viewBox=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    let (w, h) = (view_box[2], view_box[3]);
    let mut image =
        GrayImage::from_pixel((w * scale as f64) as u32, (h * scale as f64).ceil() as u32, Luma([255]));
    let d = svg.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
    for run in d.split('M').filter(|s| !s.is_empty()) {
        // "x y" then "h{w}v{h}h-{w}z"
        let (xy, rest) = run.split_once('h').unwrap();
        let mut xy = xy.split(' ');
        let x: f64 = xy.next().unwrap().parse().unwrap();
        let y: f64 = xy.next().unwrap().parse().unwrap();
        let (rw, rest) = rest.split_once('v').unwrap();
        let rw: f64 = rw.parse().unwrap();
        let rh: f64 = rest.split_once('h').unwrap().0.parse().unwrap();
        let s = f64::from(scale);
        for py in (y * s) as u32..((y + rh) * s) as u32 {
            for px in (x * s) as u32..((x + rw) * s) as u32 {
                if px < image.width() && py < image.height() {
                    image.put_pixel(px, py, Luma([0]));
                }
            }
        }
    }
    image
}

#[test]
fn svg_renders_are_read_by_zbarimg_after_rasterising() {
    require_tools();
    let dir = tempfile::tempdir().unwrap();
    for (index, (text, symbology, name)) in [
        (PAYMENT_CODES[0], Symbology::Qr, "QR-Code"),
        (PAYMENT_CODES[3], Symbology::Code128, "CODE-128"),
        (PAYMENT_CODES[4], Symbology::Code128, "CODE-128"),
        (merchant_texts()[0], Symbology::Qr, "QR-Code"),
    ]
    .into_iter()
    .enumerate()
    {
        for size in [RenderSize::Phone, RenderSize::Print] {
            let svg = render::render_svg(text, symbology, size).unwrap();
            assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
            if size == RenderSize::Print {
                assert!(svg.contains("mm\""), "print SVGs are sized in millimetres");
            }
            let image = rasterise_svg(&svg, 4);
            let path = dir.path().join(format!("svg{index}-{size:?}.png"));
            image.save(&path).unwrap();
            let found = zbar_texts(&path);
            assert!(found.iter().any(|(s, t)| s == name && t == text), "{found:?}");
        }
    }
    let both = render::payment_code_svg(PAYMENT_CODES[0], RenderSize::Phone).unwrap();
    assert_eq!(both.matches("<svg").count(), 3);
}

#[test]
fn qrencode_images_are_read_by_us() {
    require_tools();
    let dir = tempfile::tempdir().unwrap();
    let texts: Vec<&str> = PAYMENT_CODES.iter().copied().chain(merchant_texts()).collect();
    for (index, text) in texts.iter().enumerate() {
        for (level, module) in [("L", "3"), ("M", "4"), ("Q", "6"), ("H", "2")] {
            let path: PathBuf = dir.path().join(format!("q{index}{level}.png"));
            let status = Command::new("qrencode")
                .args(["-l", level, "-s", module, "-o"])
                .arg(&path)
                .arg(text)
                .status()
                .unwrap_or_else(|e| panic!("qrencode: {e} ({})", zbar::INSTALL_HINT));
            assert!(status.success());
            let found = scan_file(&path, &ScanOptions::default()).unwrap();
            assert_eq!(found.len(), 1, "{text} level {level}");
            assert_eq!(found[0].text, *text);
        }
    }
}

#[test]
fn every_code_in_a_frame_is_reported() {
    let texts = ["251001020123456789012345", "https://shop.example.com/pay", "28024456785672301"];
    let mut frame = GrayImage::from_pixel(900, 400, Luma([235]));
    for (i, text) in texts.iter().enumerate() {
        let code = render::qr_image(text, 6).unwrap();
        let x0 = 20 + i as u32 * 290;
        for (x, y, p) in code.enumerate_pixels() {
            frame.put_pixel(x0 + x, 60 + y, *p);
        }
    }
    let found =
        scan::scan_frame(frame.width(), frame.height(), frame.as_raw(), &ScanOptions::default()).unwrap();
    let mut got: Vec<&str> = found.iter().map(|f| f.text.as_str()).collect();
    got.sort();
    let mut want = texts.to_vec();
    want.sort();
    assert_eq!(got, want);
    // Bounds are in frame coordinates and enclose each code.
    for f in &found {
        let i = texts.iter().position(|t| *t == f.text).unwrap() as i32;
        let x0 = 20 + i * 290 + 24;
        assert!((f.bounds[0][0] - x0).abs() <= 3, "{:?}", f.bounds);
        assert!((f.bounds[0][1] - 84).abs() <= 3, "{:?}", f.bounds);
    }
}

#[test]
fn try_harder_finds_what_the_first_pass_misses() {
    // An inverted code (light on dark) is invisible to the direct pass.
    let code = render::qr_image("251001020123456789012345", 5).unwrap();
    let inverted = scan::invert(&code);
    assert!(scan_image(&inverted, &ScanOptions::fast()).is_empty());
    let found = scan_image(&inverted, &ScanOptions::default());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].pass, "invert");
}

#[test]
fn frame_scanner_cycles_through_passes() {
    let code = render::qr_image("251001020123456789012345", 5).unwrap();
    let inverted = scan::invert(&code);
    let mut scanner = scan::FrameScanner::new();
    let mut frames = 0;
    loop {
        frames += 1;
        let found = scanner.scan(inverted.width(), inverted.height(), inverted.as_raw()).unwrap();
        if !found.is_empty() {
            assert_eq!(found[0].text, "251001020123456789012345");
            break;
        }
        assert!(frames <= scan::EXTRA_PASSES, "never found");
    }
    assert!(frames > 1);
}

#[test]
fn bad_frames_and_files_are_errors_not_panics() {
    assert!(matches!(
        scan::scan_frame(10, 10, &[0; 99], &ScanOptions::default()),
        Err(scan::ScanError::FrameSize { expected: 100, found: 99, .. })
    ));
    assert!(matches!(
        scan::scan_frame(0, 10, &[], &ScanOptions::default()),
        Err(scan::ScanError::Dimensions { .. })
    ));
    assert!(matches!(scan::load_image(b"not an image"), Err(scan::ScanError::Decode(_))));
    assert!(matches!(scan::load_image(b"GIF89a\x01\x00\x01\x00"), Err(scan::ScanError::Decode(_))));
    assert!(matches!(
        scan_file(Path::new("/nonexistent/x.png"), &ScanOptions::default()),
        Err(scan::ScanError::Io { .. })
    ));
    // A blank frame has no code.
    assert!(scan::scan_frame(64, 48, &[255; 64 * 48], &ScanOptions::default()).unwrap().is_empty());
}

#[test]
fn jpeg_files_scan() {
    let image = render::render_image(PAYMENT_CODES[0], Symbology::Qr, RenderSize::Phone).unwrap();
    let mut bytes = Vec::new();
    image::DynamicImage::ImageLuma8(image)
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Jpeg)
        .unwrap();
    let found = scan::scan_bytes(&bytes, &ScanOptions::default()).unwrap();
    assert_eq!(found[0].text, PAYMENT_CODES[0]);
}

#[test]
fn terminal_rendering_uses_half_blocks_with_quiet_zone() {
    let text = render::render_terminal("251001020123456789012345", Symbology::Qr, false).unwrap();
    let grid = render::qr_grid("251001020123456789012345").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), grid.height.div_ceil(2));
    assert!(lines.iter().all(|l| l.chars().count() == grid.width));
    // The quiet zone is light: the first line is all full blocks.
    assert!(lines[0].chars().all(|c| c == '█'));
    let bars = render::render_terminal("251001020123456789012345", Symbology::Code128, false).unwrap();
    assert!(bars.contains("2510 0102 0123 4567 8901 2345"));
}
