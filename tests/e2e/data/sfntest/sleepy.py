"""A local handler that sleeps an hour: under `sfnlite test` its sleep takes no wall time."""
import time


def handler(event, context):
    time.sleep(3600)
    return {"slept": True}
