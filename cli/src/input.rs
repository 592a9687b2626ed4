//! Reading what the user gives: definitions (with substitutions), inputs, mock files.
//! Every failure here is a usage error (exit 2) that names the file and the place.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

/// The most sfnlite reads of a file it is given (a definition, an input, a mock file, a
/// test file), so that `/dev/zero` or a wrong path to a huge file is refused, not read
/// until memory runs out. AWS's own quotas are smaller (1 MB for a definition, 256 KiB
/// for an execution's input).
pub(crate) const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// AWS's quota for an execution's input (UTF-8 bytes).
pub(crate) const MAX_INPUT_BYTES: usize = 262_144;

/// Reads a file (at most [`MAX_FILE_BYTES`]), naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        bail!("{}: larger than {} MiB, the most sfnlite reads of a file", path.display(), MAX_FILE_BYTES >> 20);
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow!("{}: not UTF-8 text (invalid byte at offset {})", path.display(), e.utf8_error().valid_up_to())
    })
}

/// An execution's input: JSON within AWS's quota (256 KiB), from `origin` (the flag or file).
pub(crate) fn execution_input(text: &str, origin: &str) -> Result<Value> {
    if text.len() > MAX_INPUT_BYTES {
        bail!(
            "{origin}: the execution input is {} bytes; AWS's quota for an execution's input is {MAX_INPUT_BYTES} bytes (256 KiB)",
            text.len()
        );
    }
    parse_json(text, origin)
}

/// Parses JSON text, naming its origin and the line and column of a syntax error.
pub(crate) fn parse_json(text: &str, origin: &str) -> Result<Value> {
    serde_json::from_str(text)
        .map_err(|e| anyhow!("{origin}:{}:{}: invalid JSON: {}", e.line(), e.column(), without_position(&e)))
}

/// Replaces `${KEY}` placeholders, as SAM's DefinitionSubstitutions do.
pub(crate) fn substitute(text: &str, substitutions: &[String]) -> Result<String> {
    let mut out = text.to_owned();
    for item in substitutions {
        let Some((key, value)) = item.split_once('=').filter(|(key, _)| !key.is_empty()) else {
            bail!("--sub expects KEY=VALUE with a KEY, got '{item}'");
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

/// serde_json's message without the " at line L column C" it ends with (the place is
/// already given as `file:line:column`).
pub(crate) fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) if text[at..].contains(" column ") => text[..at].to_owned(),
        _ => text,
    }
}
