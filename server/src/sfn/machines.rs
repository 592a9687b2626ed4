//! CreateStateMachine, DescribeStateMachine, ListStateMachines, UpdateStateMachine,
//! DeleteStateMachine and ValidateStateMachineDefinition.

use serde_json::{Value, json};
use sfnlite_states::definition::{StateKind, StateMachine as Definition};
use sfnlite_states::resource::{IntegrationPattern, Resource};
use sfnlite_states::{Diagnostic, Severity};

use super::arn::{self, MachineRef};
use super::error::ApiError;
use super::model::{Documents, MachineType, Revision, StateMachine, Tag};
use super::paging::{listing, page};
use super::request::Request;
use super::{Api, seconds};

/// AWS's default `loggingConfiguration` and `tracingConfiguration`.
fn default_logging() -> Value {
    json!({"level": "OFF", "includeExecutionData": false})
}

fn default_tracing() -> Value {
    json!({"enabled": false})
}

/// `type`: STANDARD (default) or EXPRESS.
pub(super) fn machine_type(request: &Request) -> Result<MachineType, ApiError> {
    match request.string("type")? {
        None | Some("STANDARD") => Ok(MachineType::Standard),
        Some("EXPRESS") => Ok(MachineType::Express),
        Some(other) => {
            Err(ApiError::constraint(other, "type", "Member must satisfy enum value set: [STANDARD, EXPRESS]"))
        }
    }
}

/// A diagnostic as AWS words it inside InvalidDefinition: `CODE: message at /location`.
fn aws_text(diagnostic: &Diagnostic) -> String {
    format!("{}: {} at {}", diagnostic.code, diagnostic.message, diagnostic.location)
}

/// Parses a definition, refusing it as AWS does (`InvalidDefinition`, every error).
pub(super) fn parse(text: &str, machine_type: MachineType) -> Result<Definition, ApiError> {
    let (machine, mut diagnostics) = sfnlite_states::parse_definition(text);
    if let (Some(machine), MachineType::Express) = (&machine, machine_type) {
        diagnostics.extend(express_diagnostics(machine));
    }
    let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
    // A Map's Label is checked by another part of AWS, which words its refusal this way.
    if let Some(label) = errors.iter().find(|d| d.location.ends_with("/Label") && d.message.starts_with("Label ")) {
        return Err(ApiError::new(
            "InvalidDefinition",
            format!(
                "Error=ValueError Args=[{}] in definition '{text}'.",
                sfnlite_states::diagnostic::python_repr(&label.message)
            ),
        ));
    }
    match machine {
        Some(machine) if errors.is_empty() => Ok(machine),
        _ => {
            let shown: Vec<String> = errors.iter().map(|d| aws_text(d)).collect();
            let text = if shown.is_empty() { "the definition cannot be read".to_owned() } else { shown.join(", ") };
            Err(ApiError::new("InvalidDefinition", format!("Invalid State Machine Definition: '{text}'")))
        }
    }
}

/// What EXPRESS refuses: Tasks that wait for a job (`.sync`) or a token (`.waitForTaskToken`).
fn express_diagnostics(machine: &Definition) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    waiting_tasks(machine, "/States", &mut found);
    let distributed =
        sfnlite_states::definition::distributed_maps(machine, "/States").into_iter().map(|location| Diagnostic {
            severity: Severity::Error,
            code: sfnlite_states::DiagnosticCode::SchemaValidationFailed,
            message: "Express state machine does not support Distributed Map".to_owned(),
            location,
        });
    found
        .into_iter()
        .map(|(location, pattern)| {
            // AWS's two messages differ by a trailing space.
            let message = match pattern {
                IntegrationPattern::WaitForTaskToken => {
                    "Express state machine does not support '.waitForTaskToken' service integration ".to_owned()
                }
                _ => "Express state machine does not support '.sync' service integration".to_owned(),
            };
            Diagnostic {
                severity: Severity::Error,
                code: sfnlite_states::DiagnosticCode::SchemaValidationFailed,
                message,
                location: format!("{location}/Resource"),
            }
        })
        .chain(distributed)
        .collect()
}

/// The Tasks that wait for a job or a token, with their locations.
fn waiting_tasks(machine: &Definition, location: &str, found: &mut Vec<(String, IntegrationPattern)>) {
    for state in &machine.states {
        let here = format!("{location}/{}", state.name);
        match &state.kind {
            StateKind::Task(task) => {
                if let Resource::Integration(i) = &*task.resource
                    && i.pattern != IntegrationPattern::RequestResponse
                {
                    found.push((here, i.pattern));
                }
            }
            StateKind::Parallel(p) => {
                for (i, branch) in p.branches.iter().enumerate() {
                    waiting_tasks(branch, &format!("{here}/Branches/{i}/States"), found);
                }
            }
            StateKind::Map(m) => waiting_tasks(&m.item_processor, &format!("{here}/ItemProcessor/States"), found),
            _ => {}
        }
    }
}

/// `loggingConfiguration`: a level other than OFF needs exactly one destination (AWS
/// accepts an EXPRESS machine's without one).
fn logging(request: &Request, machine_type: MachineType) -> Result<Option<Value>, ApiError> {
    let Some(config) = request.value("loggingConfiguration") else {
        return Ok(None);
    };
    let level = config.get("level").and_then(Value::as_str).unwrap_or("OFF");
    let destinations = config.get("destinations").and_then(Value::as_array).map_or(0, Vec::len);
    if level != "OFF" && destinations != 1 && machine_type == MachineType::Standard {
        return Err(ApiError::new(
            "InvalidLoggingConfiguration",
            "Invalid Logging Configuration: Must specify exactly one Log Destination.",
        ));
    }
    let mut merged = default_logging();
    if let (Value::Object(merged), Value::Object(given)) = (&mut merged, config) {
        merged.extend(given.clone());
    }
    Ok(Some(merged))
}

/// `tags`: `[{key, value}]`.
pub(super) fn tags(request: &Request) -> Result<Vec<Tag>, ApiError> {
    match request.value("tags") {
        None => Ok(Vec::new()),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|e| ApiError::serialization(format!("tags must be a list of {{key, value}}: {e}"))),
    }
}

impl Api {
    pub(super) fn machine_doc(&self, machine_arn: &str) -> Result<StateMachine, ApiError> {
        Documents(self.store.as_ref())
            .get::<StateMachine>(machine_arn)?
            .ok_or_else(|| ApiError::no_state_machine(machine_arn))
    }

    pub(super) fn create_state_machine(&self, request: &Request) -> Result<Value, ApiError> {
        let name = request.required("name")?;
        let definition = request.required("definition")?;
        let role_arn = request.required("roleArn")?;
        if !arn::valid_name(name) {
            return Err(ApiError::invalid_name(name));
        }
        let machine_type = machine_type(request)?;
        parse(definition, machine_type)?;
        if request.string("versionDescription")?.is_some() && !request.boolean("publish")?.unwrap_or(false) {
            return Err(ApiError::validation("Version description can only be set when publish is true"));
        }
        let revision = Revision {
            definition: definition.to_owned(),
            role_arn: role_arn.to_owned(),
            machine_type,
            logging_configuration: logging(request, machine_type)?.unwrap_or_else(default_logging),
            tracing_configuration: request.value("tracingConfiguration").cloned().unwrap_or_else(default_tracing),
            revision_id: None,
        };
        let tags = tags(request)?;
        let arn = self.arn("stateMachine", name);
        let _changing = self.changing();
        let docs = Documents(self.store.as_ref());
        if let Some(existing) = docs.get::<StateMachine>(&arn)? {
            // Creating the same machine again answers as the first creation did.
            if existing.revision == revision && !request.boolean("publish")?.unwrap_or(false) {
                return Ok(json!({"stateMachineArn": arn, "creationDate": seconds(existing.creation_date)}));
            }
            return Err(ApiError::new("StateMachineAlreadyExists", format!("State Machine Already Exists: '{arn}'")));
        }
        let now = self.now();
        let mut machine = StateMachine {
            arn: arn.clone(),
            name: name.to_owned(),
            revision,
            creation_date: now,
            update_date: None,
            next_version: 1,
        };
        let mut response = json!({"stateMachineArn": arn, "creationDate": seconds(now)});
        if request.boolean("publish")?.unwrap_or(false) {
            let version = self.publish(&mut machine, request.string("versionDescription")?)?;
            response["stateMachineVersionArn"] = json!(version);
        }
        docs.put(&arn, &machine)?;
        if !tags.is_empty() {
            docs.put(&arn, &tags)?;
        }
        Ok(response)
    }

    /// DescribeStateMachine: the machine, or a version of it.
    pub(super) fn describe_state_machine(&self, request: &Request) -> Result<Value, ApiError> {
        let given = request.required("stateMachineArn")?;
        match arn::machine(given)? {
            MachineRef::Machine { arn, .. } => {
                let machine = self.machine_doc(&arn)?;
                let mut out = describe(&machine.arn, &machine.name, &machine.revision, machine.creation_date);
                out["status"] = json!("ACTIVE");
                Ok(out)
            }
            MachineRef::Version { arn, name, .. } => {
                let version = self.version_doc(&arn)?;
                let mut out = describe(&arn, &name, &version.revision, version.creation_date);
                out["status"] = json!("ACTIVE");
                if let Some(description) = &version.description {
                    out["description"] = json!(description);
                }
                Ok(out)
            }
            MachineRef::Alias { .. } => Err(ApiError::invalid_arn("Resource type not valid in this context: alias")),
        }
    }

    pub(super) fn list_state_machines(&self, request: &Request) -> Result<Value, ApiError> {
        let max = request.max_results(1000, 100)?;
        let token = request.next_token(1024)?;
        let machines = Documents(self.store.as_ref()).all::<StateMachine>()?;
        let (machines, next) = page(machines, max, token, "ListStateMachines", |m| m.arn.clone())?;
        let items: Vec<Value> = machines
            .iter()
            .map(|m| {
                json!({"stateMachineArn": m.arn, "name": m.name, "type": m.revision.machine_type.as_str(),
                       "creationDate": seconds(m.creation_date)})
            })
            .collect();
        Ok(listing("stateMachines", items, next))
    }

    pub(super) fn update_state_machine(&self, request: &Request) -> Result<Value, ApiError> {
        let given = request.required("stateMachineArn")?;
        let definition = request.string("definition")?;
        let role_arn = request.string("roleArn")?;
        let tracing = request.value("tracingConfiguration").cloned();
        if definition.is_none()
            && role_arn.is_none()
            && request.value("loggingConfiguration").is_none()
            && tracing.is_none()
        {
            return Err(ApiError::new(
                "MissingRequiredParameter",
                "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
            ));
        }
        let machine_arn = match arn::machine(given)? {
            MachineRef::Machine { arn, .. } => arn,
            // A version or an alias cannot be updated: AWS answers that no such machine exists.
            _ => return Err(ApiError::no_state_machine(given)),
        };
        let _changing = self.changing();
        let mut machine = self.machine_doc(&machine_arn)?;
        let logging = logging(request, machine.revision.machine_type)?;
        if let Some(definition) = definition {
            parse(definition, machine.revision.machine_type)?;
        }
        let mut revision = machine.revision.clone();
        revision.definition = definition.map_or(revision.definition, str::to_owned);
        revision.role_arn = role_arn.map_or(revision.role_arn, str::to_owned);
        revision.logging_configuration = logging.unwrap_or(revision.logging_configuration);
        revision.tracing_configuration = tracing.unwrap_or(revision.tracing_configuration);
        let changed =
            Revision { revision_id: machine.revision.revision_id.clone(), ..revision.clone() } != machine.revision;
        if changed {
            revision.revision_id = Some(sfnlite_engine::entropy::new_uuid());
            machine.revision = revision;
        }
        let now = self.now();
        machine.update_date = Some(now);
        let mut out = json!({"updateDate": seconds(now)});
        if let Some(id) = &machine.revision.revision_id {
            out["revisionId"] = json!(id);
        }
        if request.boolean("publish")?.unwrap_or(false) {
            let version = self.publish(&mut machine, request.string("versionDescription")?)?;
            out["stateMachineVersionArn"] = json!(version);
        }
        Documents(self.store.as_ref()).put(&machine.arn, &machine)?;
        Ok(out)
    }

    pub(super) fn delete_state_machine(&self, request: &Request) -> Result<Value, ApiError> {
        let given = request.required("stateMachineArn")?;
        let machine_arn = match arn::machine(given)? {
            MachineRef::Machine { arn, .. } => arn,
            MachineRef::Version { .. } => return self.delete_version_arn(given),
            MachineRef::Alias { .. } => {
                return Err(ApiError::validation("Deleting an alias through DeleteStateMachine is not supported"));
            }
        };
        let _changing = self.changing();
        let docs = Documents(self.store.as_ref());
        for version in self.versions_of(&machine_arn)? {
            docs.delete::<super::model::Version>(&version.arn)?;
        }
        for alias in self.aliases_of(&machine_arn)? {
            docs.delete::<super::model::Alias>(&alias.arn)?;
        }
        docs.delete::<StateMachine>(&machine_arn)?;
        docs.delete::<Vec<Tag>>(&machine_arn)?;
        Ok(json!({}))
    }

    pub(super) fn validate_definition(&self, request: &Request) -> Result<Value, ApiError> {
        let definition = request.required("definition")?;
        machine_type(request)?;
        let warnings = request.string("severity")? == Some("WARNING");
        let max = request.max_results(100, 100)?;
        let not_an_object = match serde_json::from_str::<Value>(definition) {
            Ok(value) => !value.is_object(),
            Err(_) => definition.trim().is_empty(),
        };
        if not_an_object {
            let message = "Definition must be a valid JSON object";
            return Ok(json!({"result": "FAIL", "truncated": false,
                "diagnostics": [{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": message}]}));
        }
        let (machine, mut diagnostics) = sfnlite_states::parse_definition(definition);
        if let (Some(machine), MachineType::Express) = (&machine, machine_type(request)?) {
            diagnostics.extend(express_diagnostics(machine));
        }
        let shown: Vec<&Diagnostic> =
            diagnostics.iter().filter(|d| warnings || d.severity == Severity::Error).collect();
        let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
        let items: Vec<Value> = shown
            .iter()
            .take(max)
            .map(|d| {
                let severity = if d.severity == Severity::Error { "ERROR" } else { "WARNING" };
                json!({"severity": severity, "code": d.code.as_str(), "message": d.message, "location": d.location})
            })
            .collect();
        Ok(json!({"result": if failed { "FAIL" } else { "OK" }, "diagnostics": items, "truncated": shown.len() > max}))
    }
}

impl Api {
    /// The STANDARD state machine `name` with this definition: created, or updated when
    /// its definition differs (what a schedule declared with a definition file needs).
    pub async fn ensure_state_machine(&self, name: &str, definition: &str) -> Result<String, ApiError> {
        let role = "arn:aws:iam::123456789012:role/sfnlite";
        let create = json!({"name": name, "definition": definition, "roleArn": role});
        match self.call("CreateStateMachine", create.to_string().as_bytes()).await {
            Ok(created) => return Ok(created["stateMachineArn"].as_str().unwrap_or_default().to_owned()),
            Err(e) if e.name == "StateMachineAlreadyExists" => {}
            Err(e) => return Err(e),
        }
        let arn = self.arn("stateMachine", name);
        let described =
            self.call("DescribeStateMachine", json!({"stateMachineArn": arn}).to_string().as_bytes()).await?;
        if described["definition"] != definition {
            let update = json!({"stateMachineArn": arn, "definition": definition});
            self.call("UpdateStateMachine", update.to_string().as_bytes()).await?;
        }
        Ok(arn)
    }
}

/// What DescribeStateMachine (and DescribeStateMachineForExecution) report of a revision.
pub(super) fn describe(arn: &str, name: &str, revision: &Revision, creation_date: i64) -> Value {
    let mut out = json!({
        "stateMachineArn": arn,
        "name": name,
        "definition": revision.definition,
        "roleArn": revision.role_arn,
        "type": revision.machine_type.as_str(),
        "creationDate": seconds(creation_date),
        "loggingConfiguration": revision.logging_configuration,
        "tracingConfiguration": revision.tracing_configuration,
    });
    if let Some(id) = &revision.revision_id {
        out["revisionId"] = json!(id);
    }
    add_variable_references(&mut out, &revision.definition);
    out
}

/// `variableReferences`: the variables each state reads, when any state reads one.
pub(super) fn add_variable_references(out: &mut Value, definition: &str) {
    let references = serde_json::from_str::<Value>(definition)
        .map(|definition| sfnlite_states::references::variable_references(&definition))
        .unwrap_or_default();
    if !references.is_empty() {
        out["variableReferences"] = json!(references);
    }
}
