//! The token key file and the bootstrap admin's generated password.

use std::path::Path;

use rand::RngExt;

use crate::config::Secret;

/// Reads the token key from `secret`, or from `<data_dir>/token.key`, creating it (mode 0600)
/// with 32 random bytes on first start.
pub fn load_token_key(secret: Option<&Secret>, data_dir: &Path) -> std::io::Result<Vec<u8>> {
    if let Some(secret) = secret {
        return Ok(secret.expose().as_bytes().to_vec());
    }
    let path = data_dir.join("token.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => hex::decode(text.trim()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not hex", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand::rng().random();
            std::fs::create_dir_all(data_dir)?;
            write_private(&path, hex::encode(key).as_bytes())?;
            Ok(key.to_vec())
        }
        Err(e) => Err(e),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

/// A random password for the bootstrap admin, shown once.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
