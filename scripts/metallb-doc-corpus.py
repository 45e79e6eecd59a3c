#!/usr/bin/env python3
"""Extracts every ```yaml example of MetalLB's configuration and usage
documentation into one test file each, noting its source file and heading.

Usage: scripts/metallb-doc-corpus.py METALLB_GIT_DIR TAG OUT_DIR
(METALLB_GIT_DIR: a clone of github.com/metallb/metallb; TAG: v0.16.1).
Written once to build cli/tests/metallb_docs/examples/; re-run it on a
new MetalLB release and review the differences by hand."""
import os
import re
import subprocess
import sys

# Source file -> file name prefix.
FILES = {
    "configuration/_index.md": "config",
    "configuration/_advanced_bgp_configuration.md": "bgp",
    "configuration/_advanced_ipaddresspool_configuration.md": "pool",
    "configuration/_advanced_l2_configuration.md": "l2",
    "configuration/migration_to_crds.md": "migration",
    "usage/_index.md": "usage",
    "usage/example.md": "example",
}


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")


def main():
    git, tag, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    for f, stem in FILES.items():
        path = f"website/content/{f}"
        text = subprocess.run(
            ["git", "--git-dir", git, "show", f"{tag}:{path}"],
            check=True, capture_output=True, text=True,
        ).stdout
        heading, block, n = "(top)", None, 0
        for line in text.splitlines():
            if block is None:
                m = re.match(r"^#+\s+(.*)", line)
                if m:
                    heading = m.group(1).strip()
                if re.match(r"^\s*```yaml\s*$", line):
                    block, indent = [], len(line) - len(line.lstrip())
                continue
            if re.match(r"^\s*```\s*$", line):
                n += 1
                name = f"{stem}-{n:02d}-{slug(heading)}.yaml"
                with open(os.path.join(out, name), "w") as o:
                    o.write(f"# source: metallb/metallb {tag} {path}\n")
                    o.write(f"# heading: {heading}\n")
                    o.write("\n".join(l[indent:] if l[:indent].isspace() else l for l in block))
                    o.write("\n")
                block = None
                continue
            block.append(line)


main()
