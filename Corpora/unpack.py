#!/usr/bin/env python3
"""Extracts the members of a wheel (a zip file) that match glob patterns, optionally dropping a path prefix.

  unpack.py WHEEL DEST PATTERN... [--strip PREFIX]

Used by Corpora/fetch.sh, so that `unzip` is not needed. Standard library only.
"""

import argparse
import fnmatch
import os
import shutil
import sys
import zipfile


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("wheel")
    parser.add_argument("dest")
    parser.add_argument("patterns", nargs="+", help="glob patterns of member paths, e.g. 'licensedcode/data/*'")
    parser.add_argument("--strip", default="", help="path prefix removed from the extracted member paths")
    args = parser.parse_args()
    try:
        archive = zipfile.ZipFile(args.wheel)
    except (OSError, zipfile.BadZipFile) as error:
        sys.exit(f"unpack.py: error: cannot read {args.wheel} as a zip file: {error}")
    dest = os.path.abspath(args.dest)
    extracted = 0
    with archive:
        for member in archive.infolist():
            name = member.filename
            if member.is_dir() or not any(fnmatch.fnmatchcase(name, p) for p in args.patterns):
                continue
            relative = name[len(args.strip):] if args.strip and name.startswith(args.strip) else name
            target = os.path.abspath(os.path.join(dest, relative))
            if not target.startswith(dest + os.sep):
                sys.exit(f"unpack.py: error: {args.wheel}: member {name!r} would land outside {dest}")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(member) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
            extracted += 1
    if extracted == 0:
        sys.exit(f"unpack.py: error: {args.wheel}: no member matches {' '.join(args.patterns)}")
    print(f"unpacked {extracted} files from {os.path.basename(args.wheel)} into {args.dest}")


if __name__ == "__main__":
    main()
