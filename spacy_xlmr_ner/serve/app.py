"""The FastAPI application: `POST /ner`, `GET /`, `GET /health`, `GET /meta`,
`GET /docs`. The pipeline runs in worker processes (`scheduler.WorkerPool`):
the event loop only reads, checks, queues and answers."""
import asyncio
import builtins
import logging
import os
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Union

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from spacy.language import Language

from .body import Limits, RequestError, parse_request, read_body
from .page import content_security_policy, render_docs, render_page
from .pipeline import describe
from .scheduler import AnnotationTimeout, PipelineError, WorkerPool, WorkerStartError, save_for_workers
from .worker import WorkerSpec

logger = logging.getLogger(__name__)
DEFAULT_LIMITS = Limits()
# On every response; the pages replace the CSP with one fit for them.
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}
JSON_MEDIA_TYPE = "application/json"


class SecurityHeaders:
    """ASGI middleware: adds SECURITY_HEADERS to every response that does not
    set them itself (errors from Starlette and uvicorn included)."""

    def __init__(self, app) -> None:
        self.app = app
        self.headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)


NER_REQUEST_SCHEMA = {
    "oneOf": [
        {
            "type": "object",
            "properties": {"text": {"type": "string"}, "vectors": {"type": "boolean"}},
            "required": ["text"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"texts": {"type": "array", "items": {"type": "string"}}, "vectors": {"type": "boolean"}},
            "required": ["texts"],
            "additionalProperties": False,
        },
    ],
    "example": {"texts": ["Angela Merkel besuchte Berlin.", "زار محمد بن سلمان مدينة الرياض."]},
}


def create_app(
    nlp_or_path: Union[Language, str, Path],
    *,
    max_bytes: int = DEFAULT_LIMITS.max_bytes,
    max_texts: int = DEFAULT_LIMITS.max_texts,
    max_chars: int = DEFAULT_LIMITS.max_chars,
    timeout: float = DEFAULT_LIMITS.timeout,
    batch_size: int = 16,
    hf: bool = False,
    workers: int = 2,
    batch_chars: int = 20_000,
    small_chars: int = 2_000,
    threads: int = 0,
    gpu_id: int = -1,
) -> FastAPI:
    """Create the web demo and REST API over a pipeline, loaded once in each
    worker process (this call waits until they have).

    Endpoints:
    - `POST /ner`, body `{"text": str}` or `{"texts": [str, ...]}`, with
      `Content-Type: application/json` →
      `{"results": [{"text": str, "entities": [{"text", "label", "start",
      "end", "score"}, ...]}, ...]}`: one result per input text, in order
      (one for "text"), entities as `spacy_xlmr_ner.io.output.doc_entities`
      gives them (character offsets into the text, as Python indexes it).
      Errors are `{"detail": str}`: 415 Content-Type not application/json;
      413 body over `max_bytes`; 400 body not UTF-8; 422 malformed JSON,
      wrong shape or types, over `max_texts` or `max_chars`; 408 body not
      received within `timeout`; 504 not done within `timeout` (the work is
      stopped); 500 the pipeline failed on the request.
    - `GET /`: the demo page. `GET /health`: `{"status": "ok", "pending": n}`,
      n requests queued or running. `GET /meta`: the pipeline's name, lang,
      version, source, description, components, labels, languages,
      performance (see `describe`) and the limits. `GET /docs`: the API,
      from `GET /openapi.json`, in a page that loads nothing from elsewhere.

    nlp_or_path (Union[Language, str, Path]): A pipeline, or a directory or
        package name to load (with `hf`, a Hugging Face checkpoint). A
        pipeline object is saved to a temporary directory for the workers,
        which import the modules of its tokenizer and components first.
    max_bytes (int): Largest request body, in bytes.
    max_texts (int): Most texts per request.
    max_chars (int): Longest text, in characters.
    timeout (float): Seconds to receive a body, and again to process it,
        waiting for earlier requests included.
    batch_size (int): Most texts per batch (`nlp.pipe` call in a worker).
    hf (bool): `nlp_or_path` is a Hugging Face token-classification checkpoint.
    workers (int): Worker processes, each with the pipeline loaded; with 2
        or more the first serves only small requests.
    batch_chars (int): Most characters per batch (a longer text goes alone).
    small_chars (int): Requests of at most this many characters are small:
        they go first, and to the small-request worker.
    threads (int): torch threads per worker; 0: the CPUs shared out among the
        workers (unless OMP_NUM_THREADS is set).
    gpu_id (int): GPU the workers run on; -1 for CPU.
    RETURNS (FastAPI): The application, e.g. for `uvicorn.run`.
    """
    limits = Limits(max_bytes=max_bytes, max_texts=max_texts, max_chars=max_chars, timeout=timeout)
    if threads <= 0 and not os.environ.get("OMP_NUM_THREADS"):
        threads = max(1, (os.cpu_count() or 1) // workers)
    if isinstance(nlp_or_path, Language):
        info = describe(nlp_or_path)
        folder, imports = save_for_workers(nlp_or_path)
        spec = WorkerSpec(path=os.path.join(folder, "pipeline"), imports=imports, threads=threads, gpu_id=gpu_id)
    else:
        folder, source = None, str(nlp_or_path)
        spec = WorkerSpec(path=source, hf=hf, source=source, threads=threads, gpu_id=gpu_id)
    pool = WorkerPool(
        spec, workers=workers, batch_size=batch_size, batch_chars=batch_chars, small_chars=small_chars, cleanup=folder
    )
    try:
        pool.start()
    except WorkerStartError as err:
        # What loading the pipeline raised, as OSError or ValueError (what the CLI reports).
        raised = getattr(builtins, err.type_name, None)
        is_os_error = isinstance(raised, type) and issubclass(raised, OSError)
        raise (OSError if is_os_error else ValueError)(err.message) from None
    if pool.info is not None:
        info = pool.info
    logger.info("Pipeline ready in %d worker process(es) (warm-up %.2f s)", workers, pool.warm_up_s)
    page = render_page(info, limits)
    page_csp = content_security_policy(page, connect=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool.close()

    app = FastAPI(
        title=f"{info['lang']}_{info['name']} named entities",
        version=str(info["version"] or "unversioned"),
        description="Named entities with character offsets and confidence, from an `xlmr_ner` spaCy pipeline.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders)
    app.state.pool = pool
    app.state.limits = limits

    @app.exception_handler(RequestError)
    async def request_error(request: Request, err: RequestError) -> JSONResponse:
        return JSONResponse({"detail": err.detail}, status_code=err.status_code)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, err: Exception) -> JSONResponse:
        logger.exception("Error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"Internal error: {type(err).__name__}: {err}"}, status_code=500)

    @app.post(
        "/ner",
        summary="Named entities of one text or a list of texts",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": NER_REQUEST_SCHEMA}}}},
    )
    async def ner(request: Request) -> JSONResponse:
        """Entities per text, in order: `{"results": [{"text", "entities"}]}`."""
        # Only JSON: a form or text/plain POST needs no CORS preflight, so any
        # web page could make its visitors' browsers send work here.
        content_type = request.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != JSON_MEDIA_TYPE:
            raise RequestError(
                415, f"Content-Type must be {JSON_MEDIA_TYPE}, got {content_type or 'none'}"
            )
        # The body is read and checked by hand, not by a pydantic model: to
        # stop reading at max_bytes and to say exactly what is wrong.
        try:
            # A client sending its body slowly holds a connection, not the pipeline,
            # but only for so long.
            body = await asyncio.wait_for(read_body(request, limits.max_bytes), limits.timeout)
        except asyncio.TimeoutError:
            raise RequestError(408, f"Request body not received within {limits.timeout:g} s") from None
        texts, vectors = parse_request(body, limits)
        try:
            results = await pool.annotate(texts, limits.timeout, vectors=vectors)
        except AnnotationTimeout as err:
            raise RequestError(504, str(err)) from None
        except PipelineError as err:
            logger.error("Pipeline error on POST /ner: %s", err)
            raise RequestError(500, f"Internal error: {err}") from None
        return JSONResponse({"results": results})

    @app.get("/", response_class=HTMLResponse, summary="The demo page")
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"content-security-policy": page_csp})

    docs: dict = {}

    @app.get("/docs", response_class=HTMLResponse, summary="This documentation", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        if not docs:
            docs["page"] = render_docs(app.openapi())
            docs["csp"] = content_security_policy(docs["page"])
        return HTMLResponse(docs["page"], headers={"content-security-policy": docs["csp"]})

    @app.get("/health", summary="Liveness, and the number of requests queued or running")
    async def health() -> dict:
        return {"status": "ok", "pending": pool.pending}

    @app.get("/meta", summary="The pipeline: name, labels, languages, performance, and the limits")
    async def meta() -> dict:
        return {**info, "limits": asdict(limits)}

    return app
