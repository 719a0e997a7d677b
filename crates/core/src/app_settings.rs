//! What the user asks of an app's containers (limits, replicas, domain,
//! environment) turned into validated spawner [`Settings`]: whatever the
//! request leaves open is kept from the app's current containers, then the
//! defaults apply.

use rdesk_spawner::{
    AccessMode, Domain, EnvName, Settings, SettingsError, parse_allow_list, parse_memory_mb,
    parse_millicpus, parse_replicas,
};

/// Container settings as the user gives them; `None` or empty keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct SettingsRequest {
    /// `512m`, `2g`.
    pub memory: Option<String>,
    /// Number of CPUs, `0.5`, `2`.
    pub cpus: Option<String>,
    pub replicas: Option<String>,
    /// A host name of the app's own; `""` removes it.
    pub domain: Option<String>,
    /// `NAME=value` plain variables, added to (or replacing) the current ones.
    pub env: Vec<String>,
    /// Names of plain variables to drop.
    pub unset_env: Vec<String>,
    /// Names of secret variables to pass (values from the OS keyring).
    pub secrets: Vec<String>,
    /// Names of secret variables to stop passing.
    pub unset_secrets: Vec<String>,
    /// `token` or `public`.
    pub access: Option<String>,
    /// CIDRs callers must come from; replaces the current allow-list when given.
    pub allow: Vec<String>,
    /// Drops the allow-list (anyone may connect, tokens permitting).
    pub no_allow: bool,
}

/// Applies `request` on top of `current` (or the defaults).
pub fn resolve(
    request: &SettingsRequest,
    current: Option<&Settings>,
) -> Result<Settings, SettingsError> {
    let mut settings = current.cloned().unwrap_or_default();
    if let Some(m) = &request.memory {
        settings.memory_mb = parse_memory_mb(m)?;
    }
    if let Some(c) = &request.cpus {
        settings.millicpus = parse_millicpus(c)?;
    }
    if let Some(r) = &request.replicas {
        settings.replicas = parse_replicas(r)?;
    }
    match request.domain.as_deref() {
        Some("") => settings.domain = None,
        Some(d) => settings.domain = Some(Domain::parse(d)?),
        None => {}
    }
    if let Some(a) = &request.access {
        settings.access = AccessMode::parse(a)?;
    }
    if request.no_allow {
        settings.allow.clear();
    }
    if !request.allow.is_empty() {
        settings.allow = parse_allow_list(&request.allow)?;
    }
    let unset = request
        .unset_env
        .iter()
        .map(|n| EnvName::parse(n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut plain: Vec<(EnvName, String)> = settings
        .env()
        .filter(|(name, _)| !unset.contains(name))
        .map(|(name, value)| (name.clone(), value.to_owned()))
        .collect();
    let mut given: Vec<EnvName> = Vec::new();
    for pair in &request.env {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| SettingsError::EnvName(pair.clone()))?;
        let name = EnvName::parse(name)?;
        if given.contains(&name) {
            return Err(SettingsError::EnvTwice(name.as_str().to_owned()));
        }
        given.push(name.clone());
        plain.retain(|(n, _)| *n != name);
        plain.push((name, value.to_owned()));
    }
    let unset_secrets = request
        .unset_secrets
        .iter()
        .map(|n| EnvName::parse(n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut secrets: Vec<EnvName> = settings
        .secret_names()
        .iter()
        .filter(|n| !unset_secrets.contains(n))
        .cloned()
        .collect();
    for name in &request.secrets {
        let name = EnvName::parse(name)?;
        plain.retain(|(n, _)| *n != name);
        if !secrets.contains(&name) {
            secrets.push(name);
        }
    }
    settings.set_env(plain, secrets)?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_changes_only_what_it_names() {
        let first = resolve(
            &SettingsRequest {
                memory: Some("256m".into()),
                domain: Some("a.example.com".into()),
                env: vec!["MODE=fast".into(), "URL=http://x/?a=b".into()],
                ..SettingsRequest::default()
            },
            None,
        )
        .unwrap();
        assert_eq!(first.memory_mb, 256);
        assert_eq!(first.millicpus, 1000);
        let env: Vec<(String, String)> = first
            .env()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            env,
            [
                ("MODE".to_owned(), "fast".to_owned()),
                ("URL".to_owned(), "http://x/?a=b".to_owned())
            ]
        );
        let second = resolve(
            &SettingsRequest {
                cpus: Some("0.5".into()),
                domain: Some(String::new()),
                unset_env: vec!["MODE".into()],
                ..SettingsRequest::default()
            },
            Some(&first),
        )
        .unwrap();
        assert_eq!((second.memory_mb, second.millicpus), (256, 500));
        assert_eq!(second.domain, None);
        assert_eq!(second.env().count(), 1);
        let third = resolve(
            &SettingsRequest {
                secrets: vec!["URL".into(), "TOKEN".into()],
                ..SettingsRequest::default()
            },
            Some(&second),
        )
        .unwrap();
        assert_eq!(
            third.env().count(),
            0,
            "a variable turned secret is no longer plain"
        );
        assert_eq!(third.secret_names().len(), 2);
        let fourth = resolve(
            &SettingsRequest {
                unset_secrets: vec!["URL".into()],
                ..SettingsRequest::default()
            },
            Some(&third),
        )
        .unwrap();
        assert_eq!(
            fourth
                .secret_names()
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>(),
            ["TOKEN"]
        );
    }

    #[test]
    fn bad_values_are_refused_whole() {
        for (request, error) in [
            (
                SettingsRequest {
                    env: vec!["NOEQUALS".into()],
                    ..SettingsRequest::default()
                },
                SettingsError::EnvName("NOEQUALS".into()),
            ),
            (
                SettingsRequest {
                    env: vec!["A=1".into(), "A=2".into()],
                    ..SettingsRequest::default()
                },
                SettingsError::EnvTwice("A".into()),
            ),
            (
                SettingsRequest {
                    memory: Some("1k".into()),
                    ..SettingsRequest::default()
                },
                SettingsError::Memory("1k".into()),
            ),
            (
                SettingsRequest {
                    domain: Some("x`)".into()),
                    ..SettingsRequest::default()
                },
                SettingsError::Domain("x`)".into()),
            ),
        ] {
            assert_eq!(resolve(&request, None), Err(error));
        }
    }

    #[test]
    fn access_and_allow_list_change_only_when_given() {
        use rdesk_spawner::AccessMode;
        let new = resolve(&SettingsRequest::default(), None).unwrap();
        assert_eq!(new.access, AccessMode::Token, "a new app takes tokens");
        let open = resolve(
            &SettingsRequest {
                access: Some("public".into()),
                allow: vec!["10.0.0.0/8".into(), "192.0.2.7".into()],
                ..SettingsRequest::default()
            },
            Some(&new),
        )
        .unwrap();
        assert_eq!(open.access, AccessMode::Public);
        let shown: Vec<String> = open.allow.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.0.2.7/32"]);
        let kept = resolve(&SettingsRequest::default(), Some(&open)).unwrap();
        assert_eq!(kept, open);
        let dropped = resolve(
            &SettingsRequest {
                no_allow: true,
                ..SettingsRequest::default()
            },
            Some(&open),
        )
        .unwrap();
        assert!(dropped.allow.is_empty());
        assert!(
            resolve(
                &SettingsRequest {
                    access: Some("everyone".into()),
                    ..SettingsRequest::default()
                },
                None
            )
            .is_err()
        );
    }
}
