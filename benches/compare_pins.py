#!/usr/bin/env python3
"""Compares `chartpilot scan --format json` output with a generator's expected pins.

    compare_pins.py SCAN.json EXPECTED.json [--known FIELD=WHY ...]

EXPECTED.json is either benches/gen_pins.py's (an object with `pin_list` and
`by_kind`) or ../shared/bench/gen_fixture.py's (a list of pins). Pins are
matched on (file, line, kind); the other fields both sides have are then
compared. Prints one summary line per check and exits 1 when a pin is
missing, extra, or differs in a field not listed with --known (a difference
that is understood, and reported as a note instead of a failure).
"""
import argparse
import collections
import json
import sys

LOCATION = ("file", "line", "kind")
FIELDS = ("name", "env", "repository", "chart", "version", "latest", "update")
# Only in a scan that looked versions up (no --offline).
LOOKUP_FIELDS = ("latest", "update")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scan")
    ap.add_argument("expected")
    ap.add_argument("--known", action="append", default=[], metavar="FIELD=WHY")
    a = ap.parse_args()
    known = dict(k.split("=", 1) for k in a.known)
    with open(a.scan) as f:
        got = json.load(f)
    with open(a.expected) as f:
        expected = json.load(f)
    want = expected["pin_list"] if isinstance(expected, dict) else expected

    ok = True
    by_kind = lambda pins: dict(sorted(collections.Counter(p["kind"] for p in pins).items()))
    got_kinds, want_kinds = by_kind(got), by_kind(want)
    count_ok = got_kinds == want_kinds
    ok &= count_ok
    print(f"pins: found {len(got)} {got_kinds}, expected {len(want)} {want_kinds}: "
          f"{'match' if count_ok else 'MISMATCH'}")
    unresolved = sum(1 for p in got if p.get("version") is None)
    if unresolved:
        print(f"unresolved: {unresolved} pins without a version")

    at = lambda p: tuple(p[k] for k in LOCATION)
    got_at = collections.defaultdict(list)
    for p in got:
        got_at[at(p)].append(p)
    want_at = collections.defaultdict(list)
    for p in want:
        want_at[at(p)].append(p)
    missing = [k for k in want_at if len(got_at.get(k, ())) < len(want_at[k])]
    extra = [k for k in got_at if len(want_at.get(k, ())) < len(got_at[k])]
    ok &= not missing and not extra
    print(f"locations: {len(missing)} missing, {len(extra)} extra")
    for k in missing[:5]:
        print(f"  missing {k}")
    for k in extra[:5]:
        print(f"  extra   {k}")

    fields = [f for f in FIELDS if all(f in p for p in want)
              and (f not in LOOKUP_FIELDS or any(f in p for p in got))]
    differ = collections.Counter()
    examples = {}
    for k, wants in want_at.items():
        gots = got_at.get(k, [])
        if len(gots) != 1 or len(wants) != 1:
            continue
        for field in fields:
            if gots[0].get(field) != wants[0][field]:
                differ[field] += 1
                examples.setdefault(field, (k, wants[0][field], gots[0].get(field)))
    for field in fields:
        n = differ[field]
        if not n:
            continue
        (file, line, _), w, g = examples[field]
        note = f" (known: {known[field]})" if field in known else ""
        print(f"field {field}: {n} pins differ, e.g. {file}:{line} expected {w!r}, found {g!r}{note}")
        ok &= field in known
    print(f"fields compared: {', '.join(fields)}; {'all agree' if not differ else 'see above'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
