#!/usr/bin/env python3
"""Deterministic, realistic Helm repository index.yaml for benches/index_parse.rs.

Writes apiVersion v1 with `entries:` as `helm repo index` does (newest first),
with the fields real repositories carry: description (some folded over lines),
digest, created with nanoseconds, urls (absolute and relative), home, sources,
icon, keywords, maintainers, dependencies and Artifact Hub annotations
(`artifacthub.io/changes` as a block string or a list, prerelease flags), a few
deprecated entries and versions written as YAML numbers (`version: 1.10`).
Same arguments => byte-identical output.

  python3 benches/gen_index.py --mb 13 --out target/index-bench/generated.index.yaml
"""
import argparse
import hashlib
import os
import random
from datetime import datetime, timedelta, timezone

WORDS = ("alpha bravo cedar delta ember falcon garnet harbor indigo jasper kelp lunar "
         "maple nova onyx pearl quartz raven sable tidal umber vapor willow zephyr").split()
KINDS = ("added", "changed", "fixed", "removed", "security", "deprecated")


def release(rng, name, ver, t, i):
    dig = hashlib.sha256(f"{name}/{ver}".encode()).hexdigest()
    desc = f"A Helm chart for {name}, the {rng.choice(WORDS)} {rng.choice(WORDS)} service"
    out = ["  - annotations:"]
    if rng.random() < 0.5:
        out += ["      artifacthub.io/changes: |"]
        for _ in range(rng.randint(1, 4)):
            out += [f"        - kind: {rng.choice(KINDS)}",
                    f"          description: {rng.choice(WORDS)} {rng.choice(WORDS)} now {rng.choice(WORDS)}s"]
    else:
        out += ["      artifacthub.io/changes:"]
        for _ in range(rng.randint(1, 3)):
            out += [f"      - kind: {rng.choice(KINDS)}",
                    f"        description: \"{rng.choice(WORDS)}: {rng.choice(WORDS)} fixed (#{rng.randint(100, 9999)})\""]
    out += ["      artifacthub.io/license: Apache-2.0",
            f"      artifacthub.io/prerelease: \"{'true' if '-' in ver else 'false'}\"",
            f"    apiVersion: v2", f"    appVersion: v{ver.split('-')[0]}",
            f"    created: \"{t.strftime('%Y-%m-%dT%H:%M:%S')}.{rng.randrange(10**9):09d}+00:00\""]
    if rng.random() < 0.3:
        out += ["    dependencies:",
                "    - condition: redis.enabled", "      name: redis",
                f"      repository: https://charts.example.org/{rng.choice(WORDS)}",
                f"      version: {rng.randint(10, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}"]
    if i % 997 == 13:
        out += ["    deprecated: true"]
    if rng.random() < 0.2:
        out += ["    description: >-", f"      {desc}", f"      running on {rng.choice(WORDS)} clusters."]
    else:
        out += [f"    description: {desc}"]
    out += [f"    digest: {dig}",
            f"    home: https://{name}.example.org",
            f"    icon: https://{name}.example.org/icon.png",
            "    keywords:", f"    - {rng.choice(WORDS)}", f"    - {rng.choice(WORDS)}",
            "    maintainers:", f"    - email: {rng.choice(WORDS)}@example.org", f"      name: {rng.choice(WORDS)}",
            f"    name: {name}",
            "    sources:", f"    - https://github.com/example/{name}",
            "    type: application",
            "    urls:"]
    out += [f"    - {name}-{ver}.tgz" if i % 5 == 0 else
            f"    - https://github.com/example/charts/releases/download/{name}-{ver}/{name}-{ver}.tgz"]
    # A version like 1.10 spelled as a YAML number must keep its spelling.
    out += [f"    version: {ver}"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=13)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = random.Random(f"chartpilot-index:{a.seed}")
    target = int(a.mb * 1_000_000)
    lines, size, c = ["apiVersion: v1", "entries:"], 0, 0
    base = datetime(2019, 1, 1, tzinfo=timezone.utc)
    while size < target:
        name = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{c}"
        c += 1
        vers, (ma, mi, pa) = [], (rng.randint(0, 3), rng.randint(0, 9), 0)
        for _ in range(rng.randint(20, 400)):
            r = rng.random()
            if r < 0.03:
                ma, mi, pa = ma + 1, 0, 0
            elif r < 0.25:
                mi, pa = mi + 1, 0
            else:
                pa += 1
            if rng.random() < 0.04:
                vers.append(f"{ma}.{mi}.{pa}-rc.{rng.randint(1, 3)}")
            vers.append(f"{ma}.{mi}" if pa == 0 and rng.random() < 0.1 else f"{ma}.{mi}.{pa}")
        lines.append(f"  {name}:")
        t = base
        stamps = []
        for _ in vers:
            t += timedelta(hours=rng.randint(6, 200), seconds=rng.randint(0, 3599))
            stamps.append(t)
        for i, (v, t) in enumerate(reversed(list(zip(vers, stamps)))):
            block = release(rng, name, v, t, i)
            lines += block
            size += sum(len(x) + 1 for x in block)
    lines.append("generated: \"2026-01-01T00:00:00.000000000Z\"")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{a.out}: {os.path.getsize(a.out)} bytes, {c} charts")


if __name__ == "__main__":
    main()
