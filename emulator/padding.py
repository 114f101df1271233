"""The text that pads a succeeded line to `line_bytes`: "lorem", one Lorem-ipsum sentence repeated (gzip shrinks
a 1.2 KB line of it to about 56 B), or "prose", English-like sentences that gzip compresses about 3×, as it does
real answers. Both are plain ASCII with nothing JSON escapes, so a padded line's length adds up exactly."""

from __future__ import annotations

import functools
import itertools
import random
import re

TEXTS = ("lorem", "prose")

_LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt. "

# Several hundred common English words, most frequent first; drawn with weights falling with the rank, so the
# text repeats its short words as English does (a uniform draw would compress less than prose).
_WORDS = """the of and to a in is that it for was on are as with be by this at from or have an they which one you
were all we can her has there been if more when will would who so no their what about out up into them some than
its then only other time new these two may first any like now my such over also our even most made after many
must before years where much your way well down should because each just those people how too little state good
very make world still own see men work long get here between both life being under never day same another know
while last might great old year off come since against go came right used take three states himself few house use
during without again place around however home small found thought went say part once general high upon school
every does got left number course war until always away something fact though water less public put think almost
hand enough far took head yet government system better set told nothing night end why called knew eyes find going
look asked later point next program city business give group toward young days let room side social present given
several order national possible rather second face per among form important often things looked early white case
become large big need four within felt along children saw best church ever least power development light thing
seemed family interest want members mind country area others done turned although open service certain kind
problem began different door thus help sense means whole matter perhaps itself times law human line above name
example action company hands local show whether five history gave today either act feet across taken past quite
anything having seen death experience body word half really week field car words already themselves information
tell together college shall money period held keep sure free real seems behind cannot miss political air question
making office brought whose special major heard problems became study ago moment available known result street
economic boy position reason change south board individual job areas society west close turn love community true
court force full seem wife future age voice center woman control common policy necessary following front sometimes
six girl clear further land able feel mother music party provide university effect level stood run short town
morning total outside rate figure class art century north leave therefore top evidence sound play tax black strong
believe value type process whom model data answer request batch table index reply note""".split()
_POOL_CHARS = 1 << 20  # far more than gzip's 32 KB window, so nearby lines' slices seldom overlap
_ENDS = ".....?!"


def padding(text: str, bits: int, size: int) -> str:
    """`size` characters of `text` ("lorem" or "prose"); for prose, which ones depends on the item's hash bits, so
    the same item pads the same way on every build."""
    if text != "prose":
        return (_LOREM * (size // len(_LOREM) + 1))[:size]
    pool, starts = _prose_pool()
    start = starts[bits % len(starts)]
    if start + size <= len(pool):
        chosen = pool[start : start + size]
    else:
        chosen = (pool[start:] + pool * (size // len(pool) + 1))[:size]
    return chosen[:1].upper() + chosen[1:]


@functools.cache
def _prose_pool() -> tuple[str, list[int]]:
    """About a megabyte of sentences from a fixed seed, and where each of its words starts: built once, on first
    use. A padding is a slice of it from one of those ~190,000 words (a sentence start would give only ~14,500,
    and two items of a few hundred would often share one), which costs no more than the lorem padding."""
    rng = random.Random(2026)
    cum_weights = list(itertools.accumulate(1 / (rank + 10) for rank in range(len(_WORDS))))
    sentences, length = [], 0
    while length < _POOL_CHARS:
        n = rng.randint(5, 24)
        chosen = rng.choices(_WORDS, cum_weights=cum_weights, k=n)
        chosen[0] = chosen[0].capitalize()
        if n > 8:  # a clause: a comma after one of the middle words
            comma = rng.randint(2, n - 3)
            chosen[comma] += ","
        sentence = " ".join(chosen) + rng.choice(_ENDS) + " "
        sentences.append(sentence)
        length += len(sentence)
    pool = "".join(sentences)
    return pool, [0] + [match.end() for match in re.finditer(" ", pool)][:-1]
