//! The sfnlite runtime: runs executions of ASL state machines on tokio, with time,
//! task adapters and history storage behind traits so that everything is deterministic
//! under test.
//!
//! ```text
//! cli ──► engine (this crate: Engine, interpreter, Clock, TaskAdapter, HistoryStore)
//!            └──► states (pure ASL: definitions, paths, templates, rules, events)
//! ```

pub mod adapter;
pub mod clock;
mod interpreter;
pub mod mock;
pub mod store;

use std::sync::Arc;

use serde_json::Value;
use sfnlite_states::StateMachine;

pub use adapter::{Registry, TaskAdapter, TaskRequest};
pub use clock::{Clock, SystemClock, VirtualClock};
pub use interpreter::{ExecutionInfo, Outcome, Status, history_json};
pub use store::{HistoryStore, MemoryStore, StoreError};

use crate::interpreter::Run;

/// The account id used in the ARNs sfnlite makes.
pub const ACCOUNT_ID: &str = "123456789012";

/// Runs executions.
pub struct Engine {
    registry: Registry,
    clock: Arc<dyn Clock>,
    store: Arc<dyn HistoryStore>,
    region: String,
}

/// What to start.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// The state machine's name (used in ARNs and `$$.StateMachine.Name`).
    pub state_machine_name: String,
    /// The execution name.
    pub execution_name: String,
    /// The execution input.
    pub input: Value,
    /// Seed of the execution's randomness (States.UUID, States.MathRandom, jitter).
    pub seed: u64,
}

impl Engine {
    /// An engine with these adapters, clock and store, in region `us-east-1`.
    pub fn new(registry: Registry, clock: Arc<dyn Clock>, store: Arc<dyn HistoryStore>) -> Engine {
        Engine { registry, clock, store, region: "us-east-1".to_owned() }
    }

    /// Sets the region reported in ARNs and task events.
    pub fn with_region(mut self, region: impl Into<String>) -> Engine {
        self.region = region.into();
        self
    }

    /// The ARN of a state machine.
    pub fn state_machine_arn(&self, name: &str) -> String {
        format!("arn:aws:states:{}:{ACCOUNT_ID}:stateMachine:{name}", self.region)
    }

    /// Runs an execution to its end. Its history is in the engine's store under the
    /// execution ARN (`ExecutionInfo::arn`).
    pub async fn run(
        &self,
        machine: &StateMachine,
        request: StartRequest,
    ) -> Result<(ExecutionInfo, Outcome), StoreError> {
        let info = ExecutionInfo {
            arn: format!(
                "arn:aws:states:{}:{ACCOUNT_ID}:execution:{}:{}",
                self.region, request.state_machine_name, request.execution_name
            ),
            name: request.execution_name,
            state_machine_arn: self.state_machine_arn(&request.state_machine_name),
            state_machine_name: request.state_machine_name,
            role_arn: format!("arn:aws:iam::{ACCOUNT_ID}:role/sfnlite"),
            region: self.region.clone(),
            input: Arc::new(request.input),
        };
        let run = Run::new(info.clone(), self.clock.as_ref(), &self.registry, self.store.as_ref(), request.seed);
        let outcome = run.execute(machine).await?;
        Ok((info, outcome))
    }

    /// The store executions are recorded in.
    pub fn store(&self) -> &Arc<dyn HistoryStore> {
        &self.store
    }
}
