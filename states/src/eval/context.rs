//! The context object `$$` a state's fields read: the execution, the state, the state
//! machine, and inside a Map iteration the item.

use serde_json::{Value, json};

use crate::definition::{State, StateKind};
use crate::timestamp::format_millis;

/// What the context object reports about the execution.
#[derive(Debug, Clone, Copy)]
pub struct ExecutionContext<'a> {
    /// `$$.Execution.Id`: the execution's ARN.
    pub arn: &'a str,
    /// `$$.Execution.Name`.
    pub name: &'a str,
    /// `$$.Execution.Input`.
    pub input: &'a Value,
    /// `$$.Execution.RoleArn`.
    pub role_arn: &'a str,
    /// `$$.Execution.StartTime`, epoch milliseconds.
    pub start_millis: i64,
    /// `$$.Execution.RedriveCount` (EXPRESS executions have none).
    pub redrive_count: Option<u32>,
    /// `$$.StateMachine.Id`.
    pub state_machine_arn: &'a str,
    /// `$$.StateMachine.Name`.
    pub state_machine_name: &'a str,
}

/// `$$.Map.Item` for an iteration's ItemSelector.
#[derive(Debug, Clone, Copy)]
pub struct MapItem<'v> {
    /// `$$.Map.Item.Index`.
    pub index: usize,
    /// `$$.Map.Item.Value`.
    pub value: &'v Value,
}

impl ExecutionContext<'_> {
    /// The context object for `state`, entered at `entered` (epoch ms), on attempt
    /// `retry_count`. `Null` when nothing in the state reads it (it is never built then).
    pub fn object(&self, state: &State, entered: i64, retry_count: u64) -> Value {
        if !state.uses_context {
            return Value::Null;
        }
        let mut context = json!({
            "Execution": {
                "Id": self.arn,
                "Input": self.input,
                "Name": self.name,
                "RoleArn": self.role_arn,
                "StartTime": format_millis(self.start_millis),
            },
            "State": {"EnteredTime": format_millis(entered), "Name": &*state.name},
            "StateMachine": {"Id": self.state_machine_arn, "Name": self.state_machine_name},
        });
        if let Some(count) = self.redrive_count {
            context["Execution"]["RedriveCount"] = json!(count);
        }
        // Only states that can retry report `$$.State.RetryCount`.
        if matches!(state.kind, StateKind::Task(_) | StateKind::Parallel(_) | StateKind::Map(_)) {
            context["State"]["RetryCount"] = json!(retry_count);
        }
        context
    }

    /// The context object of a Map state's ItemSelector: the state's, with `Map.Item`
    /// (always present, since an ItemSelector may read only the item).
    pub fn with_item(&self, state: &State, entered: i64, item: MapItem<'_>) -> Value {
        let map = json!({"Item": {"Index": item.index, "Value": item.value}});
        match self.object(state, entered, 0) {
            Value::Object(mut context) => {
                context.insert("Map".into(), map);
                Value::Object(context)
            }
            _ => json!({ "Map": map }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_definition;

    fn machine(state: Value) -> crate::StateMachine {
        let definition = json!({"StartAt": "S", "States": {"S": state}});
        parse_definition(&definition.to_string()).0.expect("valid")
    }

    const EXECUTION: ExecutionContext<'static> = ExecutionContext {
        arn: "arn:aws:states:us-east-1:1:execution:m:e",
        name: "e",
        input: &Value::Null,
        role_arn: "role",
        start_millis: 0,
        redrive_count: Some(2),
        state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:m",
        state_machine_name: "m",
    };

    #[test]
    fn built_only_when_read_and_retry_count_only_where_states_retry() {
        let quiet = machine(json!({"Type": "Pass", "End": true}));
        assert_eq!(EXECUTION.object(&quiet.states[0], 1000, 0), Value::Null);
        let pass = machine(json!({"Type": "Pass", "Parameters": {"n.$": "$$.State.Name"}, "End": true}));
        let context = EXECUTION.object(&pass.states[0], 1000, 0);
        assert_eq!(context["State"], json!({"EnteredTime": "1970-01-01T00:00:01.000Z", "Name": "S"}));
        assert_eq!(context["Execution"]["RedriveCount"], json!(2));
        let task = machine(json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"n.$": "$$.State.RetryCount"}, "End": true}));
        assert_eq!(EXECUTION.object(&task.states[0], 0, 3)["State"]["RetryCount"], json!(3));
    }

    #[test]
    fn an_item_selector_sees_the_item_even_when_nothing_else_is_read() {
        let quiet = machine(json!({"Type": "Pass", "End": true}));
        let item = json!({"k": 1});
        let context = EXECUTION.with_item(&quiet.states[0], 0, MapItem { index: 4, value: &item });
        assert_eq!(context, json!({"Map": {"Item": {"Index": 4, "Value": {"k": 1}}}}));
    }
}
