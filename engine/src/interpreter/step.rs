//! One state: its `Entered` event, its input, and what it does by type. Pass, Succeed,
//! Fail, Choice and Wait end here; Task, Parallel and Map go on to `recovery.rs`.

use sfnlite_states::definition::{State, StateKind, Transition, WaitState};
use sfnlite_states::eval::fields::{fail_error, wait_deadline};
use sfnlite_states::eval::steps::{self, Input};
use sfnlite_states::eval::{Env, Exit, through_path};
use sfnlite_states::history::{EventDetails, Payload};
use sfnlite_states::{EvalError, StatesError};

use super::recovery::{Body, Entry};
use super::{Flow, Run, Thread};

impl<'a> Run<'a> {
    pub(super) async fn run_state(
        &self,
        state: &State,
        input: Payload,
        thread: &mut Thread<'_, 'a>,
    ) -> Result<Flow, StatesError> {
        let entered_event = EventDetails::StateEntered {
            state_type: state.kind.state_type(),
            name: state.name.clone(),
            input: input.clone(),
        };
        let entered = thread.emit(entered_event);
        let entered_at = thread.last_time;
        let runtime = |e: EvalError| e.into_states_error(&state.name, entered);
        let context = self.execution_context().object(state, entered_at, 0);
        let variables = thread.variables.clone();
        let env = self.env(&context, &variables, entered_at);
        // (Pass applies its InputPath itself, reading where it need not copy.)
        let effective = match state.kind {
            StateKind::Pass(_) => input.clone(),
            _ => through_path(&state.input_path, input.clone(), &env).map_err(runtime)?,
        };
        let input = Input { raw: input, effective };
        let body = match &state.kind {
            StateKind::Task(task) => Body::Task(task),
            StateKind::Parallel(parallel) => Body::Parallel(parallel),
            StateKind::Map(map) => Body::Map(map),
            StateKind::Pass(pass) => {
                let exit = steps::pass(state, pass, input.raw, &env).map_err(runtime)?;
                drop(variables);
                return Ok(thread.exit(state, exit, pass.transition));
            }
            StateKind::Succeed => {
                let exit = steps::plain(state, None, input, &env).map_err(runtime)?;
                drop(variables);
                return Ok(thread.exit(state, exit, Transition::End));
            }
            StateKind::Fail(fail) => return Err(fail_error(fail, &input.effective, &env).map_err(runtime)?),
            StateKind::Choice(choice)
                if self.replay.as_ref().is_some_and(|r| r.choice_decided(entered, &state.name)) =>
            {
                // Replayed: the stored exit is adopted and `run_machine` goes where the history
                // went; evaluating the rules again could decide otherwise (RedriveCount, $random()).
                let exit = Exit { output: input.raw, assigned: None };
                drop(variables);
                return Ok(thread.exit(state, exit, Transition::Next(choice.choices[0].next)));
            }
            StateKind::Choice(choice) => {
                let (next, exit) = steps::choose(state, choice, input, &env).map_err(runtime)?;
                drop(variables);
                return Ok(thread.exit(state, exit, Transition::Next(next)));
            }
            StateKind::Wait(wait) => {
                let exit = self.wait(state, wait, input, &env, entered).await.map_err(runtime)?;
                drop(variables);
                return Ok(thread.exit(state, exit, wait.transition));
            }
        };
        // The thread's variables must not be shared when the state's exit assigns to them.
        drop(variables);
        let entry = Entry { state, raw: input.raw, effective: input.effective, entered, entered_at };
        self.with_recovery(body, entry, thread).await
    }

    /// A Wait: sleeps until its deadline (unless a replay shows it already ended).
    async fn wait(
        &self,
        state: &State,
        wait: &WaitState,
        input: Input,
        env: &Env<'_>,
        entered: u64,
    ) -> Result<Exit, EvalError> {
        let until = wait_deadline(wait, &input.effective, env, env.now)?;
        if !self.replayed_past(entered) {
            self.sleep_until(until).await?;
        }
        steps::plain(state, wait.assign.as_ref(), input, env)
    }
}
