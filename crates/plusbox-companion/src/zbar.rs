//! Driver for `zbarimg` (Debian `zbar-tools`), the independent reader used to cross-check what
//! we render and to compare detection rates in the benchmark.

use std::path::Path;
use std::process::Command;

/// What to tell a person when `zbarimg` or `qrencode` is missing.
pub const INSTALL_HINT: &str = "apt-get install zbar-tools qrencode";

/// A symbol reported by `zbarimg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZbarSymbol {
    /// Index of the input file in the call.
    pub file: usize,
    /// zbar's symbology name, e.g. `QR-Code`, `CODE-128`.
    pub symbology: String,
    /// The decoded text.
    pub text: String,
    /// zbar flagged the data as binary (its XML text is then unreliable).
    pub binary: bool,
}

/// Why `zbarimg` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ZbarError {
    /// Not installed.
    #[error("zbarimg is not installed ({INSTALL_HINT}): {0}")]
    Missing(String),
    /// It ran but failed.
    #[error("zbarimg failed with {status}: {stderr}")]
    Failed {
        /// Exit status.
        status: String,
        /// Its standard error.
        stderr: String,
    },
}

/// Runs `zbarimg --xml` over `files` in one process and returns every symbol found, tagged
/// with the index of its file. Files without symbols simply contribute nothing.
pub fn read_files(files: &[&Path]) -> Result<Vec<ZbarSymbol>, ZbarError> {
    let output = Command::new("zbarimg")
        .arg("--xml")
        .arg("--quiet")
        .args(files)
        .output()
        .map_err(|e| ZbarError::Missing(e.to_string()))?;
    // zbarimg exits 4 when no symbol is found in any image; that is a result, not a failure.
    match output.status.code() {
        Some(0) | Some(4) => {}
        _ => {
            return Err(ZbarError::Failed {
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            })
        }
    }
    let mut symbols = parse_xml(&String::from_utf8_lossy(&output.stdout));
    // zbar's XML writer mangles non-ASCII data it flags as binary (UTF-8 comes out as
    // 0xFFFF-padded bytes), while its plain text output is right: re-read those files in
    // text mode.
    let binary: Vec<usize> = symbols.iter().filter(|s| s.binary).map(|s| s.file).collect();
    for file in binary {
        let Some(path) = files.get(file) else {
            continue;
        };
        let plain = read_plain(path)?;
        symbols.retain(|s| !(s.file == file && s.binary));
        symbols.extend(plain.into_iter().map(|(symbology, text)| ZbarSymbol {
            file,
            symbology,
            text,
            binary: false,
        }));
    }
    Ok(symbols)
}

/// `zbarimg -q FILE`: lines of `TYPE:data`. Data with newlines would be split; our payloads
/// have none.
fn read_plain(path: &Path) -> Result<Vec<(String, String)>, ZbarError> {
    let output = Command::new("zbarimg")
        .arg("--quiet")
        .arg(path)
        .output()
        .map_err(|e| ZbarError::Missing(e.to_string()))?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(t, d)| (t.to_string(), d.to_string()))
        .collect())
}

/// Parses zbarimg's XML output; the format is fixed and simple, so no XML library is needed.
fn parse_xml(xml: &str) -> Vec<ZbarSymbol> {
    let mut symbols = Vec::new();
    for (file, source) in xml.split("<source ").skip(1).enumerate() {
        for symbol in source.split("<symbol ").skip(1) {
            let symbology = attribute(symbol, "type").unwrap_or_default();
            let Some(start) = symbol.find("<data") else {
                continue;
            };
            let data = &symbol[start..];
            let base64 = data.split('>').next().is_some_and(|tag| tag.contains("format='base64'"));
            let text = data
                .find("<![CDATA[")
                .and_then(|s| {
                    let rest = &data[s + 9..];
                    rest.find("]]>").map(|e| rest[..e].to_string())
                })
                .unwrap_or_default();
            let text = if base64 {
                use base64_lite::decode;
                decode(text.trim()).unwrap_or(text)
            } else {
                text
            };
            symbols.push(ZbarSymbol { file, symbology, text, binary: base64 });
        }
    }
    symbols
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}='");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('\'')?;
    Some(tag[start..start + end].to_string())
}

/// zbar switches to Base64 for data it considers binary; decode it without another dependency.
mod base64_lite {
    pub(super) fn decode(text: &str) -> Option<String> {
        let mut bits = 0u32;
        let mut count = 0;
        let mut out = Vec::new();
        for c in text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            };
            bits = (bits << 6) | u32::from(v);
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
            }
        }
        String::from_utf8(out).ok()
    }
}

/// Whether `qrencode` and `zbarimg` are on PATH.
pub fn tools_available() -> bool {
    ["zbarimg", "qrencode"].iter().all(|tool| Command::new(tool).arg("--version").output().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zbar_xml() {
        let xml = "<barcodes xmlns='http://zbar.sourceforge.net/2008/barcode'>\n<source href='a.png'>\n<index num='0'>\n<symbol type='QR-Code' quality='1' orientation='UP'><data><![CDATA[hello]]></data></symbol>\n<symbol type='CODE-128' quality='1'><data><![CDATA[2510]]></data></symbol>\n</index>\n</source>\n<source href='b.png'>\n<index num='0'>\n</index>\n</source>\n<source href='c.png'><index num='0'><symbol type='QR-Code'><data format='base64' length='2'><![CDATA[aGk=]]></data></symbol></index></source>\n</barcodes>";
        let symbols = parse_xml(xml);
        assert_eq!(symbols.len(), 3);
        assert_eq!(symbols[0].text, "hello");
        assert_eq!(symbols[0].symbology, "QR-Code");
        assert_eq!(symbols[1].symbology, "CODE-128");
        assert_eq!(symbols[2].file, 2);
        assert_eq!(symbols[2].text, "hi");
    }
}
