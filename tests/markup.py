"""Reading a page's markup as a clinician's browser would: parsed with
tinyhtml5 and queried with CSS selectors through cssselect2 (both come with
WeasyPrint, which renders the PDFs)."""

import cssselect2
import tinyhtml5


class Element:
    """An element of a parsed page: `select`, `select_one`, `text`, `get`."""

    def __init__(self, wrapper):
        self._wrapper = wrapper

    @property
    def tag(self):
        return self._wrapper.etree_element.tag

    def get(self, name, default=None):
        return self._wrapper.etree_element.get(name, default)

    def select(self, css):
        return [Element(found) for found in self._wrapper.query_all(css)]

    def select_one(self, css):
        found = self._wrapper.query(css)
        return None if found is None else Element(found)

    def text(self):
        """Its words, whitespace collapsed; elements (a line break too) part words."""
        return " ".join(" ".join(self._wrapper.etree_element.itertext()).split())


def parse(content) -> Element:
    if isinstance(content, bytes):
        content = content.decode()
    root = tinyhtml5.parse(content, namespace_html_elements=False)
    return Element(cssselect2.ElementWrapper.from_html_root(root))
