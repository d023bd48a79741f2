//! A real nginx on loopback, started by a test: a round-robin load balancer in front of
//! several `serve` replicas (`proxy_pass` to an `upstream`, no cache). Stopped on drop.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nginx {
    child: Child,
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
    _dir: tempfile::TempDir,
}

/// Whether an `nginx` binary is there. Under CI (`CI` set) its absence fails the test that
/// asked; elsewhere the test says so and skips that part.
pub fn available() -> bool {
    let found = Command::new("nginx")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found || std::env::var_os("CI").is_none(),
        "nginx is not installed (CI installs it: .ci/run)"
    );
    if !found {
        eprintln!("nginx not installed: the load-balancer part of this test is skipped");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Nginx {
    /// nginx balancing round-robin over `backends` (`127.0.0.1:PORT` each).
    pub fn round_robin(backends: &[&str]) -> Nginx {
        let dir = tempfile::tempdir().expect("nginx dir");
        let port = free_port();
        let servers: String = backends
            .iter()
            .map(|b| format!("    server {b};\n"))
            .collect();
        let p = dir.path().display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\n\
             error_log {p}/error.log warn;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n\
             proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n\
             uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
             upstream replicas {{\n{servers}  }}\n\
             server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
                   proxy_pass http://replicas;\n      proxy_http_version 1.1;\n\
                   proxy_set_header Connection \"\";\n    }}\n  }}\n}}\n"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let child = Command::new("nginx")
            .args(["-p", &p.to_string(), "-c"])
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nginx");
        let nginx = Nginx {
            child,
            url: format!("http://127.0.0.1:{port}/"),
            _dir: dir,
        };
        nginx.wait_listening(port, &conf_path);
        nginx
    }

    fn wait_listening(&self, port: u16, conf: &Path) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on {port} ({}): {}",
                conf.display(),
                std::fs::read_to_string(conf.with_file_name("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
