//! One handler process and the line protocol sfnlite speaks with it.
//!
//! A Python or Node.js worker is started once and kept warm, as a Lambda sandbox is: it
//! imports the handler (init), says `ready`, then reads one request per line on stdin and
//! answers each. Everything the bootstrap writes is a line that starts with a marker
//! holding a random nonce (`\x1esfnlite:<nonce> `); every other line, on stdout or stderr,
//! is the function's log. Per request the bootstrap writes `end <id>` on stderr (so the
//! request's stderr is complete) and then `result <id> <json>` or `error <id> <json>` on
//! stdout. A `cmd:` handler is a process per invocation: the event on stdin, the result
//! on stdout.

use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use super::functions::{Entry, FunctionConfig, Runtime};

const PYTHON_BOOTSTRAP: &str = include_str!("runtime/python_bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("runtime/node_bootstrap.mjs");

/// Lambda's limit on how long init may take.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest response Lambda returns (6 MB), and what its error message says.
pub(crate) const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// What a worker's streams carry, in order per stream.
#[derive(Debug)]
enum Line {
    /// A line the function printed.
    Log(String),
    /// Init finished.
    Ready,
    /// Init failed; the error object as JSON.
    InitError(String),
    /// Request `id`'s stderr is complete.
    End(String),
    /// Request `id` returned this JSON.
    Result(String, String),
    /// Request `id` failed with this error object (JSON).
    Error(String, String),
    /// An uncaught error ends the worker: the in-flight request `id` (or `-`) fails with it.
    Fatal(String, String),
}

/// How an invocation ended, as the runtime reports it.
#[derive(Debug)]
pub(crate) enum Reply {
    /// The handler's return value, as JSON text.
    Result(String),
    /// The runtime's error object, as JSON text (`errorType`, `errorMessage`, …).
    Error(String),
    /// The invocation ran past the function's timeout (the worker is killed).
    TimedOut,
    /// The process ended during the invocation (`exit status 1`, `signal: 9`).
    Exited(String),
}

/// What one invocation printed, and how long it took.
#[derive(Debug, Default)]
pub(crate) struct Printed {
    pub(crate) lines: Vec<String>,
    pub(crate) duration: Duration,
    /// Peak resident memory of the worker, in MB (Linux).
    pub(crate) max_memory_mb: Option<u64>,
}

/// The variables a worker starts with (Lambda's, the function's, sfnlite's endpoints).
pub(crate) type Environment = Vec<(String, String)>;

/// A warm worker process.
pub(crate) struct Worker {
    child: Child,
    /// The worker's pid, which is also its process group's id.
    pid: Option<u32>,
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<Line>,
    /// How long init took, until the first invocation reports it.
    pub(crate) init: Option<Duration>,
    /// Lines printed during init, until the first invocation reports them.
    init_lines: Vec<String>,
    /// An init failure, returned for every invocation (as Lambda does).
    init_error: Option<String>,
    /// The worker said it is ending (`fatal`), or its output ended.
    dead: bool,
}

impl Drop for Worker {
    /// A worker is dropped when it timed out, crashed, or its pool goes: its whole process
    /// group goes with it (what the handler started, too).
    fn drop(&mut self) {
        kill_group(self.pid);
        groups::forget(self.pid);
    }
}

/// Kills a worker's process group (each worker leads one; its id is the worker's pid,
/// kept from the start: a reaped child has no id any more).
fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: sends a signal; no memory is touched.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// The process groups of the live workers, so that an interrupted sfnlite (Ctrl-C) takes
/// them with it: workers lead groups of their own, which the terminal's signal misses.
pub(crate) mod groups {
    use std::sync::atomic::{AtomicI32, Ordering};

    const SLOTS: usize = 512;
    static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];

    pub(crate) fn remember(pid: Option<u32>) {
        let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else { return };
        for slot in &GROUPS {
            if slot.compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                return;
            }
        }
    }

    pub(crate) fn forget(pid: Option<u32>) {
        let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else { return };
        for slot in &GROUPS {
            if slot.compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                return;
            }
        }
    }

    /// Kills every live worker's group. Async-signal-safe (atomics and `kill` only), so a
    /// signal handler may call it.
    pub fn kill_all() {
        for slot in &GROUPS {
            let pid = slot.load(Ordering::SeqCst);
            if pid > 0 {
                // SAFETY: sends a signal.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
        }
    }
}

/// How long a dead or killed worker's pipes are still read for what it printed last (a
/// process it started may hold them open for ever).
const DRAIN: Duration = Duration::from_millis(100);

fn marker(nonce: &str) -> String {
    format!("\u{1e}sfnlite:{nonce} ")
}

fn base_command(config: &FunctionConfig, environment: &Environment) -> Command {
    let mut command = match (&config.runtime, &config.entry) {
        (Runtime::Python, _) => {
            let mut c = Command::new(config.interpreter.as_deref().unwrap_or("python3".as_ref()));
            c.args(["-u", "-c", PYTHON_BOOTSTRAP]);
            c
        }
        (Runtime::Node, _) => {
            let mut c = Command::new(config.interpreter.as_deref().unwrap_or("node".as_ref()));
            c.args(["--input-type=module", "-e", NODE_BOOTSTRAP]);
            c
        }
        (Runtime::Command, Entry::Command(line)) => {
            let mut c = Command::new("sh");
            c.args(["-c", line]);
            c
        }
        (Runtime::Command, _) => Command::new("false"),
    };
    // The parent's AWS settings (profiles, real credentials) must not reach the handler:
    // it talks to sfnlite's endpoints with placeholder credentials.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(&name);
        }
    }
    command
        .current_dir(&config.code_dir)
        .envs(environment.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    command
}

/// The handler spec the bootstrap reads (`SFNLITE_HANDLER`).
fn handler_variable(entry: &Entry) -> String {
    match entry {
        Entry::File { path, function } => format!("file:{}:{function}", path.display()),
        Entry::Module(m) => format!("module:{m}"),
        Entry::Command(c) => c.clone(),
    }
}

/// Reads a stream line by line into `tx`, splitting out protocol lines.
async fn pump(stream: impl AsyncRead + Unpin, mark: String, tx: mpsc::UnboundedSender<Line>) {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&buffer);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let (log, protocol) = match text.find(&mark) {
            Some(at) => (&text[..at], Some(&text[at + mark.len()..])),
            None => (text, None),
        };
        if (!log.is_empty() || protocol.is_none()) && tx.send(Line::Log(log.trim_end_matches('\r').to_owned())).is_err()
        {
            return;
        }
        if let Some(line) = protocol.and_then(parse_protocol)
            && tx.send(line).is_err()
        {
            return;
        }
    }
}

fn parse_protocol(text: &str) -> Option<Line> {
    let (verb, rest) = text.split_once(' ').unwrap_or((text, ""));
    let with_id = |rest: &str| rest.split_once(' ').map(|(id, json)| (id.to_owned(), json.to_owned()));
    match verb {
        "ready" => Some(Line::Ready),
        "init-error" => Some(Line::InitError(rest.to_owned())),
        "end" => Some(Line::End(rest.to_owned())),
        "result" => with_id(rest).map(|(id, json)| Line::Result(id, json)),
        "error" => with_id(rest).map(|(id, json)| Line::Error(id, json)),
        "fatal" => with_id(rest).map(|(id, json)| Line::Fatal(id, json)),
        _ => None,
    }
}

/// `exit status 1`, `signal: 9 (SIGKILL)`: how Lambda words a runtime's end.
fn describe_exit(status: Option<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(9)) => "signal: killed".to_owned(),
            (None, Some(signal)) => format!("signal: {signal}"),
            (None, None) => "exited".to_owned(),
        },
        None => "exited".to_owned(),
    }
}

/// Peak resident memory of a process, in MB (Linux's `VmHWM`).
fn peak_memory_mb(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.div_ceil(1024))
}

impl Worker {
    /// Starts a worker and waits for its init (at most Lambda's 10 s).
    pub(crate) async fn start(config: &FunctionConfig, environment: &Environment) -> std::io::Result<Worker> {
        let nonce = crate::lambda::random_hex(16);
        let mut command = base_command(config, environment);
        command.env("SFNLITE_PROTOCOL_NONCE", &nonce).env("SFNLITE_HANDLER", handler_variable(&config.entry));
        // A log stream per worker, as Lambda has one per sandbox: `<day>/[$LATEST]<random>`.
        if let Some((_, day)) = environment.iter().find(|(k, _)| k == "AWS_LAMBDA_LOG_STREAM_NAME") {
            command.env("AWS_LAMBDA_LOG_STREAM_NAME", format!("{day}{}", crate::lambda::random_hex(16)));
        }
        let started = Instant::now();
        let mut child = command.spawn().map_err(|e| {
            let program = match config.runtime {
                Runtime::Python => config.interpreter.as_deref().unwrap_or("python3".as_ref()).display().to_string(),
                Runtime::Node => config.interpreter.as_deref().unwrap_or("node".as_ref()).display().to_string(),
                Runtime::Command => "sh".to_owned(),
            };
            std::io::Error::new(e.kind(), format!("cannot start {program} for function {}: {e}", config.name))
        })?;
        let (tx, lines) = mpsc::unbounded_channel();
        let stdin = child.stdin.take().expect("stdin is piped");
        let mark = marker(&nonce);
        tokio::spawn(pump(child.stdout.take().expect("stdout is piped"), mark.clone(), tx.clone()));
        tokio::spawn(pump(child.stderr.take().expect("stderr is piped"), mark, tx));
        let pid = child.id();
        groups::remember(pid);
        let mut worker =
            Worker { child, pid, stdin, lines, init: None, init_lines: Vec::new(), init_error: None, dead: false };
        let deadline = tokio::time::sleep(INIT_TIMEOUT);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                line = worker.lines.recv() => match line {
                    Some(Line::Log(text)) => worker.init_lines.push(text),
                    Some(Line::Ready) => break,
                    Some(Line::InitError(json)) => { worker.init_error = Some(json); break; }
                    Some(_) => {}
                    None => {
                        let status = worker.child.wait().await.ok();
                        worker.init_error = Some(exit_error("init", &describe_exit(status)));
                        break;
                    }
                },
                () = &mut deadline => {
                    let _ = worker.child.start_kill();
                    worker.init_error = Some(exit_error("init", "init timed out after 10.00 seconds"));
                    break;
                }
            }
        }
        worker.init = Some(started.elapsed());
        Ok(worker)
    }

    /// True when the worker can take another invocation: it is running, and has not said
    /// it is ending (an error thrown after its last answer, in Node.js).
    pub(crate) fn alive(&mut self) -> bool {
        loop {
            match self.lines.try_recv() {
                Ok(Line::Fatal(..)) | Err(mpsc::error::TryRecvError::Disconnected) => self.dead = true,
                Ok(_) => continue,
                Err(mpsc::error::TryRecvError::Empty) => break,
            }
        }
        !self.dead && matches!(self.child.try_wait(), Ok(None))
    }

    /// One invocation. A worker that timed out or exited must not be reused.
    pub(crate) async fn invoke(&mut self, id: &str, request: &str, timeout: Duration) -> (Reply, Printed) {
        let started = Instant::now();
        let mut printed = Printed { lines: std::mem::take(&mut self.init_lines), ..Printed::default() };
        if let Some(error) = &self.init_error {
            let error = with_request_id(error, id);
            printed.duration = started.elapsed();
            return (Reply::Error(error), printed);
        }
        let mut line = String::with_capacity(request.len() + 1);
        line.push_str(request);
        line.push('\n');
        if self.stdin.write_all(line.as_bytes()).await.is_err() || self.stdin.flush().await.is_err() {
            let status = self.child.wait().await.ok();
            return (Reply::Exited(describe_exit(status)), printed);
        }
        let reply = match tokio::time::timeout(timeout, self.collect(id, &mut printed.lines)).await {
            Ok(Some(reply)) => reply,
            Ok(None) => {
                // It ended without answering (a process it started may hold its pipes).
                kill_group(self.pid);
                let status = self.child.wait().await.ok();
                Reply::Exited(describe_exit(status))
            }
            Err(_) => {
                self.dead = true;
                kill_group(self.pid);
                let _ = self.child.kill().await;
                self.drain(&mut printed.lines).await;
                Reply::TimedOut
            }
        };
        printed.duration = started.elapsed();
        printed.max_memory_mb = peak_memory_mb(self.pid);
        (reply, printed)
    }

    /// Reads lines until request `id` has both answered and ended its stderr; `None` when
    /// the process ends first (whether or not something it started holds its pipes).
    async fn collect(&mut self, id: &str, lines: &mut Vec<String>) -> Option<Reply> {
        let (mut reply, mut ended) = (None, false);
        let mut exited_by = None;
        while reply.is_none() || !ended {
            let line = match exited_by {
                // The process ended: what it wrote before is still coming through the pipes.
                Some(until) => match tokio::time::timeout_at(until, self.lines.recv()).await {
                    Ok(Some(line)) => line,
                    _ => break,
                },
                None => tokio::select! {
                    biased;
                    line = self.lines.recv() => match line {
                        Some(line) => line,
                        None => break,
                    },
                    _ = self.child.wait() => {
                        self.dead = true;
                        exited_by = Some(tokio::time::Instant::now() + DRAIN);
                        continue;
                    }
                },
            };
            match line {
                Line::Log(text) => lines.push(text),
                Line::End(end) if end == id => ended = true,
                Line::Result(rid, json) if rid == id => reply = Some(Reply::Result(json)),
                Line::Error(rid, json) if rid == id => reply = Some(Reply::Error(json)),
                Line::Fatal(rid, json) if rid == id => {
                    self.dead = true;
                    reply = Some(Reply::Error(json));
                }
                _ => {}
            }
        }
        if reply.is_none() {
            self.dead = true;
        }
        reply
    }

    /// What a worker that ended or was killed printed last, read for a bounded time.
    async fn drain(&mut self, lines: &mut Vec<String>) {
        let until = tokio::time::Instant::now() + DRAIN;
        while let Ok(Some(line)) = tokio::time::timeout_at(until, self.lines.recv()).await {
            if let Line::Log(text) = line {
                lines.push(text);
            }
        }
    }
}

/// The error object of a runtime that ended (`Runtime.ExitError`).
pub(crate) fn exit_error(id: &str, how: &str) -> String {
    serde_json::json!({
        "errorType": "Runtime.ExitError",
        "errorMessage": format!("RequestId: {id} Error: Runtime exited with error: {how}"),
    })
    .to_string()
}

/// An init error object with this request's id (Python's errors carry `requestId`).
fn with_request_id(error: &str, id: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(error) {
        Ok(serde_json::Value::Object(mut object)) => {
            if object.contains_key("requestId") {
                object.insert("requestId".into(), id.into());
            }
            if let Some(serde_json::Value::String(message)) = object.get_mut("errorMessage") {
                *message = message.replace("RequestId: init ", &format!("RequestId: {id} "));
            }
            serde_json::Value::Object(object).to_string()
        }
        _ => error.to_owned(),
    }
}

/// A `cmd:` invocation: the program gets the event on stdin and answers on stdout; what
/// it writes on stderr is its log. It is done when it exits (what it left running is
/// killed with its process group); a result over Lambda's 6 MB is not kept.
pub(crate) async fn run_command(
    config: &FunctionConfig,
    environment: &Environment,
    event: &str,
    timeout: Duration,
) -> (Reply, Printed) {
    use std::sync::{Arc, Mutex};
    use tokio::io::AsyncReadExt;
    let started = Instant::now();
    let mut printed = Printed::default();
    let mut child = match base_command(config, environment).spawn() {
        Ok(child) => child,
        Err(e) => return (Reply::Exited(format!("cannot start sh: {e}")), printed),
    };
    let pid = child.id();
    groups::remember(pid);
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let event = event.to_owned();
    let feed = tokio::spawn(async move {
        let _ = stdin.write_all(event.as_bytes()).await;
        let _ = stdin.shutdown().await;
    });
    // Readers keep draining (so the program never blocks on a full pipe) but keep at most
    // one byte over the limit, which is enough to know it is over.
    let out = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let kept = out.clone();
    let read_out = tokio::spawn(async move {
        let mut chunk = vec![0; 64 * 1024];
        while let Ok(n @ 1..) = stdout.read(&mut chunk).await {
            let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
            let room = (MAX_RESPONSE_BYTES + 1).saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..n.min(room)]);
        }
    });
    let logs = Arc::new(Mutex::new(Vec::new()));
    let mut errors = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
    let logged = logs.clone();
    let read_err = tokio::spawn(async move {
        while let Ok(Some(line)) = errors.next_line().await {
            logged.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    });
    let exited = tokio::time::timeout(timeout, child.wait()).await;
    // What it left running goes with it.
    kill_group(pid);
    groups::forget(pid);
    if exited.is_err() {
        let _ = child.kill().await;
    }
    // What it wrote before it ended is still in the pipes; a process it started may hold
    // them open, so the readers get a bounded time.
    let _ = tokio::time::timeout(DRAIN, async {
        let _ = read_out.await;
    })
    .await;
    let _ = tokio::time::timeout(DRAIN, async {
        let _ = read_err.await;
    })
    .await;
    feed.abort();
    printed.lines = std::mem::take(&mut *logs.lock().unwrap_or_else(|e| e.into_inner()));
    let out = std::mem::take(&mut *out.lock().unwrap_or_else(|e| e.into_inner()));
    let reply = match exited {
        Err(_) => Reply::TimedOut,
        Ok(Ok(status)) if status.success() => Reply::Result(String::from_utf8_lossy(&out).into_owned()),
        Ok(status) => Reply::Exited(describe_exit(status.ok())),
    };
    printed.duration = started.elapsed();
    (reply, printed)
}
