//! What the store's damage and crash tests share.
#![allow(dead_code)]

pub mod writer;

use std::fs;
use std::path::Path;

/// Copies a data directory, so each damaged copy starts from the same pristine one.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}
