"""A local handler that never returns (it waits on an event nobody sets)."""
import threading


def handler(event, context):
    threading.Event().wait()
