"""Reading a page as parsed HTML (Django's own test parser), not as a string to slice."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser

from django.test.html import Element, parse_html


def elements(html: str | Element, tag: str | None = None, **attrs: str | None) -> Iterator[Element]:
    """Every element of `html`, in document order, with this tag (any, if None) and these attributes.

    `class_="a b"` matches an element holding both classes, in any order, among others; an attribute given
    as None must be there, whatever its value (`**{"data-row": None}`).
    """
    wanted = {name.rstrip("_"): value for name, value in attrs.items()}
    stack = [parse_html(html) if isinstance(html, str) else html]
    while stack:
        node = stack.pop(0)
        if not isinstance(node, Element):
            continue
        if (tag is None or node.name == tag) and _has(dict(node.attributes), wanted):
            yield node
        stack[:0] = node.children


def _has(found: dict[str, str | None], wanted: dict[str, str | None]) -> bool:
    for name, value in wanted.items():
        if value is None:  # present, whatever its value
            if name not in found:
                return False
        elif name == "class":
            if not set(value.split()) <= set((found.get("class") or "").split()):
                return False
        elif found.get(name) != value:
            return False
    return True


def element(html: str | Element, tag: str | None = None, **attrs: str | None) -> Element:
    """The first element that matches; fails the test, naming what it looked for, when there is none."""
    found = next(elements(html, tag, **attrs), None)
    assert found is not None, f"no <{tag or '*'}> with {attrs} in the page"
    return found


def text(node: Element | str) -> str:
    """The text of an element and everything in it, whitespace as the parser normalised it."""
    if isinstance(node, str):
        return node
    return "".join(text(child) for child in node.children)


def cells(row: Element) -> list[str]:
    """The text of each cell of a table row."""
    return [text(cell).strip() for cell in row.children if isinstance(cell, Element) and cell.name in ("td", "th")]


def attribute(node: Element, name: str) -> str | None:
    return dict(node.attributes).get(name)


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Elements a reader sees apart, whatever whitespace the markup has between them.
_APART = {"p", "div", "li", "dt", "dd", "td", "th", "tr", "h1", "h2", "h3", "h4", "section", "article", "br", "pre"}


class _Prose(HTMLParser):
    def __init__(self, within: str | None) -> None:
        super().__init__()
        self.within, self.depth, self.parts = within, 0 if within else 1, []

    def handle_starttag(self, tag, attrs):
        if tag in _APART and self.depth:
            self.parts.append(" ")
        if tag in _VOID:
            return
        if self.depth or dict(attrs).get("id") == self.within or tag == self.within:
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in _APART and self.depth:
            self.parts.append(" ")
        if self.depth and self.within and tag not in _VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def prose(html: str, within: str | None = "main") -> str:
    """The text a person reads in `within` (an id or a tag; None: the whole page), spaces kept as they
    separate words (the parsed tree drops those between inline elements), runs of them folded."""
    parser = _Prose(within)
    parser.feed(html)
    return " ".join("".join(parser.parts).split())
