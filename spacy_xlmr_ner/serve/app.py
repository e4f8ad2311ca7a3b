"""The FastAPI application: `POST /ner`, `GET /`, `GET /health`, `GET /meta`."""
import asyncio
import logging
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Union

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from spacy.language import Language

from .body import Limits, RequestError, parse_request, read_body
from .page import render_page
from .pipeline import describe, load_pipeline
from .worker import AnnotationTimeout, Annotator

logger = logging.getLogger(__name__)
DEFAULT_LIMITS = Limits()

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
) -> FastAPI:
    """Create the web demo and REST API over a pipeline, loaded once, here.

    Endpoints:
    - `POST /ner`, body `{"text": str}` or `{"texts": [str, ...]}` →
      `{"results": [{"text": str, "entities": [{"text", "label", "start",
      "end", "score"}, ...]}, ...]}`: one result per input text, in order
      (one for "text"), entities as `spacy_xlmr_ner.io.output.doc_entities`
      gives them (character offsets into the text, as Python indexes it).
      Errors are `{"detail": str}`: 413 body over `max_bytes`; 400 body not
      UTF-8; 422 malformed JSON, wrong shape or types, over `max_texts` or
      `max_chars`; 408 body not received within `timeout`; 504 not done
      within `timeout`.
    - `GET /`: the demo page. `GET /health`: `{"status": "ok", "pending": n}`,
      n requests queued or running. `GET /meta`: the pipeline's name, lang,
      version, source, description, components, labels, languages,
      performance (see `describe`) and the limits.

    nlp_or_path (Union[Language, str, Path]): A pipeline, or a directory or
        package name to load (with `hf`, a Hugging Face checkpoint).
    max_bytes (int): Largest request body, in bytes.
    max_texts (int): Most texts per request.
    max_chars (int): Longest text, in characters.
    timeout (float): Seconds to receive a body, and again to process it,
        waiting for earlier requests included.
    batch_size (int): Texts per `nlp.pipe` batch.
    hf (bool): `nlp_or_path` is a Hugging Face token-classification checkpoint.
    RETURNS (FastAPI): The application, e.g. for `uvicorn.run`.
    """
    limits = Limits(max_bytes=max_bytes, max_texts=max_texts, max_chars=max_chars, timeout=timeout)
    if isinstance(nlp_or_path, Language):
        nlp, source = nlp_or_path, None
    else:
        nlp, source = load_pipeline(nlp_or_path, hf=hf), nlp_or_path
    annotator = Annotator(nlp, batch_size=batch_size)
    logger.info("Pipeline ready (warm-up %.2f s)", annotator.warm_up())
    info = describe(nlp, source)
    page = render_page(info, limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        annotator.close()

    app = FastAPI(
        title=f"{info['lang']}_{info['name']} named entities",
        version=str(info["version"] or "unversioned"),
        description="Named entities with character offsets and confidence, from an `xlmr_ner` spaCy pipeline.",
        lifespan=lifespan,
    )
    app.state.nlp = nlp
    app.state.annotator = annotator
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
            results = await annotator.annotate(texts, limits.timeout, vectors=vectors)
        except AnnotationTimeout as err:
            raise RequestError(504, str(err)) from None
        return JSONResponse({"results": results})

    @app.get("/", response_class=HTMLResponse, summary="The demo page")
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/health", summary="Liveness, and the number of requests queued or running")
    async def health() -> dict:
        return {"status": "ok", "pending": annotator.pending}

    @app.get("/meta", summary="The pipeline: name, labels, languages, performance, and the limits")
    async def meta() -> dict:
        return {**info, "limits": asdict(limits)}

    return app
