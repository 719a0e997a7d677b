//! Deploys the `.R` files of a folder as an app on the local Docker Engine:
//! `cargo run -p rdesk-spawner --example deploy -- FOLDER SLUG R_VERSION [NETWORK]`.

use rdesk_spawner::{
    AppFile, AppSpec, DeployEvent, DockerConfig, DockerSpawner, Environment, Mode, RVersion, Slug,
    Spawner,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [folder, slug, r_version, rest @ ..] = args.as_slice() else {
        return Err("usage: deploy FOLDER SLUG R_VERSION [NETWORK]".into());
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "R") {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            files.push(AppFile::new(&name, std::fs::read(&path)?)?);
        }
    }
    let spec = AppSpec::new(
        Slug::parse(slug)?,
        format!("example-{slug}"),
        RVersion::parse(r_version)?,
        Environment::default(),
        Mode::Ocap,
        files,
    )?;
    let docker = bollard::Docker::connect_with_unix_defaults()?
        .negotiate_version()
        .await?;
    let network = rest.first().map_or("rserve-desk", String::as_str);
    let spawner = DockerSpawner::new(docker, DockerConfig::new(network));
    let deployed = spawner
        .deploy(&spec, &|event| match event {
            DeployEvent::Step(s) => println!("==> {s}"),
            DeployEvent::BuildLog(l) => println!("    {l}"),
        })
        .await?;
    println!("{deployed:#?}");
    Ok(())
}
