"""The access review as a CSV sheet or a self-contained HTML page (no script, no CDN)."""

from __future__ import annotations

import csv
import html
import io
from typing import Any

__all__ = ["posture_csv", "posture_html", "review_csv", "review_html"]

_COLUMNS = (
    "identity",
    "kind",
    "on_behalf_of",
    "right",
    "via",
    "used",
    "uses",
    "last_used",
    "sensitive",
)


def review_csv(document: dict[str, Any]) -> str:
    """One row per right (an identity without rights: one row with none)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*_COLUMNS, "findings"])
    for entry in document["identities"]:
        findings = "; ".join(f["type"] for f in entry["findings"])
        rights = entry["rights"] or [None]
        for right in rights:
            writer.writerow(
                [
                    entry["name"],
                    entry["kind"],
                    entry["on_behalf_of"] or "",
                    f"{right['kind']}:{right['target']}" if right else "",
                    right["via"] if right else "",
                    ("yes" if right["used"] else "no") if right else "",
                    right["uses"] if right else "",
                    right["last_used"] or "" if right else "",
                    ("yes" if right["sensitive"] else "") if right else "",
                    findings,
                ]
            )
    return out.getvalue()


def review_html(document: dict[str, Any]) -> str:
    """A page a reviewer can read offline: a summary, then one section per identity."""
    e = html.escape
    summary = "".join(
        f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in document["summary"].items()
    )
    sections = []
    for entry in document["identities"]:
        rights = "".join(
            "<tr class='{cls}'><td>{kind}</td><td>{target}</td><td>{via}</td>"
            "<td>{used}</td><td>{uses}</td><td>{sens}</td></tr>".format(
                cls="unused" if not r["used"] else "used",
                kind=e(r["kind"]),
                target=e(r["target"]),
                via=e(r["via"]),
                used="yes" if r["used"] else "never",
                uses=r["uses"],
                sens="sensitive" if r["sensitive"] else "",
            )
            for r in entry["rights"]
        )
        findings = "".join(
            f"<li><b>{e(f['type'])}</b>: {e(f['detail'])}"
            + (f"<br><code>{e(f['change'])}</code>" if f.get("change") else "")
            + "</li>"
            for f in entry["findings"]
        )
        owner = e(entry["on_behalf_of"] or "no owner")
        sections.append(
            f"<section><h2>{e(entry['name'])} <small>{e(entry['kind'])}, {e(entry['status'])},"
            f" on behalf of {owner}</small></h2>"
            f"<table><tr><th>right</th><th>target</th><th>through</th><th>used</th>"
            f"<th>uses</th><th></th></tr>{rights}</table>"
            f"<ul>{findings or '<li>nothing to change</li>'}</ul></section>"
        )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Limen access review</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
        "padding:.2em .5em;text-align:left}tr.unused td{background:#fff3cd}"
        "small{color:#555;font-weight:normal}</style></head><body>"
        f"<h1>Access review</h1><p>Generated {e(document['generated_at'])}, usage over the "
        f"last {document['days']} days; sensitive tag: {e(document['resource_tag'])}.</p>"
        f"<table>{summary}</table>{''.join(sections)}</body></html>\n"
    )


def posture_csv(document: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["risk", "title", "count", "identities", "fix"])
    for risk in document["risks"]:
        writer.writerow(
            [
                risk["id"],
                risk["title"],
                "not assessed" if risk["count"] is None else risk["count"],
                " ".join(risk["identities"]),
                risk["fix"],
            ]
        )
    return out.getvalue()


def posture_html(document: dict[str, Any]) -> str:
    """A page a CISO can read offline: a bar chart (inline SVG) and one card per risk."""
    e = html.escape
    risks = document["risks"]
    top = max([r["count"] or 0 for r in risks] + [1])
    bar_height, width = 26, 520
    bars = []
    for n, risk in enumerate(risks):
        y = n * bar_height
        count = risk["count"]
        length = 0 if not count else max(4, int(width * count / top))
        label = "not assessed" if count is None else str(count)
        colour = "#bbb" if count is None else ("#c0392b" if count else "#27ae60")
        bars.append(
            f"<text x='0' y='{y + 17}' font-size='13'>{e(risk['id'])} {e(risk['title'])}</text>"
            f"<rect x='330' y='{y + 4}' width='{length}' height='18' fill='{colour}'/>"
            f"<text x='{336 + length}' y='{y + 17}' font-size='13'>{e(label)}</text>"
        )
    chart = (
        f"<svg role='img' aria-label='identities per risk' width='{330 + width + 80}' "
        f"height='{bar_height * len(risks)}' xmlns='http://www.w3.org/2000/svg'>"
        f"{''.join(bars)}</svg>"
    )
    cards = []
    for risk in risks:
        count = "not assessed" if risk["count"] is None else f"{risk['count']} found"
        who = ", ".join(e(i) for i in risk["identities"][:50]) or "none"
        evidence = "".join(f"<li>{e(x)}</li>" for x in risk["evidence"])
        cards.append(
            f"<section><h2>{e(risk['id'])}: {e(risk['title'])} <small>{count}</small></h2>"
            f"<p><b>Identities:</b> {who}</p><p><b>Fix:</b> {e(risk['fix'])}</p>"
            f"{'<ul>' + evidence + '</ul>' if evidence else ''}</section>"
        )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Limen NHI posture</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
        "section{border-top:1px solid #ddd;margin-top:1em}small{color:#555;font-weight:normal}"
        "</style></head><body><h1>Non-human identity posture</h1>"
        f"<p>{e(document['standard'])}; generated {e(document['generated_at'])}, activity "
        f"over the last {document['days']} days.</p>{chart}{''.join(cards)}</body></html>\n"
    )
