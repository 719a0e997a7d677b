//! The runner against a fake host that keeps Docker's state in memory:
//! skip logic, re-runs, interruption and refusal, without SSH.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::filter::{FILTER_IMAGE, filter_hash};
use super::plan::plan_with;
use super::run::{BootstrapError, CmdOutput, ImageSender, Remote, Role, run_with};
use super::{BootstrapOptions, RemoteCommand, StepEvent, StepState};

const BOOKWORM: &str =
    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n";

#[derive(Default)]
struct State {
    os_release: String,
    docker: bool,
    /// The apps' network: (owner label, enable_icc option).
    network: Option<(String, String)>,
    build_network: bool,
    /// App containers of ours: id -> the networks they are on.
    apps: Vec<(String, Vec<String>)>,
    /// Containers by name: (config hash, running).
    containers: HashMap<String, (String, bool)>,
    /// tag -> config hash
    images: HashMap<String, String>,
    /// Fails the command whose display starts with this, once.
    fail_once: Option<String>,
    log: Vec<String>,
}

struct FakeHost(Mutex<State>);

impl FakeHost {
    fn new(os_release: &str) -> FakeHost {
        FakeHost(Mutex::new(State {
            os_release: os_release.to_owned(),
            ..State::default()
        }))
    }

    fn log(&self) -> Vec<String> {
        self.0.lock().unwrap().log.clone()
    }

    fn answer(&self, cmd: &RemoteCommand) -> CmdOutput {
        let mut st = self.0.lock().unwrap();
        let line = cmd.display();
        st.log.push(line.clone());
        if st.fail_once.as_ref().is_some_and(|f| line.starts_with(f)) {
            st.fail_once = None;
            return out(137, "", "killed");
        }
        let a: Vec<&str> = cmd.argv.iter().map(String::as_str).collect();
        let label = |key: &str| {
            a.iter()
                .find_map(|x| x.strip_prefix(key))
                .unwrap_or_default()
                .to_owned()
        };
        let on_network = |st: &State| -> Vec<String> {
            st.apps
                .iter()
                .filter(|(_, nets)| nets.iter().any(|n| n == "rserve-desk"))
                .map(|(id, _)| id.clone())
                .collect()
        };
        match a.as_slice() {
            ["sh", "-c", _] => out(
                0,
                &format!(
                    "{}--rserve-desk--\nx86_64\n1000\ndeploy\nsudo\n",
                    st.os_release
                ),
                "",
            ),
            ["sh", "-s", "--", "--check"] if st.docker => out(0, "rserve-desk: already there", ""),
            ["sh", "-s", "--", "--check"] => out(1, "rserve-desk: to do: install docker.io", ""),
            ["sh", "-s"] => {
                st.docker = true;
                out(0, "rserve-desk: installed\nrserve-desk: done", "")
            }
            ["docker", "version", ..] if st.docker => out(0, "24.0.5", ""),
            ["docker", "version", ..] => out(127, "", "docker: not found"),
            [
                "docker",
                "network",
                "inspect",
                "--format",
                format,
                "rserve-desk",
            ] => match &st.network {
                Some(_) if format.starts_with("{{range") => {
                    out(0, &format!("{} \n", on_network(&st).join(" ")), "")
                }
                Some((owner, icc)) => out(0, &format!("{owner} {icc}\n"), ""),
                None => out(1, "", "Error: No such network"),
            },
            ["docker", "network", "inspect", _, _, "rserve-desk-build"] if st.build_network => {
                out(0, "rserve-desk\n", "")
            }
            ["docker", "network", "inspect", ..] => out(1, "", "Error: No such network"),
            ["docker", "network", "create", .., "rserve-desk"] if st.network.is_none() => {
                st.network = Some((
                    "rserve-desk".into(),
                    label("com.docker.network.bridge.enable_icc="),
                ));
                out(0, "f00d", "")
            }
            ["docker", "network", "create", .., "rserve-desk-build"] => {
                st.build_network = true;
                out(0, "b00d", "")
            }
            [
                "docker",
                "network",
                "disconnect",
                "--force",
                "rserve-desk",
                id,
            ] => {
                for (app, nets) in &mut st.apps {
                    if app == id {
                        nets.retain(|n| n != "rserve-desk");
                    }
                }
                out(0, "", "")
            }
            ["docker", "network", "rm", "rserve-desk"] if on_network(&st).is_empty() => {
                st.network = None;
                out(0, "rserve-desk", "")
            }
            ["docker", "network", "connect", "rserve-desk", id] if st.network.is_some() => {
                for (app, nets) in &mut st.apps {
                    if app == id {
                        nets.push("rserve-desk".into());
                    }
                }
                out(0, "", "")
            }
            ["docker", "ps", "--all", ..] => {
                let lines: Vec<String> = st
                    .apps
                    .iter()
                    .map(|(id, nets)| format!("{id} {}", nets.join(",")))
                    .collect();
                out(0, &lines.join("\n"), "")
            }
            ["docker", "inspect", "--type", "container", _, _, name] => {
                match st.containers.get(*name) {
                    Some((hash, running)) => out(0, &format!("{hash} {running}\n"), ""),
                    None => out(1, "", "Error: No such container"),
                }
            }
            ["docker", "rm", "--force", name] => {
                st.containers.remove(*name);
                out(0, "", "")
            }
            ["docker", "volume", "create", .., name] => out(0, name, ""),
            ["docker", "create", "--name", name, ..] => {
                let name = (*name).to_owned();
                st.containers
                    .insert(name, (label("io.rserve-desk.config-hash="), false));
                out(0, "c0ffee", "")
            }
            ["docker", "cp", "-", _] => out(0, "", ""),
            ["docker", "start", name] => match st.containers.get_mut(*name) {
                Some(c) => {
                    c.1 = true;
                    out(0, name, "")
                }
                None => out(1, "", "Error: No such container"),
            },
            ["docker", "image", "inspect", "--format", _, tag] => match st.images.get(*tag) {
                Some(hash) => out(0, &format!("{hash}\n"), ""),
                None => out(1, "", "Error: No such image"),
            },
            ["docker", "build", "--tag", tag, ..] => {
                let tag = (*tag).to_owned();
                st.images.insert(tag, label("io.rserve-desk.config-hash="));
                out(0, "Step 1/9\nSuccessfully built abc", "")
            }
            _ => out(2, "", &format!("fake host: unexpected {line}")),
        }
    }

    fn running(&self, name: &str) -> bool {
        self.0
            .lock()
            .unwrap()
            .containers
            .get(name)
            .is_some_and(|c| c.1)
    }
}

fn out(status: i32, stdout: &str, stderr: &str) -> CmdOutput {
    CmdOutput {
        status: Some(status),
        stdout: stdout.to_owned(),
        stderr: stderr.to_owned(),
    }
}

impl Remote for FakeHost {
    async fn run(
        &self,
        _step: &str,
        cmd: &RemoteCommand,
        _timeout: Duration,
    ) -> Result<CmdOutput, BootstrapError> {
        Ok(self.answer(cmd))
    }
}

fn options() -> BootstrapOptions {
    BootstrapOptions {
        http_port: 8880,
        https_port: 8443,
        r_versions: vec!["4.2.2".into()],
        base_image: Some("debian:bookworm".into()),
        ..BootstrapOptions::default()
    }
}

async fn bootstrap(
    host: &FakeHost,
    options: &BootstrapOptions,
) -> (
    Result<super::BootstrapReport, BootstrapError>,
    Vec<StepEvent>,
) {
    let events = Mutex::new(Vec::new());
    let sink = |e: StepEvent| events.lock().unwrap().push(e);
    let result = run_with(host, None::<&FakeSender>, options, Role::Host, &sink).await;
    (result, events.into_inner().unwrap())
}

/// "Sends" an image by putting it in the fake host's image list; the
/// workstation has every image with id `sha256:feed` but those `absent`,
/// and `rserve-base:<R>` only when listed in `bases`.
struct FakeSender<'a> {
    host: &'a FakeHost,
    sent: Mutex<Vec<String>>,
    bases: Vec<String>,
    absent: Vec<String>,
}

impl<'a> FakeSender<'a> {
    fn new(host: &'a FakeHost, bases: &[&str]) -> FakeSender<'a> {
        FakeSender {
            host,
            sent: Mutex::new(Vec::new()),
            bases: bases.iter().map(|b| (*b).to_owned()).collect(),
            absent: Vec::new(),
        }
    }

    /// The workstation does not have `image`.
    fn without(mut self, image: &str) -> FakeSender<'a> {
        self.absent.push(image.to_owned());
        self
    }

    fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }
}

impl ImageSender for FakeSender<'_> {
    async fn id_here(&self, _step: &str, image: &str) -> Result<Option<String>, BootstrapError> {
        let here = (!image.starts_with("rserve-base:") || self.bases.iter().any(|b| b == image))
            && !self.absent.iter().any(|a| a == image);
        Ok(here.then(|| "sha256:feed".to_owned()))
    }

    async fn send(&self, _step: &str, image: &str) -> Result<String, BootstrapError> {
        self.sent.lock().unwrap().push(image.to_owned());
        let mut state = self.host.0.lock().unwrap();
        // The workstation's filter image carries its build's label, as a real one does.
        let label = if image == FILTER_IMAGE {
            filter_hash()
        } else {
            "sha256:feed".into()
        };
        state.images.insert(image.to_owned(), label);
        Ok(format!("sent {image}"))
    }
}

fn finals(events: &[StepEvent]) -> Vec<(String, StepState)> {
    events
        .iter()
        .filter(|e| e.state != StepState::Started)
        .map(|e| (e.step.clone(), e.state))
        .collect()
}

fn steps(list: &[(&str, StepState)]) -> Vec<(String, StepState)> {
    list.iter().map(|(s, st)| ((*s).to_owned(), *st)).collect()
}

#[tokio::test]
async fn empty_host_then_every_step_skipped() {
    use StepState::{Done, Skipped, Started};
    let host = FakeHost::new(BOOKWORM);
    let (report, events) = bootstrap(&host, &options()).await;
    let report = report.unwrap();
    assert!(report.changed());
    assert!(!report.docker_via_sudo);
    assert_eq!(report.facts.user, "deploy");
    assert_eq!(
        finals(&events),
        steps(&[
            ("check-host", Skipped),
            ("install-docker", Done),
            ("network", Done),
            ("docker-filter", Done),
            ("traefik", Done),
            ("rserve-base:4.2.2", Done),
        ])
    );
    // Each step starts before it ends.
    assert_eq!(events[0].state, Started);
    assert_eq!(events[0].step, "check-host");
    assert_eq!(
        events[1].output_tail,
        "Debian GNU/Linux 12 (bookworm) on amd64, user deploy (password-less sudo)"
    );
    let log = host.log();
    let at = |prefix: &str| log.iter().position(|l| l.starts_with(prefix)).unwrap();
    let create = at("docker create --name rserve-desk-traefik");
    let copy = at("docker cp - ");
    let start = at("docker start rserve-desk-traefik");
    assert!(create < copy && copy < start, "{log:#?}");
    // The filter runs before Traefik, which reads Docker through it.
    assert!(at("docker start rserve-desk-docker-filter") < create);
    assert!(
        at(
            "docker network create --driver bridge --opt com.docker.network.bridge.enable_icc=false"
        ) < create
    );
    assert!(at("docker build --tag rserve-desk/docker-filter:1 ") < create);

    // Second run: nothing changes, every changing step is skipped.
    let before = host.log().len();
    let (report, events) = bootstrap(&host, &options()).await;
    let report = report.unwrap();
    assert!(!report.changed());
    assert_eq!(
        finals(&events),
        steps(&[
            ("check-host", Skipped),
            ("install-docker", Skipped),
            ("network", Skipped),
            ("docker-filter", Skipped),
            ("traefik", Skipped),
            ("rserve-base:4.2.2", Skipped),
        ])
    );
    let second: Vec<String> = host.log()[before..].to_vec();
    assert!(
        second.iter().all(|l| !l.contains(" create ")
            && !l.starts_with("docker build")
            && l != "sh -s < (0 bytes)"
            && !l.starts_with("docker rm")),
        "{second:#?}"
    );
}

#[tokio::test]
async fn a_cluster_managers_traefik_is_published_from_the_bridge_and_a_worker_has_neither() {
    use StepState::{Done, Skipped};
    let run = async |role| {
        let host = FakeHost::new(BOOKWORM);
        let events = Mutex::new(Vec::new());
        let sink = |e: StepEvent| events.lock().unwrap().push(e);
        run_with(&host, None::<&FakeSender>, &options(), role, &sink)
            .await
            .unwrap();
        let events = events.into_inner().unwrap();
        assert!(events.iter().all(|e| e.planned == finals(&events).len()));
        (finals(&events), host.log())
    };
    let (manager, log) = run(Role::Manager).await;
    assert_eq!(
        manager,
        steps(&[
            ("check-host", Skipped),
            ("install-docker", Done),
            ("network", Done),
            ("docker-filter", Done),
            ("traefik", Done),
            ("rserve-base:4.2.2", Done),
        ])
    );
    let created = log
        .iter()
        .find(|l| l.contains("create --name rserve-desk-traefik"))
        .expect("the manager's Traefik is created");
    assert!(
        created.contains(
            "--network rserve-desk --network-alias rserve-desk-traefik-private --publish"
        ),
        "{created}"
    );
    let (worker, log) = run(Role::Worker).await;
    assert_eq!(
        worker,
        steps(&[
            ("check-host", Skipped),
            ("install-docker", Done),
            ("network", Done),
            ("rserve-base:4.2.2", Done),
        ])
    );
    assert!(
        !log.iter()
            .any(|l| l.contains("rserve-desk-docker-filter") || l.contains("rserve-desk-traefik")),
        "{log:#?}"
    );
}

#[tokio::test]
async fn a_plan_checks_the_steps_of_the_hosts_role() {
    let to_do = |plan: &super::BootstrapPlan| -> Vec<(String, bool)> {
        plan.steps
            .iter()
            .map(|s| (s.step.clone(), s.to_do))
            .collect()
    };
    let worker = FakeHost::new(BOOKWORM);
    let planned = plan_with(&worker, None::<&FakeSender>, &options(), Role::Worker)
        .await
        .unwrap();
    assert_eq!(
        to_do(&planned),
        [
            ("install-docker".to_owned(), true),
            ("network".to_owned(), true),
            ("rserve-base:4.2.2".to_owned(), true)
        ]
    );
    let sink = |_: StepEvent| {};
    run_with(
        &worker,
        None::<&FakeSender>,
        &options(),
        Role::Worker,
        &sink,
    )
    .await
    .unwrap();
    let planned = plan_with(&worker, None::<&FakeSender>, &options(), Role::Worker)
        .await
        .unwrap();
    assert!(planned.complete(), "{planned:#?}");

    let manager = FakeHost::new(BOOKWORM);
    run_with(
        &manager,
        None::<&FakeSender>,
        &options(),
        Role::Manager,
        &sink,
    )
    .await
    .unwrap();
    let planned = plan_with(&manager, None::<&FakeSender>, &options(), Role::Manager)
        .await
        .unwrap();
    assert!(planned.complete(), "{planned:#?}");
    // Planned as a single host, the manager's Traefik is the wrong one.
    let as_host = plan_with(&manager, None::<&FakeSender>, &options(), Role::Host)
        .await
        .unwrap();
    assert!(
        to_do(&as_host).contains(&("traefik".to_owned(), true)),
        "{as_host:#?}"
    );
}

#[tokio::test]
async fn changed_options_recreate_only_traefik() {
    use StepState::{Done, Skipped};
    let host = FakeHost::new(BOOKWORM);
    bootstrap(&host, &options()).await.0.unwrap();
    let with_tls = BootstrapOptions {
        domain: Some("r.example.org".into()),
        email: Some("admin@example.org".into()),
        ..options()
    };
    let (report, events) = bootstrap(&host, &with_tls).await;
    report.unwrap();
    assert_eq!(
        finals(&events),
        steps(&[
            ("check-host", Skipped),
            ("install-docker", Skipped),
            ("network", Skipped),
            ("docker-filter", Skipped),
            ("traefik", Done),
            ("rserve-base:4.2.2", Skipped),
        ])
    );
    assert!(
        host.log()
            .iter()
            .any(|l| l == "docker rm --force rserve-desk-traefik")
    );
}

#[tokio::test]
async fn interrupted_then_finished() {
    use StepState::{Done, Failed, Skipped};
    let host = FakeHost::new(BOOKWORM);
    // Killed between creating Traefik and giving it its configuration.
    host.0.lock().unwrap().fail_once = Some("docker cp".into());
    let (report, events) = bootstrap(&host, &options()).await;
    let err = report.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("step traefik failed: `docker cp - rserve-desk-traefik:/etc/traefik < ("),
        "{err}"
    );
    assert_eq!(finals(&events).last().unwrap().1, Failed);
    assert!(!events.iter().any(|e| e.step.starts_with("rserve-base")));

    let (report, events) = bootstrap(&host, &options()).await;
    report.unwrap();
    assert_eq!(
        finals(&events),
        steps(&[
            ("check-host", Skipped),
            ("install-docker", Skipped),
            ("network", Skipped),
            ("docker-filter", Skipped),
            ("traefik", Done),
            ("rserve-base:4.2.2", Done),
        ])
    );
    assert!(host.running("rserve-desk-traefik"));
}

#[tokio::test]
async fn unsupported_os_changes_nothing() {
    let host = FakeHost::new("ID=fedora\nPRETTY_NAME=\"Fedora Linux 40\"\n");
    let (report, events) = bootstrap(&host, &options()).await;
    let err = report.unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported OS: Fedora Linux 40 (ID=fedora); Rserve Desk supports Debian and Ubuntu only, nothing was changed"
    );
    assert_eq!(finals(&events), steps(&[("check-host", StepState::Failed)]));
    assert_eq!(events[1].output_tail, err.to_string());
    assert_eq!(host.log().len(), 1, "only the probe ran");
}

#[tokio::test]
async fn bad_options_run_nothing() {
    let host = FakeHost::new(BOOKWORM);
    let bad = BootstrapOptions {
        domain: Some("r.example.org".into()),
        ..options()
    };
    let (report, events) = bootstrap(&host, &bad).await;
    assert!(matches!(report, Err(BootstrapError::Options(_))));
    assert!(events.is_empty() && host.log().is_empty());
}

#[tokio::test]
async fn plan_changes_nothing_and_matches_run() {
    let host = FakeHost::new(BOOKWORM);
    let plan = plan_with(&host, None::<&FakeSender>, &options(), Role::Host)
        .await
        .unwrap();
    assert!(!plan.complete());
    let to_do: Vec<(&str, bool)> = plan
        .steps
        .iter()
        .map(|s| (s.step.as_str(), s.to_do))
        .collect();
    assert_eq!(
        to_do,
        [
            ("install-docker", true),
            ("network", true),
            ("docker-filter", true),
            ("traefik", true),
            ("rserve-base:4.2.2", true)
        ]
    );
    assert_eq!(
        plan.steps[1].note,
        "Docker is not reachable yet: checked again after installing"
    );
    let log = host.log();
    assert!(
        log.iter().all(|l| l.starts_with("sh -c ")
            || l.starts_with("sh -s -- --check")
            || l.contains("docker version ")),
        "{log:#?}"
    );

    bootstrap(&host, &options()).await.0.unwrap();
    let before = host.log().len();
    let plan = plan_with(&host, None::<&FakeSender>, &options(), Role::Host)
        .await
        .unwrap();
    assert!(plan.complete(), "{plan:#?}");
    assert_eq!(
        plan.steps[3].note,
        "rserve-desk-traefik already running with this configuration"
    );
    let later = &host.log()[before..];
    assert!(
        later.iter().all(|l| l.starts_with("sh -")
            || l.contains(" inspect ")
            || l.contains(" version ")
            || l.starts_with("docker ps ")),
        "{later:#?}"
    );
}

#[tokio::test]
async fn images_the_vps_lacks_are_sent_once() {
    use StepState::{Done, Skipped};
    let host = FakeHost::new(BOOKWORM);
    // The VPS already has the base image, not Traefik's.
    host.0
        .lock()
        .unwrap()
        .images
        .insert("debian:bookworm".into(), "sha256:aaaa".into());
    let sender = FakeSender::new(&host, &[]);
    let sink = |_: StepEvent| {};
    let opts = BootstrapOptions {
        traefik_image: "rserve-desk/traefik:3.7.15".into(),
        ..options()
    };
    let report = run_with(&host, Some(&sender), &opts, Role::Host, &sink)
        .await
        .unwrap();
    assert_eq!(
        finals(&report.steps),
        steps(&[
            ("check-host", Skipped),
            ("install-docker", Done),
            ("network", Done),
            ("image:rserve-desk/traefik:3.7.15", Done),
            ("image:debian:bookworm", Skipped),
            ("docker-filter", Done),
            ("traefik", Done),
            ("rserve-base:4.2.2", Done),
        ])
    );
    assert_eq!(
        sender.sent(),
        ["rserve-desk/traefik:3.7.15", "rserve-desk/docker-filter:1"]
    );
    let planned: Vec<usize> = report.steps.iter().map(|s| s.planned).collect();
    assert_eq!(
        planned,
        [6, 6, 6, 8, 8, 8, 8, 8],
        "the image steps join the plan once known, and the last step is the last planned"
    );
    let report = run_with(&host, Some(&sender), &opts, Role::Host, &sink)
        .await
        .unwrap();
    assert!(!report.changed());
    assert_eq!(sender.sent().len(), 2, "nothing sent twice");
}

/// Each planned step's name, whether it is to do, and its note.
fn planned(plan: &super::BootstrapPlan) -> Vec<(&str, bool, &str)> {
    plan.steps
        .iter()
        .map(|s| (s.step.as_str(), s.to_do, s.note.as_str()))
        .collect()
}

#[tokio::test]
async fn a_plan_sending_images_names_what_the_run_sends() {
    let host = FakeHost::new(BOOKWORM);
    let opts = BootstrapOptions {
        traefik_image: "rserve-desk/traefik:3.7.15".into(),
        ..options()
    };
    let unknown = "Docker is not reachable yet: checked again after installing";
    let send_traefik = "send rserve-desk/traefik:3.7.15 from this workstation";

    // An image the workstation lacks is named before the run would stop at it.
    let lacking =
        FakeSender::new(&host, &["rserve-base:4.2.2"]).without("rserve-desk/traefik:3.7.15");
    let plan = plan_with(&host, Some(&lacking), &opts, Role::Host)
        .await
        .unwrap();
    assert_eq!(
        planned(&plan)[2],
        (
            "image:rserve-desk/traefik:3.7.15",
            true,
            "the image rserve-desk/traefik:3.7.15 is not on this workstation's Docker, so it cannot be sent: pull it here first"
        )
    );

    // From empty, the plan has the run's steps, in its order.
    let sender = FakeSender::new(&host, &["rserve-base:4.2.2"]);
    let plan = plan_with(&host, Some(&sender), &opts, Role::Host)
        .await
        .unwrap();
    assert_eq!(
        planned(&plan),
        [
            (
                "install-docker",
                true,
                "rserve-desk: to do: install docker.io"
            ),
            ("network", true, unknown),
            ("image:rserve-desk/traefik:3.7.15", true, send_traefik),
            ("docker-filter", true, unknown),
            ("traefik", true, unknown),
            ("rserve-base:4.2.2", true, unknown),
        ]
    );
    assert!(sender.sent().is_empty(), "a plan sent something");
    let sink = |_: StepEvent| {};
    let report = run_with(&host, Some(&sender), &opts, Role::Host, &sink)
        .await
        .unwrap();
    let ran: Vec<&str> = report
        .steps
        .iter()
        .skip(1)
        .map(|e| e.step.as_str())
        .collect();
    let names: Vec<&str> = plan.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(names, ran);

    // Then nothing to do, the sent rserve-base recognised as sent.
    let plan = plan_with(&host, Some(&sender), &opts, Role::Host)
        .await
        .unwrap();
    assert!(plan.complete(), "{plan:#?}");
    assert_eq!(
        planned(&plan)[5].2,
        "image rserve-base:4.2.2 already there, sent from the workstation"
    );

    // With Docker reachable: what is gone from the VPS would be sent again,
    // the filter's image too, not built.
    {
        let mut state = host.0.lock().unwrap();
        state.images.remove("rserve-desk/traefik:3.7.15");
        state.images.remove(FILTER_IMAGE);
        state.images.remove("rserve-base:4.2.2");
    }
    let plan = plan_with(&host, Some(&sender), &opts, Role::Host)
        .await
        .unwrap();
    let to_do: Vec<(&str, bool, &str)> = planned(&plan).into_iter().filter(|s| s.1).collect();
    assert_eq!(
        to_do,
        [
            ("image:rserve-desk/traefik:3.7.15", true, send_traefik),
            (
                "docker-filter",
                true,
                "send the filter's image from this workstation, (re)create and start its container"
            ),
            (
                "rserve-base:4.2.2",
                true,
                "send the image from this workstation"
            ),
        ]
    );
    let plain = plan_with(&host, None::<&FakeSender>, &opts, Role::Host)
        .await
        .unwrap();
    assert_eq!(
        planned(&plain)[4],
        ("rserve-base:4.2.2", true, "build the image")
    );
}

#[tokio::test]
async fn docker_unreachable_fails_the_network_step_clearly() {
    let host = FakeHost::new(BOOKWORM);
    bootstrap(&host, &options()).await.0.unwrap();
    // Docker is there but this session cannot reach it: `docker version`
    // fails once, and the fake host refuses `sudo -n docker version`.
    host.0.lock().unwrap().fail_once = Some("docker version".into());
    let (report, events) = bootstrap(&host, &options()).await;
    let err = report.unwrap_err();
    assert!(matches!(err, BootstrapError::DockerAccess { .. }), "{err}");
    let last = events.last().unwrap();
    assert_eq!(
        (last.step.as_str(), last.state),
        ("network", StepState::Failed)
    );
    assert_eq!(
        last.output_tail,
        "Docker is installed but user deploy cannot use it in this SSH session yet (the group docker applies to new logins and there is no password-less sudo); run the bootstrap again to continue"
    );
}

#[tokio::test]
async fn a_ready_made_rserve_base_is_sent_not_built() {
    use StepState::{Done, Skipped};
    let host = FakeHost::new(BOOKWORM);
    let sender = FakeSender::new(&host, &["rserve-base:4.2.2"]);
    let sink = |_: StepEvent| {};
    let opts = BootstrapOptions {
        traefik_image: "rserve-desk/traefik:3.7.15".into(),
        ..options()
    };
    let report = run_with(&host, Some(&sender), &opts, Role::Host, &sink)
        .await
        .unwrap();
    let states: Vec<(String, StepState)> = report
        .steps
        .iter()
        .map(|e| (e.step.clone(), e.state))
        .collect();
    // No image:debian:bookworm step: nothing is built on it.
    assert_eq!(
        states,
        steps(&[
            ("check-host", Skipped),
            ("install-docker", Done),
            ("network", Done),
            ("image:rserve-desk/traefik:3.7.15", Done),
            ("docker-filter", Done),
            ("traefik", Done),
            ("rserve-base:4.2.2", Done),
        ])
    );
    assert_eq!(report.steps[6].output_tail, "sent rserve-base:4.2.2");
    assert_eq!(
        sender.sent(),
        [
            "rserve-desk/traefik:3.7.15",
            "rserve-desk/docker-filter:1",
            "rserve-base:4.2.2"
        ]
    );
    assert!(
        host.log().iter().all(|l| !l.starts_with("docker build")),
        "{:#?}",
        host.log()
    );

    // Again: every step skipped, the base counted as done by its id.
    let before = host.log().len();
    let report = run_with(&host, Some(&sender), &opts, Role::Host, &sink)
        .await
        .unwrap();
    assert!(!report.changed());
    assert!(
        report.steps.iter().all(|s| s.state == Skipped),
        "{report:#?}"
    );
    assert_eq!(
        report.steps.last().unwrap().output_tail,
        "image rserve-base:4.2.2 already there, sent from the workstation"
    );
    assert_eq!(sender.sent().len(), 3, "nothing sent twice");
    let base_step: Vec<String> = host.log()[before..]
        .iter()
        .filter(|l| l.contains("rserve-base:4.2.2"))
        .cloned()
        .collect();
    assert_eq!(
        base_step,
        [
            "docker image inspect --format {{index .Config.Labels \"io.rserve-desk.config-hash\"}} rserve-base:4.2.2",
            "docker image inspect --format {{.Id}} rserve-base:4.2.2",
        ]
    );
}

#[tokio::test]
async fn without_a_ready_made_base_its_base_image_is_sent_and_built_on() {
    use StepState::{Done, Skipped};
    let host = FakeHost::new(BOOKWORM);
    let sender = FakeSender::new(&host, &[]);
    let sink = |_: StepEvent| {};
    let report = run_with(&host, Some(&sender), &options(), Role::Host, &sink)
        .await
        .unwrap();
    assert_eq!(
        finals(&report.steps),
        steps(&[
            ("check-host", Skipped),
            ("install-docker", Done),
            ("network", Done),
            ("image:traefik:v3.3", Done),
            ("image:debian:bookworm", Done),
            ("docker-filter", Done),
            ("traefik", Done),
            ("rserve-base:4.2.2", Done),
        ])
    );
    assert_eq!(
        sender.sent(),
        [
            "traefik:v3.3",
            "debian:bookworm",
            "rserve-desk/docker-filter:1"
        ]
    );
    assert!(
        host.log()
            .iter()
            .any(|l| l.starts_with("docker build --tag rserve-base:4.2.2 --build-arg R_VERSION=4.2.2 --build-arg BASE_IMAGE=debian:bookworm "))
    );
}

/// A VPS bootstrapped before the walls: the apps' network of ours lets
/// containers talk, two apps are on it.
fn host_of_old_shape() -> FakeHost {
    let host = FakeHost::new(BOOKWORM);
    {
        let mut st = host.0.lock().unwrap();
        st.docker = true;
        st.network = Some(("rserve-desk".into(), "<no value>".into()));
        st.apps = vec![
            ("a1".into(), vec!["rserve-desk".into()]),
            ("b1".into(), vec!["rserve-desk".into()]),
        ];
    }
    host
}

fn walled_with_apps_on_it(host: &FakeHost) {
    let st = host.0.lock().unwrap();
    assert_eq!(
        st.network,
        Some(("rserve-desk".into(), "false".into())),
        "the apps' network is made again without traffic between containers"
    );
    assert!(st.build_network);
    for (id, nets) in &st.apps {
        assert_eq!(nets, &["rserve-desk"], "{id} is back on the network");
    }
}

#[tokio::test]
async fn an_open_network_of_ours_is_made_again_walled_with_its_apps() {
    let host = host_of_old_shape();
    let (report, events) = bootstrap(&host, &options()).await;
    report.unwrap();
    let network = events
        .iter()
        .find(|e| e.step == "network" && e.state != StepState::Started)
        .unwrap();
    assert_eq!(network.state, StepState::Done);
    assert_eq!(
        network.output_tail,
        "made network rserve-desk again without traffic between containers\n\
         2 app container(s) joined network rserve-desk\n\
         created network rserve-desk-build"
    );
    walled_with_apps_on_it(&host);
    let plan = plan_with(&host, None::<&FakeSender>, &options(), Role::Host)
        .await
        .unwrap();
    assert!(plan.complete(), "{plan:#?}");
}

#[tokio::test]
async fn a_move_interrupted_after_removing_the_network_is_finished_by_the_next_run() {
    let host = host_of_old_shape();
    host.0.lock().unwrap().fail_once = Some("docker network create".into());
    let (report, _) = bootstrap(&host, &options()).await;
    assert!(report.is_err());
    {
        let st = host.0.lock().unwrap();
        assert!(st.network.is_none() && st.apps.iter().all(|(_, n)| n.is_empty()));
    }
    let (report, _) = bootstrap(&host, &options()).await;
    report.unwrap();
    walled_with_apps_on_it(&host);
}

#[tokio::test]
async fn an_open_network_of_someone_else_is_refused() {
    let host = FakeHost::new(BOOKWORM);
    host.0.lock().unwrap().network = Some(("<no value>".into(), "true".into()));
    let (report, _) = bootstrap(&host, &options()).await;
    assert_eq!(
        report.unwrap_err().to_string(),
        "the Docker network rserve-desk exists, was not made by Rserve Desk and lets its containers reach each other; remove or rename it and run the bootstrap again"
    );
    assert!(
        host.log()
            .iter()
            .all(|l| !l.starts_with("docker network create --driver bridge --opt")),
        "{:#?}",
        host.log()
    );
}
