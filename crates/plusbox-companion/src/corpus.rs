//! A generated robustness corpus: our own codes rendered, placed in a 640×480 camera-like frame
//! and degraded the way real scans are — rotated, scaled, blurred, noised, perspective-warped,
//! low-contrast, and photographed off a screen (moiré). Deterministic for a given seed, so the
//! tests and the benchmark see the same images.

use image::{GrayImage, Luma};
use serde::Serialize;

use crate::render::qr_image;

/// Frame size of corpus images (VGA).
pub const FRAME: (u32, u32) = (640, 480);

/// The kinds of degradation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// Upright, sharp, full contrast.
    Clean,
    /// Rotated by 10°–350°.
    Rotated,
    /// Scaled down to about 2 px per module, or up.
    Scaled,
    /// Box-blurred three times (≈ Gaussian, σ 1.4–2.5 px).
    Blurred,
    /// Gaussian noise σ 25–45 plus 1 % salt and pepper.
    Noisy,
    /// Projected onto a random quadrilateral (camera at an angle).
    Perspective,
    /// Only 25–45 gray levels between dark and light.
    LowContrast,
    /// A screen photographed: pixel grid, interference bands, glare, soft focus.
    Moire,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 8] = [
        Category::Clean,
        Category::Rotated,
        Category::Scaled,
        Category::Blurred,
        Category::Noisy,
        Category::Perspective,
        Category::LowContrast,
        Category::Moire,
    ];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Category::Clean => "clean",
            Category::Rotated => "rotated",
            Category::Scaled => "scaled",
            Category::Blurred => "blurred",
            Category::Noisy => "noisy",
            Category::Perspective => "perspective",
            Category::LowContrast => "low-contrast",
            Category::Moire => "moire",
        }
    }
}

/// One corpus image and the text it encodes.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The degradation applied.
    pub category: Category,
    /// The frame.
    pub image: GrayImage,
    /// What a reader should find.
    pub expected: String,
}

/// A small deterministic generator (xorshift64*), so the corpus needs no `rand`.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is remapped).
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [low, high).
    pub fn range(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.unit()
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.unit().max(1e-7);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

/// Texts encoded in the corpus: payment codes, an order code, an EMV payload, an MPM v3 URL.
pub fn payload(index: usize, rng: &mut Rng) -> String {
    use plusbox_core::codes::{random_alphanumeric, random_digits};
    let mut source = || rng.next_u64();
    match index % 4 {
        0 => format!("251001{}", random_digits(&mut source, 18)),
        1 => format!(
            "https://global.alipay.com/28100204{}",
            random_alphanumeric(&mut source, 28)
        ),
        2 => "00020101021252044131153137210116372101160123456789ABCDE6010Phnom Penh5913Merchant Shop5802KH540510.005303840622501081234567802090124444446304A0BA".to_string(),
        _ => format!("2810060{}", random_digits(&mut source, 17)),
    }
}

/// Generates `per_category` samples of each category.
pub fn generate(per_category: usize, seed: u64) -> Vec<Sample> {
    let mut rng = Rng::new(seed);
    let mut samples = Vec::with_capacity(per_category * Category::ALL.len());
    for category in Category::ALL {
        for index in 0..per_category {
            let expected = payload(index, &mut rng);
            if let Some(image) = sample(category, &expected, &mut rng) {
                samples.push(Sample { category, image, expected });
            }
        }
    }
    samples
}

/// Renders `text` and degrades it as `category` says.
pub fn sample(category: Category, text: &str, rng: &mut Rng) -> Option<GrayImage> {
    let module = match category {
        Category::Scaled => 6,
        _ => 4 + (rng.next_u64() % 3) as u32,
    };
    let code = qr_image(text, module).ok()?;
    let (fw, fh) = (FRAME.0 as f32, FRAME.1 as f32);
    let (cw, ch) = (code.width() as f32, code.height() as f32);
    let background = Background::new(rng);
    // Where the code's centre lands in the frame, kept inside with a margin.
    let place = |extent: f32, rng: &mut Rng| {
        let half = extent / 2.0;
        (
            rng.range(half.min(fw / 2.0), (fw - half).max(fw / 2.0)),
            rng.range(half.min(fh / 2.0), (fh - half).max(fh / 2.0)),
        )
    };
    let frame = match category {
        Category::Rotated => {
            let angle = rng.range(10.0, 350.0).to_radians();
            let extent = (cw * cw + ch * ch).sqrt();
            let (cx, cy) = place(extent, rng);
            let (sin, cos) = angle.sin_cos();
            warp(&code, &background, |x, y| {
                let (dx, dy) = (x - cx, y - cy);
                (cos * dx + sin * dy + cw / 2.0, -sin * dx + cos * dy + ch / 2.0)
            })
        }
        Category::Scaled => {
            // Mostly down to 2–3 px per module (distant code); sometimes up (close-up).
            let scale =
                if rng.unit() < 0.75 { rng.range(0.36, 0.5) } else { rng.range(1.2, 1.6).min(fh / ch) };
            let (cx, cy) = place(cw * scale, rng);
            warp(&code, &background, |x, y| ((x - cx) / scale + cw / 2.0, (y - cy) / scale + ch / 2.0))
        }
        Category::Perspective => {
            // Corners of the code in the frame: a square jittered by up to 22 % of its side.
            let side = cw.min(fh * 0.8);
            let (cx, cy) = place(side * 1.3, rng);
            let jitter = side * 0.22;
            let half = side / 2.0;
            let mut corner = |sx: f32, sy: f32| {
                (cx + sx * half + rng.range(-jitter, jitter), cy + sy * half + rng.range(-jitter, jitter))
            };
            let quad = [corner(-1.0, -1.0), corner(1.0, -1.0), corner(1.0, 1.0), corner(-1.0, 1.0)];
            let square = [(0.0, 0.0), (cw, 0.0), (cw, ch), (0.0, ch)];
            let h = homography(quad, square)?;
            warp(&code, &background, |x, y| apply(&h, x, y))
        }
        _ => {
            let (cx, cy) = place(cw, rng);
            warp(&code, &background, |x, y| (x - cx + cw / 2.0, y - cy + ch / 2.0))
        }
    };
    Some(match category {
        Category::Blurred => {
            let radius = 1 + (rng.next_u64() % 2) as usize;
            let mut image = frame;
            for _ in 0..3 {
                image = crate::scan::box_blur(&image, radius);
            }
            image
        }
        Category::Noisy => {
            let sigma = rng.range(25.0, 45.0);
            map_pixels(&frame, |_, _, v| {
                let r = rng.unit();
                if r < 0.005 {
                    0.0
                } else if r < 0.01 {
                    255.0
                } else {
                    v + sigma * rng.normal()
                }
            })
        }
        Category::LowContrast => {
            let dark = rng.range(95.0, 125.0);
            let span = rng.range(25.0, 45.0);
            map_pixels(&frame, |_, _, v| dark + span * v / 255.0)
        }
        Category::Moire => moire(&frame, rng),
        _ => frame,
    })
}

/// A smooth, slightly textured light background, like paper or a counter under shop light.
struct Background {
    base: f32,
    gx: f32,
    gy: f32,
}

impl Background {
    fn new(rng: &mut Rng) -> Self {
        Background { base: rng.range(185.0, 235.0), gx: rng.range(-0.04, 0.04), gy: rng.range(-0.04, 0.04) }
    }

    fn at(&self, x: f32, y: f32) -> f32 {
        self.base + self.gx * (x - 320.0) + self.gy * (y - 240.0)
    }
}

/// Builds a frame by inverse mapping: each frame pixel looks up `source(x, y)` in the code
/// image (bilinear), or the background when it falls outside.
fn warp(code: &GrayImage, background: &Background, source: impl Fn(f32, f32) -> (f32, f32)) -> GrayImage {
    let (w, h) = (code.width() as i64, code.height() as i64);
    let raw = code.as_raw();
    GrayImage::from_fn(FRAME.0, FRAME.1, |x, y| {
        let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
        let (sx, sy) = source(fx, fy);
        let bg = background.at(fx, fy);
        let (sx, sy) = (sx - 0.5, sy - 0.5);
        let (x0, y0) = (sx.floor() as i64, sy.floor() as i64);
        let (tx, ty) = (sx - x0 as f32, sy - y0 as f32);
        let get = |x: i64, y: i64| -> f32 {
            if x < 0 || y < 0 || x >= w || y >= h {
                bg
            } else {
                // The code's white is scaled to the background brightness, as on paper.
                f32::from(raw[(y * w + x) as usize]) / 255.0 * bg
            }
        };
        let top = get(x0, y0) * (1.0 - tx) + get(x0 + 1, y0) * tx;
        let bottom = get(x0, y0 + 1) * (1.0 - tx) + get(x0 + 1, y0 + 1) * tx;
        Luma([(top * (1.0 - ty) + bottom * ty).clamp(0.0, 255.0) as u8])
    })
}

fn map_pixels(image: &GrayImage, mut f: impl FnMut(u32, u32, f32) -> f32) -> GrayImage {
    GrayImage::from_fn(image.width(), image.height(), |x, y| {
        let v = f32::from(image.get_pixel(x, y)[0]);
        Luma([f(x, y, v).clamp(0.0, 255.0) as u8])
    })
}

/// Screen photo: the screen's pixel grid (dark gaps between subpixels) sampled at a slight
/// angle, an interference band, glare, a grey screen black, soft focus and sensor noise.
fn moire(frame: &GrayImage, rng: &mut Rng) -> GrayImage {
    let pitch = rng.range(2.2, 3.4);
    let angle = rng.range(-0.12, 0.12);
    let (sin, cos) = angle.sin_cos();
    let band_period = rng.range(9.0, 22.0);
    let band_angle = rng.range(0.0, std::f32::consts::PI);
    let (bs, bc) = band_angle.sin_cos();
    let glare_x = rng.range(0.0, 640.0);
    let glare_y = rng.range(0.0, 480.0);
    let tau = std::f32::consts::TAU;
    let image = map_pixels(frame, |x, y, v| {
        let (x, y) = (x as f32, y as f32);
        let u = (cos * x + sin * y) / pitch;
        let w = (-sin * x + cos * y) / pitch;
        let grid = 0.78 + 0.22 * (0.5 + 0.5 * (tau * u).cos()) * (0.5 + 0.5 * (tau * w).cos());
        let band = 1.0 + 0.18 * (tau * (bc * x + bs * y) / band_period).sin();
        let d2 = (x - glare_x).powi(2) + (y - glare_y).powi(2);
        let glare = 60.0 * (-d2 / (2.0 * 120.0f32.powi(2))).exp();
        // Screens never show true black: lift the dark level.
        let lifted = 35.0 + v * 0.8;
        lifted * grid * band + glare
    });
    let soft = crate::scan::box_blur(&image, 1);
    map_pixels(&soft, |_, _, v| v + 6.0 * rng.normal())
}

/// Homography mapping the four `from` points onto the four `to` points (8×8 solve).
fn homography(from: [(f32, f32); 4], to: [(f32, f32); 4]) -> Option<[f64; 9]> {
    let mut m = [[0f64; 9]; 8];
    for i in 0..4 {
        let (x, y) = (f64::from(from[i].0), f64::from(from[i].1));
        let (u, v) = (f64::from(to[i].0), f64::from(to[i].1));
        m[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        m[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..8 {
        let pivot = (col..8).max_by(|a, b| m[*a][col].abs().total_cmp(&m[*b][col].abs()))?;
        if m[pivot][col].abs() < 1e-9 {
            return None;
        }
        m.swap(col, pivot);
        for row in 0..8 {
            if row != col {
                let factor = m[row][col] / m[col][col];
                let pivot_row = m[col];
                for (cell, p) in m[row].iter_mut().zip(pivot_row).skip(col) {
                    *cell -= factor * p;
                }
            }
        }
    }
    let mut h = [1f64; 9];
    for (i, value) in h.iter_mut().take(8).enumerate() {
        *value = m[i][8] / m[i][i];
    }
    Some(h)
}

fn apply(h: &[f64; 9], x: f32, y: f32) -> (f32, f32) {
    let (x, y) = (f64::from(x), f64::from(y));
    let w = h[6] * x + h[7] * y + h[8];
    if w.abs() < 1e-12 {
        return (-1e6, -1e6);
    }
    (((h[0] * x + h[1] * y + h[2]) / w) as f32, ((h[3] * x + h[4] * y + h[5]) / w) as f32)
}
