from .pooling import reduce_first  # noqa: F401
from .token_classifier import build_token_classifier  # noqa: F401
from .listener import build_transformer_listener  # noqa: F401
from .span_getters import configure_piece_strided_spans  # noqa: F401
from .span_classifier import build_span_classifier  # noqa: F401
