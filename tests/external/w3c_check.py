#!/usr/bin/env python3
"""Runs the W3C Feed Validation Service's own code on every RSS, Atom and OPML document of a
built site, as validator.w3.org/feed would see each one at its published address.

The validator is not packaged in any registry, so bring a checkout of
https://github.com/w3c/feedvalidator yourself (it needs `lxml` and `html5lib`; nothing of it
is part of this repository):

    git clone https://github.com/w3c/feedvalidator /tmp/feedvalidator
    cargo run -- build --posts posts --out /tmp/site --url https://example.com
    python3 tests/external/w3c_check.py /tmp/feedvalidator /tmp/site https://example.com

Each document is validated with its base set to SITE_URL + its path, so "Self reference
doesn't match document location" means a real mismatch. Messages are filtered as the online
service filters them ("AA"). Exits 1 when any document has a message (error or warning).
"""
import os
import sys
import urllib.parse


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    checkout, root, site = sys.argv[1], sys.argv[2], sys.argv[3].rstrip("/")
    sys.path.insert(0, os.path.join(checkout, "src"))
    import feedvalidator
    from feedvalidator import compatibility
    from feedvalidator.formatter.text_plain import Formatter

    documents = messages = 0
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            if not f.endswith((".xml", ".opml")):
                continue
            path = os.path.join(d, f)
            # The validator canonicalizes URLs byte by byte: percent-encode the path (slugs).
            url = site + "/" + urllib.parse.quote(os.path.relpath(path, root))
            documents += 1
            try:
                with open(path, "rb") as fh:
                    result = feedvalidator.validateStream(fh, firstOccurrenceOnly=1, base=url)
                events = result["loggedEvents"]
            except feedvalidator.logging.ValidationFailure as failure:
                events = [failure.event]
            out = Formatter(compatibility.AA(events))
            if out:
                messages += len(out)
                print("==", url)
                print("\n".join(out))
    print(f"{documents} documents, {messages} messages")
    sys.exit(1 if messages else 0)


if __name__ == "__main__":
    main()
