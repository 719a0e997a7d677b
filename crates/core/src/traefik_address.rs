//! Where a host's Traefik serves its private entry points (dashboard, API,
//! ping, metrics), as the host itself reaches them: its 127.0.0.1 when
//! Traefik runs on the host's network (one host, as the bootstrap runs it),
//! else the container's address on the walled bridge (a cluster's manager,
//! where the private entry points listen at that address only, or a host
//! bootstrapped before the walls).

use bollard::models::EndpointSettings;
use bollard::query_parameters::InspectContainerOptions;

use crate::bootstrap::NETWORK;
use crate::host::Connection;

/// The address of `container`'s private entry points as the host reaches
/// them; `None` when there is no such container or it has no address.
pub(crate) async fn private_address(connection: &Connection, container: &str) -> Option<String> {
    let inspected = connection
        .docker()
        .inspect_container(container, None::<InspectContainerOptions>)
        .await
        .ok()?;
    let host_network = inspected
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.as_deref())
        == Some("host");
    if host_network {
        return Some("127.0.0.1".to_owned());
    }
    let networks = inspected.network_settings?.networks?;
    // A cluster's Traefik is on each app's overlay too, where its private
    // entry points do not listen.
    let address = |n: &EndpointSettings| n.ip_address.clone().filter(|ip| !ip.is_empty());
    match networks.get(NETWORK) {
        Some(bridge) => address(bridge),
        None => networks.values().find_map(address),
    }
}
