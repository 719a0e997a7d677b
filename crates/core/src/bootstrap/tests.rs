//! The runner against a fake host that keeps Docker's state in memory:
//! skip logic, re-runs, interruption and refusal, without SSH.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::run::{BootstrapError, CmdOutput, ImageSender, Remote, plan_with, run_with};
use super::{BootstrapOptions, RemoteCommand, StepEvent, StepState};

const BOOKWORM: &str =
    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n";

#[derive(Default)]
struct State {
    os_release: String,
    docker: bool,
    network: bool,
    /// (config hash, running)
    traefik: Option<(String, bool)>,
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
            ["docker", "network", "inspect", ..] if st.network => out(0, "rserve-desk\n", ""),
            ["docker", "network", "inspect", ..] => out(1, "", "Error: No such network"),
            ["docker", "network", "create", ..] => {
                st.network = true;
                out(0, "f00d", "")
            }
            ["docker", "inspect", "--type", "container", ..] => match &st.traefik {
                Some((hash, running)) => out(0, &format!("{hash} {running}\n"), ""),
                None => out(1, "", "Error: No such container"),
            },
            ["docker", "rm", "--force", _] => {
                st.traefik = None;
                out(0, "", "")
            }
            ["docker", "volume", "create", ..] => out(0, "rserve-desk-traefik-acme", ""),
            ["docker", "create", ..] => {
                st.traefik = Some((label("io.rserve-desk.config-hash="), false));
                out(0, "c0ffee", "")
            }
            ["docker", "cp", "-", _] => out(0, "", ""),
            ["docker", "start", _] => {
                if let Some(t) = &mut st.traefik {
                    t.1 = true;
                }
                out(0, "rserve-desk-traefik", "")
            }
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
    let result = run_with(host, None::<&FakeSender>, options, &sink).await;
    (result, events.into_inner().unwrap())
}

/// "Sends" an image by putting it in the fake host's image list; the
/// workstation has every image with id `sha256:feed`, and `rserve-base:<R>`
/// only when listed in `bases`.
struct FakeSender<'a> {
    host: &'a FakeHost,
    sent: Mutex<Vec<String>>,
    bases: Vec<String>,
}

impl<'a> FakeSender<'a> {
    fn new(host: &'a FakeHost, bases: &[&str]) -> FakeSender<'a> {
        FakeSender {
            host,
            sent: Mutex::new(Vec::new()),
            bases: bases.iter().map(|b| (*b).to_owned()).collect(),
        }
    }

    fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }
}

impl ImageSender for FakeSender<'_> {
    async fn id_here(&self, _step: &str, image: &str) -> Result<Option<String>, BootstrapError> {
        let here = !image.starts_with("rserve-base:") || self.bases.iter().any(|b| b == image);
        Ok(here.then(|| "sha256:feed".to_owned()))
    }

    async fn send(&self, _step: &str, image: &str) -> Result<String, BootstrapError> {
        self.sent.lock().unwrap().push(image.to_owned());
        let mut state = self.host.0.lock().unwrap();
        state.images.insert(image.to_owned(), "sha256:feed".into());
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
    let create = log
        .iter()
        .position(|l| l.starts_with("docker create"))
        .unwrap();
    let copy = log
        .iter()
        .position(|l| l.starts_with("docker cp - "))
        .unwrap();
    let start = log
        .iter()
        .position(|l| l.starts_with("docker start"))
        .unwrap();
    assert!(create < copy && copy < start, "{log:#?}");

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
            .starts_with("step traefik failed: `docker cp - rserve-desk-traefik:/ < ("),
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
            ("traefik", Done),
            ("rserve-base:4.2.2", Done),
        ])
    );
    let state = host.0.lock().unwrap();
    assert!(state.traefik.as_ref().is_some_and(|t| t.1));
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
    let plan = plan_with(&host, &options()).await.unwrap();
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
    let plan = plan_with(&host, &options()).await.unwrap();
    assert!(plan.complete(), "{plan:#?}");
    assert_eq!(
        plan.steps[2].note,
        "rserve-desk-traefik already running with this configuration"
    );
    let later = &host.log()[before..];
    assert!(
        later
            .iter()
            .all(|l| l.starts_with("sh -") || l.contains(" inspect ") || l.contains(" version ")),
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
    let report = run_with(&host, Some(&sender), &opts, &sink).await.unwrap();
    assert_eq!(
        finals(&report.steps),
        steps(&[
            ("check-host", Skipped),
            ("install-docker", Done),
            ("network", Done),
            ("image:rserve-desk/traefik:3.7.15", Done),
            ("image:debian:bookworm", Skipped),
            ("traefik", Done),
            ("rserve-base:4.2.2", Done),
        ])
    );
    assert_eq!(sender.sent(), ["rserve-desk/traefik:3.7.15"]);
    let planned: Vec<usize> = report.steps.iter().map(|s| s.planned).collect();
    assert_eq!(
        planned,
        [5, 5, 5, 7, 7, 7, 7],
        "the image steps join the plan once known, and the last step is the last planned"
    );
    let report = run_with(&host, Some(&sender), &opts, &sink).await.unwrap();
    assert!(!report.changed());
    assert_eq!(sender.sent().len(), 1, "nothing sent twice");
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
    let report = run_with(&host, Some(&sender), &opts, &sink).await.unwrap();
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
            ("traefik", Done),
            ("rserve-base:4.2.2", Done),
        ])
    );
    assert_eq!(report.steps[5].output_tail, "sent rserve-base:4.2.2");
    assert_eq!(
        sender.sent(),
        ["rserve-desk/traefik:3.7.15", "rserve-base:4.2.2"]
    );
    assert!(
        host.log().iter().all(|l| !l.starts_with("docker build")),
        "{:#?}",
        host.log()
    );

    // Again: every step skipped, the base counted as done by its id.
    let before = host.log().len();
    let report = run_with(&host, Some(&sender), &opts, &sink).await.unwrap();
    assert!(!report.changed());
    assert!(
        report.steps.iter().all(|s| s.state == Skipped),
        "{report:#?}"
    );
    assert_eq!(
        report.steps.last().unwrap().output_tail,
        "image rserve-base:4.2.2 already there, sent from the workstation"
    );
    assert_eq!(sender.sent().len(), 2, "nothing sent twice");
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
    let report = run_with(&host, Some(&sender), &options(), &sink)
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
            ("traefik", Done),
            ("rserve-base:4.2.2", Done),
        ])
    );
    assert_eq!(sender.sent(), ["traefik:v3.3", "debian:bookworm"]);
    assert!(
        host.log()
            .iter()
            .any(|l| l.starts_with("docker build --tag rserve-base:4.2.2 --build-arg R_VERSION=4.2.2 --build-arg BASE_IMAGE=debian:bookworm "))
    );
}
