"""The demo page at `GET /`: a text box, examples in several scripts, and the
entities drawn the way displaCy's entity style draws them, by the page's own
script from `POST /ner` results."""
import base64
import hashlib
import html
import json
import re
from dataclasses import asdict
from importlib.resources import files
from typing import Any, Dict, List, Tuple

from spacy.displacy.render import EntityRenderer

from .body import Limits

# One sentence per language, in the page's example buttons (zh, ar, ru, hi
# among them: four scripts, one of them right-to-left).
EXAMPLES: List[Dict[str, str]] = [
    {"lang": "en", "name": "English", "text": "Barack Obama visited the United Nations in New York on Monday."},
    {"lang": "de", "name": "Deutsch", "text": "Angela Merkel besuchte gestern Berlin und sprach mit Vertretern der Siemens AG."},
    {"lang": "es", "name": "Español", "text": "Pedro Sánchez viajó a Barcelona con directivos de Telefónica."},
    {"lang": "ru", "name": "Русский", "text": "Владимир Путин встретился с представителями Газпрома в Москве."},
    {"lang": "ar", "name": "العربية", "text": "زار محمد بن سلمان مدينة الرياض مع وفد من شركة أرامكو."},
    {"lang": "hi", "name": "हिन्दी", "text": "नरेंद्र मोदी ने नई दिल्ली में टाटा समूह के अधिकारियों से मुलाकात की।"},
    {"lang": "zh", "name": "中文", "text": "习近平在北京会见了华为公司的代表。"},
]


def label_colors() -> Tuple[Dict[str, str], str]:
    """displaCy's entity colours (with those registered through
    `spacy_displacy_colors` entry points), plus the WikiANN / CoNLL labels
    displaCy has no colour for.

    RETURNS (Tuple[Dict[str, str], str]): Colour per label, and the default.
    """
    base = EntityRenderer({}).colors
    renderer = EntityRenderer({"colors": {"PER": base["PERSON"], "MISC": base["EVENT"]}})
    return renderer.colors, renderer.default_color


def render_page(info: Dict[str, Any], limits: Limits) -> str:
    """Fill the page template for a pipeline.

    info (Dict[str, Any]): The pipeline's description, as `GET /meta` gives it.
    limits (Limits): The service's bounds, shown on the page.
    RETURNS (str): The HTML page.
    """
    colors, default_color = label_colors()
    config = {
        **info,
        "colors": colors,
        "default_color": default_color,
        "examples": EXAMPLES,
        "limits": asdict(limits),
    }
    # Inside <script type="application/json">: "<" escaped, so no text in
    # the meta can close the element.
    payload = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    template = files(__package__).joinpath("templates", "index.html").read_text(encoding="utf-8")
    title = html.escape(f"{info['lang']}_{info['name']}" if info.get("name") else "xlmr_ner")
    # One pass, so neither value is searched for the other's placeholder.
    values = {"TITLE": title, "CONFIG": payload}
    return re.sub(r"__(TITLE|CONFIG)__", lambda match: values[match.group(1)], template)


_INLINE = re.compile(r"<(script|style)(\s[^>]*)?>(.*?)</\1>", re.S | re.I)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(html_text: str, *, connect: bool = False) -> str:
    """A Content-Security-Policy for a page of ours: nothing loads from
    anywhere, only its own inline scripts and styles run (by hash), it may be
    framed by no one, and (`connect`) its script may call this server.

    html_text (str): The page.
    connect (bool): Allow `fetch` to this origin.
    RETURNS (str): The header's value.
    """
    scripts, styles = [], []
    for tag, attributes, body in _INLINE.findall(html_text):
        if tag.lower() == "style":
            styles.append(_sha256(body))
        elif "application/json" not in (attributes or ""):  # a data block runs nothing
            scripts.append(_sha256(body))
    directives = [
        "default-src 'none'",
        f"script-src {' '.join(scripts)}" if scripts else "script-src 'none'",
        f"style-src {' '.join(styles)}" if styles else "style-src 'none'",
        "connect-src 'self'" if connect else "connect-src 'none'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


DOCS_STYLE = """
  body { font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #222; background: #fafafa; }
  main { max-width: 60rem; margin: 0 auto; padding: 1.5rem 2rem 3rem; }
  section { background: #fff; border: 1px solid #e4e4e4; border-radius: 0.4rem; padding: 0.4rem 1rem; margin-bottom: 1rem; }
  .method { display: inline-block; min-width: 3.5rem; font-weight: bold; color: #09a3d5; }
  pre { white-space: pre-wrap; font-size: 0.85rem; background: #f4f4f4; padding: 0.5rem; border-radius: 0.3rem; }
  code { font-size: 0.9rem; }
"""


def render_docs(spec: Dict[str, Any]) -> str:
    """The API documentation at `GET /docs`, drawn here from the OpenAPI
    schema: no script, nothing fetched from elsewhere (Swagger UI would load
    its files from a CDN), so it works offline and under a strict CSP.

    spec (Dict[str, Any]): The OpenAPI schema (`app.openapi()`).
    RETURNS (str): The HTML page.
    """
    esc = html.escape
    info = spec.get("info", {})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(info.get('title', 'API'))} · API</title>",
        f"<style>{DOCS_STYLE}</style>",
        "</head>",
        "<body><main>",
        f"<h1>{esc(info.get('title', 'API'))} <small>{esc(str(info.get('version', '')))}</small></h1>",
        f"<p>{esc(info.get('description', ''))}</p>",
        '<p>The OpenAPI schema: <a href="openapi.json">openapi.json</a>. Try it: '
        "<code>curl -s -H 'Content-Type: application/json' -d '{\"text\": \"Angela Merkel besuchte Berlin.\"}' "
        "localhost:8000/ner</code> (this server's address for localhost:8000)</p>",
    ]
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            parts.append(f'<section id="{esc(method)}-{esc(path)}">')
            parts.append(f'<h2><span class="method">{esc(method.upper())}</span> <code>{esc(path)}</code></h2>')
            if operation.get("summary"):
                parts.append(f"<p><strong>{esc(operation['summary'])}</strong></p>")
            if operation.get("description"):
                parts.append(f"<p>{esc(operation['description'])}</p>")
            body = operation.get("requestBody", {}).get("content", {})
            for media_type, content in body.items():
                parts.append(f"<p>Request body (<code>{esc(media_type)}</code>):</p>")
                parts.append(f"<pre>{esc(json.dumps(content.get('schema', {}), indent=2, ensure_ascii=False))}</pre>")
            responses = operation.get("responses", {})
            if responses:
                listed = ", ".join(f"{esc(str(code))} {esc(r.get('description', ''))}" for code, r in responses.items())
                parts.append(f"<p>Responses: {listed}</p>")
            parts.append("</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts)
