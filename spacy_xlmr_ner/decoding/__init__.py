from .labels import allowed_transitions, entity_labels, iob_labels, split_tag, to_iob2  # noqa: F401
from .spans import tags_to_spans  # noqa: F401
from .viterbi import viterbi_decode  # noqa: F401
