//! Fingerprints of what determines a result, so that a stored result is reused or combined only
//! with results of the same inputs.
//!
//! FNV-1a (64 bit) over labelled parts: each part contributes its label, its length and its
//! bytes, so `("a", "bc")` and `("ab", "c")` differ. The hash is fixed by its definition (not
//! `std`'s unspecified `DefaultHasher`), so a fingerprint is stable across builds and machines.
//! It detects accidental changes, not tampering.

/// A 64-bit FNV-1a hash of labelled parts, as 16 lowercase hex digits.
pub fn fingerprint(parts: &[(&str, &[u8])]) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    };
    for (label, bytes) in parts {
        eat(&(label.len() as u64).to_le_bytes());
        eat(label.as_bytes());
        eat(&(bytes.len() as u64).to_le_bytes());
        eat(bytes);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    #[test]
    fn fnv1a_of_known_input() {
        // FNV-1a 64 of the empty input is its offset basis (published constant).
        assert_eq!(fingerprint(&[]), "cbf29ce484222325");
    }

    #[test]
    fn parts_are_delimited() {
        assert_ne!(fingerprint(&[("a", b"bc")]), fingerprint(&[("ab", b"c")]));
        assert_ne!(fingerprint(&[("x", b"1")]), fingerprint(&[("x", b"2")]));
        assert_eq!(fingerprint(&[("x", b"1")]), fingerprint(&[("x", b"1")]));
    }
}
