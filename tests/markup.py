"""Reading a page's markup as a clinician's browser would: parsed with
tinyhtml5 and queried with CSS selectors through cssselect2 (both come with
WeasyPrint, which renders the PDFs). Tests read pages with this, never with
regular expressions or by cutting the markup as a string."""

import cssselect2
import tinyhtml5

# Elements whose content a reader never sees as words on the page.
UNSEEN = {"script", "style", "template"}


class Element:
    """An element of a parsed page: `select`, `select_one`, `text`, `get`,
    `attributes` and `form_values`."""

    def __init__(self, wrapper):
        self._wrapper = wrapper

    @property
    def tag(self):
        return self._wrapper.etree_element.tag

    @property
    def attributes(self) -> dict:
        """Every attribute as written, name -> value."""
        return dict(self._wrapper.etree_element.attrib)

    def get(self, name, default=None):
        return self._wrapper.etree_element.get(name, default)

    def select(self, css):
        return [Element(found) for found in self._wrapper.query_all(css)]

    def select_one(self, css):
        found = self._wrapper.query(css)
        return None if found is None else Element(found)

    def text(self):
        """Its words, whitespace collapsed; elements (a line break too) part
        words. What a script, a style sheet or a <template> inside it holds
        is left out: a reader never sees it."""
        return " ".join(" ".join(_words(self._wrapper.etree_element)).split())

    def form_values(self) -> dict:
        """What a browser without JavaScript would submit from the fields
        within, as rendered: name -> value, or for radios and checkboxes
        name -> the values checked (an empty list when none is). Fields in a
        <template> (rows a script copies) and disabled fields are left out;
        a select with no option selected sends its first option, as a
        browser does."""
        values = {}
        for field in self.select("input[name], select[name], textarea[name]"):
            if field.get("disabled") is not None or field._in_template():
                continue
            name, kind = field.get("name"), field.get("type", "text").lower()
            if field.tag == "input" and kind in ("radio", "checkbox"):
                checked = values.setdefault(name, [])
                if field.get("checked") is not None:
                    checked.append(field.get("value", "on"))
            elif field.tag == "select":
                options = field.select("option[selected]") or field.select("option")[:1]
                values[name] = options[-1].get("value", options[-1].text()) if options else ""
            elif field.tag == "textarea":
                values[name] = "".join(field._wrapper.etree_element.itertext())
            elif kind not in ("submit", "button", "reset", "image", "file"):
                values[name] = field.get("value", "")
        return values

    def _in_template(self):
        ancestor = self._wrapper.parent
        while ancestor is not None:
            if ancestor.etree_element.tag == "template":
                return True
            ancestor = ancestor.parent
        return False


def _words(element):
    """The text within `element`, skipping what is never seen as words."""
    if element.text:
        yield element.text
    for child in element:
        if isinstance(child.tag, str) and child.tag not in UNSEEN:
            yield from _words(child)
        if child.tail:
            yield child.tail


def parse(content) -> Element:
    if isinstance(content, bytes):
        content = content.decode()
    root = tinyhtml5.parse(content, namespace_html_elements=False)
    return Element(cssselect2.ElementWrapper.from_html_root(root))
