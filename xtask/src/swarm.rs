//! The swarm stand-in (`cargo xtask standin swarm up|down|status`): three
//! bare VPSs (`node1`..`node3`, as `vps.rs` makes one) on one LAN, for the
//! cluster's end-to-end tests. The product makes them a swarm; nothing here
//! starts Docker.
//!
//! The LAN is a bridge in a namespace of its own (`rdesk-lan`), so this
//! machine's firewall (Docker's `FORWARD` policy drops bridged traffic) never
//! sees the nodes' traffic to each other: swarm's control port, gossip and
//! VXLAN between nodes stay on that bridge. This machine joins the LAN at
//! 10.213.8.1 to reach the nodes' sshd and Traefik; the nodes have no route
//! elsewhere (no internet).
//!
//! Each node also has its slow path: a relay on 127.0.0.1 in front of its
//! sshd (`slowpath.rs`), started after its sshd and stopped before it.

use anyhow::{Result, bail};

use crate::facts::{
    LAN_BRIDGE, LAN_HOST_ADDR, LAN_NETNS, LAN_PREFIX, LAN_UPLINK, LAN_VETH_HOST, SWARM_NODES,
    Standin, SwarmNode,
};
use crate::slowpath::SlowPath;
use crate::ui::{self, Health, Outcome};
use crate::vps::{self, Machine, has_addr, ip};

fn machine(st: &Standin, node: &SwarmNode) -> Machine {
    Machine {
        name: node.name,
        sshd_name: node.sshd_name,
        netns: node.netns,
        veth: node.veth,
        addr: node.addr,
        dir: st.swarm_dir().join(node.name),
    }
}

fn lan_exists() -> bool {
    std::path::Path::new("/run/netns").join(LAN_NETNS).exists()
}

/// The bridge is up in its namespace, with this machine on it at its address.
fn lan_ready() -> bool {
    lan_exists()
        && ip(&["-n", LAN_NETNS, "-br", "link", "show", LAN_BRIDGE])
            .is_ok_and(|line| line.contains("UP"))
        && has_addr(None, LAN_VETH_HOST, LAN_HOST_ADDR, LAN_PREFIX)
}

fn lan_up() -> Result<Outcome> {
    if lan_ready() {
        return ui::already(format!(
            "netns {LAN_NETNS}, bridge {LAN_BRIDGE}, {LAN_VETH_HOST} {LAN_HOST_ADDR}"
        ));
    }
    if !lan_exists() {
        ip(&["netns", "add", LAN_NETNS])?;
    }
    if ip(&["-n", LAN_NETNS, "link", "show", LAN_BRIDGE]).is_err() {
        ip(&["-n", LAN_NETNS, "link", "add", LAN_BRIDGE, "type", "bridge"])?;
    }
    ip(&["-n", LAN_NETNS, "link", "set", LAN_BRIDGE, "up"])?;
    if ip(&["link", "show", LAN_VETH_HOST]).is_err() {
        ip(&[
            "link",
            "add",
            LAN_VETH_HOST,
            "type",
            "veth",
            "peer",
            "name",
            LAN_UPLINK,
            "netns",
            LAN_NETNS,
        ])?;
    }
    ip(&[
        "-n", LAN_NETNS, "link", "set", LAN_UPLINK, "master", LAN_BRIDGE,
    ])?;
    ip(&["-n", LAN_NETNS, "link", "set", LAN_UPLINK, "up"])?;
    let here = format!("{LAN_HOST_ADDR}/{LAN_PREFIX}");
    ip(&["addr", "replace", &here, "dev", LAN_VETH_HOST])?;
    ip(&["link", "set", LAN_VETH_HOST, "up"])?;
    if !lan_ready() {
        bail!("the LAN {LAN_NETNS}/{LAN_BRIDGE} did not come up with {here} on {LAN_VETH_HOST}");
    }
    ui::done(format!(
        "netns {LAN_NETNS}, bridge {LAN_BRIDGE}, {LAN_VETH_HOST} {here}"
    ))
}

fn node_link_ready(node: &SwarmNode) -> bool {
    has_addr(Some(node.netns), node.veth, node.addr, LAN_PREFIX)
        && ip(&["-n", LAN_NETNS, "-br", "link", "show", node.name])
            .is_ok_and(|line| line.split_whitespace().nth(1) == Some("UP"))
}

fn node_network_up(st: &Standin, node: &SwarmNode) -> Result<Outcome> {
    if node_link_ready(node) {
        return ui::already(format!("netns {}, {} on the LAN", node.netns, node.addr));
    }
    vps::veth_up(&machine(st, node), node.name, Some(LAN_NETNS))?;
    ip(&[
        "-n", LAN_NETNS, "link", "set", node.name, "master", LAN_BRIDGE,
    ])?;
    ip(&["-n", LAN_NETNS, "link", "set", node.name, "up"])?;
    let addr = format!("{}/{LAN_PREFIX}", node.addr);
    ip(&["-n", node.netns, "addr", "replace", &addr, "dev", node.veth])?;
    ip(&["-n", node.netns, "link", "set", node.veth, "up"])?;
    if !node_link_ready(node) {
        bail!("{} did not come up on the LAN at {addr}", node.name);
    }
    ui::done(format!("netns {}, {addr} on {LAN_BRIDGE}", node.netns))
}

pub fn up(st: &Standin) -> Result<()> {
    ui::step("swarm LAN", lan_up)?;
    for node in &SWARM_NODES {
        ui::step(&format!("{} network namespace", node.name), || {
            node_network_up(st, node)
        })?;
        vps::machine_up(st, &machine(st, node))?;
        ui::step(&format!("{} slow relay", node.name), || {
            SlowPath::swarm_node(st, node).up()
        })?;
    }
    Ok(())
}

pub fn down(st: &Standin) -> Result<()> {
    for node in &SWARM_NODES {
        ui::step(&format!("{} slow relay", node.name), || {
            SlowPath::swarm_node(st, node).down()
        })?;
        vps::machine_down(&machine(st, node), None)?;
    }
    ui::step("swarm LAN", || {
        if ip(&["link", "show", LAN_VETH_HOST]).is_ok() {
            ip(&["link", "del", LAN_VETH_HOST])?;
        }
        vps::remove_netns(LAN_NETNS)
    })
}

/// One line per part for `standin status`.
pub fn status(st: &Standin) -> Vec<(String, Health)> {
    let lan = if lan_ready() {
        ui::healthy(format!(
            "{LAN_BRIDGE} in {LAN_NETNS}, {LAN_HOST_ADDR}/{LAN_PREFIX}"
        ))
    } else {
        ui::unhealthy(format!(
            "no bridge {LAN_BRIDGE} in {LAN_NETNS} with this machine on it"
        ))
    };
    let mut lines = vec![("swarm lan".to_owned(), lan)];
    for node in &SWARM_NODES {
        let network = if node_link_ready(node) {
            ui::healthy(format!("netns {}, {}/{LAN_PREFIX}", node.netns, node.addr))
        } else {
            ui::unhealthy(format!("netns {} is not on the LAN", node.netns))
        };
        let [sshd, docker] = vps::machine_status(&machine(st, node));
        lines.push((format!("{} network", node.name), network));
        lines.push((format!("{} sshd", node.name), sshd));
        lines.push((format!("{} dockerd", node.name), docker));
        lines.push((
            format!("{} slow relay", node.name),
            SlowPath::swarm_node(st, node).status(),
        ));
    }
    lines
}
