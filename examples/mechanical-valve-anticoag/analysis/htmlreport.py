"""A small HTML writer for the study's reports, with the standard library only.

The pages hold text, tables and inline SVG charts, and nothing else: no
scripts, no style sheets or style attributes, no links to other files or
sites, so an output checker sees exactly what the file contains.
"""

from html import escape


def page(title, parts):
    """A complete HTML document."""
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )


def heading(text, level=2):
    return f"<h{level}>{escape(text)}</h{level}>"


def paragraph(text):
    return f"<p>{escape(text)}</p>"


def bullets(items):
    return "<ul>\n" + "\n".join(f"<li>{escape(i)}</li>" for i in items) + "\n</ul>"


def table(header, rows, caption=None):
    """A table of already-controlled values (strings)."""
    out = ['<table border="1" cellpadding="4">']
    if caption:
        out.append(f"<caption>{escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{escape(str(h))}</th>" for h in header) + "</tr></thead>")
    out.append("<tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def figure(svg, caption):
    """An inline SVG chart with its caption. svg is the chart's own markup."""
    markup = svg.strip()
    if markup.startswith("<?xml"):
        markup = markup[markup.index("?>") + 2 :].lstrip()
    return f"<figure>\n{markup}\n<figcaption>{escape(caption)}</figcaption>\n</figure>"
