#!/usr/bin/env python3
"""Parses a Prometheus text exposition (from --url, else stdin) with the reference client's parser
(prometheus_client) and prints one JSON object: {"samples": {"name{label=value,...}": value},
"families": {name: type}}. Exits 1 with the parser's error on stderr when the text is invalid."""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--url":
        import urllib.request
        with urllib.request.urlopen(sys.argv[2], timeout=5) as response:
            if response.headers.get_content_type() != "text/plain":
                print(f"unexpected content type {response.headers.get('Content-Type')}", file=sys.stderr)
                return 1
            text = response.read().decode("utf-8")
    else:
        text = sys.stdin.read()
    samples = {}
    families = {}
    try:
        for family in text_string_to_metric_families(text):
            families[family.name] = family.type
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}"] = sample.value
    except Exception as error:  # the parser's own message is the point
        print(f"invalid exposition: {error}", file=sys.stderr)
        return 1
    json.dump({"samples": samples, "families": families}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
