"""Vancouver-style citations from plain reference fields.

Plain Python, so both the live Reference model and a screening's stored
rulebook snapshot render citations the same way.
"""

from django.utils.html import format_html, format_html_join


def _sentence(text):
    text = (text or "").strip()
    if text and text[-1] not in ".?!":
        text += "."
    return text


def vancouver(*, authors, title, source, doi="", pmid="", url=""):
    """`Authors. Title. Source. doi:… PMID: …` as one line of plain text."""
    parts = [_sentence(authors), _sentence(title), _sentence(source)]
    if doi:
        parts.append(f"doi:{doi}")
    if pmid:
        parts.append(f"PMID: {pmid}.")
    if url and not doi:
        parts.append(f"Available from: {url}")
    return " ".join(part for part in parts if part)


def vancouver_html(*, authors, title, source, doi="", pmid="", url=""):
    """The same citation as safe HTML, with DOI, PMID and URL as links."""
    text = " ".join(
        part for part in (_sentence(authors), _sentence(title), _sentence(source)) if part
    )
    links = []
    if doi:
        links.append(("https://doi.org/" + doi, "doi:" + doi))
    if pmid:
        links.append(("https://pubmed.ncbi.nlm.nih.gov/" + pmid + "/", "PMID: " + pmid))
    if url and not doi:
        links.append((url, url))
    if not links:
        return format_html("{}", text)
    return format_html(
        "{} {}",
        text,
        format_html_join(
            " ", '<a href="{}" rel="noopener noreferrer">{}</a>', ((href, label) for href, label in links)
        ),
    )
