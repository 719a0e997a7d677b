//! Who may call an app, from the desk's side: making, listing and revoking
//! an app's tokens (the full token is returned once; the host keeps only its
//! hash), and the token this workstation calls its apps with, kept in the OS
//! keyring and made on first need, so `rdesk call` and the console just work.

use std::io::Read;

use rdesk_spawner::{Slug, TokenRecord, check_token_id, check_token_name};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Desk, HostSession};
use crate::error::DeskError;
use crate::secrets::{Secret, SecretStore};
use crate::store::now_ms;

/// A token just made: shown once, never stored on this side but in the keyring.
#[derive(Debug, Clone, Serialize)]
pub struct NewToken {
    pub host: String,
    pub slug: String,
    pub id: String,
    pub name: String,
    pub created_ms: i64,
    /// The whole token; nothing keeps it after this is shown (the host has its hash).
    pub token: String,
}

/// One of an app's tokens as listed: its id (the visible prefix), never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenView {
    pub id: String,
    /// What a token starts with (`rdt_<id>_`), to tell them apart.
    pub prefix: String,
    pub name: String,
    pub created_ms: i64,
}

/// The keyring name of this workstation's token for an app (under
/// `app:<host>:<slug>:`): the dash keeps it apart from every variable name.
const WORKSTATION_TOKEN: &str = "rdesk-token";
/// The name this workstation's own tokens carry on the host.
const WORKSTATION_NAME: &str = "rdesk workstation";
/// The name of a token made for one call when no keyring can keep it.
const ONE_CALL_NAME: &str = "rdesk one call";

/// A fresh token `rdt_<8 hex id>_<64 hex secret>` (36 bytes from the OS's
/// random source) and the SHA-256 of it, which is all the host keeps.
pub(crate) fn generate_token() -> Result<(String, String, String), DeskError> {
    let mut random = [0u8; 36];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .map_err(|source| DeskError::Io {
            what: "reading random bytes for a token".to_owned(),
            source,
        })?;
    let id = hex::encode(&random[..4]);
    let token = format!("rdt_{id}_{}", hex::encode(&random[4..]));
    let hash = hash_token(&token);
    Ok((token, id, hash))
}

/// The SHA-256 of a token, as lower-case hex (what `start.R` computes).
pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Accepts a token id or a listed prefix (`rdt_<id>` or `rdt_<id>_`).
fn token_id(raw: &str) -> Result<String, DeskError> {
    let id = raw
        .trim()
        .trim_start_matches("rdt_")
        .trim_end_matches('_')
        .to_owned();
    check_token_id(&id)?;
    Ok(id)
}

fn view(record: &TokenRecord) -> TokenView {
    TokenView {
        id: record.id.clone(),
        prefix: format!("rdt_{}_", record.id),
        name: record.name.clone(),
        created_ms: record.created_ms,
    }
}

/// The keyring, or `None` when this machine has none (no Secret Service).
async fn keyring() -> Option<SecretStore> {
    tokio::task::spawn_blocking(SecretStore::open)
        .await
        .ok()?
        .ok()
}

impl HostSession {
    /// Makes a token for app `slug`; the app accepts it from its next login on.
    pub async fn create_token(&self, slug: &str, name: &str) -> Result<NewToken, DeskError> {
        let slug = Slug::parse(slug)?;
        check_token_name(name)?;
        let (token, id, hash) = generate_token()?;
        let created_ms = now_ms();
        self.spawner
            .token_keeper()
            .add_token(
                &slug,
                TokenRecord {
                    id: id.clone(),
                    hash,
                    created_ms,
                    name: name.to_owned(),
                },
            )
            .await
            .map_err(DeskError::spawn(self.name()))?;
        Ok(NewToken {
            host: self.name().to_owned(),
            slug: slug.to_string(),
            id,
            name: name.to_owned(),
            created_ms,
            token,
        })
    }

    /// The app's tokens, oldest first: ids, names and dates, never a token.
    pub async fn tokens(&self, slug: &str) -> Result<Vec<TokenView>, DeskError> {
        let slug = Slug::parse(slug)?;
        let records = self
            .spawner
            .token_keeper()
            .tokens(&slug)
            .await
            .map_err(DeskError::spawn(self.name()))?;
        Ok(records.iter().map(view).collect())
    }

    /// Revokes a token by its id or prefix: no new login accepts it; calls
    /// made with other tokens, and connections already open, go on.
    pub async fn revoke_token(&self, slug: &str, id: &str) -> Result<TokenView, DeskError> {
        let slug = Slug::parse(slug)?;
        let id = token_id(id)?;
        self.spawner
            .token_keeper()
            .revoke_token(&slug, &id)
            .await
            .map_err(DeskError::spawn(self.name()))?
            .map(|r| view(&r))
            .ok_or_else(|| DeskError::UnknownToken {
                slug: slug.to_string(),
                id,
            })
    }
}

/// The token a call goes with, and whether it was made for this call alone.
pub(crate) struct CallToken {
    pub token: Secret,
    /// Set when no keyring could keep it: revoke it after the call.
    pub one_call_id: Option<String>,
}

impl Desk {
    /// This workstation's token for the app, from the keyring; `None` when
    /// there is none or no keyring.
    pub(crate) async fn stored_token(&self, host: &str, slug: &Slug) -> Option<Secret> {
        let store = keyring().await?;
        let (host, slug) = (host.to_owned(), slug.to_string());
        tokio::task::spawn_blocking(move || store.app_var(&host, &slug, WORKSTATION_TOKEN).ok())
            .await
            .ok()?
    }

    /// Makes this workstation a token for the app (through the host's
    /// session) and keeps it in the keyring; without a keyring the token is
    /// for one call and revoked after it.
    pub(crate) async fn new_workstation_token(
        &self,
        host: &str,
        slug: &Slug,
    ) -> Result<CallToken, DeskError> {
        let store = keyring().await;
        let name = if store.is_some() {
            WORKSTATION_NAME
        } else {
            ONE_CALL_NAME
        };
        let made = self
            .with_session(host, async |s: &HostSession| {
                s.create_token(slug.as_str(), name).await
            })
            .await?;
        let token = Secret::new(made.token);
        let Some(store) = store else {
            return Ok(CallToken {
                token,
                one_call_id: Some(made.id),
            });
        };
        let (h, s, kept) = (host.to_owned(), slug.to_string(), token.clone());
        tokio::task::spawn_blocking(move || store.set_app_var(&h, &s, WORKSTATION_TOKEN, &kept))
            .await
            .map_err(|e| DeskError::Io {
                what: "using the OS keyring".to_owned(),
                source: std::io::Error::other(e),
            })??;
        Ok(CallToken {
            token,
            one_call_id: None,
        })
    }

    /// Makes a token for app `slug` of `host` (one SSH session).
    pub async fn create_token(
        &self,
        host: &str,
        slug: &str,
        name: &str,
    ) -> Result<NewToken, DeskError> {
        self.with_session(host, async |s: &HostSession| {
            s.create_token(slug, name).await
        })
        .await
    }

    /// The tokens of app `slug` of `host`.
    pub async fn tokens(&self, host: &str, slug: &str) -> Result<Vec<TokenView>, DeskError> {
        self.with_session(host, async |s: &HostSession| s.tokens(slug).await)
            .await
    }

    /// Revokes a token of app `slug` of `host` by id or prefix.
    pub async fn revoke_token(
        &self,
        host: &str,
        slug: &str,
        id: &str,
    ) -> Result<TokenView, DeskError> {
        self.with_session(host, async |s: &HostSession| s.revoke_token(slug, id).await)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_only_their_hash_is_kept() {
        let (token, id, hash) = generate_token().unwrap();
        assert_eq!(token.len(), 4 + 8 + 1 + 64);
        assert!(token.starts_with(&format!("rdt_{id}_")));
        assert!(check_token_id(&id).is_ok());
        assert_eq!(hash, hash_token(&token));
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(&token[13..]));
        let (other, _, _) = generate_token().unwrap();
        assert_ne!(token, other);
        // The digest start.R computes with digest::digest(token, "sha256", serialize = FALSE).
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn revocation_takes_an_id_or_the_listed_prefix() {
        assert_eq!(token_id("0123abcd").unwrap(), "0123abcd");
        assert_eq!(token_id("rdt_0123abcd_").unwrap(), "0123abcd");
        assert_eq!(token_id("rdt_0123abcd").unwrap(), "0123abcd");
        assert!(token_id("rdt_0123abcd_ffff").is_err());
        assert!(token_id("*").is_err());
    }
}
