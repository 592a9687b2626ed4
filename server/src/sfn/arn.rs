//! The ARNs the API takes, parsed: state machines (with a version or an alias),
//! executions and activities, with AWS's `InvalidArn` answers.

use super::error::ApiError;

/// What a state machine ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineRef {
    /// `…:stateMachine:<name>`.
    Machine { arn: String, name: String },
    /// `…:stateMachine:<name>:<n>`.
    Version { arn: String, machine_arn: String, name: String, version: u64 },
    /// `…:stateMachine:<name>:<alias>`.
    Alias { arn: String, machine_arn: String, name: String, alias: String },
}

impl MachineRef {
    /// The ARN of the state machine itself.
    pub fn machine_arn(&self) -> &str {
        match self {
            MachineRef::Machine { arn, .. } => arn,
            MachineRef::Version { machine_arn, .. } | MachineRef::Alias { machine_arn, .. } => machine_arn,
        }
    }

    /// The state machine's name.
    pub fn name(&self) -> &str {
        match self {
            MachineRef::Machine { name, .. } | MachineRef::Version { name, .. } | MachineRef::Alias { name, .. } => {
                name
            }
        }
    }
}

/// `arn:<partition>:states:<region>:<account>:<resource type>:<rest>`: the type and rest.
fn resource_of(arn: &str) -> Result<(&str, &str), ApiError> {
    let fields: Vec<&str> = arn.splitn(7, ':').collect();
    if fields.len() < 7 || fields[0] != "arn" || fields[2] != "states" {
        return Err(ApiError::invalid_arn_prefix(arn));
    }
    Ok((fields[5], fields[6]))
}

/// The prefix `arn:<partition>:states:<region>:<account>:` of an ARN.
fn prefix_of(arn: &str) -> &str {
    let mut colons = 0;
    for (i, c) in arn.char_indices() {
        if c == ':' {
            colons += 1;
            if colons == 5 {
                return &arn[..=i];
            }
        }
    }
    arn
}

/// Parses a state machine, version or alias ARN.
pub fn machine(arn: &str) -> Result<MachineRef, ApiError> {
    let (kind, rest) = resource_of(arn)?;
    if kind != "stateMachine" {
        return Err(ApiError::invalid_arn(&format!("Resource type not valid in this context: {kind}")));
    }
    if rest.contains('/') {
        return Err(ApiError::validation(format!(
            "The state machine ARN '{arn}' names a Distributed Map run, which is not a state machine"
        )));
    }
    let machine = |name: &str| format!("{}stateMachine:{name}", prefix_of(arn));
    Ok(match rest.split_once(':') {
        None => MachineRef::Machine { arn: arn.to_owned(), name: rest.to_owned() },
        Some((name, qualifier)) if !qualifier.is_empty() && qualifier.bytes().all(|b| b.is_ascii_digit()) => {
            MachineRef::Version {
                arn: arn.to_owned(),
                machine_arn: machine(name),
                name: name.to_owned(),
                version: qualifier
                    .parse()
                    .map_err(|_| ApiError::invalid_arn(&format!("Invalid version: {qualifier}")))?,
            }
        }
        Some((name, alias)) => MachineRef::Alias {
            arn: arn.to_owned(),
            machine_arn: machine(name),
            name: name.to_owned(),
            alias: alias.to_owned(),
        },
    })
}

/// Checks an execution ARN (`…:execution:<machine>:<name>`); an EXPRESS execution's
/// ARN is refused where only STANDARD ones are kept.
pub fn execution(arn: &str) -> Result<(), ApiError> {
    match resource_of(arn)? {
        ("execution", rest) if rest.contains(':') => Ok(()),
        ("express", _) => Err(ApiError::invalid_arn("Resource type not valid in this context: express")),
        (kind, _) => Err(ApiError::invalid_arn(&format!("Resource type not valid in this context: {kind}"))),
    }
}

/// Checks an activity ARN.
pub fn activity(arn: &str) -> Result<(), ApiError> {
    match resource_of(arn)? {
        ("activity", name) if !name.is_empty() => Ok(()),
        (kind, _) => Err(ApiError::invalid_arn(&format!("Resource type not valid in this context: {kind}"))),
    }
}

/// AWS's rule for resource names (state machines, executions, activities, aliases):
/// 1–80 characters, none of whitespace, `< > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /` or
/// control characters. Invisible and bidirectional-control characters (U+061C, U+200B–U+200F,
/// U+202A–U+202E, U+2066–U+2069, U+FEFF), which make a name display as another, are refused
/// too (sfnlite's choice: AWS's documentation does not name them).
pub fn valid_name(name: &str) -> bool {
    let bidi = |c: char| matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
    let forbidden = |c: char| c.is_whitespace() || c.is_control() || bidi(c) || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c);
    (1..=80).contains(&name.chars().count()) && !name.chars().any(forbidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_arns_name_machines_versions_and_aliases() {
        let base = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
        assert_eq!(machine(base).unwrap(), MachineRef::Machine { arn: base.into(), name: "m".into() });
        let MachineRef::Version { machine_arn, version, .. } = machine(&format!("{base}:3")).unwrap() else { panic!() };
        assert_eq!((machine_arn.as_str(), version), (base, 3));
        let MachineRef::Alias { alias, .. } = machine(&format!("{base}:prod")).unwrap() else { panic!() };
        assert_eq!(alias, "prod");
        assert_eq!(
            machine("sm_nonexistent_arn").unwrap_err().message,
            "Invalid Arn: 'Invalid ARN prefix: sm_nonexistent_arn'"
        );
        let express = "arn:aws:states:us-east-1:1:express:m:e:uuid";
        assert_eq!(
            execution(express).unwrap_err().message,
            "Invalid Arn: 'Resource type not valid in this context: express'"
        );
    }

    #[test]
    fn names_follow_aws_rules() {
        assert!(valid_name("state.machine_1-x"));
        assert!(!valid_name("activity{name"));
        assert!(!valid_name(""));
        assert!(!valid_name(&"a".repeat(81)));
    }
}
