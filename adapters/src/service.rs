//! Where service work runs: a multi-threaded runtime of its own, on real time.
//!
//! Executions may run on a paused (virtual) clock, but Athena queries, S3 transfers and the
//! AWS SDK need real time and real threads. Task adapters hand their work to this runtime
//! and wait for it from tokio's blocking pool: under the virtual clock, time does not move
//! while a task's service call is in progress (a blocking task inhibits auto-advance), so a
//! task takes no virtual time, whatever it does.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static QUERY_RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The service runtime's handle (started on first use; it lives as long as the process).
pub fn handle() -> &'static Handle {
    RUNTIME.get_or_init(|| threads("sfnlite-service")).handle()
}

/// The embedded Athena's runtime: queries are CPU-bound, so they run on threads of their
/// own, and a heavy query does not stall S3 calls, Lambda invocations or the API server.
pub fn query_handle() -> &'static Handle {
    QUERY_RUNTIME.get_or_init(|| threads("sfnlite-athena")).handle()
}

/// A multi-threaded runtime on real time, one worker per core (at least two).
fn threads(name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2))
        .thread_name(name)
        .on_thread_start(ignore_broken_pipes)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("the {name} runtime does not start: {e}"))
}

/// The command line ends on SIGPIPE when its own output is closed (`sfnlite … | head`),
/// but a handler process that exits before reading its input must not end sfnlite: the
/// service threads, which do all the writing to handlers, block SIGPIPE, so such a write
/// fails with EPIPE instead.
fn ignore_broken_pipes() {
    // SAFETY: changes only this thread's signal mask, with a mask built on the stack.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

struct CancelOnDrop(tokio::task::AbortHandle);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `work` on the service runtime and waits for it without moving virtual time.
pub async fn run<F>(work: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let task = handle().spawn(work);
    // Dropping the waiting future (a timeout, a stop, a failed sibling) cancels the work,
    // so nothing keeps running, or keeps the process from exiting, for a task that ended.
    let _cancel = CancelOnDrop(task.abort_handle());
    let waited = match Handle::try_current() {
        // Inside a runtime: wait on the blocking pool, which holds the virtual clock still.
        Ok(_) => tokio::task::spawn_blocking(move || handle().block_on(task)).await,
        Err(_) => Ok(handle().block_on(task)),
    };
    match waited {
        Ok(Ok(output)) => output,
        Ok(Err(join)) | Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}
