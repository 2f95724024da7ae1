//! DynamoDB Local: what answers at its endpoint, and starting it natively (java -jar) when
//! nothing does.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Instant;

use keygate_local::services::{
    self, dynamodb_command, dynamodb_jar_dir, http_probe, tcp_open, HttpAnswer, Storage,
};

use super::config::{Services, PROBE_TIMEOUT};
use super::endpoint::Endpoint;
use super::process::{dynamodb_port_of, pid_of, process_args, show_log_tail, stop_child, wait_for};
use super::{die, log};

/// What answers at the DynamoDB endpoint.
pub(super) enum DynamoDbAnswer {
    Http(HttpAnswer),
    /// An https:// endpoint: only its port is probed.
    TcpOnly,
}

impl DynamoDbAnswer {
    pub(super) fn looks_like_dynamodb(&self) -> bool {
        match self {
            DynamoDbAnswer::Http(answer) => answer.looks_like_dynamodb,
            DynamoDbAnswer::TcpOnly => true,
        }
    }

    pub(super) fn describe(&self) -> String {
        match self {
            DynamoDbAnswer::Http(HttpAnswer {
                status,
                looks_like_dynamodb: true,
            }) => format!("HTTP {status}"),
            DynamoDbAnswer::Http(HttpAnswer { status, .. }) => format!(
                "HTTP {status}, but no x-amzn-RequestId header: does not look like DynamoDB"
            ),
            DynamoDbAnswer::TcpOnly => "port open; https is not probed further".into(),
        }
    }
}

impl Services {
    pub(super) fn dynamodb_pid(&self) -> Option<u32> {
        pid_of(&self.file("dynamodb.pid"), "DynamoDBLocal.jar")
    }

    pub(super) fn dynamodb_probe(&self) -> Option<DynamoDbAnswer> {
        let Endpoint {
            host, port, path, ..
        } = &self.dynamodb;
        if self.dynamodb_https {
            return tcp_open(host, *port, PROBE_TIMEOUT).then_some(DynamoDbAnswer::TcpOnly);
        }
        http_probe(host, *port, path, PROBE_TIMEOUT).map(DynamoDbAnswer::Http)
    }

    pub(super) fn start_dynamodb(&self) {
        let Endpoint { host, port, .. } = &self.dynamodb;
        if let Some(pid) = self.dynamodb_pid() {
            let other = dynamodb_port_of(&process_args(pid)).map_or("?".into(), |p| p.to_string());
            die(format!("DynamoDB Local started earlier by services.sh (pid {pid}, port {other}) still runs, but nothing answers at {}; run 'local/services.sh down' first", self.dynamodb_url));
        }
        if tcp_open(host, *port, PROBE_TIMEOUT) {
            die(format!("port {port} on {host} is taken by something that does not answer HTTP; pick another DYNAMODB_PORT"));
        }
        // A fast no-op when the jar and a Java 17+ are there.
        self.install("dynamodb");
        let tools = services::tools_dir();
        let Some(jar_dir) = dynamodb_jar_dir(&tools) else {
            die("DynamoDB Local jar not found after install")
        };
        // DynamoDB Local writes into its working directory (dynamodb-local-metadata.json,
        // when telemetry is on): keep that with the other run-time files, out of the
        // clone and of the shared jar directory.
        let work_dir = self.file("dynamodb");
        if let Err(err) = fs::create_dir_all(&work_dir) {
            die(format!("cannot create {}: {err}", work_dir.display()));
        }
        let (storage, place) = if self.in_memory {
            (Storage::InMemory, "in memory".to_string())
        } else {
            (
                Storage::OnDisk(&work_dir),
                format!("data in {}", work_dir.display()),
            )
        };
        let log_file = self.file("dynamodb.log");
        let pid_file = self.file("dynamodb.pid");
        log(format!(
            "starting DynamoDB Local on port {port} ({place}; log: {})...",
            log_file.display()
        ));
        let start = Instant::now();
        let output = File::create(&log_file)
            .and_then(|f| Ok((f.try_clone()?, f)))
            .unwrap_or_else(|err| die(format!("cannot write {}: {err}", log_file.display())));
        let mut child = dynamodb_command(&jar_dir, *port, storage, &self.java_options)
            .current_dir(&work_dir)
            .stdin(Stdio::null())
            .stdout(output.0)
            .stderr(output.1)
            // Its own process group: a Ctrl-C meant for `make dev` does not reach it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|err| die(format!("cannot start java: {err}")));
        let pid = child.id();
        if let Err(err) = fs::write(&pid_file, format!("{pid}\n")) {
            stop_child("DynamoDB Local", &mut child);
            die(format!("cannot write {}: {err}", pid_file.display()));
        }
        let ready = || self.dynamodb_probe().is_some();
        if !wait_for(
            "DynamoDB Local",
            self.dynamodb_wait,
            ready,
            Some(&mut child),
        ) {
            show_log_tail(&log_file);
            stop_child("DynamoDB Local", &mut child);
            let _ = fs::remove_file(&pid_file);
            std::process::exit(1);
        }
        log(format!(
            "dynamodb: started (pid {pid}, ready in {:.1}s) at {}",
            start.elapsed().as_secs_f64(),
            self.dynamodb_url
        ));
    }
}
