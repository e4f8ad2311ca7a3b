"""`python -m spacy_xlmr_ner.serve PIPELINE`, the same as `xlmr-ner-serve`."""
from .cli import main

if __name__ == "__main__":
    main()
