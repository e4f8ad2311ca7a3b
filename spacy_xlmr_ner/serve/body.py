"""Reading and checking `POST /ner` bodies: size, UTF-8, JSON and shape,
each failure a `RequestError` with an HTTP status and a message saying what is
wrong."""
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, List, Tuple

if TYPE_CHECKING:  # the CLI imports Limits before it knows the serve extra is installed
    from starlette.requests import Request


@dataclass(frozen=True)
class Limits:
    """Bounds on what one `POST /ner` request may ask for.

    max_bytes (int): Largest request body, in bytes (413 above it).
    max_texts (int): Most texts in one request (422 above it).
    max_chars (int): Longest text, in characters (422 above it).
    timeout (float): Seconds to receive a request's body (408 after), and
        again to process it, waiting for earlier requests included (504 after).
    """

    max_bytes: int = 1_048_576
    max_texts: int = 256
    max_chars: int = 100_000
    timeout: float = 60.0


class RequestError(Exception):
    """A request the service refuses, answered as `{"detail": message}`."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


USAGE = 'send a JSON object {"text": "..."} or {"texts": ["...", ...]}, optionally with "vectors": true'
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number", type(None): "null"}


def json_type(value: Any) -> str:
    """value (Any): A value decoded from JSON.
    RETURNS (str): Its JSON type, for messages ("an array", "null").
    """
    return _JSON_TYPES.get(type(value), type(value).__name__)


async def read_body(request: "Request", max_bytes: int) -> bytes:
    """Read a request body, refusing it as soon as it is over `max_bytes`:
    from its Content-Length header before reading, and while streaming for
    chunked bodies or a header that understates the size.

    request (Request): The incoming request.
    max_bytes (int): The largest body accepted.
    RETURNS (bytes): The whole body.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise RequestError(413, f"Request body of {int(declared)} bytes is over the limit of {max_bytes} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise RequestError(413, f"Request body is over the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_texts(body: bytes, limits: Limits) -> List[str]:
    """Decode a `POST /ner` body into its texts, in order.

    body (bytes): UTF-8 JSON, `{"text": str}` or `{"texts": [str, ...]}`.
    limits (Limits): `max_texts` and `max_chars` are checked here.
    RETURNS (List[str]): The texts: one for "text", the list for "texts".
    """
    return parse_request(body, limits)[0]


def parse_request(body: bytes, limits: Limits) -> Tuple[List[str], bool]:
    """Decode a `POST /ner` body into its texts and options.

    body (bytes): UTF-8 JSON, `{"text": str}` or `{"texts": [str, ...]}`,
        with an optional `"vectors": bool`.
    limits (Limits): `max_texts` and `max_chars` are checked here.
    RETURNS (Tuple[List[str], bool]): The texts, in order, and whether the
        entities' vectors are asked for.
    """
    if not body.strip():
        raise RequestError(422, f"Empty request body: {USAGE}")
    try:
        # utf-8-sig: a byte order mark some clients write is not an error
        decoded = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise RequestError(
            400, f"Request body is not valid UTF-8: byte {err.start} ({body[err.start:err.start + 1]!r}): {err.reason}"
        ) from None
    try:
        data = json.loads(decoded)
    except json.JSONDecodeError as err:
        raise RequestError(422, f"Malformed JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except (ValueError, RecursionError) as err:  # e.g. a 5,000-digit number, or [[[[...]]]] nested too deeply
        raise RequestError(422, f"Malformed JSON: {str(err) or type(err).__name__}") from None
    if not isinstance(data, dict):
        raise RequestError(422, f"Expected a JSON object, got {json_type(data)}: {USAGE}")
    unknown = sorted(set(data) - {"text", "texts", "vectors"})
    if unknown:
        raise RequestError(422, f"Unknown field(s) {', '.join(map(repr, unknown))}: {USAGE}")
    vectors = data.get("vectors", False)
    if not isinstance(vectors, bool):
        raise RequestError(422, f'"vectors" must be true or false, got {json_type(vectors)}')
    if ("text" in data) == ("texts" in data):
        raise RequestError(422, f'Give exactly one of "text" and "texts": {USAGE}')
    if "text" in data:
        if not isinstance(data["text"], str):
            raise RequestError(422, f'"text" must be a string, got {json_type(data["text"])}')
        texts, names = [data["text"]], ['"text"']
    else:
        texts = data["texts"]
        if not isinstance(texts, list):
            raise RequestError(422, f'"texts" must be an array of strings, got {json_type(texts)}')
        if len(texts) > limits.max_texts:
            raise RequestError(422, f'"texts" has {len(texts)} items, over the limit of {limits.max_texts}')
        names = [f'"texts"[{i}]' for i in range(len(texts))]
    for name, text in zip(names, texts):
        if not isinstance(text, str):
            raise RequestError(422, f"{name} must be a string, got {json_type(text)}")
        if len(text) > limits.max_chars:
            raise RequestError(422, f"{name} has {len(text)} characters, over the limit of {limits.max_chars}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:  # JSON escapes like "\ud800" decode to lone surrogates
            raise RequestError(
                422, f"{name} has an unpaired surrogate (U+{ord(text[err.start]):04X}) at character {err.start}"
            ) from None
    return texts, vectors
