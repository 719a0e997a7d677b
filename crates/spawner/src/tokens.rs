//! An app's tokens as the host keeps them: only what verifies a token (its
//! id, the SHA-256 of the whole token, when it was made and a name), one
//! tab-separated line each in the `tokens` file of the app's access volume,
//! which its containers mount read-only and `start.R` reads at every login.
//! The file is written through the Docker API alone: a helper container
//! that never starts mounts the volume, takes the new file as an archive, and
//! is removed (and a helper a killed process left behind goes with the
//! app). Tokens themselves never reach the host, a label or a log.

use bollard::models::{ContainerCreateBody, HostConfig, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures_util::TryStreamExt;

use crate::docker::DockerSpawner;
use crate::error::{SpawnError, TokenError, is_not_found};
use crate::labels;
use crate::spec::Slug;

/// What the host keeps of one token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenRecord {
    /// 8 lower-case hex digits, also the token's visible prefix (`rdt_<id>_…`).
    pub id: String,
    /// SHA-256 of the whole token, 64 lower-case hex digits.
    #[serde(skip)]
    pub hash: String,
    /// Unix milliseconds.
    pub created_ms: i64,
    pub name: String,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks a token id (8 lower-case hex digits).
pub fn check_token_id(id: &str) -> Result<(), TokenError> {
    if is_hex(id, 8) {
        Ok(())
    } else {
        Err(TokenError::Id(id.to_owned()))
    }
}

/// Checks a token's name: short, printable, and free of the file's separators.
pub fn check_token_name(name: &str) -> Result<(), TokenError> {
    let ok = (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" ._-@".contains(&b))
        && name.trim() == name;
    if ok {
        Ok(())
    } else {
        Err(TokenError::Name(name.to_owned()))
    }
}

impl TokenRecord {
    fn line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\n",
            self.id, self.hash, self.created_ms, self.name
        )
    }

    fn from_line(line: &str) -> Option<Self> {
        let mut fields = line.split('\t');
        let record = Self {
            id: fields.next()?.to_owned(),
            hash: fields.next()?.to_owned(),
            created_ms: fields.next()?.parse().ok()?,
            name: fields.next()?.to_owned(),
        };
        let valid = check_token_id(&record.id).is_ok()
            && is_hex(&record.hash, 64)
            && check_token_name(&record.name).is_ok();
        valid.then_some(record)
    }
}

/// The tokens file's records; lines that are not records are skipped.
pub(crate) fn parse_file(text: &str) -> Vec<TokenRecord> {
    text.lines().filter_map(TokenRecord::from_line).collect()
}

/// `records` with `record` in place of any of its id.
pub(crate) fn with_record(records: &mut Vec<TokenRecord>, record: TokenRecord) {
    records.retain(|r| r.id != record.id);
    records.push(record);
}

/// Takes the record with `id` out of `records`, if there is one.
pub(crate) fn without_record(records: &mut Vec<TokenRecord>, id: &str) -> Option<TokenRecord> {
    let at = records.iter().position(|r| r.id == id)?;
    Some(records.remove(at))
}

/// The file's text for `records`.
pub(crate) fn render_file(records: &[TokenRecord]) -> String {
    records.iter().map(TokenRecord::line).collect()
}

/// A change of an app's token records, applied where they are kept.
pub type TokenChange<'a> = Box<dyn for<'r> FnOnce(&'r mut Vec<TokenRecord>) + Send + 'a>;

/// Where a backend keeps an app's tokens (one host: the access volume's
/// file; a swarm: a config every task mounts). Adding and revoking are
/// each one change of the records, the same for both.
#[async_trait::async_trait]
pub trait TokenKeeper: Sync {
    /// The app's tokens, oldest first.
    async fn tokens(&self, slug: &Slug) -> Result<Vec<TokenRecord>, SpawnError>;

    /// Applies `change` to the app's records and keeps the result, which
    /// the app accepts from its next login on.
    async fn change_tokens(
        &self,
        slug: &Slug,
        change: TokenChange<'_>,
    ) -> Result<Vec<TokenRecord>, SpawnError>;

    /// Adds a token's record.
    async fn add_token(&self, slug: &Slug, record: TokenRecord) -> Result<(), SpawnError> {
        self.change_tokens(slug, Box::new(|records| with_record(records, record)))
            .await
            .map(|_| ())
    }

    /// Removes the token with this id; `None` when the app has no such token.
    /// Connections already logged in keep going; no new login accepts it.
    async fn revoke_token(&self, slug: &Slug, id: &str) -> Result<Option<TokenRecord>, SpawnError> {
        let mut revoked = None;
        self.change_tokens(
            slug,
            Box::new(|records| revoked = without_record(records, id)),
        )
        .await?;
        Ok(revoked)
    }
}

#[async_trait::async_trait]
impl TokenKeeper for DockerSpawner {
    async fn tokens(&self, slug: &Slug) -> Result<Vec<TokenRecord>, SpawnError> {
        let helper = self.access_helper(slug).await?;
        let read = self.read_tokens_file(&helper).await;
        self.remove_container(&helper).await?;
        read
    }

    async fn change_tokens(
        &self,
        slug: &Slug,
        change: TokenChange<'_>,
    ) -> Result<Vec<TokenRecord>, SpawnError> {
        let helper = self.access_helper(slug).await?;
        let result = async {
            let mut records = self.read_tokens_file(&helper).await?;
            change(&mut records);
            self.write_tokens_file(&helper, &records).await?;
            Ok(records)
        }
        .await;
        self.remove_container(&helper).await?;
        result
    }
}

/// Where the helper container mounts the volume (read-write).
const HELPER_MOUNT: &str = "/access";
const TOKENS_FILE: &str = "tokens";

impl DockerSpawner {
    /// Creates the app's access volume, labelled as ours; an existing one is kept.
    pub(crate) async fn ensure_access_volume(&self, slug: &Slug) -> Result<(), SpawnError> {
        self.docker
            .create_volume(VolumeCreateRequest {
                name: Some(labels::access_volume(slug)),
                labels: Some(labels::access_volume_labels(slug)),
                ..Default::default()
            })
            .await
            .map_err(SpawnError::docker("create the app's access volume"))?;
        Ok(())
    }

    /// Removes the app's access volume (its containers must be gone).
    pub(crate) async fn remove_access_volume(&self, slug: &Slug) -> Result<(), SpawnError> {
        let options = RemoveVolumeOptionsBuilder::default().force(true).build();
        match self
            .docker
            .remove_volume(&labels::access_volume(slug), Some(options))
            .await
        {
            Err(e) if !is_not_found(&e) => {
                Err(SpawnError::docker("remove the app's access volume")(e))
            }
            _ => Ok(()),
        }
    }

    /// Removes the helpers of app `slug`'s tokens that a process killed in
    /// the middle of a token change left behind (one would keep the app's
    /// image and access volume from being removed).
    pub(crate) async fn remove_access_helpers(&self, slug: &Slug) -> Result<(), SpawnError> {
        let helpers = self
            .containers_in_role(labels::Role::Access, &[(labels::SLUG, slug.as_str())])
            .await?;
        for helper in helpers {
            self.remove_container(&helper.id.unwrap_or_default())
                .await?;
        }
        Ok(())
    }

    /// A container that never starts, with the app's access volume mounted
    /// read-write, made from the app's own image (which the host has).
    async fn access_helper(&self, slug: &Slug) -> Result<String, SpawnError> {
        let image = self
            .containers(labels::SLUG, slug.as_str())
            .await?
            .into_iter()
            .find_map(|c| c.image_id)
            .ok_or_else(|| SpawnError::NotFound(slug.to_string()))?;
        self.ensure_access_volume(slug).await?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let name = format!("rserve-desk-access-{slug}-{:x}", stamp % 0xffff_ffff);
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                ContainerCreateBody {
                    image: Some(image),
                    labels: Some(labels::access_volume_labels(slug)),
                    network_disabled: Some(true),
                    host_config: Some(HostConfig {
                        binds: Some(vec![format!(
                            "{}:{HELPER_MOUNT}",
                            labels::access_volume(slug)
                        )]),
                        network_mode: Some("none".to_owned()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )
            .await
            .map_err(SpawnError::docker("create a helper for the app's tokens"))?;
        Ok(created.id)
    }

    async fn read_tokens_file(&self, helper: &str) -> Result<Vec<TokenRecord>, SpawnError> {
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(&format!("{HELPER_MOUNT}/{TOKENS_FILE}"))
            .build();
        let archive: Vec<u8> = match self
            .docker
            .download_from_container(helper, Some(options))
            .map_ok(|chunk| chunk.to_vec())
            .try_concat()
            .await
        {
            Ok(bytes) => bytes,
            Err(e) if is_not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(SpawnError::docker("read the app's tokens")(e)),
        };
        let unreadable = |e: std::io::Error| SpawnError::Unreadable {
            what: "archive of the app's tokens".to_owned(),
            value: e.to_string(),
        };
        let mut text = String::new();
        let mut tar = tar::Archive::new(archive.as_slice());
        for entry in tar.entries().map_err(unreadable)? {
            let mut entry = entry.map_err(unreadable)?;
            std::io::Read::read_to_string(&mut entry, &mut text).map_err(unreadable)?;
        }
        Ok(parse_file(&text))
    }

    async fn write_tokens_file(
        &self,
        helper: &str,
        records: &[TokenRecord],
    ) -> Result<(), SpawnError> {
        let text = render_file(records);
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        // Readable by the app's user; hashes only.
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_cksum();
        let mut tar = tar::Builder::new(Vec::new());
        tar.append_data(&mut header, TOKENS_FILE, text.as_bytes())
            .map_err(SpawnError::PackTokens)?;
        let archive = tar.into_inner().map_err(SpawnError::PackTokens)?;
        let options = UploadToContainerOptionsBuilder::default()
            .path(HELPER_MOUNT)
            .build();
        self.docker
            .upload_to_container(helper, Some(options), bollard::body_full(archive.into()))
            .await
            .map_err(SpawnError::docker("write the app's tokens"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str) -> TokenRecord {
        TokenRecord {
            id: id.to_owned(),
            hash: "ab".repeat(32),
            created_ms: 1_700_000_000_000,
            name: name.to_owned(),
        }
    }

    #[test]
    fn the_file_keeps_records_and_skips_anything_else() {
        let records = vec![record("0123abcd", "laptop"), record("deadbeef", "ci bot")];
        let text = render_file(&records);
        assert_eq!(
            text.lines().next().unwrap(),
            format!("0123abcd\t{}\t1700000000000\tlaptop", "ab".repeat(32))
        );
        assert_eq!(parse_file(&text), records);
        let noisy = format!("garbage\n{text}0123abcd\tshort\t1\tx\n");
        assert_eq!(parse_file(&noisy), records);
    }

    #[test]
    fn names_and_ids_cannot_break_the_file() {
        assert!(check_token_name("laptop of ana@home").is_ok());
        for bad in ["", " x", "a\tb", "a\nb", &"x".repeat(41), "ü"] {
            assert!(check_token_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_token_id("0123abcd").is_ok());
        for bad in ["0123ABCD", "0123abc", "0123abcde", "rdt_0123"] {
            assert!(check_token_id(bad).is_err(), "{bad:?}");
        }
        assert!(
            !serde_json::to_string(&record("0123abcd", "x"))
                .unwrap()
                .contains("abab"),
            "the hash stays out of what is shown"
        );
    }
}
