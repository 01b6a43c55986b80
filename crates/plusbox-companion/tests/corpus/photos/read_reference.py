#!/usr/bin/env python3
"""Reads every image of a corpus manifest with the reference readers, in this one process:
zxing-cpp (`zxingcpp.read_barcodes`, the pip package) and, when importable, zbar through
`pyzbar`. Prints one JSON object: per image, what each reader found (bytes as hex, text) and
its decode time in milliseconds; plus the readers' versions.

    python3 read_reference.py MANIFEST.json

Exit status 2 with a message when zxing-cpp is not installed (pip install zxing-cpp).
"""

import json
from importlib import metadata
import os
import sys
import time

try:
    import zxingcpp
except ImportError:
    print("zxing-cpp is not installed: python3 -m pip install zxing-cpp", file=sys.stderr)
    sys.exit(2)
try:
    from PIL import Image
except ImportError:
    print("Pillow is not installed: python3 -m pip install pillow", file=sys.stderr)
    sys.exit(2)
try:
    from pyzbar import pyzbar
except ImportError:  # zbar is optional: the comparison then has no zbar column.
    pyzbar = None


def zxing(gray):
    found = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)
    return [{"bytesHex": bytes(b.bytes).hex(), "text": b.text} for b in found]


def zbar(gray):
    found = pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])
    out = []
    for symbol in found:
        # zbar converts the content to UTF-8 text (from Shift_JIS too); keep both views.
        try:
            text = symbol.data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        out.append({"bytesHex": symbol.data.hex(), "text": text})
    return out


def timed(reader, gray):
    start = time.perf_counter()
    found = reader(gray)
    return found, (time.perf_counter() - start) * 1000.0


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    manifest_path = sys.argv[1]
    base = os.path.dirname(os.path.abspath(manifest_path))
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    results = []
    for entry in manifest["images"]:
        # Both readers get the same 8-bit grayscale image our scanner gets.
        gray = Image.open(os.path.join(base, entry["file"])).convert("L")
        gray.load()
        result = {"file": entry["file"]}
        result["zxing"], result["zxingMs"] = timed(zxing, gray)
        if pyzbar is not None:
            result["zbar"], result["zbarMs"] = timed(zbar, gray)
        results.append(result)
    versions = {"zxing-cpp": metadata.version("zxing-cpp")}
    if pyzbar is not None:
        versions["pyzbar"] = metadata.version("pyzbar")
    json.dump({"versions": versions, "results": results}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
