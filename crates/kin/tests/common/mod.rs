//! What the binary's end-to-end tests share: running `kin` on a data directory and writing `.npy`.
//! Each test binary uses part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// `kin` on the embedded store in `data`, untouched by the caller's environment.
pub fn kin(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kin"));
    cmd.env_remove("KIN_LOG").env_remove("KIN_MODEL").env_remove("KIN_BACKEND").env("KIN_DATA", data);
    cmd
}

/// The standard output of a run that must succeed.
pub fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
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
