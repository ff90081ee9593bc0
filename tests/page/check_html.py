#!/usr/bin/env python3
"""check_html.py PAGE: exit 0 when the HTML is well formed (every element
closed in order, void elements excepted; SVG's self-closing ones too), else
print the first problems and exit 1. Used by test_page."""
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Balance(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"line {self.getpos()[0]}: </{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()


p = Balance()
p.feed(open(sys.argv[1], encoding="utf-8").read())
p.close()
problems = p.errors + [f"<{t}> at line {pos[0]} is never closed" for t, pos in p.stack]
for e in problems[:10]:
    print(e)
sys.exit(1 if problems else 0)
