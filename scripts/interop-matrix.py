#!/usr/bin/env python3
"""Writes docs/interop.md's matrix of browser SIP libraries from the rows a `make test` run left.

Tests/DaemonTests/LibraryMatrixTests.swift writes one JSON file per row, <library>-<browser>.json
(library jssip or sipjs, browser chromium or firefox), into .build/interop-matrix/ (or
$TANDEM_INTEROP_RESULTS). This script reads them and rewrites the part of docs/interop.md between
the markers below: a line saying when and with which versions the rows ran, a table of every
scenario against every library and browser (pass, FAIL, or not run when a row file is missing),
and under it the failing checks of each failing cell.

  scripts/interop-matrix.py [DIRECTORY]           rewrite docs/interop.md from DIRECTORY's rows
  scripts/interop-matrix.py --check [DIRECTORY]   change nothing; exit 1 unless every cell passed
  --doc PATH                                      another Markdown file than docs/interop.md

Python 3 standard library only.
"""

import argparse
import datetime
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_RESULTS = os.path.join(ROOT, ".build", "interop-matrix")
DEFAULT_DOC = os.path.join(ROOT, "docs", "interop.md")

BEGIN = "<!-- interop-matrix:begin -->"
END = "<!-- interop-matrix:end -->"
SECTION = "## Matrix: browser SIP libraries against the shipped configuration"

LIBRARIES = [("jssip", "JsSIP"), ("sipjs", "SIP.js")]
BROWSERS = [("chromium", "Chromium"), ("firefox", "Firefox ESR")]
# The columns, in the order LibraryMatrixTests runs the rows.
COLUMNS = [(library, browser) for browser, _ in BROWSERS for library, _ in LIBRARIES]

# The scenarios in the order Tests/Interop/library_matrix.py runs them, and what each cell checks.
SCENARIOS = {
    "register-wrong-password": "REGISTER with a wrong password is refused with 403; Tandem holds no registration",
    "register": "REGISTER over ws:// succeeds; Tandem lists the user with a `transport=ws` contact",
    "outbound-relayed": "call to the trunk with the browser's own offer: answered, PCMU relayed, tones heard both ways",
    "dtmf": "digits 1234# reach the trunk as RFC 4733 events (SIP.js also through `sendDtmf`)",
    "hold-resume": "hold (a=sendonly) silences the trunk; resume brings both tones back",
    "hangup-from-browser": "the browser hangs up: the trunk gets the BYE, Tandem has no call left",
    "outbound-transcoded": "call with an Opus-only offer: answered, transcoded to PCMU, tones heard both ways",
    "inbound": "the trunk calls the registered user; the library answers; tones heard both ways",
    "hangup-from-trunk": "the trunk hangs up: the library reports the call ended by the other side",
    "busy": "a call to `busy` fails with 486; Tandem has no call left",
    "no-answer": "the trunk refuses with 480: the library reports 480, sipp gets its ACK",
    "cancel-while-ringing": "a call to `noanswer` rings (180); hanging up cancels it within 2 s",
    "websocket-drop": "the WebSocket is cut mid-call: the trunk gets a BYE, the library registers again",
    "wss": "REGISTER and a call over wss:// (the shipped WSS listener, turned on)",
}

ROW_FILE = re.compile(r"^(jssip|sipjs)-(chromium|firefox)\.json$")


def read_rows(directory):
    """{(library, browser): row} for the row files in `directory`, their mtimes, and warnings."""
    rows, mtimes, warnings = {}, [], []
    if not os.path.isdir(directory):
        warnings.append(f"{directory}: no such directory (run make test first)")
        return rows, mtimes, warnings
    for name in sorted(os.listdir(directory)):
        match = ROW_FILE.match(name)
        if not match:
            if name.endswith(".json"):
                warnings.append(f"{name}: not <jssip|sipjs>-<chromium|firefox>.json, ignored")
            continue
        path = os.path.join(directory, name)
        mtimes.append(os.path.getmtime(path))
        try:
            with open(path, encoding="utf-8") as file:
                row = json.load(file)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as error:
            row = {"cells": {}, "error": f"{name} could not be read: {error}"}
            warnings.append(row["error"])
        if not isinstance(row.get("cells"), dict):
            row["cells"] = {}
        for scenario in row["cells"]:
            if scenario not in SCENARIOS:
                warnings.append(f"{name}: unknown scenario {scenario!r}, not in the table")
        rows[match.groups()] = row
    return rows, mtimes, warnings


def browser_version(user_agent):
    """'... HeadlessChrome/156.0.0.0 ...' -> 'Chromium 156'; '... Firefox/140.0' -> 'Firefox ESR 140'."""
    if not isinstance(user_agent, str):
        return None
    chrome = re.search(r"(?:HeadlessChrome|Chromium|Chrome)/(\d+)", user_agent)
    if chrome:
        return f"Chromium {chrome.group(1)}"
    firefox = re.search(r"Firefox/(\d+)", user_agent)
    if firefox:
        return f"Firefox ESR {firefox.group(1)}"
    return None


def versions(rows):
    """The library versions and browser versions the rows report, each in column order."""
    libraries, browsers = [], []
    for library, browser in COLUMNS:
        reported = (rows.get((library, browser)) or {}).get("versions")
        if not isinstance(reported, dict):
            continue
        name = reported.get("library")
        if isinstance(name, str) and name and name not in libraries:
            libraries.append(name)
        parsed = browser_version(reported.get("userAgent"))
        if parsed and parsed not in browsers:
            browsers.append(parsed)
    return libraries, browsers


def cell_state(rows, column, scenario):
    """'pass', 'FAIL' or 'not run', and the cell (None when there is none)."""
    row = rows.get(column)
    if row is None:
        return "not run", None
    cell = row["cells"].get(scenario)
    if not isinstance(cell, dict):
        # The row ran but never reached this scenario (its error says why): a failure.
        return "FAIL", None
    return ("pass" if cell.get("passed") is True else "FAIL"), cell


def one_line(text, limit=200):
    """`text` on one line, at most `limit` characters, safe in Markdown prose (no HTML tags)."""
    text = " ".join(str(text).split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("<", "&lt;").replace(">", "&gt;")


def code(text, limit=160):
    """An error message as a Markdown code span, on one line, shortened."""
    text = " ".join(str(text).split()).replace("`", "'")
    return "`" + (text if len(text) <= limit else text[: limit - 1] + "…") + "`"


def column_title(column):
    library, browser = column
    return f"{dict(LIBRARIES)[library]} / {dict(BROWSERS)[browser]}"


def render(rows, mtimes):
    """The Markdown between the markers (`rows` is not empty)."""
    days = sorted({datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d") for t in mtimes})
    when = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
    libraries, browsers = versions(rows)
    tested = ", ".join(libraries + browsers) or "versions not recorded"
    lines = [f"Generated by `scripts/interop-matrix.py` from a `make test` run on {when} (UTC): {tested}.", ""]
    lines.append("| scenario | what the cell checks | " + " | ".join(column_title(c) for c in COLUMNS) + " |")
    lines.append("|---|---|" + "---|" * len(COLUMNS))
    for scenario, description in SCENARIOS.items():
        states = [cell_state(rows, column, scenario)[0] for column in COLUMNS]
        lines.append(f"| `{scenario}` | {description} | " + " | ".join(states) + " |")

    failures = []
    for column in COLUMNS:
        row = rows.get(column)
        if row is None:
            continue
        missing = [scenario for scenario in SCENARIOS if not isinstance(row["cells"].get(scenario), dict)]
        if row.get("error") or missing:
            stopped = f"the row stopped: {code(row['error'])}" if row.get("error") else "the row ended early"
            unreached = "; no result for " + ", ".join(f"`{s}`" for s in missing) if missing else ""
            failures.append(f"- {column_title(column)}: {stopped}{unreached}")
        for scenario in SCENARIOS:
            state, cell = cell_state(rows, column, scenario)
            if state != "FAIL" or cell is None:
                continue
            checks = cell.get("checks") if isinstance(cell.get("checks"), list) else []
            failed = [one_line(c[0]) for c in checks if isinstance(c, list) and len(c) >= 2 and c[1] is not True]
            parts = []
            if failed:
                parts.append("; ".join(failed))
            elif not checks and not cell.get("error"):
                parts.append("no checks ran")
            if cell.get("error"):
                parts.append(f"error: {code(cell['error'])}")
            failures.append(f"- `{scenario}`, {column_title(column)}: " + "; ".join(parts or ["failed"]))
    if failures:
        lines.append("")
        lines.append("Failing cells, with the checks that failed:")
        lines.append("")
        lines.extend(failures)
    return "\n".join(lines) + "\n"


def rewrite(doc, section):
    """`doc`'s text with `section` between the markers (appended with a heading if absent)."""
    begin, end = doc.find(BEGIN), doc.find(END)
    if begin != -1 and end > begin:
        return doc[: begin + len(BEGIN)] + "\n" + section + doc[end:]
    if begin != -1 or end != -1:
        raise ValueError(f"only one of {BEGIN} and {END}, or in the wrong order")
    return doc.rstrip("\n") + f"\n\n{SECTION}\n\n{BEGIN}\n{section}{END}\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", default=DEFAULT_RESULTS,
                        help="the row files (default: .build/interop-matrix in the repository)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 unless every cell passed")
    parser.add_argument("--doc", default=DEFAULT_DOC, help="the Markdown file to rewrite (default: docs/interop.md)")
    args = parser.parse_args(argv)

    rows, mtimes, warnings = read_rows(args.directory)
    for warning in warnings:
        print(f"interop-matrix: {warning}", file=sys.stderr)
    not_passed = [(scenario, column_title(column), state)
                  for column in COLUMNS for scenario in SCENARIOS
                  for state in [cell_state(rows, column, scenario)[0]] if state != "pass"]

    if args.check:
        for scenario, column, state in not_passed:
            print(f"interop-matrix: {column}, {scenario}: {state}")
        total = len(COLUMNS) * len(SCENARIOS)
        print(f"interop-matrix: {total - len(not_passed)} of {total} cells pass")
        return 1 if not_passed else 0

    if not rows:
        print(f"interop-matrix: no row files in {args.directory}; {args.doc} left as it is "
              "(make test runs the library matrix and writes them)", file=sys.stderr)
        return 1
    with open(args.doc, encoding="utf-8") as file:
        doc = file.read()
    try:
        updated = rewrite(doc, render(rows, mtimes))
    except ValueError as error:
        print(f"interop-matrix: {args.doc}: {error}", file=sys.stderr)
        return 2
    if updated != doc:
        with open(args.doc, "w", encoding="utf-8") as file:
            file.write(updated)
    shown = os.path.relpath(args.doc) if not os.path.relpath(args.doc).startswith("..") else args.doc
    print(f"interop-matrix: wrote {shown} from {len(rows)} of {len(COLUMNS)} rows; "
          f"{len(COLUMNS) * len(SCENARIOS) - len(not_passed)} of {len(COLUMNS) * len(SCENARIOS)} cells pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
