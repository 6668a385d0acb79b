# SPDX-License-Identifier: MIT
"""Checks that the code blocks of README.md, go/README.md and
zig/README.md marked with `<!-- verbatim: PATH -->` (the line right before
the opening fence) appear character for character in PATH (relative to
the repository root), so the documented code is code that the consumer
tests compile and run. A block may be dedented: its lines may sit in PATH
behind a common indentation of spaces or tabs.

usage: python3 check_readme_code.py REPO_ROOT
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
READMES = ["README.md", "go/README.md", "zig/README.md"]
bad = count = 0
for name in READMES:
    readme = (root / name).read_text()
    marked = re.findall(r"<!-- verbatim: (\S+) -->\n```\w*\n(.*?)```\n", readme, re.S)
    if name == "README.md" and not marked:
        sys.exit("README.md: no <!-- verbatim: PATH --> code blocks found")
    for path, code in marked:
        count += 1
        source = (root / path).read_text()
        lines = code.splitlines(keepends=True)
        indented = (
            "".join(ind * n + line if line.strip() else line for line in lines)
            for ind in (" ", "\t")
            for n in range(0, 13)
        )
        if not any(candidate in source for candidate in indented):
            print(f"{name}: a code block is not verbatim in {path}:\n{code}", file=sys.stderr)
            bad += 1
if bad:
    sys.exit(1)
print(f"{', '.join(READMES)}: {count} code block(s) verbatim from their sources")
