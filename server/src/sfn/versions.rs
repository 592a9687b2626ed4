//! Versions (PublishStateMachineVersion, ListStateMachineVersions,
//! DeleteStateMachineVersion) and aliases (Create/Describe/Update/List/DeleteStateMachineAlias).

use serde_json::{Value, json};

use super::arn::{self, MachineRef};
use super::error::ApiError;
use super::model::{Alias, Documents, Route, StateMachine, Version};
use super::paging::{listing, newest_first, oldest_first, page};
use super::request::Request;
use super::{Api, seconds};

fn not_found() -> ApiError {
    ApiError::resource_not_found("Request references a resource that does not exist.")
}

/// `routingConfiguration`: one or two versions of the alias's machine, weights adding to 100.
fn routes(request: &Request) -> Result<Option<Vec<Route>>, ApiError> {
    let Some(value) = request.value("routingConfiguration") else {
        return Ok(None);
    };
    let routes: Vec<Route> = serde_json::from_value(value.clone())
        .map_err(|e| ApiError::serialization(format!("routingConfiguration: {e}")))?;
    let not_versions: Vec<&str> = routes
        .iter()
        .filter(|r| !matches!(arn::machine(&r.state_machine_version_arn), Ok(MachineRef::Version { .. })))
        .map(|r| r.state_machine_version_arn.as_str())
        .collect();
    if !not_versions.is_empty() {
        return Err(ApiError::validation(format!(
            "Routing configuration must contain state machine version ARNs. Received: [{}]",
            not_versions.join(", ")
        )));
    }
    if routes.is_empty() || routes.len() > 2 || routes.iter().map(|r| r.weight).sum::<u64>() != 100 {
        return Err(ApiError::validation(
            "Routing configuration must contain one or two versions whose weights add up to 100",
        ));
    }
    Ok(Some(routes))
}

impl Api {
    pub(super) fn version_doc(&self, arn: &str) -> Result<Version, ApiError> {
        Documents(self.store.as_ref()).get::<Version>(arn)?.ok_or_else(|| ApiError::no_state_machine(arn))
    }

    pub(super) fn versions_of(&self, machine_arn: &str) -> Result<Vec<Version>, ApiError> {
        let all = Documents(self.store.as_ref()).all::<Version>()?;
        Ok(all.into_iter().filter(|v| v.machine_arn == machine_arn).collect())
    }

    pub(super) fn aliases_of(&self, machine_arn: &str) -> Result<Vec<Alias>, ApiError> {
        let all = Documents(self.store.as_ref()).all::<Alias>()?;
        Ok(all.into_iter().filter(|a| a.machine_arn == machine_arn).collect())
    }

    /// Publishes the machine's current revision as its next version (unless the latest
    /// version already is that revision); returns the version's ARN. The caller stores
    /// the machine.
    pub(super) fn publish(&self, machine: &mut StateMachine, description: Option<&str>) -> Result<String, ApiError> {
        let versions = self.versions_of(&machine.arn)?;
        if let Some(latest) = versions.iter().max_by_key(|v| v.creation_date)
            && latest.revision == machine.revision
        {
            return Ok(latest.arn.clone());
        }
        let arn = format!("{}:{}", machine.arn, machine.next_version);
        machine.next_version += 1;
        let version = Version {
            arn: arn.clone(),
            machine_arn: machine.arn.clone(),
            revision: machine.revision.clone(),
            description: description.map(str::to_owned),
            creation_date: self.now(),
        };
        Documents(self.store.as_ref()).put(&arn, &version)?;
        Ok(arn)
    }

    pub(super) fn publish_version(&self, request: &Request) -> Result<Value, ApiError> {
        let given = request.required("stateMachineArn")?;
        let MachineRef::Machine { arn, .. } = arn::machine(given)? else {
            return Err(ApiError::invalid_arn("Resource type not valid in this context: version or alias"));
        };
        let _changing = self.changing();
        let mut machine = self.machine_doc(&arn)?;
        if let Some(expected) = request.string("revisionId")?
            && machine.revision.revision_id.as_deref() != Some(expected)
        {
            return Err(ApiError::new(
                "ConflictException",
                format!(
                    "Failed to publish the state machine version because the current revision ID ({}) is not the one given ({expected}).",
                    machine.revision.revision_id.as_deref().unwrap_or("INITIAL")
                ),
            ));
        }
        let version = self.publish(&mut machine, request.string("description")?)?;
        Documents(self.store.as_ref()).put(&machine.arn, &machine)?;
        let created = self.version_doc(&version)?.creation_date;
        Ok(json!({"stateMachineVersionArn": version, "creationDate": seconds(created)}))
    }

    pub(super) fn list_versions(&self, request: &Request) -> Result<Value, ApiError> {
        let given = request.required("stateMachineArn")?;
        let max = request.max_results(1000, 100)?;
        let token = request.next_token(1024)?;
        let MachineRef::Machine { arn, .. } = arn::machine(given)? else {
            return Err(ApiError::invalid_arn("Resource type not valid in this context: version or alias"));
        };
        self.machine_doc(&arn)?;
        let mut versions = self.versions_of(&arn)?;
        versions.sort_by(|a, b| b.creation_date.cmp(&a.creation_date).then(b.arn.cmp(&a.arn)));
        let (versions, next) = page(versions, max, token, &format!("ListStateMachineVersions {arn}"), |v| {
            format!("{}{}", newest_first(v.creation_date), v.arn)
        })?;
        let items: Vec<Value> = versions
            .iter()
            .map(|v| json!({"stateMachineVersionArn": v.arn, "creationDate": seconds(v.creation_date)}))
            .collect();
        Ok(listing("stateMachineVersions", items, next))
    }

    pub(super) fn delete_version(&self, request: &Request) -> Result<Value, ApiError> {
        let given = request.required("stateMachineVersionArn")?;
        self.delete_version_arn(given)
    }

    pub(super) fn delete_version_arn(&self, given: &str) -> Result<Value, ApiError> {
        let MachineRef::Version { arn, machine_arn, .. } = arn::machine(given)? else {
            return Err(ApiError::invalid_arn("Resource type not valid in this context: stateMachine"));
        };
        let _changing = self.changing();
        let referencing: Vec<String> = self
            .aliases_of(&machine_arn)?
            .into_iter()
            .filter(|a| a.routing_configuration.iter().any(|r| r.state_machine_version_arn == arn))
            .map(|a| a.name)
            .collect();
        if !referencing.is_empty() {
            return Err(ApiError::new(
                "ConflictException",
                format!(
                    "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [{}]",
                    referencing.join(", ")
                ),
            ));
        }
        Documents(self.store.as_ref()).delete::<Version>(&arn)?;
        Ok(json!({}))
    }

    fn alias_doc(&self, arn: &str) -> Result<Alias, ApiError> {
        Documents(self.store.as_ref()).get::<Alias>(arn)?.ok_or_else(not_found)
    }

    pub(super) fn create_alias(&self, request: &Request) -> Result<Value, ApiError> {
        let name = request.required("name")?;
        let routes = routes(request)?
            .ok_or_else(|| ApiError::constraint("null", "routingConfiguration", "Member must not be null"))?;
        let description = request.string("description")?.map(str::to_owned);
        if !arn::valid_name(name) || name.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::invalid_name(name));
        }
        let machine_arn = arn::machine(&routes[0].state_machine_version_arn)?.machine_arn().to_owned();
        let _changing = self.changing();
        for route in &routes {
            self.version_doc(&route.state_machine_version_arn).map_err(|_| not_found())?;
        }
        let arn = format!("{machine_arn}:{name}");
        let docs = Documents(self.store.as_ref());
        if let Some(existing) = docs.get::<Alias>(&arn)? {
            if existing.routing_configuration == routes && existing.description == description {
                return Ok(json!({"stateMachineAliasArn": arn, "creationDate": seconds(existing.creation_date)}));
            }
            return Err(ApiError::new(
                "ConflictException",
                "Failed to create alias because an alias with the same name and a different routing configuration already exists.",
            ));
        }
        let now = self.now();
        let alias = Alias {
            arn: arn.clone(),
            machine_arn,
            name: name.to_owned(),
            description,
            routing_configuration: routes,
            creation_date: now,
            update_date: None,
        };
        docs.put(&arn, &alias)?;
        Ok(json!({"stateMachineAliasArn": arn, "creationDate": seconds(now)}))
    }

    pub(super) fn describe_alias(&self, request: &Request) -> Result<Value, ApiError> {
        let given = request.required("stateMachineAliasArn")?;
        arn::machine(given)?;
        let alias = self.alias_doc(given)?;
        let mut out = json!({
            "stateMachineAliasArn": alias.arn,
            "name": alias.name,
            "routingConfiguration": alias.routing_configuration,
            "creationDate": seconds(alias.creation_date),
        });
        if let Some(description) = &alias.description {
            out["description"] = json!(description);
        }
        if let Some(updated) = alias.update_date {
            out["updateDate"] = seconds(updated);
        }
        Ok(out)
    }

    pub(super) fn update_alias(&self, request: &Request) -> Result<Value, ApiError> {
        let given = request.required("stateMachineAliasArn")?;
        let routes = routes(request)?;
        let description = request.string("description")?;
        arn::machine(given)?;
        let _changing = self.changing();
        let mut alias = self.alias_doc(given)?;
        if let Some(routes) = routes {
            for route in &routes {
                self.version_doc(&route.state_machine_version_arn).map_err(|_| not_found())?;
            }
            alias.routing_configuration = routes;
        }
        if let Some(description) = description {
            alias.description = Some(description.to_owned());
        }
        let now = self.now();
        alias.update_date = Some(now);
        Documents(self.store.as_ref()).put(&alias.arn, &alias)?;
        Ok(json!({"updateDate": seconds(now)}))
    }

    pub(super) fn list_aliases(&self, request: &Request) -> Result<Value, ApiError> {
        let given = request.required("stateMachineArn")?;
        let max = request.max_results(1000, 100)?;
        let token = request.next_token(1024)?;
        let machine = arn::machine(given)?;
        self.machine_doc(machine.machine_arn())?;
        let mut aliases = self.aliases_of(machine.machine_arn())?;
        aliases.sort_by(|a, b| a.creation_date.cmp(&b.creation_date).then(a.arn.cmp(&b.arn)));
        let (aliases, next) = page(aliases, max, token, &format!("ListStateMachineAliases {given}"), |a| {
            format!("{}{}", oldest_first(a.creation_date), a.arn)
        })?;
        let items: Vec<Value> = aliases
            .iter()
            .map(|a| json!({"stateMachineAliasArn": a.arn, "creationDate": seconds(a.creation_date)}))
            .collect();
        Ok(listing("stateMachineAliases", items, next))
    }

    pub(super) fn delete_alias(&self, request: &Request) -> Result<Value, ApiError> {
        let given = request.required("stateMachineAliasArn")?;
        arn::machine(given)?;
        let _changing = self.changing();
        Documents(self.store.as_ref()).delete::<Alias>(given)?;
        Ok(json!({}))
    }

    /// Resolves an alias to one of its versions (the first route: a deterministic choice
    /// where AWS picks by weight at random).
    pub(super) fn alias_target(&self, alias_arn: &str) -> Result<Version, ApiError> {
        let alias = self.alias_doc(alias_arn).map_err(|_| ApiError::no_state_machine(alias_arn))?;
        let route = alias.routing_configuration.iter().max_by_key(|r| r.weight).ok_or_else(not_found)?;
        self.version_doc(&route.state_machine_version_arn)
    }
}
