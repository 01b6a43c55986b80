//! Companion devices: their API tokens, created once and stored only as a hash.

use super::*;

impl Store {
    /// Creates a device token for the companion API. The token is returned once and stored
    /// only as a SHA-256 hash.
    pub fn create_device(&self, name: &str, now: OffsetDateTime) -> Result<SecretString> {
        let mut rng = ids::SystemRng::new();
        let token = SecretString::new(ids::device_token(&mut rng));
        let hash = ids::sha256_hex(token.expose());
        self.write(|tx| {
            tx.execute_cached(
                "INSERT INTO device (name, token_hash, created_at) VALUES (?1, ?2, ?3)",
                params![name, hash, to_millis(now)],
            )?;
            Ok(())
        })?;
        Ok(token)
    }

    /// The device name for a presented token, if it is known.
    pub fn device_for_token(&self, token: &str) -> Result<Option<String>> {
        let hash = ids::sha256_hex(token);
        self.read(|tx| {
            Ok(tx
                .query_row_cached("SELECT name FROM device WHERE token_hash = ?1", params![hash], |r| {
                    r.get(0)
                })
                .optional()?)
        })
    }
}
