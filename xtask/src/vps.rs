//! The bare VPS stand-in (`cargo xtask standin vps up|down|status`): a
//! machine with nothing on it but sshd, for the bootstrap's end-to-end test.
//!
//! It is the network namespace `rdesk-vps`, joined to this machine by a veth
//! pair (`10.213.7.1` here, `10.213.7.2` there, no route elsewhere: no
//! internet), and inside it a private mount namespace whose `/sys` is the
//! namespace's own and whose `/run`, `/var/lib/docker`, `/var/lib/containerd`
//! and `/var/log` are folders of `.standin/vps/root/`. Its own sshd listens on
//! `10.213.7.2:22` (own host key, root by the stand-in's client key).
//!
//! No Docker is started here: the bootstrap's `install-docker.sh` finds the
//! binaries and starts `dockerd` itself inside those namespaces, so the VPS's
//! `/var/run/docker.sock` is a Docker of its own, empty at first, with its own
//! data root, bridge and iptables. Everything is stopped by pid file (sshd's,
//! and that dockerd's `/run/docker.pid`), and `down` removes the namespace.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::facts::{
    SSH_USER, SSHD, Standin, VPS_ADDR, VPS_HOST_ADDR, VPS_MARKER, VPS_NETNS, VPS_PREFIX,
    VPS_SSH_PORT, VPS_VETH, VPS_VETH_HOST, shell_quote,
};
use crate::procs;
use crate::sh;
use crate::sshd::Daemon;
use crate::ui::{self, Health, Outcome};

/// The host folders the VPS sees as its own, each over the same path there.
const PRIVATE_DIRS: &[(&str, &str)] = &[
    ("run", "/run"),
    ("docker", "/var/lib/docker"),
    ("containerd", "/var/lib/containerd"),
    ("log", "/var/log"),
];

/// One bare VPS: its namespace, the end of its link inside, its address
/// there, and its folder in `.standin/`.
pub struct Machine {
    /// Names its lines in `status`.
    pub name: &'static str,
    /// Its sshd's start log is `.standin/logs/<sshd_name>-start.log`.
    pub sshd_name: &'static str,
    pub netns: &'static str,
    /// The veth end inside the namespace.
    pub veth: &'static str,
    pub addr: &'static str,
    pub dir: PathBuf,
}

impl Machine {
    /// The bare VPS of the bootstrap tests, linked to this machine alone.
    pub fn vps(st: &Standin) -> Machine {
        Machine {
            name: "vps",
            sshd_name: "vps-sshd",
            netns: VPS_NETNS,
            veth: VPS_VETH,
            addr: VPS_ADDR,
            dir: st.vps_dir(),
        }
    }

    fn netns_path(&self) -> PathBuf {
        Path::new("/run/netns").join(self.netns)
    }
}

struct Paths {
    /// The machine's host name (its own UTS namespace), its [`Machine::name`].
    hostname: &'static str,
    sshd: Daemon,
    /// `.standin/vps/root/<name>`: what the VPS sees at [`PRIVATE_DIRS`].
    root: PathBuf,
    /// Where the host's cgroup tree is held while `/sys` is remounted.
    cgroup_stage: PathBuf,
}

impl Paths {
    fn new(m: &Machine) -> Paths {
        let dir = &m.dir;
        Paths {
            hostname: m.name,
            sshd: Daemon {
                name: m.sshd_name,
                dir: dir.join("sshd"),
                host: m.addr,
                port: VPS_SSH_PORT,
            },
            root: dir.join("root"),
            cgroup_stage: dir.join("cgroup"),
        }
    }

    fn private(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The pid file the VPS's dockerd writes at its `/var/run/docker.pid`.
    fn dockerd_pid_file(&self) -> PathBuf {
        self.private("run").join("docker.pid")
    }
}

fn sshd_config(d: &Daemon) -> String {
    let q = |path: &Path| format!("\"{}\"", path.display());
    format!(
        "# Written by `cargo xtask standin vps up`: the bare VPS's sshd.\n\
         ListenAddress {host}\n\
         Port {VPS_SSH_PORT}\n\
         HostKey {host_key}\n\
         PidFile {pid_file}\n\
         AuthorizedKeysFile {authorized_keys}\n\
         PermitRootLogin prohibit-password\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         StrictModes no\n\
         AllowStreamLocalForwarding yes\n\
         StreamLocalBindUnlink yes\n\
         MaxSessions 64\n\
         LogLevel VERBOSE\n",
        host_key = q(&d.host_key()),
        pid_file = q(&d.pid_file()),
        authorized_keys = q(&d.authorized_keys()),
        host = d.host,
    )
}

/// The script run by `unshare --mount --uts` inside the network namespace:
/// the machine's own host name (so a swarm's nodes tell apart), its own
/// `/sys` (with the host's cgroup tree put back under it), its private
/// folders, then sshd, which detaches and keeps the namespaces.
fn enter_script(p: &Paths) -> String {
    let q = |path: &Path| shell_quote(&path.display().to_string());
    let stage = q(&p.cgroup_stage);
    let mut lines = vec![
        "set -eu".to_owned(),
        format!("hostname {}", p.hostname),
        format!("mount --rbind /sys/fs/cgroup {stage}"),
        "mount -t sysfs sysfs /sys".to_owned(),
        format!("mount --rbind {stage} /sys/fs/cgroup"),
        format!("umount -l {stage}"),
    ];
    for (name, there) in PRIVATE_DIRS {
        lines.push(format!("mkdir -p {there}"));
        lines.push(format!("mount --bind {} {there}", q(&p.private(name))));
    }
    lines.push("mkdir -p /run/sshd".to_owned());
    lines.push(format!(
        "exec {SSHD} -f {} -E {}",
        q(&p.sshd.config()),
        q(&p.sshd.log())
    ));
    lines.join("\n") + "\n"
}

pub fn ip(args: &[&str]) -> Result<String> {
    sh::capture(Command::new("ip").args(args))
}

/// The veth end `dev` in namespace `netns` (this machine's with `None`) is
/// up with `addr/prefix`.
pub fn has_addr(netns: Option<&str>, dev: &str, addr: &str, prefix: u8) -> bool {
    let mut args = Vec::new();
    if let Some(netns) = netns {
        args.extend(["-n", netns]);
    }
    args.extend(["-br", "addr", "show", "dev", dev]);
    let line = ip(&args).unwrap_or_default();
    line.contains(&format!("{addr}/{prefix}"))
        && line.split_whitespace().nth(1).is_none_or(|s| s != "DOWN")
}

/// Both ends of the bare VPS's veth pair are up with their addresses.
fn link_ready() -> bool {
    has_addr(None, VPS_VETH_HOST, VPS_HOST_ADDR, VPS_PREFIX)
        && has_addr(Some(VPS_NETNS), VPS_VETH, VPS_ADDR, VPS_PREFIX)
}

/// The namespace `m.netns` exists and has a veth pair whose end `m.veth` is
/// in it and whose other end, `outside`, is in `outside_netns` (this
/// machine's with `None`); addresses are the caller's.
pub fn veth_up(m: &Machine, outside: &str, outside_netns: Option<&str>) -> Result<()> {
    if !m.netns_path().exists() {
        ip(&["netns", "add", m.netns])?;
    }
    let mut show = Vec::new();
    if let Some(netns) = outside_netns {
        show.extend(["-n", netns]);
    }
    show.extend(["link", "show", outside]);
    if ip(&show).is_err() {
        let mut add = Vec::new();
        if let Some(netns) = outside_netns {
            add.extend(["-n", netns]);
        }
        add.extend([
            "link", "add", outside, "type", "veth", "peer", "name", m.veth, "netns", m.netns,
        ]);
        ip(&add)?;
    }
    ip(&["-n", m.netns, "link", "set", "lo", "up"])?;
    Ok(())
}

fn network_up(m: &Machine) -> Result<Outcome> {
    if m.netns_path().exists() && link_ready() {
        return ui::already(format!(
            "netns {VPS_NETNS}, {VPS_VETH_HOST} {VPS_HOST_ADDR} <-> {VPS_VETH} {VPS_ADDR}"
        ));
    }
    veth_up(m, VPS_VETH_HOST, None)?;
    let here = format!("{VPS_HOST_ADDR}/{VPS_PREFIX}");
    let there = format!("{VPS_ADDR}/{VPS_PREFIX}");
    ip(&["addr", "replace", &here, "dev", VPS_VETH_HOST])?;
    ip(&["link", "set", VPS_VETH_HOST, "up"])?;
    ip(&["-n", VPS_NETNS, "addr", "replace", &there, "dev", VPS_VETH])?;
    ip(&["-n", VPS_NETNS, "link", "set", VPS_VETH, "up"])?;
    if !link_ready() {
        bail!("the veth pair {VPS_VETH_HOST}/{VPS_VETH} did not come up with its addresses");
    }
    ui::done(format!(
        "netns {VPS_NETNS}, {VPS_VETH_HOST} {here} <-> {VPS_VETH} {there}"
    ))
}

/// The machine's dockerd (started by a bootstrap), if it runs.
fn dockerd(p: &Paths) -> Option<u32> {
    procs::running(&p.dockerd_pid_file(), "dockerd")
}

/// Stops the machine's dockerd by its pid file; its containers stop with it.
fn stop_dockerd(p: &Paths) -> Result<Option<u32>> {
    let Some(pid) = dockerd(p) else {
        return Ok(None);
    };
    procs::stop(pid, "dockerd", Duration::from_secs(45))?;
    Ok(Some(pid))
}

fn sshd_up(st: &Standin, m: &Machine) -> Result<Outcome> {
    let p = Paths::new(m);
    fs::create_dir_all(&p.cgroup_stage)?;
    for (name, _) in PRIVATE_DIRS {
        fs::create_dir_all(p.private(name))?;
    }
    fs::write(
        p.private("docker").join(VPS_MARKER),
        "the bare VPS stand-in's Docker\n",
    )?;
    let script = enter_script(&p);
    let mut launch = Command::new("nsenter");
    launch
        .arg(format!("--net={}", m.netns_path().display()))
        .args([
            "unshare",
            "--mount",
            "--uts",
            "--propagation",
            "private",
            "sh",
            "-c",
        ])
        .arg(&script)
        .env("PATH", sh::system_path());
    // A dockerd left in the old mount namespace would not be seen by the new
    // sshd's sessions, which would start a second one on the same data root.
    let stop_old_dockerd = || {
        if let Some(pid) = stop_dockerd(&p)? {
            ui::note(format!(
                "stopped {}'s dockerd pid {pid} (its namespace goes)",
                m.name
            ));
        }
        Ok(())
    };
    p.sshd.up(
        st,
        &sshd_config(&p.sshd),
        &script,
        &mut launch,
        stop_old_dockerd,
    )
}

/// What a login on the machine must see: its own network and Docker
/// folder, and the Docker binaries.
fn look_around(m: &Machine) -> String {
    format!(
        "test -e /sys/class/net/{veth} && ! test -e /sys/class/net/{VPS_VETH_HOST} \
         && test -e /var/lib/docker/{VPS_MARKER} \
         && command -v dockerd >/dev/null && command -v docker >/dev/null && echo ok",
        veth = m.veth
    )
}

fn login_check(st: &Standin, m: &Machine) -> Result<Outcome> {
    let p = Paths::new(m);
    let mut ssh = p.sshd.ssh(st);
    ssh.arg(format!("{SSH_USER}@{}", m.addr))
        .arg(look_around(m));
    let seen = sh::capture(&mut ssh)
        .with_context(|| format!("logging in to the stand-in {} failed", m.name))?;
    if seen != "ok" {
        bail!(
            "a login on {} does not see its own namespaces: {seen}",
            m.name
        );
    }
    let docker = match dockerd(&p) {
        Some(pid) => format!("its dockerd runs, pid {pid}"),
        None => "no Docker running (a bootstrap starts it)".to_owned(),
    };
    ui::done(format!(
        "ssh {SSH_USER}@{} sees its own /sys, /var/lib/docker; {docker}",
        m.addr
    ))
}

/// A machine's sshd, then the check that a login is inside its namespaces
/// (its network is the caller's).
pub fn machine_up(st: &Standin, m: &Machine) -> Result<()> {
    ui::step(&format!("{} sshd", m.name), || sshd_up(st, m))?;
    ui::step(
        &format!("check: a login on {} is in its namespaces", m.name),
        || login_check(st, m),
    )
}

/// Stops a machine's dockerd and sshd, then removes its namespace (and the
/// veth pair with it; `outside`, this machine's end, is deleted first).
pub fn machine_down(m: &Machine, outside: Option<&str>) -> Result<()> {
    let p = Paths::new(m);
    ui::step(&format!("{} dockerd", m.name), || match stop_dockerd(&p)? {
        Some(pid) => ui::done(format!("stopped dockerd pid {pid}")),
        None => ui::already("not running"),
    })?;
    ui::step(&format!("{} sshd", m.name), || p.sshd.down())?;
    ui::step(&format!("{} network namespace", m.name), || {
        if let Some(dev) = outside
            && ip(&["link", "show", dev]).is_ok()
        {
            ip(&["link", "del", dev])?;
        }
        remove_netns(m.netns)
    })
}

/// Removes a namespace of ours; its veth ends go with it.
pub fn remove_netns(netns: &str) -> Result<Outcome> {
    if !Path::new("/run/netns").join(netns).exists() {
        return ui::already("no namespace");
    }
    let left = ip(&["netns", "pids", netns]).unwrap_or_default();
    if !left.is_empty() {
        ui::note(format!(
            "processes still in {netns} (not started by xtask's pid files; left alone): {}",
            left.split_whitespace().collect::<Vec<_>>().join(" ")
        ));
    }
    ip(&["netns", "del", netns])?;
    ui::done(format!("removed {netns}"))
}

pub fn up(st: &Standin) -> Result<()> {
    let m = Machine::vps(st);
    ui::step("VPS network namespace", || network_up(&m))?;
    machine_up(st, &m)
}

pub fn down(st: &Standin) -> Result<()> {
    machine_down(&Machine::vps(st), Some(VPS_VETH_HOST))
}

/// A machine's sshd and dockerd, for `standin status` (its network is the caller's).
pub fn machine_status(m: &Machine) -> [Health; 2] {
    let p = Paths::new(m);
    let docker = match dockerd(&p) {
        Some(pid) => ui::healthy(format!("pid {pid} (started by a bootstrap)")),
        None => ui::healthy("not running (a bootstrap starts it)"),
    };
    [p.sshd.status(), docker]
}

/// One line per part for `standin status`.
pub fn status(st: &Standin) -> Vec<(&'static str, Health)> {
    let m = Machine::vps(st);
    let network = if !m.netns_path().exists() {
        ui::unhealthy(format!("no netns {VPS_NETNS}"))
    } else if link_ready() {
        ui::healthy(format!("netns {VPS_NETNS}, {VPS_ADDR}/{VPS_PREFIX}"))
    } else {
        ui::unhealthy(format!("netns {VPS_NETNS} without its veth addresses"))
    };
    let [sshd, docker] = machine_status(&m);
    vec![
        ("vps network", network),
        ("vps sshd", sshd),
        ("vps dockerd", docker),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vps_sshd_listens_on_its_own_address() {
        let st = Standin::at(PathBuf::from("/r"));
        let text = sshd_config(&Paths::new(&Machine::vps(&st)).sshd);
        for line in [
            "ListenAddress 10.213.7.2",
            "Port 22",
            "AllowStreamLocalForwarding yes",
            "PermitRootLogin prohibit-password",
            "PidFile \"/r/.standin/vps/sshd/sshd.pid\"",
            "HostKey \"/r/.standin/vps/sshd/ssh_host_ed25519_key\"",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn the_namespace_gets_its_own_sys_and_private_folders_then_sshd() {
        let st = Standin::at(PathBuf::from("/my repo"));
        let script = enter_script(&Paths::new(&Machine::vps(&st)));
        assert_eq!(
            script,
            "set -eu\n\
             hostname vps\n\
             mount --rbind /sys/fs/cgroup '/my repo/.standin/vps/cgroup'\n\
             mount -t sysfs sysfs /sys\n\
             mount --rbind '/my repo/.standin/vps/cgroup' /sys/fs/cgroup\n\
             umount -l '/my repo/.standin/vps/cgroup'\n\
             mkdir -p /run\n\
             mount --bind '/my repo/.standin/vps/root/run' /run\n\
             mkdir -p /var/lib/docker\n\
             mount --bind '/my repo/.standin/vps/root/docker' /var/lib/docker\n\
             mkdir -p /var/lib/containerd\n\
             mount --bind '/my repo/.standin/vps/root/containerd' /var/lib/containerd\n\
             mkdir -p /var/log\n\
             mount --bind '/my repo/.standin/vps/root/log' /var/log\n\
             mkdir -p /run/sshd\n\
             exec /usr/sbin/sshd -f '/my repo/.standin/vps/sshd/sshd_config' -E '/my repo/.standin/vps/sshd/sshd.log'\n"
        );
        assert_eq!(
            Paths::new(&Machine::vps(&st)).dockerd_pid_file(),
            PathBuf::from("/my repo/.standin/vps/root/run/docker.pid")
        );
    }
}
