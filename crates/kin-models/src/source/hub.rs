//! Downloads from the Hugging Face Hub: `GET {endpoint}/{repo}/resolve/{revision}/{file}`.
//!
//! Redirects are followed by hand so the Hub's `X-Linked-ETag` (the sha256 of a large file,
//! sent on the redirect to the CDN) can be checked against what arrives, and so the token is
//! only ever sent to the Hub itself.

use std::path::Path;

use tracing::{debug, info};

use super::HubFiles;
use crate::cache::PartialFile;
use crate::config::FetchConfig;
use crate::error::{Error, Result};

const MAX_REDIRECTS: usize = 5;
/// How much of an error body goes into an error message.
const MAX_ERROR_BODY: usize = 300;

/// Downloads the repository's files into `dest`; optional files the Hub lacks (404) are skipped.
pub(crate) fn download(files: &HubFiles, cfg: &FetchConfig, dest: &Path) -> Result<()> {
    let agent = agent(cfg);
    let required = files.required.iter().map(|f| (*f, true));
    for (file, needed) in required.chain(files.optional.iter().map(|f| (*f, false))) {
        match download_file(&agent, cfg, files, file, dest) {
            Ok(bytes) => debug!("downloaded {}/{file} ({bytes} bytes)", files.repo),
            Err(Error::Http { status: Some(404), .. }) if !needed => {
                debug!("{} has no {file}; it is optional", files.repo)
            }
            Err(e) => return Err(e),
        }
    }
    info!("downloaded {} from {}", files.repo, cfg.hf_endpoint);
    Ok(())
}

fn agent(cfg: &FetchConfig) -> ureq::Agent {
    let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"].iter().any(|p| cfg.hf_endpoint.starts_with(p));
    ureq::AgentBuilder::new()
        .timeout_connect(cfg.connect_timeout)
        .timeout_read(cfg.read_timeout)
        .redirects(0)
        .try_proxy_from_env(!local)
        .user_agent(concat!("kin/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Downloads one file to `dest/file`, returning its size.
fn download_file(agent: &ureq::Agent, cfg: &FetchConfig, files: &HubFiles, file: &str, dest: &Path) -> Result<u64> {
    let hub = origin(&cfg.hf_endpoint).to_string();
    let mut url = format!("{}/{}/resolve/{}/{file}", cfg.hf_endpoint, files.repo, files.revision);
    let mut expected: Option<String> = None;
    for _ in 0..=MAX_REDIRECTS {
        let from_hub = origin(&url) == hub;
        let mut request = agent.get(&url);
        if let (Some(token), true) = (&cfg.hf_token, from_hub) {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        let response = match request.call() {
            Ok(response) => response,
            Err(ureq::Error::Status(code, response)) => {
                return Err(Error::Http { url, status: Some(code), message: explain(code, files.repo, response) })
            }
            Err(ureq::Error::Transport(t)) => {
                let message = match t.message() {
                    Some(detail) => format!("{}: {detail}", t.kind()),
                    None => t.kind().to_string(),
                };
                return Err(Error::Http { url, status: None, message });
            }
        };
        if from_hub && expected.is_none() {
            expected = ["X-Linked-ETag", "ETag"].iter().find_map(|h| response.header(h).and_then(sha256_etag));
        }
        if (300..400).contains(&response.status()) {
            let Some(location) = response.header("Location") else {
                return Err(Error::Http {
                    url,
                    status: Some(response.status()),
                    message: "redirect without Location".into(),
                });
            };
            url = join(&url, location);
            continue;
        }
        let length = response.header("Content-Length").and_then(|v| v.trim().parse::<u64>().ok());
        let mut out = PartialFile::create(&dest.join(file))?;
        let copied = out.copy_from(&mut response.into_reader());
        if let Err(e) = copied {
            return Err(Error::Http { url, status: None, message: format!("download of {file} interrupted: {e}") });
        }
        if let Some(length) = length.filter(|&n| n != out.written) {
            let message = format!("truncated download: {} of {length} bytes", out.written);
            return Err(Error::Corrupt { path: out.path, message });
        }
        let written = out.written;
        out.finish(expected.as_deref())?;
        return Ok(written);
    }
    Err(Error::Http { url, status: None, message: format!("more than {MAX_REDIRECTS} redirects") })
}

/// An error message for an HTTP status, with the fix when there is one.
fn explain(code: u16, repo: &str, response: ureq::Response) -> String {
    let mut body = response.into_string().unwrap_or_default();
    if body.len() > MAX_ERROR_BODY {
        let cut = (0..=MAX_ERROR_BODY).rev().find(|&i| body.is_char_boundary(i)).unwrap_or(0);
        body.truncate(cut);
    }
    let body = body.trim();
    match code {
        401 | 403 => {
            format!("access denied to {repo}: set HF_TOKEN to a token that can read it ({body})")
        }
        404 => format!("not found in {repo}"),
        _ => body.to_string(),
    }
}

/// An ETag value holding a sha256 (64 hex digits), as the Hub sends for LFS files; others
/// (a git blob sha1, a CDN's own tag) are not digests of the content and are ignored.
fn sha256_etag(value: &str) -> Option<String> {
    let v = value.trim().trim_start_matches("W/").trim_matches('"');
    (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    &url[..end]
}

/// Resolves a `Location` header against the URL it answered.
fn join(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = base.split("://").next().unwrap_or("https");
        return format!("{scheme}://{rest}");
    }
    if location.starts_with('/') {
        return format!("{}{location}", origin(base));
    }
    let path_end = base.find(['?', '#']).unwrap_or(base.len());
    let dir_end = base[..path_end].rfind('/').map_or(path_end, |i| i + 1);
    format!("{}{location}", &base[..dir_end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::{SENTENCE_TRANSFORMERS_FILES, SENTENCE_TRANSFORMERS_OPTIONAL};
    use crate::test_support::{sha256_hex, MockHub, Reply};

    fn st_routes(weights: &[u8], linked_etag: &str) -> Vec<(String, Reply)> {
        crate::test_support::hub_routes(FILES.repo, weights, linked_etag)
    }
    use std::fs;

    const FILES: HubFiles<'static> = HubFiles {
        repo: "sentence-transformers/all-MiniLM-L6-v2",
        revision: "main",
        required: SENTENCE_TRANSFORMERS_FILES,
        optional: SENTENCE_TRANSFORMERS_OPTIONAL,
    };

    fn config(endpoint: &str, token: Option<&str>) -> (tempfile::TempDir, FetchConfig) {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = FetchConfig::new(tmp.path().join("kin"), tmp.path().join("hf"));
        cfg.hf_endpoint = endpoint.to_string();
        cfg.hf_token = token.map(str::to_string);
        (tmp, cfg)
    }

    #[test]
    fn downloads_files_follows_redirect_and_sends_token_only_to_the_hub() {
        let weights = vec![3u8; 10_000];
        let hub = MockHub::start(st_routes(&weights, &sha256_hex(&weights)));
        let (tmp, cfg) = config(&hub.endpoint, Some("hf_test"));
        let dest = tmp.path().join("out");
        download(&FILES, &cfg, &dest).unwrap();

        assert_eq!(fs::read(dest.join("model.safetensors")).unwrap(), weights);
        assert!(fs::read_to_string(dest.join("1_Pooling/config.json")).unwrap().contains("1_Pooling"));
        assert!(dest.join("tokenizer_config.json").exists());
        assert!(!dest.join("special_tokens_map.json").exists(), "optional 404 is skipped");
        let requests = hub.requests();
        let auth = |path: &str| requests.iter().find(|r| r.path.ends_with(path)).and_then(|r| r.authorization.clone());
        assert_eq!(auth("/config.json").as_deref(), Some("Bearer hf_test"));
        assert!(requests.iter().any(|r| r.path.ends_with("special_tokens_map.json")), "optional file was asked for");
        // The mock CDN shares the hub's origin here, so the token goes along; a foreign host would not get it.
        assert_eq!(origin("https://cdn-lfs.hf.co/x"), "https://cdn-lfs.hf.co");
        assert_ne!(origin("https://cdn-lfs.hf.co/x"), origin("https://huggingface.co/a/b"));
    }

    #[test]
    fn linked_etag_mismatch_is_a_checksum_error() {
        let weights = vec![3u8; 1000];
        let hub = MockHub::start(st_routes(&weights, &"ab".repeat(32)));
        let (tmp, cfg) = config(&hub.endpoint, None);
        let err = download(&FILES, &cfg, &tmp.path().join("out")).unwrap_err();
        assert!(matches!(&err, Error::ChecksumMismatch { path, .. } if path.ends_with("model.safetensors")), "{err}");
        assert!(hub.requests().iter().all(|r| r.authorization.is_none()), "no token, no header");
    }

    #[test]
    fn missing_required_file_and_truncation_are_errors() {
        let weights = vec![1u8; 100];
        let mut routes = st_routes(&weights, &sha256_hex(&weights));
        routes.retain(|(path, _)| !path.ends_with("/modules.json"));
        let hub = MockHub::start(routes);
        let (tmp, cfg) = config(&hub.endpoint, None);
        let err = download(&FILES, &cfg, &tmp.path().join("out")).unwrap_err();
        assert!(matches!(&err, Error::Http { status: Some(404), url, .. } if url.ends_with("modules.json")), "{err}");

        let mut routes = st_routes(&weights, &sha256_hex(&weights));
        for (path, reply) in &mut routes {
            if path.starts_with("/cdn/") {
                *reply = Reply::ok(weights[..40].to_vec()).declared_length(100);
            }
        }
        let hub = MockHub::start(routes);
        let (tmp, cfg) = config(&hub.endpoint, None);
        let err = download(&FILES, &cfg, &tmp.path().join("out")).unwrap_err();
        assert!(matches!(err, Error::Http { status: None, .. } | Error::Corrupt { .. }), "{err}");
        assert!(!tmp.path().join("out/model.safetensors").exists(), "a truncated file never gets its final name");
    }

    #[test]
    fn denied_access_says_to_set_the_token() {
        let hub = MockHub::start(vec![(
            format!("/{}/resolve/main/config.json", FILES.repo),
            Reply::status(401, b"Invalid credentials".to_vec()),
        )]);
        let (tmp, cfg) = config(&hub.endpoint, Some("bad"));
        let err = download(&FILES, &cfg, &tmp.path().join("out")).unwrap_err();
        assert!(err.to_string().contains("HF_TOKEN"), "{err}");
    }

    #[test]
    fn urls_and_etags() {
        assert_eq!(join("https://h.co/a/b/c?x=1", "/d"), "https://h.co/d");
        assert_eq!(join("https://h.co/a/b/c", "d"), "https://h.co/a/b/d");
        assert_eq!(join("https://h.co/a", "//cdn.co/e"), "https://cdn.co/e");
        assert_eq!(join("https://h.co/a", "http://x.co/f"), "http://x.co/f");
        assert_eq!(origin("http://127.0.0.1:8080/a/b"), "http://127.0.0.1:8080");
        let sha = "a".repeat(64);
        assert_eq!(sha256_etag(&format!("W/\"{sha}\"")), Some(sha));
        assert_eq!(sha256_etag("\"0123456789abcdef0123456789abcdef01234567\""), None, "git sha1");
    }
}
