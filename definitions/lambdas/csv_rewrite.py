"""The CSV rewrite seed D's ExecuteSingleQuery and ResultsGatherer share: Athena's result
parsed with Python's csv module and written back with its defaults (quotes only where
needed, CRLF line ends), so NULL and "" both become empty fields and newlines inside
values are lost (`splitlines()` first), as upstream."""

import csv
import io


def rewrite(text):
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv.reader(text.splitlines()):
        writer.writerow(row)
    return out.getvalue()
