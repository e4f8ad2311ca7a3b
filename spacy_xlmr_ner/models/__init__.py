from .pooling import reduce_first  # noqa: F401
from .token_classifier import build_token_classifier  # noqa: F401
