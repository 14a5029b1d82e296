//! Reading and changing the configuration file: changes are merged into the file (keys the change
//! does not name keep their values; comments are not kept), validated as a whole exactly as
//! `roost serve` would load it, and written only when valid.

use crate::config::Config;
use crate::error::{Error, Result};
use std::path::Path;

/// The configuration in force for this file: the file over the defaults, as JSON.
pub fn get(config: &Config) -> Result<serde_json::Value> {
    serde_json::to_value(config).map_err(|e| Error::Storage(format!("settings: {e}")))
}

/// Merges `changes` (a JSON object of tables and keys, e.g. {"smtp": {"max_recipients": 50}})
/// into the file at `path`, validates the result, and writes it atomically.
pub fn set(path: &Path, data_dir: &Path, changes: &serde_json::Value) -> Result<Config> {
    let serde_json::Value::Object(_) = changes else {
        return Err(Error::Invalid(
            "settings: give an object of tables and keys, e.g. {\"smtp\": {\"max_recipients\": 50}}"
                .into(),
        ));
    };
    let current = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Error::Storage(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let mut table: toml::Table = toml::from_str(&current)
        .map_err(|e| Error::Invalid(format!("{} is not valid TOML: {e}", path.display())))?;
    let patch: toml::Value = serde_json::from_value(changes.clone())
        .map_err(|e| Error::Invalid(format!("settings: {e}")))?;
    merge(&mut table, patch, "")?;
    let text =
        toml::to_string_pretty(&table).map_err(|e| Error::Invalid(format!("settings: {e}")))?;
    // Validate exactly as the server will load it.
    let tmp = path.with_extension("toml.new");
    // Readable by Roost's user only (settings may name password files), and on disk before
    // they replace the old ones.
    crate::util::write_private(&tmp, &text)
        .map_err(|e| Error::Storage(format!("cannot write {}: {e}", tmp.display())))?;
    let loaded = Config::load(Some(&tmp), Some(data_dir));
    let config = match loaded {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            let msg = e.0.replace(&tmp.display().to_string(), "settings");
            return Err(Error::Invalid(format!("{msg}; nothing was changed")));
        }
    };
    std::fs::rename(&tmp, path)
        .map_err(|e| Error::Storage(format!("cannot replace {}: {e}", path.display())))?;
    // The rename itself survives a power cut only once its folder is on disk.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::store::sync_dir(dir)
            .map_err(|e| Error::Storage(format!("cannot sync {}: {e}", dir.display())))?;
    }
    Ok(config)
}

/// JSON null removes a key (back to its default); objects merge; anything else replaces.
fn merge(table: &mut toml::Table, patch: toml::Value, at: &str) -> Result<()> {
    let toml::Value::Table(patch) = patch else {
        return Err(Error::Invalid(format!("settings: {at} must be a table")));
    };
    for (k, v) in patch {
        let key = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        match (table.get_mut(&k), v) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(p)) => {
                merge(inner, toml::Value::Table(p), &key)?
            }
            (_, v) => {
                table.insert(k, v);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_validate_and_refuse() {
        let dir = std::env::temp_dir().join(format!("roost-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("roost.toml");
        std::fs::write(
            &path,
            "hostname = \"mail.example.test\"\n[smtp]\nmax_recipients = 10\n",
        )
        .unwrap();
        let c = set(
            &path,
            &dir,
            &serde_json::json!({"smtp": {"max_errors": 5}, "queue": {"lifetime_secs": 3600}}),
        )
        .unwrap();
        assert_eq!(
            (
                c.smtp.max_recipients,
                c.smtp.max_errors,
                c.queue.lifetime_secs
            ),
            (10, 5, 3600)
        );
        let before = std::fs::read_to_string(&path).unwrap();
        let e = set(
            &path,
            &dir,
            &serde_json::json!({"smtp": {"max_recipients": 0}}),
        )
        .unwrap_err();
        assert!(e.message().contains("smtp.max_recipients"), "{e}");
        let e = set(
            &path,
            &dir,
            &serde_json::json!({"smtp": {"max_recipent": 3}}),
        )
        .unwrap_err();
        assert!(e.message().contains("max_recipent"), "{e}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            before,
            "nothing changed"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
