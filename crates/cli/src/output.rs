//! How `rdesk` prints results: aligned text for people, JSON for scripts.

use rdesk_core::bootstrap::{BootstrapPlan, BootstrapReport, StepEvent, StepState};
use rdesk_core::desk::{AddedHost, AppHistory, AppsView, ContainerUse, DeployReport, HostCheck};
use rdesk_core::monitor::MonitorEvent;
use rdesk_core::spawner::{AppState, DeployEvent, LogLine, LogStream, Removed};
use rdesk_core::store::{HostRecord, MetricSeries, now_ms};
use serde::Serialize;
use serde_json::json;

pub struct Output {
    pub json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn emit<T: Serialize + ?Sized>(&self, value: &T) {
        match serde_json::to_string(value) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("error: could not write JSON: {e}"),
        }
    }

    /// Prints an error and its causes: to stdout as `{"error": …}` with `--json`, else to stderr.
    pub fn error(&self, error: &anyhow::Error) {
        let message = rdesk_core::sentence(error.as_ref());
        if self.json {
            self.emit(&json!({ "error": message }));
        } else {
            eprintln!("error: {message}");
        }
    }

    pub fn message(&self, text: &str, value: &serde_json::Value) {
        if self.json {
            self.emit(value);
        } else {
            println!("{text}");
        }
    }

    pub fn value(&self, value: &serde_json::Value) {
        if self.json {
            self.emit(value);
        } else {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
            );
        }
    }

    pub fn host_added(&self, added: &AddedHost) {
        if self.json {
            return self.emit(added);
        }
        println!("added host {}", added.record.name);
        if let Some(fp) = &added.host_key_fingerprint {
            println!("host key pinned: {fp}");
        }
        println!("public URL: {}", added.record.public_url);
    }

    pub fn hosts(&self, hosts: &[HostRecord]) {
        if self.json {
            return self.emit(hosts);
        }
        if hosts.is_empty() {
            println!(
                "no hosts yet: add one with `rdesk host add NAME --ssh USER@HOST` or `--local`"
            );
        }
        for h in hosts {
            let target = h.ssh_target.as_deref().unwrap_or("this machine's Docker");
            println!(
                "{:<16} {:<6} {:<32} {}",
                h.name,
                h.kind.as_str(),
                target,
                h.public_url
            );
        }
    }

    pub fn host_check(&self, check: &HostCheck) {
        if self.json {
            return self.emit(check);
        }
        println!("host {} answers", check.host);
        if let Some(fp) = &check.host_key_fingerprint {
            println!("  host key:       {fp}");
        }
        println!("  Docker:         {}", check.docker_version);
        println!(
            "  R versions:     {}",
            list_or(&check.r_versions, "none yet")
        );
        println!("  API round trip: {:.1} ms", check.round_trip_ms);
    }

    pub fn bootstrap_plan(&self, plan: &BootstrapPlan) {
        if self.json {
            return self.emit(plan);
        }
        let arch = format!("{:?}", plan.facts.arch).to_lowercase();
        println!("{} ({arch})", plan.facts.os.pretty_name);
        for step in &plan.steps {
            let what = if step.to_do { "to do" } else { "done" };
            let note = step.note.lines().collect::<Vec<_>>().join("; ");
            println!("  {:<22} {what:<6} {note}", step.step);
        }
    }

    pub fn bootstrap_step(&self, event: &StepEvent) {
        if self.json {
            return self.emit(event);
        }
        match event.state {
            StepState::Started => println!("==> {}", event.step),
            StepState::Failed => {
                println!("    {}: Failed ({} ms)", event.step, event.duration_ms);
                if !event.output_tail.is_empty() {
                    println!("    {}", event.output_tail.replace('\n', "\n    "));
                }
            }
            state => {
                let last = event.output_tail.lines().last().unwrap_or_default();
                let sep = if last.is_empty() { "" } else { ": " };
                println!(
                    "    {}: {state:?} ({} ms){sep}{last}",
                    event.step, event.duration_ms
                );
            }
        }
    }

    pub fn bootstrap_done(&self, host: &str, report: &BootstrapReport) {
        if self.json {
            return self.emit(report);
        }
        let what = if report.changed() {
            "bootstrapped"
        } else {
            "already bootstrapped: nothing to do on"
        };
        println!("{what} {host}");
    }

    pub fn deploy_event(&self, event: &DeployEvent) {
        if self.json {
            return self.emit(event);
        }
        match event {
            DeployEvent::Step(text) => println!("==> {text}"),
            DeployEvent::BuildLog(line) => println!("    {line}"),
        }
    }

    pub fn deploy_report(&self, report: &DeployReport) {
        if self.json {
            return self.emit(report);
        }
        let what = if report.deployed.built {
            "built and deployed"
        } else {
            "deployed (no rebuild)"
        };
        println!(
            "{what} `{}` on {} in {:.1} s",
            report.slug,
            report.host,
            report.duration_ms as f64 / 1000.0
        );
        println!("  files:    {}", report.files.join(", "));
        println!("  R:        {}", report.r_version);
        println!("  packages: {}", list_or(&report.packages, "none"));
        println!("  url:      {}", report.url);
        println!(
            "  serving:  {} container(s); {} previous one(s) retired after the router reached the new",
            report.deployed.containers.len(),
            report.switched.retired.len()
        );
        if !report.answering {
            println!("  (not answering at that URL yet: check the host's public URL and Traefik)");
        }
    }

    pub fn apps(&self, view: &AppsView) {
        if self.json {
            return self.emit(view);
        }
        if let Some(cluster) = &view.worker_of {
            println!(
                "{} is a worker of cluster {cluster}: the apps it runs are {cluster}'s (rdesk apps --host {cluster})",
                view.host
            );
            return;
        }
        if let Some(reason) = &view.offline_reason {
            println!(
                "host {} is offline ({reason}); showing the last known state",
                view.host
            );
        }
        if view.apps.is_empty() {
            println!("no apps on {}", view.host);
        }
        for app in &view.apps {
            let age = if view.offline_reason.is_none() {
                String::new()
            } else {
                format!("  (seen {} ago)", age(app.updated_at))
            };
            println!(
                "{:<24} {:<10} R {:<8} {}{age}",
                app.slug, app.status, app.r_version, app.mode
            );
        }
    }

    pub fn app_state(&self, app: &AppState) {
        if self.json {
            return self.emit(app);
        }
        println!("{}: {}", app.slug, app.status());
        println!(
            "  R {} / {} mode / packages: {}",
            app.r_version,
            app.mode,
            list_or(&app.packages, "none")
        );
        for c in &app.containers {
            match &c.node {
                Some(node) => println!(
                    "  container {} {} ({}) on {node}",
                    c.name, c.state, c.detail
                ),
                None => println!("  container {} {} ({})", c.name, c.state, c.detail),
            }
        }
    }

    /// An app's state and what its running containers use (`status --use`).
    pub fn app_use(&self, app: &AppState, uses: &[ContainerUse]) {
        if self.json {
            return self.emit(&json!({ "app": app, "use": uses }));
        }
        self.app_state(app);
        if uses.is_empty() {
            println!("  no running container to measure");
        }
        for u in uses {
            let node = u
                .node
                .as_ref()
                .map(|n| format!(" on {n}"))
                .unwrap_or_default();
            println!(
                "  {}{node}: CPU {:.1} %, memory {:.0} of {:.0} MiB",
                u.container,
                u.cpu_percent,
                mib(u.memory_bytes),
                mib(u.memory_limit_bytes)
            );
        }
    }

    pub fn monitor_event(&self, event: &MonitorEvent) {
        if self.json {
            return self.emit(event);
        }
        match event {
            MonitorEvent::Connected { host, replayed } => {
                println!("watching {host} (caught up on {replayed} event(s) from while away)")
            }
            MonitorEvent::Status {
                app,
                status,
                detail,
                ..
            } => {
                let detail = detail
                    .as_ref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                println!("{}: {status}{detail}", app.slug);
            }
            MonitorEvent::Sampled { .. } => {}
            MonitorEvent::RequestsUnavailable { reason } => {
                eprintln!("requests per minute unavailable: {reason}")
            }
            MonitorEvent::Disconnected {
                reason,
                retry_in_ms,
            } => eprintln!("connection lost ({reason}); retrying in {retry_in_ms} ms"),
        }
    }

    /// A cluster app's series on each node, one after the other.
    pub fn metrics_by_node(&self, slug: &str, host: &str, parts: &[MetricSeries]) {
        if self.json {
            return self.emit(&parts);
        }
        if parts.is_empty() {
            println!(
                "{slug} has no metrics per node in this range: {host} is not a cluster, \
                 or the monitor (rdesk watch, or the window) did not sample it then"
            );
        }
        for part in parts {
            self.metrics(part);
        }
    }

    pub fn metrics(&self, series: &MetricSeries) {
        if self.json {
            return self.emit(series);
        }
        let whose = match (&series.slug, &series.node) {
            (Some(slug), Some(node)) => format!("{slug} on node {node} of"),
            (Some(slug), None) => format!("{slug} on"),
            (None, _) => "all apps on".to_owned(),
        };
        let limit = series
            .memory_limit_bytes
            .map(|l| format!(", memory limit {:.0} MiB", mib(l)))
            .unwrap_or_default();
        println!(
            "{whose} {}: {} point(s) of {} s{limit}",
            series.host,
            series.points.len(),
            series.seconds
        );
        println!("  age        cpu %   memory MiB   rx B/s   tx B/s   req/min");
        for p in &series.points {
            let requests = p
                .requests_per_minute
                .map_or("-".to_owned(), |r| format!("{r:.1}"));
            println!(
                "  {:<9} {:>6.1} {:>12.1} {:>8.0} {:>8.0} {:>9}",
                age(p.at_ms),
                p.cpu_percent,
                mib(p.memory_bytes),
                p.net_rx_bytes_per_s,
                p.net_tx_bytes_per_s,
                requests
            );
        }
    }

    pub fn removed(&self, slug: &str, removed: &Removed) {
        if self.json {
            return self.emit(&json!({ "slug": slug, "removed": removed }));
        }
        println!(
            "removed {slug}: {} container(s), images: {}",
            removed.containers.len(),
            list_or(&removed.images, "none")
        );
    }

    pub fn log_line(&self, line: &LogLine) {
        if self.json {
            return self.emit(line);
        }
        match line.stream {
            LogStream::Stdout => println!("{}", line.text),
            LogStream::Stderr => eprintln!("{}", line.text),
        }
    }

    pub fn history(&self, history: &AppHistory) {
        let (deployments, events) = (&history.deployments, &history.status_events);
        if self.json {
            return self.emit(&json!({ "deployments": deployments, "status_events": events }));
        }
        println!("deployments (newest first):");
        for d in deployments.iter().map(|r| &r.deployment) {
            let from = d
                .origin
                .as_ref()
                .map(|o| format!("{} {} {}  ", o.url, o.reference, short(&o.commit)))
                .unwrap_or_default();
            println!(
                "  {} ago  {:<8} {:<7} {:>6} ms  {from}{}",
                age(d.started_at),
                d.action,
                d.outcome,
                d.duration_ms,
                d.message.as_deref().unwrap_or("")
            );
        }
        println!("status changes (newest first):");
        for e in events {
            let detail = e
                .detail
                .as_ref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            println!("  {} ago  {}{detail}", age(e.at), e.status);
        }
    }
}

/// A commit id's first 12 hex digits.
fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn list_or(items: &[String], empty: &str) -> String {
    if items.is_empty() {
        empty.to_owned()
    } else {
        items.join(", ")
    }
}

/// "42 s", "5 min", "3 h", "2 d".
fn age(at_ms: i64) -> String {
    let s = (now_ms() - at_ms).max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86400),
    }
}

/// Bytes in MiB.
fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}
