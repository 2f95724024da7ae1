//! Redis: whether one answers at REDIS_URL, and starting a redis-server natively (it
//! daemonizes itself) when none does.

use std::fs;
use std::process::Stdio;
use std::thread::sleep;
use std::time::{Duration, Instant};

use keygate_local::services::{redis_call, redis_server_command, tcp_open, RedisAuth};

use super::config::{Services, PROBE_TIMEOUT};
use super::endpoint::{host_port, Endpoint};
use super::process::{have, pid_of, process_args, show_log_tail, stop_pid, wait_for};
use super::{die, log};

impl Services {
    pub(super) fn redis_pid(&self) -> Option<u32> {
        pid_of(&self.file("redis.pid"), "redis-server")
    }

    /// A Redis answers (or, for rediss://, the port is open).
    pub(super) fn redis_reachable(&self) -> bool {
        let Endpoint { host, port, .. } = &self.redis;
        if self.redis_tls {
            return tcp_open(host, *port, PROBE_TIMEOUT);
        }
        let auth = RedisAuth {
            user: self.redis.user.clone(),
            password: self.redis.password.clone(),
        };
        match redis_call(host, *port, Some(&auth), &["PING"], PROBE_TIMEOUT) {
            Ok(reply) if reply == "PONG" => true,
            Ok(reply)
                if reply.starts_with("NOAUTH")
                    || reply.starts_with("WRONGPASS")
                    || reply.contains("AUTH")
                    || reply.starts_with("ERR") =>
            {
                log(format!(
                    "warning: Redis at {} answered '{reply}' (check the credentials in REDIS_URL)",
                    host_port(host, *port)
                ));
                true
            }
            _ => false,
        }
    }

    pub(super) fn start_redis(&self) {
        let Endpoint {
            host,
            port,
            user,
            password,
            ..
        } = &self.redis;
        let pid_file = self.file("redis.pid");
        let log_file = self.file("redis.log");
        if let Some(pid) = self.redis_pid() {
            die(format!("a Redis started earlier by services.sh (pid {pid}: {}) still runs, but no Redis answers at {}; run 'local/services.sh down' first", process_args(pid), host_port(host, *port)));
        }
        if self.redis_tls {
            die(format!("nothing listens at {} and services.sh cannot start a TLS (rediss://) Redis; use redis:// locally", host_port(host, *port)));
        }
        if tcp_open(host, *port, PROBE_TIMEOUT) {
            die(format!("port {port} on {host} is taken by something that does not answer a Redis PING; pick another port in REDIS_URL"));
        }
        if !have("redis-server") {
            self.install("redis");
        }
        let mut auth: Vec<String> = Vec::new();
        if !password.is_empty() {
            if user.is_empty() || user == "default" {
                auth.extend(["--requirepass".into(), password.clone()]);
            } else {
                auth.extend(
                    [
                        "--user",
                        user,
                        "on",
                        &format!(">{password}"),
                        "~*",
                        "&*",
                        "+@all",
                        "--user",
                        "default",
                        "off",
                    ]
                    .map(String::from),
                );
            }
        }
        log(format!(
            "starting redis-server on 127.0.0.1:{port} (log: {})...",
            log_file.display()
        ));
        let _ = fs::remove_file(&pid_file);
        let start = Instant::now();
        // It daemonizes itself (in a session of its own) and writes its pid file.
        let started = redis_server_command(*port)
            .args(["--daemonize", "yes"])
            .arg("--pidfile")
            .arg(&pid_file)
            .arg("--logfile")
            .arg(&log_file)
            .arg("--dir")
            .arg(&self.run_dir)
            .args(&auth)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        match started {
            Ok(status) if status.success() => {}
            Ok(status) => {
                show_log_tail(&log_file);
                die(format!("redis-server failed to start ({status})"));
            }
            Err(err) => die(format!("cannot start redis-server: {err}")),
        }
        if !wait_for("Redis", self.redis_wait, || self.redis_reachable(), None) {
            show_log_tail(&log_file);
            if let Some(pid) = self.redis_pid() {
                stop_pid("Redis", pid);
            }
            let _ = fs::remove_file(&pid_file);
            std::process::exit(1);
        }
        // The daemon writes its pid file right after it forks; give it a moment.
        for _ in 0..20 {
            if fs::metadata(&pid_file).is_ok_and(|m| m.len() > 0) {
                break;
            }
            sleep(Duration::from_millis(100));
        }
        let pid = self
            .redis_pid()
            .map_or("?".to_string(), |pid| pid.to_string());
        log(format!(
            "redis: started (pid {pid}, ready in {:.1}s) at {}",
            start.elapsed().as_secs_f64(),
            self.redis_shown
        ));
    }
}
