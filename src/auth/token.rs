//! Opaque tokens: generated from the OS RNG, handed out once, stored as SHA-256 hex.

use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "orgd_";

/// A new random token (256 bits of entropy).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let mut token = String::with_capacity(PREFIX.len() + 64);
    token.push_str(PREFIX);
    push_hex(&mut token, &bytes);
    token
}

/// A new OAuth2 client secret: 256 bits as 64 hex digits and no prefix, the most that
/// MyCreditApp's published `client_secret` (1–64 characters) holds.
pub fn generate_client_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let mut secret = String::with_capacity(64);
    push_hex(&mut secret, &bytes);
    secret
}

/// The stored form. A plain hash suffices because tokens carry 256 random bits: there is
/// nothing to brute-force, and the lookup by hash reveals nothing about the token.
pub fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    push_hex(&mut out, &digest);
    out
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hash_is_stable() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 64);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(hash(&a).len(), 64);
    }
}
