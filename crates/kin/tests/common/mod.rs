//! What the binary's end-to-end tests share: running `kin` on a data directory and writing `.npy`.
//! Each test binary uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// `kin` on the embedded store in `data`, untouched by the caller's environment.
pub fn kin(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kin"));
    cmd.env_remove("KIN_LOG").env_remove("KIN_MODEL").env_remove("KIN_BACKEND").env("KIN_DATA", data);
    cmd
}

/// A running `kin serve` on a free port of loopback, killed with SIGKILL when dropped.
pub struct Served {
    pub child: Child,
    pub url: String,
}

impl Served {
    pub fn start(data: &Path, extra: &[&str]) -> Served {
        Served::start_with(data, extra, &[])
    }

    /// With environment variables of its own (`KIN_FAULTS`).
    pub fn start_with(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Served {
        let mut child = kin(data)
            .env_remove("KIN_API_KEYS")
            .envs(env.iter().copied())
            .args(["serve", "--addr", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        let served = Served { child, url };
        let deadline = Instant::now() + Duration::from_secs(120);
        while ureq::get(&format!("{}/readyz", served.url)).call().is_err() {
            assert!(Instant::now() < deadline, "kin serve never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        served
    }

    pub fn post(&self, path: &str, body: Value) -> Result<Value, ureq::Error> {
        Ok(ureq::post(&format!("{}{path}", self.url)).send_json(body)?.into_json().unwrap())
    }

    pub fn get(&self, path: &str) -> Result<Value, ureq::Error> {
        Ok(ureq::get(&format!("{}{path}", self.url)).call()?.into_json().unwrap())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The standard output of a run that must succeed.
pub fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Asserts that `out` failed with exit `code` and an error containing `needle`, without a panic.
pub fn fails(out: Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A float32 `.npy` of `rows` × `cols`.
pub fn write_npy(path: &Path, rows: usize, cols: usize, data: &[f32]) {
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}").into_bytes();
    header.resize(117, b' ');
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(&header);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

/// `scripts/test.sh`'s Milvus, or a `milvus-lite server` started for this test.
pub struct Milvus {
    pub url: String,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Milvus {
    pub fn get() -> Milvus {
        if let Ok(addr) = std::env::var("KIN_TEST_MILVUS") {
            return Milvus { url: format!("milvus://{addr}"), child: None, _dir: None };
        }
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("timeout")
            .args(["900", "milvus-lite", "server", "--data-dir"])
            .arg(dir.path())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("milvus-lite runs (`pip install milvus-lite`; scripts/test.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "milvus-lite did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Milvus { url: format!("milvus://127.0.0.1:{port}"), child: Some(child), _dir: Some(dir) }
    }
}

impl Drop for Milvus {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
