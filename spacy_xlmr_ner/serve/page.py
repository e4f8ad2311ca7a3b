"""The demo page at `GET /`: a text box, examples in several scripts, and the
entities drawn the way displaCy's entity style draws them, by the page's own
script from `POST /ner` results."""
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
