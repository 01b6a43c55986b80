//! Writes corpus frames that plusbox fails to read to a directory, for inspection.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use plusbox_companion::corpus;
use plusbox_companion::scan::{scan_image, ScanOptions};

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/tmp/corpus".into());
    let n: usize = std::env::args().nth(2).and_then(|v| v.parse().ok()).unwrap_or(20);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, s) in corpus::generate(n, 2024).iter().enumerate() {
        let found = scan_image(
            &s.image,
            &ScanOptions { budget: std::time::Duration::from_secs(5), ..ScanOptions::default() },
        );
        let ok = found.iter().any(|f| f.text == s.expected);
        let pass = found.first().map(|f| f.pass).unwrap_or("-");
        println!("{i:04} {} {} {pass}", s.category.name(), if ok { "ok" } else { "MISS" });
        s.image
            .save(format!("{dir}/{i:04}-{}-{}.png", s.category.name(), if ok { "ok" } else { "miss" }))
            .unwrap();
    }
}
