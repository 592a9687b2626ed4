// sfnlite's Lambda runtime bootstrap for Node.js: one long-lived worker per function.
//
// Started as `node --input-type=module -e "<this file>"` in the function's code directory.
//   SFNLITE_PROTOCOL_NONCE  MARK = "\x1esfnlite:<nonce> " starts every line written here
//   SFNLITE_HANDLER         "file:<abs path>:<function>" or "module:<path/module>.<function>"
// Protocol: after importing the handler write `MARK ready` (or `MARK init-error <json>`) to
// stdout, then read one JSON request per line from stdin, {"id", "event", "deadline_ms",
// "invoked_function_arn", "client_context"}, and answer each with `MARK end <id>` on stderr,
// then `MARK result <id> <json>` or `MARK error <id> <json>` on stdout (`MARK fatal <id|-> <json>`
// when an uncaught error ends the worker). EOF on stdin: exit 0.
// Everything else on stdout/stderr is the function's own log and is left as it is.
// Our lines go through process.stdout/stderr too, so they come after everything the handler
// wrote through them (and console). A big write to a full pipe is finished asynchronously,
// so the process only ever exits through exit() below, which waits for both to drain.
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { pathToFileURL } from 'node:url';

const env = process.env;
const MARK = `\x1esfnlite:${env.SFNLITE_PROTOCOL_NONCE ?? ''} `;
delete env.SFNLITE_PROTOCOL_NONCE; // not for the handler, nor its children
// The streams' own write methods, kept in case the handler patches process.stdout.write.
const writeOut = process.stdout.write.bind(process.stdout);
const writeErr = process.stderr.write.bind(process.stderr);

let currentRequestId; // undefined until the first invocation (Lambda logs "undefined" at init)
let inFlight; // the id of the request being handled, if any
let exiting = false;

// Exits once everything written to stdout and stderr has reached the pipes (process.exit()
// alone would cut a large pending write short). A write's callback runs after the ones
// before it, so an empty write on each stream tells when it is flushed.
function exit(code) {
  if (exiting) return;
  exiting = true;
  process.stdin.pause(); // take no more requests
  let left = 2;
  const flushed = () => { if (--left === 0) process.exit(code); };
  writeOut('', flushed);
  writeErr('', flushed);
}

// ------------------------------------------------------------------------------ logging
// console.* as patched by Lambda's Node runtime: "<ISO time>\t<request id>\t<LEVEL>\t<text>".
// Lambda turns newlines inside a message into '\r' (one CloudWatch event); we keep them.
function log(level, text) {
  writeErr(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${text}\n`);
}
const LEVELS = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE', fatal: 'FATAL' };
for (const [method, level] of Object.entries(LEVELS)) {
  console[method] = (...args) => log(level, util.format(...args));
}

// ------------------------------------------------------------------------------ errors
// The error object Lambda's Node runtime reports. An Error (or anything shaped like one)
// gives its name, message and stack lines; any other thrown value (a string, a number,
// a plain object) gives {errorType: typeof value, errorMessage: String(value), trace: []},
// as the runtime does.
function toErrorObject(err) {
  try {
    const errorLike = err instanceof Error || util.types.isNativeError(err) ||
      (typeof err === 'object' && err !== null && typeof err.name === 'string' && typeof err.message === 'string');
    if (errorLike) {
      const stack = typeof err.stack === 'string' ? err.stack.split('\n') : [];
      return { errorType: err.name ?? err.constructor?.name, errorMessage: err.message, trace: stack };
    }
    return { errorType: typeof err, errorMessage: String(err), trace: [] };
  } catch {
    return { errorType: 'handled', errorMessage: 'callback called with Error argument, but there was a ' +
      'problem while retrieving one or more of its message, name, and stack', trace: [] };
  }
}

class InitError extends Error {
  constructor(errorType, errorMessage, trace = []) {
    super(errorMessage);
    this.object = { errorType, errorMessage, trace };
  }
}

// ------------------------------------------------------------------------------ init
// `module:` form: the module path is everything before the LAST '.', resolved against the
// working directory as <module>.mjs, .js or .cjs. (Lambda itself splits at the first '.'
// after the last '/' and allows nested names like `index.obj.fn`; sfnlite's spec differs.)
async function loadHandler(spec) {
  let file, moduleName, fnName;
  if (spec.startsWith('file:')) {
    const rest = spec.slice(5);
    const at = rest.lastIndexOf(':'); // the path itself may contain ':'
    if (at < 0) throw new InitError('Runtime.MalformedHandlerName', 'Bad handler');
    [file, fnName] = [rest.slice(0, at), rest.slice(at + 1)];
    moduleName = path.basename(file).replace(/\.[^.]*$/, '');
    if (!isFile(file)) throw new InitError('Runtime.ImportModuleError', `Error: Cannot find module '${file}'`);
  } else {
    const handler = spec.startsWith('module:') ? spec.slice(7) : spec;
    const at = handler.lastIndexOf('.');
    if (at < 0) throw new InitError('Runtime.MalformedHandlerName', 'Bad handler');
    [moduleName, fnName] = [handler.slice(0, at), handler.slice(at + 1)];
    file = ['.mjs', '.js', '.cjs'].map((ext) => path.resolve(moduleName + ext)).find(isFile);
    if (!file) throw new InitError('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'`);
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href); // CommonJS files come in as { default: module.exports, ... }
  } catch (e) {
    const trace = typeof e?.stack === 'string' ? e.stack.split('\n') : [];
    if (e instanceof SyntaxError) throw new InitError('Runtime.UserCodeSyntaxError', String(e), trace);
    if (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') {
      throw new InitError('Runtime.ImportModuleError', String(e), trace); // a missing dependency
    }
    throw e; // anything else the module's top level threw is reported as that error
  }
  const fn = mod[fnName] ?? mod.default?.[fnName];
  if (fn === undefined) throw new InitError('Runtime.HandlerNotFound', `${moduleName}.${fnName} is undefined or not exported`);
  if (typeof fn !== 'function') throw new InitError('Runtime.HandlerNotFound', `${moduleName}.${fnName} is not a function`);
  return fn;
}

function isFile(file) {
  try { return fs.statSync(file).isFile(); } catch { return false; }
}

// ------------------------------------------------------------------------------ invoke
// Calls the handler; resolves to [isError, value]. The first of these wins, later ones are
// ignored: the callback (always passed), context.done/succeed/fail, a returned promise's
// outcome, a synchronous throw, and - for handlers declared with fewer than 3 parameters
// only - a plain returned value (undefined included). A handler with 3+ parameters that
// returns no promise is waited for until it calls back. callbackWaitsForEmptyEventLoop is
// accepted but not emulated: the reply goes out as soon as the result is known. A 2-argument
// handler that calls context.succeed later (very old style) would return null too early.
function invoke(handler, request) {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (isError, value) => {
      if (!settled) { settled = true; resolve([isError, value]); }
    };
    const done = (err, result) => (err === undefined || err === null ? settle(false, result) : settle(true, err));
    const deadline = Number(request.deadline_ms);
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      invokedFunctionArn: request.invoked_function_arn,
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      awsRequestId: request.id,
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
      identity: undefined,
      clientContext: request.client_context ?? undefined,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done,
      succeed: (result) => done(null, result),
      fail: (err) => done(err ?? 'handled'), // as Lambda: fail() without an error still fails
    };
    try {
      const returned = handler(request.event, context, done);
      if (typeof returned?.then === 'function') {
        returned.then((value) => settle(false, value), (err) => settle(true, err));
      } else if (handler.length < 3) {
        settle(false, returned);
      }
    } catch (err) {
      settle(true, err);
    }
  });
}

function finish(id, kind, json) {
  inFlight = undefined;
  writeErr(`${MARK}end ${id}\n`);
  writeOut(`${MARK}${kind} ${id} ${json}\n`);
}

function fail(id, errorObject, label = 'Invoke Error') {
  const json = JSON.stringify(errorObject);
  log('ERROR', `${label} \t${json}`);
  finish(id, 'error', json);
}

async function handleLine(handler, initError, line) {
  let request;
  try {
    request = JSON.parse(line);
    request.id = String(request.id);
  } catch (e) {
    writeErr(`sfnlite node bootstrap: bad request line: ${e.message}\n`);
    return exit(2);
  }
  if (initError) return finish(request.id, 'error', JSON.stringify(initError));
  inFlight = currentRequestId = request.id; // the id stays for late logs, as on Lambda
  const [isError, value] = await invoke(handler, request);
  if (isError) return fail(request.id, toErrorObject(value));
  let json;
  try {
    json = JSON.stringify(value === undefined ? null : value) ?? 'null'; // a function/symbol: null
  } catch {
    // BigInt, circular structures, a throwing toJSON. Lambda's Node runtime fails with
    // "Unable to stringify response body"; we give it the MarshalError type Python uses.
    return fail(request.id, { errorType: 'Runtime.MarshalError', errorMessage: 'Unable to stringify response body', trace: [] });
  }
  finish(request.id, 'result', json);
}

// An error outside the invocation's own flow ends the worker, as on Lambda: it is reported
// as the in-flight request's error (if there is one), then the process exits with code 1.
function crash(errorObject, label) {
  if (exiting) return;
  const json = JSON.stringify(errorObject);
  log('ERROR', `${label} \t${json}`);
  // `fatal`: the answer (if a request is in flight) and word that this worker is done.
  if (inFlight !== undefined) finish(inFlight, 'fatal', json);
  else writeOut(`${MARK}fatal - ${json}\n`);
  exit(1);
}
process.on('uncaughtException', (err) => crash(toErrorObject(err), 'Uncaught Exception'));
process.on('unhandledRejection', (reason) => {
  const { errorMessage, trace } = toErrorObject(reason);
  const message = reason instanceof Error ? `${reason.name}: ${reason.message}` : errorMessage;
  crash({ errorType: 'Runtime.UnhandledPromiseRejection', errorMessage: message, trace }, 'Unhandled Promise Rejection');
});

// ------------------------------------------------------------------------------ main
let handler, initError;
try {
  handler = await loadHandler(env.SFNLITE_HANDLER ?? '');
} catch (e) {
  initError = e instanceof InitError ? e.object : toErrorObject(e);
  log('ERROR', `Uncaught Exception \t${JSON.stringify(initError)}`);
}
writeOut(initError ? `${MARK}init-error ${JSON.stringify(initError)}\n` : `${MARK}ready\n`);

// Requests, one per line, handled strictly one after another. Lines are split by hand,
// searching only the new chunk, so a large event arriving in many chunks stays linear.
const queue = [];
let pending = []; // pieces of the line not yet terminated
let busy = false;
let ended = false;
async function pump() {
  if (busy) return;
  busy = true;
  while (queue.length > 0 && !exiting) await handleLine(handler, initError, queue.shift());
  busy = false;
  if (ended) exit(0); // EOF and nothing left: the Rust side is done with us
}
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  let start = 0;
  for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
    pending.push(chunk.slice(start, nl));
    const line = pending.join('');
    pending = [];
    start = nl + 1;
    if (line.trim() !== '') queue.push(line);
  }
  if (start < chunk.length) pending.push(chunk.slice(start));
  pump();
});
process.stdin.on('end', () => {
  const last = pending.join('');
  if (last.trim() !== '') queue.push(last);
  ended = true;
  pump();
});
