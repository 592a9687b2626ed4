//! Reading what the user gives: definitions (with substitutions), inputs, mock files.
//! Every failure here is a usage error (exit 2) that names the file and the place.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

/// Reads a file, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Parses JSON text, naming its origin and the line and column of a syntax error.
pub(crate) fn parse_json(text: &str, origin: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| anyhow!("{origin}:{}:{}: invalid JSON: {e}", e.line(), e.column()))
}

/// Replaces `${KEY}` placeholders, as SAM's DefinitionSubstitutions do.
pub(crate) fn substitute(text: &str, substitutions: &[String]) -> Result<String> {
    let mut out = text.to_owned();
    for item in substitutions {
        let Some((key, value)) = item.split_once('=') else {
            bail!("--sub expects KEY=VALUE, got '{item}'");
        };
        out = out.replace(&format!("${{{key}}}"), value);
    }
    Ok(out)
}

/// Placeholders left in a definition after substitution.
pub(crate) fn unresolved_placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if after[..end].chars().all(|c| c.is_alphanumeric() || c == '_') && end > 0 => {
                let name = after[..end].to_owned();
                if !found.contains(&name) {
                    found.push(name);
                }
                rest = &after[end + 1..];
            }
            _ => rest = after,
        }
    }
    found
}
