#!/usr/bin/env python3
"""Generates the camera-photo QR corpus: codes rendered by qrencode and by `plusbox code
render`, printed on paper or shown on a phone screen, and photographed through a simulated
phone camera (geometry, optics, lighting, sensor noise, JPEG).

Deterministic: the same seed, tool versions and library versions give the same files. The
generated images are committed, so tests never run this script; it documents and reproduces
how the corpus was made.

    python3 generate.py --plusbox target/debug/plusbox [--seed 20261207] [--out DIR]

Needs numpy, opencv-python-headless and Pillow (PyPI), qrencode (Debian) and a built plusbox.
"""

import argparse
import io
import json
import os
import subprocess
import sys

import cv2
import numpy as np
from PIL import Image

PER_CATEGORY = 20

# Category name -> one-line description (also written to the manifest).
CATEGORIES = {
    "paper-angle": "printed code on textured paper, rotated and seen at an angle (perspective)",
    "paper-curved": "printed code on a curved sheet or can label (cylindrical bend) at an angle",
    "screen": "phone or monitor screen photographed: subpixel grid resampled (moire), gamma, "
              "emissive glow, reflections, some in dark mode (light on dark)",
    "motion-blur": "hand shake: linear motion blur 3-11 px at any angle",
    "defocus": "out of focus: disk blur radius 2-5 px, phone sharpening afterwards",
    "low-light": "dim shop: exposure 20-45 %, strong sensor noise, gamma, JPEG",
    "glare": "specular highlights on glossy paper or screen: saturated blobs and streaks",
    "shadow": "uneven lighting: hard shadow edges across the code, vignetting, colour cast",
    "small": "small codes in large frames (960x720): 1.8-3.2 px per module",
    "occluded": "a finger or the frame edge covers part of the code (within its error correction)",
    "dense": "higher versions (5-20) and all ECC levels at an angle, with blur and noise (800x600)",
    "non-utf8": "Shift_JIS kanji-mode and binary (8-bit) content, under mild camera effects",
}


class Gen:
    """A seeded random source with the few draws the generator needs."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def u(self, a, b):
        return float(self.rng.uniform(a, b))

    def i(self, a, b):
        return int(self.rng.integers(a, b + 1))

    def pick(self, items):
        return items[int(self.rng.integers(0, len(items)))]

    def chance(self, p):
        return bool(self.rng.random() < p)


# --- payloads -------------------------------------------------------------------------------

EMV = ("00020101021226360009SG.PAYNOW010120210201234567X0301052040000530370254041.00"
       "5802SG5913Merchant Shop6009Singapore62110107ORD12346304")


def crc16(data):
    crc = 0xFFFF
    for b in data.encode():
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def payload(g, index):
    """Text payloads: 24-digit payment codes, order-code URLs, EMV payloads, plain URLs."""
    digits = lambda n: "".join(str(g.i(0, 9)) for _ in range(n))
    alnum = lambda n: "".join(g.pick("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789")
                              for _ in range(n))
    kind = index % 5
    if kind == 0:
        return "251001" + digits(18)
    if kind == 1:
        return "https://global.alipay.com/28100204" + alnum(28)
    if kind == 2:
        body = EMV.replace("ORD12346304", "ORD" + digits(5) + "6304")
        return body + crc16(body)
    if kind == 3:
        return "2810060" + digits(17)
    return "https://shop.example.com/pay?order=" + digits(12) + "&sig=" + alnum(20)


# --- code rendering -------------------------------------------------------------------------


def qr_matrix(data, version=0, level="M", kanji=False, eight_bit=False):
    """Module matrix (True = dark) from qrencode, 1 px per module, no quiet zone."""
    args = ["qrencode", "-s", "1", "-m", "0", "-l", level, "-o", "-", "-t", "PNG"]
    if version:
        args += ["-v", str(version)]
    if kanji:
        args.append("-k")
    if eight_bit:
        args.append("-8")
    out = subprocess.run(args, input=data, capture_output=True, check=True).stdout
    image = np.array(Image.open(io.BytesIO(out)).convert("L"))
    return image < 128


def plusbox_render(plusbox, text):
    """Our own rendering of a payment code for a phone screen (Code 128 above a QR)."""
    out = subprocess.run([plusbox, "code", "render", text, "--format", "png", "--out", "/dev/stdout"],
                         capture_output=True, check=True).stdout
    return np.array(Image.open(io.BytesIO(out)).convert("L"))


def draw_matrix(matrix, module, quiet=4):
    """Grayscale image of a module matrix with a quiet zone, `module` px per module."""
    padded = np.pad(matrix, quiet, constant_values=False)
    image = np.where(padded, 0, 255).astype(np.uint8)
    return cv2.resize(image, None, fx=module, fy=module, interpolation=cv2.INTER_NEAREST)


# --- textures and scenes --------------------------------------------------------------------


def smooth_noise(g, h, w, scale, octaves=3):
    """Low-frequency noise in [-1, 1] (sum of upsampled random grids)."""
    out = np.zeros((h, w), np.float32)
    amp = 1.0
    for o in range(octaves):
        cells = max(2, int(scale * (2 ** o)))
        grid = g.rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        amp *= 0.5
    return np.clip(out / 1.75, -1, 1)


def paper_sheet(g, code_gray, margin_modules):
    """The code printed on paper: warm white with fibre texture, ink spread and slight fade."""
    ch, cw = code_gray.shape
    pad = int(margin_modules)
    h, w = ch + 2 * pad, cw + 2 * pad
    base = np.array([g.u(225, 250), g.u(222, 248), g.u(210, 240)], np.float32)
    fibres = g.rng.normal(0, g.u(2, 6), (h, w)).astype(np.float32)
    fibres = cv2.GaussianBlur(fibres, (0, 0), 0.8)
    blotch = smooth_noise(g, h, w, 3) * g.u(3, 10)
    paper = base[None, None, :] + (fibres + blotch)[..., None]
    ink = np.full((h, w), 255, np.float32)
    ink[pad:pad + ch, pad:pad + cw] = code_gray
    # Ink spreads a little and printers leave it less than black.
    ink = cv2.GaussianBlur(ink, (0, 0), g.u(0.3, 0.9))
    darkness = g.u(0.75, 0.93)
    ink_colour = np.array([g.u(10, 40)] * 3, np.float32)
    coverage = (1 - ink / 255.0) * darkness
    sheet = paper * (1 - coverage[..., None]) + ink_colour[None, None, :] * coverage[..., None]
    return np.clip(sheet, 0, 255)


def table_background(g, h, w):
    """A counter or table top: a colour with wood-like streaks and smooth shading."""
    colour = np.array([g.u(40, 200), g.u(40, 190), g.u(40, 180)], np.float32)
    grain = cv2.resize(g.rng.normal(0, 1, (max(2, h // 40), 4)).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_CUBIC)
    shade = smooth_noise(g, h, w, 2) * 25 + grain * g.u(4, 14)
    return np.clip(colour[None, None, :] + shade[..., None], 0, 255)


def place_quad(g, frame_w, frame_h, side, angle_deg, tilt):
    """Four frame points for a square of `side` px rotated by `angle_deg` with perspective tilt."""
    cx = g.u(side * 0.6, frame_w - side * 0.6) if frame_w > side * 1.2 else frame_w / 2
    cy = g.u(side * 0.6, frame_h - side * 0.6) if frame_h > side * 1.2 else frame_h / 2
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * side / 2
    # Perspective: one side nearer the camera (bigger), the opposite farther.
    tx, ty = g.u(-tilt, tilt), g.u(-tilt, tilt)
    scale = 1 + corners[:, 0:1] / (side / 2) * tx + corners[:, 1:2] / (side / 2) * ty
    corners = corners * scale
    corners += g.rng.uniform(-tilt, tilt, corners.shape) * side * 0.15
    return (corners @ rot.T + [cx, cy]).astype(np.float32)


def warp_onto(frame, sheet, quad, mask_out=None):
    """Projects `sheet` (float RGB) onto `frame` at `quad` (its four corners, clockwise)."""
    h, w = sheet.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad)
    fh, fw = frame.shape[:2]
    warped = cv2.warpPerspective(sheet, m, (fw, fh), flags=cv2.INTER_AREA if w > fw else cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(np.ones((h, w), np.float32), m, (fw, fh), flags=cv2.INTER_LINEAR)
    frame[:] = frame * (1 - alpha[..., None]) + warped * alpha[..., None]
    return m


def bend(g, sheet, strength):
    """A cylindrical bend around the vertical axis: the sheet compresses and darkens at the sides."""
    h, w = sheet.shape[:2]
    xs = np.linspace(-1, 1, w, dtype=np.float32)
    # Position on a cylinder seen from the front: x = sin(theta), theta spans +-strength.
    theta = xs * strength
    visible = np.sin(theta) / np.sin(strength)
    src_x = (np.interp(xs, visible, xs) + 1) / 2 * (w - 1)
    sag = g.u(-0.04, 0.04) * h * (1 - np.cos(theta)) / (1 - np.cos(strength))
    map_x = np.tile(src_x[None, :], (h, 1)).astype(np.float32)
    map_y = (np.arange(h, dtype=np.float32)[:, None] + sag[None, :]).astype(np.float32)
    out = cv2.remap(sheet, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    shade = (0.75 + 0.25 * np.cos(np.interp(src_x / (w - 1) * 2 - 1, xs, theta)))
    return out * shade[None, :, None]


def screen_sheet(g, code_gray, dark_mode):
    """A phone screen showing the code: emissive white, grey black, RGB subpixel stripes."""
    levels = (25.0, 245.0) if not dark_mode else (235.0, 30.0)
    dark, light = g.u(levels[0] - 15, levels[0] + 15), g.u(levels[1] - 15, levels[1] + 8)
    display = np.where(code_gray < 128, dark, light).astype(np.float32)
    bezel = g.i(6, 20)
    display = np.pad(display, ((bezel * 3, bezel * 3), (bezel, bezel)), constant_values=light)
    display = np.pad(display, 6, constant_values=8.0)  # the black bezel
    # Each screen pixel becomes 3x3 subpixels: R, G, B columns with a dark gap row.
    sub = np.repeat(np.repeat(display, 3, axis=0), 3, axis=1)
    h, w = sub.shape
    rgb = np.zeros((h, w, 3), np.float32)
    for channel in range(3):
        rgb[:, channel::3, channel] = sub[:, channel::3]
    rgb[2::3, :, :] *= g.u(0.35, 0.7)
    # Gamma of the panel and the camera's tone curve.
    gamma = g.u(0.8, 1.25)
    rgb = 255.0 * (rgb / 255.0) ** gamma * 3.0 * g.u(0.8, 1.0)
    return np.clip(rgb, 0, 255)


def add_glow(img, strength):
    """Emissive bloom: light from bright areas bleeds into dark neighbours."""
    bright = np.clip(img - 180, 0, None)
    return img + cv2.GaussianBlur(bright, (0, 0), 6) * strength


def reflection(g, h, w):
    """A faint mirrored scene on glass: a window or ceiling light, as an additive layer."""
    layer = smooth_noise(g, h, w, 1.5) * 0.5 + 0.5
    x0, y0 = g.u(0, w), g.u(0, h)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = g.u(0, np.pi)
    band = np.exp(-(((xx - x0) * np.cos(a) + (yy - y0) * np.sin(a)) / g.u(20, 80)) ** 2)
    return (layer * g.u(10, 30) + band * g.u(20, 60))[..., None]


def lighting(g, h, w, vignette=0.25):
    """Smooth illumination: a gradient and vignetting, as a multiplier."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    gain = 1 - vignette * r2 / 2
    a = g.u(0, 2 * np.pi)
    gain *= 1 + g.u(0.05, 0.25) * (((xx / w - 0.5) * np.cos(a) + (yy / h - 0.5) * np.sin(a)))
    return gain[..., None]


def hard_shadow(g, h, w):
    """A hard-edged shadow (an arm, a phone) with a soft penumbra, as a multiplier."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = g.u(0, 2 * np.pi)
    d = (xx - g.u(w * 0.3, w * 0.7)) * np.cos(a) + (yy - g.u(h * 0.3, h * 0.7)) * np.sin(a)
    soft = g.u(2, 15)
    inside = 1 / (1 + np.exp(-d / soft))
    depth = g.u(0.35, 0.65)
    return (1 - depth * inside)[..., None]


def glare_layer(g, h, w, count, around, spread):
    """Specular highlights near `around` (within `spread` px): bright saturated ellipses."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    layer = np.zeros((h, w), np.float32)
    for _ in range(count):
        cx, cy = around[0] + g.u(-spread, spread), around[1] + g.u(-spread, spread)
        sx, sy = g.u(25, 90), g.u(15, 60)
        a = g.u(0, np.pi)
        u = (xx - cx) * np.cos(a) + (yy - cy) * np.sin(a)
        v = -(xx - cx) * np.sin(a) + (yy - cy) * np.cos(a)
        layer += g.u(90, 200) * np.exp(-((u / sx) ** 2 + (v / sy) ** 2) ** 1.5)
    return layer[..., None]


def motion_kernel(length, angle):
    size = (int(length) + 2) | 1
    k = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
    for t in np.linspace(-length / 2, length / 2, int(length * 3)):
        k[int(round(c + t * dy)), int(round(c + t * dx))] = 1
    return k / k.sum()


def disk_kernel(radius):
    size = int(np.ceil(radius)) * 2 + 1
    yy, xx = np.mgrid[0:size, 0:size] - size // 2
    k = (xx ** 2 + yy ** 2 <= radius ** 2).astype(np.float32)
    return k / k.sum()


def camera(g, img, noise=(2.0, 0.02), exposure=1.0, gamma=1.0, sharpen=0.6, quality=(66, 84)):
    """The phone: exposure, shot and read noise, tone curve, sharpening, JPEG."""
    lin = np.clip(img * exposure, 0, 255) / 255.0
    read, shot = noise
    # Phones denoise colour far more than brightness: mostly luminance noise remains.
    grain = g.rng.normal(0, 1, lin.shape[:2]).astype(np.float32)[..., None]
    grain = grain + 0.25 * g.rng.normal(0, 1, lin.shape).astype(np.float32)
    lin = lin + grain * np.sqrt(read ** 2 / 255.0 ** 2 + shot ** 2 * lin)
    lin = np.clip(lin, 0, 1) ** (1 / gamma)
    out = lin * 255.0
    if sharpen > 0:
        blur = cv2.GaussianBlur(out, (0, 0), 1.2)
        out = out + sharpen * (out - blur)
    out = np.clip(out, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, g.i(*quality)])
    if not ok:
        raise RuntimeError("JPEG encode failed")
    return data.tobytes()


# --- the categories -------------------------------------------------------------------------


def photo_of_paper(g, code_gray, frame=(640, 480), side_frac=(0.45, 0.75), angle=(-180, 180),
                   tilt=0.25, curved=0.0, margin=None):
    fw, fh = frame
    img = table_background(g, fh, fw)
    sheet = paper_sheet(g, code_gray, margin if margin is not None else code_gray.shape[0] * g.u(0.08, 0.3))
    if curved:
        sheet = bend(g, sheet, curved)
    side = min(fw, fh) * g.u(*side_frac)
    quad = place_quad(g, fw, fh, side, g.u(*angle), tilt)
    warp_onto(img, sheet, quad)
    return img * lighting(g, fh, fw), quad


def make(g, category, index, text_bytes, args):
    """One corpus image for `category` encoding `text_bytes`; returns JPEG bytes."""
    module = g.i(6, 10)
    if category == "non-utf8":
        kanji = index % 2 == 0
        matrix = qr_matrix(text_bytes, level=g.pick("LMQ"), kanji=kanji, eight_bit=not kanji)
    elif category == "dense":
        matrix = qr_matrix(text_bytes, version=g.i(5, 20), level=g.pick("LMQH"))
        module = g.i(4, 6)
    elif category == "occluded":
        matrix = qr_matrix(text_bytes, level=g.pick("QH"))
    else:
        matrix = qr_matrix(text_bytes, level=g.pick("LMQ"))
    code = draw_matrix(matrix, module)

    if category == "paper-angle":
        img, _ = photo_of_paper(g, code, tilt=0.35)
        img = cv2.GaussianBlur(img, (0, 0), g.u(0.5, 1.2))
        return camera(g, img)
    if category == "paper-curved":
        img, _ = photo_of_paper(g, code, tilt=0.2, curved=g.u(0.4, 0.9), angle=(-30, 30))
        img = cv2.GaussianBlur(img, (0, 0), g.u(0.5, 1.0))
        return camera(g, img)
    if category == "screen":
        dark_mode = index % 4 == 3
        if args.plusbox and index % 2 == 0 and not dark_mode:
            shown = plusbox_render(args.plusbox, text_bytes.decode())
            # Our phone layout at the screen's resolution: about 3-4 screen px per module.
            f = g.u(0.5, 0.8)
            shown = cv2.resize(shown, (0, 0), fx=f, fy=f, interpolation=cv2.INTER_AREA)
        else:
            shown = draw_matrix(matrix, g.i(3, 5))
        screen = screen_sheet(g, shown, dark_mode)
        fw, fh = 640, 480
        img = table_background(g, fh, fw) * 0.5
        side = min(fw, fh) * g.u(0.7, 0.95)
        h, w = screen.shape[:2]
        quad = place_quad(g, fw, fh, side, g.u(-25, 25), 0.15)
        # Keep the screen's aspect ratio: stretch the square quad along the long side.
        centre = quad.mean(axis=0)
        quad = centre + (quad - centre) * np.array([min(1.0, w / h), min(1.0, h / w)], np.float32)
        warp_onto(img, screen, quad.astype(np.float32))
        img = add_glow(img, g.u(0.3, 0.9))
        img = img + reflection(g, fh, fw)
        img = cv2.GaussianBlur(img, (0, 0), g.u(0.4, 1.0))
        return camera(g, img, noise=(3.0, 0.03), gamma=g.u(0.9, 1.2))
    if category == "motion-blur":
        img, _ = photo_of_paper(g, code, side_frac=(0.5, 0.8), tilt=0.15)
        img = cv2.filter2D(img, -1, motion_kernel(g.u(3, 11), g.u(0, 180)))
        return camera(g, img)
    if category == "defocus":
        img, _ = photo_of_paper(g, code, side_frac=(0.5, 0.8), tilt=0.15)
        img = cv2.filter2D(img, -1, disk_kernel(g.u(2, 5)))
        return camera(g, img, sharpen=g.u(0.5, 1.2))
    if category == "low-light":
        img, _ = photo_of_paper(g, code, side_frac=(0.5, 0.8), tilt=0.2)
        return camera(g, img, noise=(g.u(4, 10), g.u(0.03, 0.07)), exposure=g.u(0.2, 0.45),
                      gamma=g.u(1.8, 2.4), sharpen=0.3, quality=(65, 80))
    if category == "glare":
        img, quad = photo_of_paper(g, code, side_frac=(0.5, 0.8), tilt=0.2)
        spread = float(np.linalg.norm(quad[1] - quad[0])) * 0.35
        img = img + glare_layer(g, img.shape[0], img.shape[1], g.i(1, 3), quad.mean(axis=0), spread)
        return camera(g, img)
    if category == "shadow":
        img, _ = photo_of_paper(g, code, side_frac=(0.5, 0.8), tilt=0.2)
        img = img * hard_shadow(g, img.shape[0], img.shape[1]) * lighting(g, *img.shape[:2], vignette=0.6)
        cast = np.array([g.u(0.85, 1.0), g.u(0.85, 1.0), g.u(0.75, 1.0)], np.float32)
        return camera(g, img * cast)
    if category == "small":
        modules = matrix.shape[0] + 8
        px = g.u(1.8, 3.2)
        img, _ = photo_of_paper(g, code, frame=(960, 720), side_frac=(modules * px / 720,) * 2,
                                angle=(-20, 20), tilt=0.1)
        img = cv2.GaussianBlur(img, (0, 0), 0.6)
        return camera(g, img)
    if category == "occluded":
        img, quad = photo_of_paper(g, code, side_frac=(0.5, 0.75), angle=(-15, 15), tilt=0.1)
        h, w = img.shape[:2]
        # A finger over a corner region away from the finder patterns' corners, or a frame cut.
        edge = quad[2] if index % 2 == 0 else (quad[1] + quad[2]) / 2
        centre = quad.mean(axis=0)
        edge = edge + (centre - edge) * g.u(0.12, 0.25)
        n = matrix.shape[0] + 8
        radius = float(np.linalg.norm(quad[1] - quad[0])) / n * g.u(2.5, 4.5)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        finger = ((xx - edge[0]) / (radius * 1.0)) ** 2 + ((yy - edge[1]) / (radius * 2.2)) ** 2 < 1
        skin = np.array([g.u(170, 220), g.u(120, 160), g.u(100, 140)], np.float32)
        soft = cv2.GaussianBlur(finger.astype(np.float32), (0, 0), 3)[..., None]
        img = img * (1 - soft) + skin * soft
        return camera(g, img)
    if category == "dense":
        img, _ = photo_of_paper(g, code, frame=(800, 600), side_frac=(0.6, 0.85), tilt=0.15)
        img = cv2.GaussianBlur(img, (0, 0), g.u(0.5, 1.1))
        return camera(g, img, noise=(g.u(2, 5), 0.03))
    if category == "non-utf8":
        img, _ = photo_of_paper(g, code, side_frac=(0.35, 0.6), tilt=0.2)
        img = cv2.GaussianBlur(img, (0, 0), g.u(0.5, 1.2))
        return camera(g, img)
    raise ValueError(category)


def non_utf8_payload(g, index):
    """Shift_JIS text (kanji mode) or binary bytes that are not UTF-8."""
    if index % 2 == 0:
        words = ["お支払い", "日本円", "領収書", "東京都渋谷区", "店舗番号", "合計金額", "ありがとう"]
        text = "".join(g.pick(words) for _ in range(g.i(2, 4)))
        return text.encode("shift_jis"), text
    while True:
        data = bytes(g.i(1, 255) for _ in range(g.i(16, 60)))
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return data, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--plusbox", help="a built plusbox binary (for our own screen renders)")
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    g = Gen(args.seed)
    images = os.path.join(args.out, "images")
    os.makedirs(images, exist_ok=True)
    entries = []
    for category in CATEGORIES:
        for index in range(PER_CATEGORY):
            if category == "non-utf8":
                data, text = non_utf8_payload(g, index)
            else:
                text = payload(g, index)
                data = text.encode()
            jpeg = make(g, category, index, data, args)
            name = f"{category}-{index:02}.jpg"
            with open(os.path.join(images, name), "wb") as f:
                f.write(jpeg)
            entries.append({"file": f"images/{name}", "category": category,
                            "bytesHex": data.hex(), "text": text})
        print(category, file=sys.stderr)
    manifest = {"seed": args.seed, "categories": CATEGORIES, "images": entries}
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
