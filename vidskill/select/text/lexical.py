"""The `lexical` text prior: overlap of stemmed content words and manipulation-verb synonyms."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

_STOPWORD_TEXT = (
    "a an the and or of to in on into onto with from for at by it its this that these those "
    "is are be was were then so as up down out over off some any each all one two"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# Groups of interchangeable manipulation verbs and object words; the first word is canonical.
SYNONYMS = (
    ("cut", "slice", "chop", "dice", "carve", "mince", "split"),
    ("mix", "stir", "whisk", "blend", "beat", "swirl"),
    ("pour", "empty", "decant", "tip"),
    ("pick", "grasp", "grab", "take", "lift", "hold", "raise"),
    ("place", "put", "set", "lay", "drop", "deposit"),
    ("push", "press", "shove", "slide"),
    ("pull", "drag", "draw", "tug"),
    ("open", "uncover", "unscrew", "unlock"),
    ("close", "shut", "cover", "seal"),
    ("wipe", "clean", "scrub", "rub", "brush", "sweep", "mop"),
    ("turn", "rotate", "twist", "spin", "flip", "roll"),
    ("move", "transfer", "carry", "bring", "shift"),
    ("shake", "sprinkle", "scatter", "dust"),
    ("spread", "smear", "coat"),
    ("fold", "bend", "wrap"),
    ("squeeze", "crush", "mash", "grind", "press"),
    ("fill", "load", "stuff"),
    ("knife", "blade", "cutter"),
    ("spoon", "ladle", "spatula"),
    ("pot", "pan", "bowl", "saucepan", "container"),
)


def stem(word: str) -> str:
    """A light suffix-stripping stemmer: slices, sliced, slicing, slice -> slic; stirring -> stir."""
    w = word
    if w.endswith(("ies", "ied")) and len(w) > 4:
        return w[:-3] + "y"
    for suffix in ("ings", "ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiouslz":
                w = w[:-1]  # stirr -> stir, cutt -> cut
            break
    else:
        if w.endswith("es") and w[:-2].endswith(("s", "x", "z", "ch", "sh")) and len(w) > 4:
            w = w[:-2]
        elif w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
            w = w[:-1]
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return w


_CANONICAL = {stem(word): group[0] for group in reversed(SYNONYMS) for word in group}


def lexical_terms(text: str) -> set[str]:
    """Content words of `text`, synonyms mapped to one canonical word, then stemmed."""
    words = re.findall(r"[a-z]+", text.lower())
    stems = (stem(w) for w in words if w not in STOPWORDS)
    return {_CANONICAL.get(s, s) for s in stems}


class LexicalScorer:
    """Overlap of content words (cosine of word sets); needs nothing installed."""

    name = "lexical"

    def score(self, skill: str, descriptions: Sequence[str]) -> np.ndarray:
        """|S ∩ D| / sqrt(|S| |D|) per description, in [0, 1]."""
        query = lexical_terms(skill)
        scores = []
        for description in descriptions:
            terms = lexical_terms(description)
            denom = math.sqrt(len(query) * len(terms))
            scores.append(len(query & terms) / denom if denom else 0.0)
        return np.asarray(scores, dtype=np.float64)
