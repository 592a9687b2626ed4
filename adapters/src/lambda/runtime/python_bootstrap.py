# sfnlite's Lambda runtime bootstrap for Python: one long-lived worker per function.
#
# Started as `python3 -u -c "<this file>"` in the function's code directory.
#   SFNLITE_PROTOCOL_NONCE  MARK = "\x1esfnlite:<nonce> " starts every line written here
#   SFNLITE_HANDLER         "file:<abs path>:<function>" or "module:<pkg.module>.<function>"
# Protocol: after importing the handler write `MARK ready` (or `MARK init-error <json>`) to
# stdout, then read one JSON request per line from stdin, {"id", "event", "deadline_ms",
# "invoked_function_arn", "client_context"}, and answer each with `MARK end <id>` on stderr,
# then `MARK result <id> <json>` or `MARK error <id> <json>` on stdout. EOF on stdin: exit 0.
# Everything else on stdout/stderr is the function's own log and is left as it is.
import sys

# `-c` puts '' (the cwd, i.e. the function's code) first on sys.path: take it off before
# importing anything, so a handler file named json.py or logging.py can't replace ours.
# _load_handler puts the code directory back for the handler's imports.
if sys.path and sys.path[0] == "":
    del sys.path[0]

import decimal
import importlib
import importlib.util
import json
import logging
import os
import time
import traceback
from types import SimpleNamespace

MARK = ("\x1esfnlite:" + os.environ.pop("SFNLITE_PROTOCOL_NONCE", "") + " ").encode()  # not for the handler

# Under `sfnlite test`, time is virtual: a handler's sleeps take no wall time, as Waits
# take none (a handler that polls every few seconds polls again at once).
if os.environ.pop("SFNLITE_VIRTUAL_SLEEP", "") == "1":
    time.sleep = lambda seconds: None

# Lambda's settings for the function, read once (they don't change per request).
_ENV = os.environ.get
_FUNCTION = {
    "function_name": _ENV("AWS_LAMBDA_FUNCTION_NAME"),
    "function_version": _ENV("AWS_LAMBDA_FUNCTION_VERSION"),
    "memory_limit_in_mb": _ENV("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
    "log_group_name": _ENV("AWS_LAMBDA_LOG_GROUP_NAME"),
    "log_stream_name": _ENV("AWS_LAMBDA_LOG_STREAM_NAME"),
}

_request_id = ""  # the current (or last) request's id, for the logging filter

# ---------------------------------------------------------------------------- output
def _flush_std():
    """Flush whatever the handler printed (also if it replaced sys.stdout/stderr)."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass

def _write(fd, text):
    """Write one protocol line straight to the file descriptor, so it still works when the
    handler replaced or closed sys.stdout. Our JSON is ASCII (ensure_ascii) anyway."""
    data = MARK + text.encode("utf-8", "backslashreplace") + b"\n"
    while data:
        data = data[os.write(fd, data):]

def _default(o):
    """Decimal becomes a float, as in awslambdaric; anything else fails as in json itself."""
    if isinstance(o, decimal.Decimal):
        return float(o)
    raise TypeError("Object of type %s is not JSON serializable" % type(o).__name__)

# The handler's result: compact; NaN/Infinity are refused (Lambda would send the invalid
# literal `NaN`; we report Runtime.MarshalError instead). Our own objects: compact.
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_default).encode
_dumps = json.JSONEncoder(separators=(",", ":")).encode

# ---------------------------------------------------------------------------- errors
def _error(message, error_type, request_id, stack_trace=()):
    return {"errorMessage": message, "errorType": error_type,
            "requestId": request_id, "stackTrace": list(stack_trace)}

_IMPORTLIB = os.path.dirname(importlib.__file__)

def _frames(tb):
    """The traceback as Lambda reports it: traceback.format_list() of (file, line, name, text)
    tuples (so no 3.11 caret lines), without the first frame (the bootstrap's own, where the
    exception was caught), any bootstrap frames right after it (`-c` code is "<string>"),
    and importlib's frames (frozen or not), so the user's code comes first."""
    summary = traceback.extract_tb(tb)[1:]
    while summary and summary[0].filename == "<string>":
        del summary[0]
    return traceback.format_list([(f.filename, f.lineno, f.name, f.line) for f in summary
                                  if not (f.filename.startswith("<frozen ")
                                          or os.path.dirname(f.filename) == _IMPORTLIB)])

def _str(value):
    """str(), also for objects whose __str__ fails."""
    try:
        return str(value)
    except Exception:
        return "<unprintable %s object>" % type(value).__name__

def _log_error(err):
    """Log an error to stderr the way Lambda's Python runtime does."""
    head = "[ERROR] " + err["errorType"] + (": " + err["errorMessage"] if err["errorMessage"] else "")
    lines = [head, "Traceback (most recent call last):"]
    for entry in err["stackTrace"]:
        lines.extend(entry.splitlines())
    _flush_std()
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()

# ---------------------------------------------------------------------------- logging
class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _request_id
        return True

def _setup_logging():
    """Root logger as in Lambda: one stderr handler with Lambda's format (UTC times) and the
    request id; level WARNING (Python's default) unless AWS_LAMBDA_LOG_LEVEL says otherwise.
    Done before the import, so a handler's logging.basicConfig() is a no-op, as on Lambda."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = _ENV("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level)
    if isinstance(logging.getLevelName(level), int):
        root.setLevel(level)

# ---------------------------------------------------------------------------- context
_CLIENT_FIELDS = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

def _client_context(fields):
    """context.client_context: None, or an object with .client (an object of Lambda's five
    client fields, or None), .custom and .env, from the request's client_context."""
    if not isinstance(fields, dict):
        return None
    client = fields.get("client")
    client = SimpleNamespace(**{f: client.get(f) for f in _CLIENT_FIELDS}) if isinstance(client, dict) else None
    return SimpleNamespace(client=client, custom=fields.get("custom"), env=fields.get("env"))

class LambdaContext:
    """The handler's `context`, with the attributes of awslambdaric's LambdaContext."""

    def __init__(self, request):
        self.__dict__.update(_FUNCTION)
        self.aws_request_id = request["id"]
        self.invoked_function_arn = request.get("invoked_function_arn")
        # No Cognito here; Lambda gives an object of Nones rather than None.
        self.identity = SimpleNamespace(cognito_identity_id=None, cognito_identity_pool_id=None)
        self.client_context = _client_context(request.get("client_context"))
        deadline = request.get("deadline_ms")
        if not isinstance(deadline, (int, float)):  # not sent: the function's timeout from now
            deadline = time.time() * 1000 + float(_ENV("AWS_LAMBDA_FUNCTION_TIMEOUT") or 3) * 1000
        self._deadline_ms = deadline

    def get_remaining_time_in_millis(self):
        return int(max(0, self._deadline_ms - time.time_ns() // 1_000_000))

    def log(self, msg=""):
        sys.stderr.write(str(msg))
        sys.stderr.flush()

# ---------------------------------------------------------------------------- init
class _InitError(Exception):
    def __init__(self, error_type, message, stack_trace=()):
        super().__init__(message)
        self.error = _error(message, error_type, "", stack_trace)

def _import_file(name, path):
    """Import a file as module `name`, registered in sys.modules (unless that name is taken
    already, e.g. by a stdlib module the bootstrap uses, which must not be replaced)."""
    spec = importlib.util.spec_from_file_location(name, path) if os.path.isfile(path) else None
    if spec is None:
        raise ModuleNotFoundError("No module named '%s'" % name)
    module = importlib.util.module_from_spec(spec)
    register = name not in sys.modules
    if register:
        sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if register:
            sys.modules.pop(name, None)
        raise
    return module

def _load_handler(spec):
    """Import the handler like Lambda's init. Init errors' stackTrace: the user's frames for an
    exception raised while importing, the error location for a SyntaxError, else []."""
    sys.path.insert(0, os.getcwd())  # Lambda: LAMBDA_TASK_ROOT first
    if spec.startswith("file:"):
        path, sep, fname = spec[5:].rpartition(":")  # the path itself may contain ':'
        if not sep:
            raise _InitError("Runtime.MalformedHandlerName", "Bad handler '%s': not enough "
                             "values to unpack (expected 2, got 1)" % spec[5:])
        modname = os.path.splitext(os.path.basename(path))[0]
        sys.path.insert(0, os.path.dirname(path))  # so the handler's sibling imports work
        load = lambda: _import_file(modname, path)
    else:  # "module:pkg.mod.fn" (a bare "pkg.mod.fn" is taken the same way)
        handler = spec[7:] if spec.startswith("module:") else spec
        try:
            modname, fname = handler.rsplit(".", 1)
        except ValueError as e:
            raise _InitError("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (handler, e))
        if modname.split(".")[0] in sys.builtin_module_names:
            raise _InitError("Runtime.BuiltInModuleConflict",
                             "Cannot use built-in module %s as a handler module" % modname)
        load = lambda: importlib.import_module(modname.replace("/", "."))
    try:
        module = load()
    except SyntaxError as e:
        where = '  File "%s" Line %s\n    %s\n' % (e.filename, e.lineno, (e.text or "").strip())
        raise _InitError("Runtime.UserCodeSyntaxError",
                         "Syntax error in module '%s': %s" % (modname, e), [where])
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as e:  # ImportError and anything the module's top level raised
        raise _InitError("Runtime.ImportModuleError",
                         "Unable to import module '%s': %s" % (modname, _str(e)),
                         _frames(e.__traceback__))
    try:
        return getattr(module, fname)
    except AttributeError:
        raise _InitError("Runtime.HandlerNotFound",
                         "Handler '%s' missing on module '%s'" % (fname, modname))

# ---------------------------------------------------------------------------- invoke
def _finish(request_id, kind, payload):
    _flush_std()
    _write(2, "end " + request_id)
    _write(1, kind + " " + request_id + " " + payload)

def _invoke(handler, request):
    global _request_id
    request_id = _request_id = request["id"]
    context = LambdaContext(request)
    try:
        result = handler(request.get("event"), context)
    except (SystemExit, KeyboardInterrupt):
        raise  # the process ends; the Rust side reports Runtime.ExitError
    except BaseException as e:
        err = _error(_str(e), type(e).__name__, request_id, _frames(e.__traceback__))
        _log_error(err)
        return _finish(request_id, "error", _dumps(err))
    try:
        payload = _encode(result)
    except Exception as e:  # TypeError, ValueError (NaN, circular reference), RecursionError
        err = _error("Unable to marshal response: %s" % _str(e), "Runtime.MarshalError", request_id)
        _log_error(err)
        return _finish(request_id, "error", _dumps(err))
    _finish(request_id, "result", payload)

def main():
    # Keep the request pipe to ourselves: fd 0 becomes /dev/null, so child processes the
    # handler starts (they inherit fd 0) can't read requests, and input() sees EOF.
    requests = os.fdopen(os.dup(0), "rb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)

    _setup_logging()
    try:
        handler, init_error = _load_handler(_ENV("SFNLITE_HANDLER", "")), None
    except _InitError as e:
        handler, init_error = None, e.error
        _log_error(init_error)
    _flush_std()
    _write(1, ("init-error " + _dumps(init_error)) if init_error else "ready")

    while True:
        line = requests.readline()
        if not line:
            return  # EOF: the Rust side is done with this worker
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            request["id"] = str(request["id"])
        except Exception as e:
            sys.stderr.write("sfnlite python bootstrap: bad request line: %s\n" % _str(e))
            sys.exit(2)
        if init_error is None:
            _invoke(handler, request)
        else:  # every invocation gets the init error, with its own requestId
            _finish(request["id"], "error", _dumps(dict(init_error, requestId=request["id"])))

main()
