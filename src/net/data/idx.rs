//! The IDX format (LeCun): big-endian u32 magic `0x0000 08 nd` (unsigned bytes, nd dimensions),
//! nd u32 sizes, then the data. Gzipped files are recognised by their magic bytes.

use flate2::read::GzDecoder;
use std::fmt;
use std::io::Read;

/// A file that is not a valid IDX file, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxError {
    pub source: String,
    pub reason: String,
}

impl fmt::Display for IdxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid IDX file {}: {}", self.source, self.reason)
    }
}

impl std::error::Error for IdxError {}

/// Parses IDX bytes (gzipped or not) into `(dims, data)`, checking the magic and the length.
pub fn read_idx(bytes: &[u8], source: &str) -> Result<(Vec<usize>, Vec<u8>), IdxError> {
    let err = |reason: String| IdxError { source: source.to_string(), reason };
    let raw;
    let b: &[u8] = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| err(format!("corrupt gzip stream ({e})")))?;
        raw = out;
        &raw
    } else {
        bytes
    };
    if b.len() < 4 {
        return Err(err(format!(
            "truncated: {} bytes, shorter than the 4-byte magic number",
            b.len()
        )));
    }
    if b[0] != 0 || b[1] != 0 {
        return Err(err(format!("bad magic number 0x{:02x}{:02x}{:02x}{:02x}: valid IDX files start with two zero bytes", b[0], b[1], b[2], b[3])));
    }
    if b[2] != 0x08 {
        return Err(err(format!(
            "element type 0x{:02x} is not supported: valid is 0x08 (unsigned bytes)",
            b[2]
        )));
    }
    let nd = b[3] as usize;
    if nd == 0 || nd > 4 {
        return Err(err(format!("{nd} dimensions: valid is 1 to 4")));
    }
    let header = 4 + 4 * nd;
    if b.len() < header {
        return Err(err(format!("truncated header: {} bytes, need {header}", b.len())));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| {
            u32::from_be_bytes([b[4 + 4 * i], b[5 + 4 * i], b[6 + 4 * i], b[7 + 4 * i]]) as usize
        })
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| err(format!("dimensions {dims:?} overflow")))?;
    let found = b.len() - header;
    if found != expected {
        return Err(err(format!(
            "{} data: dimensions {dims:?} need {expected} bytes, found {found}",
            if found < expected { "truncated" } else { "trailing" }
        )));
    }
    Ok((dims, b[header..].to_vec()))
}
