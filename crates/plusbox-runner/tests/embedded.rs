//! The catalogue compiled into the runner is the one in `testcases/`, and it is valid.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

#[test]
fn embedded_catalogue_matches_the_testcases_directory() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testcases");
    let mut on_disk: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    on_disk.sort();
    let embedded: Vec<(String, String)> =
        plusbox_runner::embedded::EMBEDDED.iter().map(|(n, t)| ((*n).to_owned(), (*t).to_owned())).collect();
    assert_eq!(embedded, on_disk);
    let catalogue = plusbox_runner::embedded::catalogue().unwrap();
    // Every case belongs to a suite: user-presented (`upm`), the order codes (`mpm`), or merchant
    // registration (`merchant`).
    let (upm, mpm) = (catalogue.suite("upm").count(), catalogue.suite("mpm").count());
    let merchant = catalogue.suite("merchant").count();
    assert!(upm > 0 && mpm > 0 && merchant > 0, "upm {upm}, mpm {mpm}, merchant {merchant}");
    let recon = catalogue.suite("recon").count();
    assert!(recon >= 2, "the reconciliation cases load: {recon}");
    // Every case is in exactly one suite (upm, mpm, merchant, recon and the others).
    let suites: std::collections::BTreeSet<&str> = catalogue.cases().map(|c| c.product.suite()).collect();
    assert_eq!(suites.iter().map(|s| catalogue.suite(s).count()).sum::<usize>(), on_disk.len());
}
