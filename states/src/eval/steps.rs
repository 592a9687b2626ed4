//! The states that do no effect but a Wait's sleep: how Pass, Succeed, Choice and Wait
//! turn their input into an output (and assignments), and which state Choice picks.

use serde_json::{Map, Value};

use super::{Env, Exit, assign, check_result_size, jsonata_exit, states_object, through_path};
use crate::definition::{ChoiceState, ChoiceTest, PassState, State, StateId};
use crate::error::{ErrorName, EvalError, StatesError};
use crate::history::Payload;
use crate::template::compact;

/// A state's input: `raw` as the state received it, `effective` after InputPath.
#[derive(Debug, Clone)]
pub struct Input {
    /// The input as received (what ResultPath writes into).
    pub raw: Payload,
    /// After `InputPath` (JSONata states: the same).
    pub effective: Payload,
}

/// A JSONata state's `Output` and `Assign` over its input (`raw`), or `None` for a
/// JSONPath state.
fn jsonata_input_exit(state: &State, raw: &Payload, env: &Env<'_>) -> Option<Result<Exit, EvalError>> {
    let fields = state.jsonata.as_ref()?;
    let states = states_object(raw.to_value(), env.context, None, None);
    Some(jsonata_exit(fields, &states, env, raw.clone()))
}

/// Pass, from its input as received (`raw`): InputPath, then `Result` or `Parameters` (or
/// the effective input), then ResultPath, Assign and OutputPath. Where `Result` or
/// `Parameters` replaces the effective input, InputPath only reads it (a large input is not
/// copied to be thrown away); a path that selects nothing still fails the state.
pub fn pass(state: &State, pass: &PassState, raw: Payload, env: &Env<'_>) -> Result<Exit, EvalError> {
    if let Some(exit) = jsonata_input_exit(state, &raw, env) {
        return exit;
    }
    let result = match (&pass.result, &pass.parameters) {
        (Some(result), _) => {
            state.input_path.apply_in(&env.payload_scope(&raw))?;
            Payload::new(result.clone())
        }
        (None, Some(parameters)) => {
            let effective = state.input_path.apply_in(&env.payload_scope(&raw))?;
            Payload::from_json(parameters.render_in(&env.payload_scope(&effective), env.entropy)?)
        }
        (None, None) => through_path(&state.input_path, raw.clone(), env)?,
    };
    check_result_size(&result, &state.name)?;
    let assigned = assign(pass.assign.as_ref(), &result, env)?;
    let combined = pass.result_path.apply_payload(raw, result)?;
    Ok(Exit { output: through_path(&state.output_path, combined, env)?, assigned })
}

/// Succeed, and a Wait once it has waited: OutputPath and Assign (`wait_assign`), or
/// JSONata's Output and Assign.
pub fn plain(
    state: &State,
    assign_template: Option<&crate::template::Template>,
    input: Input,
    env: &Env<'_>,
) -> Result<Exit, EvalError> {
    if let Some(exit) = jsonata_input_exit(state, &input.raw, env) {
        return exit;
    }
    let assigned = assign(assign_template, &input.effective, env)?;
    Ok(Exit { output: through_path(&state.output_path, input.effective, env)?, assigned })
}

/// Choice: the first rule that holds (or `Default`) and the state's exit, with the
/// state's and the matching rule's Assign (JSONata: the rule's Output and Assign apply
/// after the state's). No match and no Default is `States.NoChoiceMatched`.
pub fn choose(state: &State, choice: &ChoiceState, input: Input, env: &Env<'_>) -> Result<(StateId, Exit), EvalError> {
    let matched = first_match(choice, &input.effective, env)?;
    let next = match (matched, choice.default) {
        (Some(rule), _) => choice.choices[rule].next,
        (None, Some(default)) => default,
        (None, None) => {
            return Err(EvalError::Raised(StatesError::new(
                ErrorName::NoChoiceMatched,
                format!("No Matches! (state '{}', input '{}')", state.name, compact(&input.effective)),
            )));
        }
    };
    let rule = matched.map(|i| &choice.choices[i]);
    if let Some(fields) = &state.jsonata {
        let states = states_object(input.raw.to_value(), env.context, None, None);
        let mut exit = jsonata_exit(fields, &states, env, input.raw.clone())?;
        if let Some(rule_fields) = rule.and_then(|rule| rule.jsonata.as_deref()) {
            let rule_exit = jsonata_exit(rule_fields, &states, env, exit.output.clone())?;
            if let Some(more) = rule_exit.assigned {
                exit.assigned.get_or_insert_with(Map::new).extend(more);
            }
            exit.output = rule_exit.output;
        }
        return Ok((next, exit));
    }
    let mut assigned = assign(choice.assign.as_ref(), &input.effective, env)?;
    if let Some(more) = assign(rule.and_then(|rule| rule.assign.as_ref()), &input.effective, env)? {
        assigned.get_or_insert_with(Map::new).extend(more);
    }
    let output = through_path(&state.output_path, input.effective, env)?;
    Ok((next, Exit { output, assigned }))
}

/// The index of the first Choice rule that holds.
fn first_match(choice: &ChoiceState, effective: &Payload, env: &Env<'_>) -> Result<Option<usize>, EvalError> {
    let scope = env.payload_scope(effective);
    for (i, rule) in choice.choices.iter().enumerate() {
        let holds = match &rule.rule {
            ChoiceTest::Rule(rule) => rule.evaluate(&scope)?,
            ChoiceTest::Condition(condition) => {
                match env.jsonata_value(condition, effective.to_value(), "Condition")? {
                    Value::Bool(b) => b,
                    other => {
                        return Err(EvalError::Query(format!(
                            "The Condition field must evaluate to a boolean, but it was {}",
                            compact(&other)
                        )));
                    }
                }
            }
        };
        if holds {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::definition::StateKind;
    use crate::eval::tests::with_env;
    use crate::parse_definition;

    fn input(value: Value) -> Input {
        let payload = Payload::new(value);
        Input { raw: payload.clone(), effective: payload }
    }

    fn choice_machine(extra: Value) -> crate::StateMachine {
        let mut choice = json!({"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big", "Assign": {"size": "big"}}
        ], "Assign": {"seen.$": "$.n"}});
        choice.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let definition = json!({"StartAt": "C", "States": {"C": choice,
            "Big": {"Type": "Succeed"}, "Small": {"Type": "Succeed"}}});
        let (machine, diagnostics) = parse_definition(&definition.to_string());
        machine.unwrap_or_else(|| panic!("{diagnostics:?}"))
    }

    #[test]
    fn choice_picks_the_first_rule_that_holds_with_both_assigns() {
        let m = choice_machine(json!({"Default": "Small"}));
        let StateKind::Choice(choice) = &m.states[0].kind else { panic!() };
        let (next, exit) =
            with_env(json!({}), |env| choose(&m.states[0], choice, input(json!({"n": 2})), env)).unwrap();
        assert_eq!(&*m.states[next].name, "Big");
        assert_eq!(exit.assigned, Some(json!({"seen": 2, "size": "big"}).as_object().unwrap().clone()));
        let (next, exit) =
            with_env(json!({}), |env| choose(&m.states[0], choice, input(json!({"n": 0})), env)).unwrap();
        assert_eq!(&*m.states[next].name, "Small");
        assert_eq!(exit.assigned, Some(json!({"seen": 0}).as_object().unwrap().clone()));
    }

    #[test]
    fn no_match_without_default_is_no_choice_matched() {
        let m = choice_machine(json!({"Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"},
            {"Variable": "$.n", "NumericEquals": -5, "Next": "Small"}
        ]}));
        let StateKind::Choice(choice) = &m.states[0].kind else { panic!() };
        let error = with_env(json!({}), |env| choose(&m.states[0], choice, input(json!({"n": 0})), env)).unwrap_err();
        let EvalError::Raised(error) = error else { panic!("{error:?}") };
        assert_eq!(error.error, ErrorName::NoChoiceMatched);
        assert_eq!(error.cause.as_deref(), Some("No Matches! (state 'C', input '{\"n\":0}')"));
    }

    #[test]
    fn pass_places_its_result_and_keeps_the_input_shared_when_it_can() {
        let m = crate::eval::tests::machine(
            json!({"Type": "Pass", "Result": {"r": 1}, "ResultPath": "$.out", "End": true}),
        );
        let StateKind::Pass(p) = &m.states[0].kind else { panic!() };
        let exit = with_env(json!({}), |env| pass(&m.states[0], p, input(json!({"a": 0})).raw, env)).unwrap();
        assert_eq!(*exit.output, json!({"a": 0, "out": {"r": 1}}));
        let m = crate::eval::tests::machine(json!({"Type": "Pass", "End": true}));
        let StateKind::Pass(p) = &m.states[0].kind else { panic!() };
        let given = input(json!({"big": [1, 2, 3]}));
        let exit = with_env(json!({}), |env| pass(&m.states[0], p, given.raw.clone(), env)).unwrap();
        assert!(Payload::ptr_eq(&exit.output, &given.raw), "a plain Pass passes the same payload on");
        // InputPath that selects nothing fails the state, even where Parameters or Result
        // replace what it selects; the shared input is left as it was.
        for replacing in [json!({"Result": 1}), json!({"Parameters": {"v.$": "$.x"}})] {
            let mut state = json!({"Type": "Pass", "InputPath": "$.missing", "ResultPath": "$.r", "End": true});
            state.as_object_mut().unwrap().extend(replacing.as_object().unwrap().clone());
            let m = crate::eval::tests::machine(state);
            let StateKind::Pass(p) = &m.states[0].kind else { panic!() };
            let given = input(json!({"x": 1}));
            let failed = with_env(json!({}), |env| pass(&m.states[0], p, given.raw.clone(), env)).unwrap_err();
            assert!(matches!(&failed, EvalError::Runtime(m) if m.contains("$.missing")), "{failed:?}");
        }
        // Parameters over a selected part, written back with ResultPath into a shared input.
        let m = crate::eval::tests::machine(json!({"Type": "Pass", "InputPath": "$.p",
            "Parameters": {"d.$": "$.d", "n": 2}, "ResultPath": "$.p", "End": true}));
        let StateKind::Pass(p) = &m.states[0].kind else { panic!() };
        let given = input(json!({"m": 0, "p": {"d": [1, 2], "n": 1}, "z": {"k": [3]}}));
        let exit = with_env(json!({}), |env| pass(&m.states[0], p, given.raw.clone(), env)).unwrap();
        assert_eq!(exit.output.to_string(), r#"{"m":0,"p":{"d":[1,2],"n":2},"z":{"k":[3]}}"#);
        assert_eq!(*given.raw, json!({"m": 0, "p": {"d": [1, 2], "n": 1}, "z": {"k": [3]}}));
        // A payload made as a persistent value goes through the Pass without a `serde_json`
        // copy being made of it or of the output, and what `d.$` selected and what
        // ResultPath did not replace are the input's own arrays and objects, shared.
        let json_made = Payload::from_json(crate::json::Json::from(given.raw.value()));
        let exit = with_env(json!({}), |env| pass(&m.states[0], p, json_made.clone(), env)).unwrap();
        let text = serde_json::to_string(&exit.output).unwrap();
        assert_eq!(text, r#"{"m":0,"p":{"d":[1,2],"n":2},"z":{"k":[3]}}"#);
        assert!(json_made.value_if_made().is_none() && exit.output.value_if_made().is_none());
        let at = |payload: &Payload, outer: &str, inner: Option<&str>| {
            let node = &payload.json_if_made().unwrap().as_object().unwrap()[outer];
            inner.map_or_else(|| node.clone(), |inner| node.as_object().unwrap()[inner].clone())
        };
        assert!(at(&exit.output, "p", Some("d")).same_node(&at(&json_made, "p", Some("d"))));
        assert!(at(&exit.output, "z", None).same_node(&at(&json_made, "z", None)));
        assert!(!at(&exit.output, "p", None).same_node(&at(&json_made, "p", None)));
        // One made as a `serde_json` value gets no persistent copy kept in it (the output
        // holds what it needs).
        let value_made = Payload::new(given.raw.to_value());
        let exit = with_env(json!({}), |env| pass(&m.states[0], p, value_made.clone(), env)).unwrap();
        assert_eq!(exit.output.to_string(), r#"{"m":0,"p":{"d":[1,2],"n":2},"z":{"k":[3]}}"#);
        assert!(value_made.json_if_made().is_none());
    }
}
