//! Where executions run: one thread with a current-thread runtime and a `LocalSet` (the
//! interpreter's futures are not `Send`), fed by a channel. Every execution can be
//! stopped (AWS StopExecution) and waited for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sfnlite_engine::{
    Engine, EngineError, ExecutionInfo, ExecutionRecord, Outcome, PreparedRedrive, StartRequest, StopRequest,
};
use sfnlite_states::StateMachine;
use tokio::sync::{mpsc, oneshot, watch};

/// What to run.
pub enum Job {
    /// An execution recorded by `Engine::start`.
    Run {
        /// The engine (its adapters are the execution's).
        engine: Engine,
        /// The parsed definition.
        machine: Box<StateMachine>,
        /// Its record.
        record: ExecutionRecord,
    },
    /// A stored execution left RUNNING by a process that died.
    Resume {
        /// The engine.
        engine: Engine,
        /// The execution.
        arn: String,
    },
    /// A redrive, recorded by `Engine::prepare_redrive`.
    Redrive {
        /// The engine.
        engine: Engine,
        /// What runs.
        prepared: Box<PreparedRedrive>,
    },
    /// An EXPRESS execution: recorded only in its engine's own store, its end sent back
    /// (StartSyncExecution) or dropped (StartExecution).
    Express {
        /// The engine (with a store of its own).
        engine: Engine,
        /// The parsed definition.
        machine: Box<StateMachine>,
        /// What to start.
        request: StartRequest,
        /// The ARN it answers to (`…:express:<machine>:<name>:<id>`).
        arn: String,
        /// Where its end goes.
        reply: Option<oneshot::Sender<Result<(ExecutionInfo, Outcome), EngineError>>>,
    },
}

impl Job {
    fn arn(&self) -> &str {
        match self {
            Job::Run { record, .. } => &record.arn,
            Job::Redrive { prepared, .. } => prepared.arn(),
            Job::Resume { arn, .. } | Job::Express { arn, .. } => arn,
        }
    }
}

struct Running {
    stop: Option<oneshot::Sender<StopRequest>>,
    done: watch::Receiver<bool>,
}

type Table = Arc<Mutex<HashMap<String, Running>>>;

/// The execution thread's handle.
pub struct Executor {
    jobs: mpsc::UnboundedSender<(Job, oneshot::Receiver<StopRequest>, watch::Sender<bool>)>,
    running: Table,
}

fn lock(table: &Table) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
    table.lock().unwrap_or_else(|e| e.into_inner())
}

impl Executor {
    /// Starts the execution thread.
    pub fn start() -> std::io::Result<Executor> {
        let (jobs, mut receiver) =
            mpsc::unbounded_channel::<(Job, oneshot::Receiver<StopRequest>, watch::Sender<bool>)>();
        let running: Table = Arc::default();
        let table = running.clone();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        std::thread::Builder::new().name("sfnlite-executions".into()).spawn(move || {
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                while let Some((job, stop, done)) = receiver.recv().await {
                    tokio::task::spawn_local(run(job, stop, done, table.clone()));
                }
            });
        })?;
        Ok(Executor { jobs, running })
    }

    /// Runs a job; returns at once.
    pub fn submit(&self, job: Job) {
        let (stop_sender, stop) = oneshot::channel();
        let (done, done_receiver) = watch::channel(false);
        let arn = job.arn().to_owned();
        lock(&self.running).insert(arn.clone(), Running { stop: Some(stop_sender), done: done_receiver });
        if self.jobs.send((job, stop, done)).is_err() {
            lock(&self.running).remove(&arn);
            tracing::error!(execution = %arn, "the execution thread has stopped; the execution stays RUNNING until resumed");
        }
    }

    /// True when the execution runs in this process.
    pub fn is_running(&self, arn: &str) -> bool {
        lock(&self.running).contains_key(arn)
    }

    /// Asks a running execution to stop; returns what completes when it has ended, or
    /// `None` when it does not run here.
    pub fn stop(&self, arn: &str, request: StopRequest) -> Option<watch::Receiver<bool>> {
        let mut table = lock(&self.running);
        let running = table.get_mut(arn)?;
        if let Some(stop) = running.stop.take() {
            let _ = stop.send(request);
        }
        Some(running.done.clone())
    }

    /// What completes when the execution has ended, if it runs here.
    pub fn done(&self, arn: &str) -> Option<watch::Receiver<bool>> {
        lock(&self.running).get(arn).map(|r| r.done.clone())
    }

    /// How many executions run.
    pub fn running_count(&self) -> usize {
        lock(&self.running).len()
    }
}

/// Takes an execution out of the running table when it ends, however it ends (a panic
/// included), and tells whoever waits for it.
struct Finished {
    arn: String,
    table: Table,
    done: watch::Sender<bool>,
}

impl Drop for Finished {
    fn drop(&mut self) {
        lock(&self.table).remove(&self.arn);
        let _ = self.done.send(true);
    }
}

async fn run(job: Job, stop: oneshot::Receiver<StopRequest>, done: watch::Sender<bool>, table: Table) {
    let arn = job.arn().to_owned();
    let _finished = Finished { arn: arn.clone(), table, done };
    let stop = async move {
        match stop.await {
            Ok(request) => request,
            Err(_) => std::future::pending().await,
        }
    };
    let (result, reply) = match job {
        Job::Run { engine, machine, record } => (engine.run_started(&machine, record, stop).await, None),
        Job::Resume { engine, arn } => (engine.resume(&arn, stop).await, None),
        Job::Redrive { engine, prepared } => (engine.run_redrive(*prepared, stop).await, None),
        Job::Express { engine, machine, request, reply, .. } => (engine.run(&machine, request, stop).await, reply),
    };
    match &result {
        Ok((_, outcome)) => tracing::info!(execution = %arn, status = outcome.status.as_str(), "execution ended"),
        Err(e) => tracing::error!(execution = %arn, "execution stopped: {e}"),
    }
    if let Some(reply) = reply {
        let _ = reply.send(result);
    }
}
