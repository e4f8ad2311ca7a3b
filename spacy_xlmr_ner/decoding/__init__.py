from .labels import allowed_transitions, iob_labels  # noqa: F401
from .spans import tags_to_spans  # noqa: F401
from .viterbi import viterbi_decode  # noqa: F401
