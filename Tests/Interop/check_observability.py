#!/usr/bin/env python3
"""Checks that the operator files in contrib/ only use series tandemd exports.

    check_observability.py dashboard --metrics FILE --dashboard contrib/grafana/tandem-dashboard.json
    check_observability.py rules --metrics FILE --rules contrib/prometheus/tandem-alerts.yml
        [--allow NAME ...]

FILE is a Prometheus text exposition scraped from a running tandemd (after a call ended, so the
end-of-call histograms are there), parsed with prometheus_client. Every PromQL expression (the
dashboard's panel targets, rows' panels, annotations and template variable queries; the rules'
`expr`) is reduced to the metric names it references: quoted strings, label matchers {...},
range and subquery selectors [...], by/without/on/ignoring/group_left/group_right label lists,
Grafana variables, numbers, functions, aggregation operators and keywords are removed, and what
is left are metric names. `name_bucket`, `name_sum` and `name_count` count as the histogram
family `name`. `up` (Prometheus' own) and names given with --allow need not be in FILE.
Prints the missing names with the expressions that use them and exits 1 if any is missing;
prints a summary and exits 0 otherwise. Exit 2: a file could not be read or parsed.

The rules file is read with PyYAML when it is installed, else by collecting its `expr:` values
(one line, or a `|`/`>` block). The files are also checked by the tools that use them:

    promtool check rules contrib/prometheus/tandem-alerts.yml
    promtool test rules contrib/prometheus/tandem-alerts.test.yml
    fail2ban-regex LOGFILE contrib/fail2ban/filter.d/tandem.conf
        (LOGFILE: tandemd's stderr; `fail2ban-regex systemd-journal contrib/fail2ban/filter.d/tandem.conf`
        reads the journal; the summary line "Lines: N lines, 0 ignored, M matched" counts the
        security lines, and -v prints the addresses found)
"""

import argparse
import json
import re
import sys

FUNCTIONS = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
    "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg",
    "delta", "deriv", "exp", "floor", "histogram_avg", "histogram_count", "histogram_fraction",
    "histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters",
    "double_exponential_smoothing", "hour", "idelta", "increase", "irate", "label_join",
    "label_replace", "last_over_time", "ln", "log10", "log2", "mad_over_time", "max_over_time",
    "min_over_time", "minute", "month", "pi", "predict_linear", "present_over_time",
    "quantile_over_time", "rad", "rate", "resets", "round", "scalar", "sgn", "sin", "sinh", "sort",
    "sort_desc", "sort_by_label", "sort_by_label_desc", "sqrt", "stddev_over_time",
    "stdvar_over_time", "sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year",
    # Grafana's template variable query functions
    "label_values", "label_names", "metrics", "query_result",
}
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
    "topk", "quantile", "limitk", "limit_ratio",
}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "and", "or", "unless", "atan2", "inf", "nan", "start", "end"}
ALLOWED = {"up"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def strip_braces(text, opening, closing):
    """Removes every (possibly nested) opening...closing span."""
    out, depth = [], 0
    for char in text:
        if char == opening:
            depth += 1
            out.append(" ")
        elif char == closing and depth:
            depth -= 1
            out.append(" ")
        elif depth == 0:
            out.append(char)
    return "".join(out)


def metric_names(expr):
    """The metric names one PromQL expression (or Grafana variable query) references."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', " ", expr)  # strings
    text = re.sub(r"#[^\n]*", " ", text)  # comments
    text = strip_braces(text, "{", "}")  # label matchers
    text = strip_braces(text, "[", "]")  # ranges, subqueries
    # label_values(metric, label) and label_values(label): the label is no metric
    text = re.sub(r"\blabel_values\s*\(([^,()]*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)", r" \1 ", text)
    text = re.sub(r"\blabel_values\s*\(\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{[^}]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*", " ", text)  # Grafana variables
    text = re.sub(r"\boffset\s+-?[0-9a-zA-Z_$.]+", " ", text)
    text = re.sub(r"@\s*[0-9.]+", " ", text)
    text = re.sub(r"(?<![a-zA-Z0-9_:])(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)(?:[smhdwy]|ms)?", " ", text)
    names = []
    for match in IDENTIFIER.finditer(text):
        token = match.group(0)
        lowered = token.lower()
        if token in FUNCTIONS or token in AGGREGATIONS or lowered in KEYWORDS:
            continue
        if token not in names:
            names.append(token)
    return names


def exposed_names(path):
    """Sample and family names in a text exposition, and the histogram/summary families."""
    from prometheus_client.parser import text_string_to_metric_families
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    names, histograms = set(), set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type in ("histogram", "summary", "gaugehistogram"):
            histograms.add(family.name)
        for sample in family.samples:
            names.add(sample.name)
    return names, histograms


def dashboard_expressions(path):
    with open(path, encoding="utf-8") as handle:
        dashboard = json.load(handle)
    found = []

    def panels(items, where):
        for panel in items or []:
            title = f"{where}{panel.get('title', '?')}"
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    found.append((f"panel {title!r} {target.get('refId', '')}", target["expr"]))
            panels(panel.get("panels"), f"{title} / ")

    panels(dashboard.get("panels"), "")
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if query:
            found.append((f"variable ${variable.get('name')}", query))
    for annotation in (dashboard.get("annotations") or {}).get("list") or []:
        if annotation.get("expr"):
            found.append((f"annotation {annotation.get('name')!r}", annotation["expr"]))
    return found


def rules_expressions(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        import yaml
    except ImportError:
        return rules_expressions_without_yaml(text)
    document = yaml.safe_load(text) or {}
    found = []
    for group in document.get("groups") or []:
        for rule in group.get("rules") or []:
            name = rule.get("alert") or rule.get("record") or "?"
            found.append((f"rule {name}", str(rule.get("expr", ""))))
    return found


def rules_expressions_without_yaml(text):
    found, lines, index, name = [], text.splitlines(), 0, "?"
    while index < len(lines):
        line = lines[index]
        named = re.match(r"\s*-?\s*(?:alert|record):\s*(\S+)", line)
        if named:
            name = named.group(1).strip("'\"")
        match = re.match(r"(\s*)(?:-\s*)?expr:\s*(.*)$", line)
        index += 1
        if not match:
            continue
        indent, value = len(match.group(1)), match.group(2).strip()
        if value[:1] in ("|", ">"):
            block = []
            while index < len(lines) and (not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > indent):
                block.append(lines[index].strip())
                index += 1
            value = "\n".join(block)
        elif len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1].replace("''", "'") if value[0] == "'" else json.loads(value)
        found.append((f"rule {name}", value))
    return found


def check(expressions, metrics_path, allowed):
    names, histograms = exposed_names(metrics_path)
    missing, used = {}, set()
    for where, expr in expressions:
        for name in metric_names(expr):
            used.add(name)
            if name in names or name in allowed:
                continue
            base = next((name[: -len(s)] for s in HISTOGRAM_SUFFIXES if name.endswith(s)), None)
            if base is not None and base in histograms:
                continue
            missing.setdefault(name, []).append(where)
    if missing:
        for name in sorted(missing):
            print(f"missing: {name} (used by {', '.join(missing[name])})")
        print(f"{len(missing)} of {len(used)} metric names in {len(expressions)} expressions are not in {metrics_path}")
        return 1
    print(f"ok: {len(expressions)} expressions reference {len(used)} metric names, all in {metrics_path}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for command, option in (("dashboard", "--dashboard"), ("rules", "--rules")):
        child = sub.add_parser(command)
        child.add_argument("--metrics", required=True, help="text exposition scraped from tandemd")
        child.add_argument(option, required=True, dest="source")
        child.add_argument("--allow", action="append", default=[], metavar="NAME",
                           help="a metric name that need not be in the exposition")
        child.add_argument("--list", action="store_true", help="print each expression's metric names")
    args = parser.parse_args(argv)
    try:
        expressions = (dashboard_expressions if args.command == "dashboard" else rules_expressions)(args.source)
        if args.list:
            for where, expr in expressions:
                print(f"{where}: {' '.join(metric_names(expr))}")
        if not expressions:
            print(f"no expressions found in {args.source}", file=sys.stderr)
            return 2
        return check(expressions, args.metrics, ALLOWED | set(args.allow))
    except (OSError, ValueError) as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
