#!/usr/bin/env python3
"""Inspects the Lambda zips `make package` writes (dist/lambda/*.zip).

  lambda-zip.py check ARCH ZIP...   fail unless each zip holds exactly one executable `bootstrap`,
                                    a 64-bit Linux ELF for ARCH (arm64 | x86_64); warn above the
                                    size budget
  lambda-zip.py info ZIP...         print one JSON object per zip: size, bootstrap size, machine

The architecture is read from the ELF header (e_machine), so a packaging step that silently built
for the host cannot ship: Lambda would fail every cold start with "exec format error".
"""

import json
import os
import struct
import sys
import zipfile

# ELF e_machine values.
MACHINES = {62: "x86_64", 183: "arm64"}
# The budget for each zip (Lambda itself accepts 50 MB zipped).
BUDGET_BYTES = 4 * 1024 * 1024


def inspect(path):
    """Returns the zip's facts, or raises ValueError saying what is wrong."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        if names != ["bootstrap"]:
            raise ValueError(f"{path}: holds {names}, expected exactly ['bootstrap']")
        info = z.getinfo("bootstrap")
        mode = (info.external_attr >> 16) & 0o777
        if not mode & 0o111:
            raise ValueError(f"{path}: bootstrap is not executable (mode {oct(mode)}): Lambda cannot start it")
        with z.open("bootstrap") as f:
            header = f.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        raise ValueError(f"{path}: bootstrap is not an ELF executable")
    if header[4] != 2 or header[5] != 1:
        raise ValueError(f"{path}: bootstrap is not a 64-bit little-endian ELF")
    (machine,) = struct.unpack_from("<H", header, 18)
    return {
        "zip": path,
        "zip_bytes": os.path.getsize(path),
        "bootstrap_bytes": info.file_size,
        "arch": MACHINES.get(machine, f"e_machine {machine}"),
    }


def main(argv):
    if len(argv) >= 3 and argv[0] == "check":
        arch, paths = argv[1], argv[2:]
        if arch not in MACHINES.values():
            print(f"error: ARCH={arch} is not supported: use arm64 or x86_64", file=sys.stderr)
            return 2
        failed = False
        for path in paths:
            try:
                facts = inspect(path)
            except (OSError, ValueError, zipfile.BadZipFile) as e:
                print(f"error: {e}", file=sys.stderr)
                failed = True
                continue
            if facts["arch"] != arch:
                print(
                    f"error: {path}: bootstrap is built for {facts['arch']}, not {arch}: "
                    f"rebuild with make package ARCH={arch}",
                    file=sys.stderr,
                )
                failed = True
                continue
            note = ""
            if facts["zip_bytes"] > BUDGET_BYTES:
                note = f" (warning: over the {BUDGET_BYTES // (1024 * 1024)} MB budget: see BENCHMARKS.md)"
            print(f"{path}: bootstrap {facts['arch']}, {facts['zip_bytes']} bytes zipped{note}")
        return 1 if failed else 0
    if len(argv) >= 2 and argv[0] == "info":
        for path in argv[1:]:
            print(json.dumps(inspect(path)))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
