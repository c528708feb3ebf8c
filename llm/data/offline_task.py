"""The offline preference task: short questions whose true reward r* the program computes.

No dataset can be downloaded here, so the default data is generated from a seed. Each prompt is a
short question of one of several kinds (:data:`KINDS`: the first or the last word of a list, the
animal or the colour among a few words, the larger of two digits). Every answer is one of the
prompt's own words, so a small model can learn to find it in minutes, and a wrong answer is another
word of the same prompt, so telling them apart needs the question to be understood. Candidate
responses are concise correct answers ("dog."), stated ones ("The answer is dog."), rambling ones,
wrong ones and evasive ones.

The ground truth is :func:`true_reward`, a function of the text alone (so it also scores any text
a model samples)::

    r*(x, y) = c(x, y) + 0.5 · [y is exactly "<word>."] − 0.1 · min(words(y) − 1, 30)

with ``c = 2`` if the first answer word in y (a word of the task's vocabulary :data:`VOCABULARY`
or an integer) is the answer to x, ``c = −1`` if it is another one and ``c = 0`` if y contains
none. Each pair (x, a, b) is labelled by Bradley–Terry on r*,
``P(a ≻ b) = σ(r*(x, a) − r*(x, b))`` (paper, eq. 3; the docs' Mathematics page, Notation), so
the true preference probability of every pair is known: :func:`preference_probabilities`.

Rows use Anthropic HH's exact text format, ``{"chosen": "\\n\\nHuman: Q\\n\\nAssistant: A", ...}``;
the prompt is everything up to the last ``"\\n\\nAssistant:"``. Evaluation pairs use held-out
prompts: a question is held out iff ``crc32(question) mod 5 == 0`` (:func:`is_held_out`), a split
that does not depend on the seed, so no seed's evaluation prompt is ever another seed's training
prompt.

Its rows become pairs as every HH row does (:func:`llm.data.pairs.from_hh`). Run
``python -m llm.task --write PATH.jsonl`` to write the training pairs to PATH and the evaluation
pairs beside it (``PATH.eval.jsonl``).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from upo_theory import UserError

from .pairs import ASSISTANT, from_hh

HUMAN = "\n\nHuman: "
DEFAULT_TRAIN_PAIRS = 4000
DEFAULT_EVAL_PAIRS = 500
HELD_OUT_MODULUS = 5

REWARD_CORRECT = 2.0
REWARD_WRONG = -1.0
REWARD_NO_ANSWER = 0.0
BONUS_CONCISE = 0.5
PENALTY_PER_WORD = 0.1
MAX_PENALISED_WORDS = 30
BEST_REWARD = REWARD_CORRECT + BONUS_CONCISE
"""r* of the concise correct answer, the largest reward any response can get."""

ANIMALS = ("cat", "dog", "fish", "bird", "cow", "horse", "frog", "bee")
COLOURS = ("red", "blue", "green", "pink", "black", "white", "brown", "grey")
THINGS = ("sun", "tree", "moon", "car", "book", "milk", "star", "hat", "cup", "door", "ship",
          "bell")
VOCABULARY = frozenset(ANIMALS + COLOURS + THINGS)
"""The words a question is built from; with the integers, the words that count as an answer."""

_TOKEN = re.compile(r"-?\d+|[A-Za-z]+")
_CONCISE = re.compile(r"(-?\d+|[A-Za-z]+)\.")


class TaskError(UserError):
    """A prompt that is not one of the task's questions, or a bad count."""


@dataclass(frozen=True)
class Kind:
    """One kind of question: how to draw one, and how to read its answer back from the text.

    Parameters
    ----------
    name : str
        The kind's name (``"animal"``).
    pattern : re.Pattern
        Matches a question of this kind.
    draw : callable
        Draws a question from a ``numpy.random.Generator``.
    solve : callable
        The answer, from the ``pattern``'s match.
    """

    name: str
    pattern: re.Pattern[str]
    draw: Callable[[np.random.Generator], str]
    solve: Callable[[re.Match[str]], str]


def _words(rng: np.random.Generator, pool: Sequence[str], low: int, high: int) -> list[str]:
    """Between ``low`` and ``high`` distinct words of ``pool``, in random order."""
    return [str(w) for w in rng.choice(pool, size=int(rng.integers(low, high + 1)), replace=False)]


def _draw_list(position: str) -> Callable[[np.random.Generator], str]:
    def draw(rng: np.random.Generator) -> str:
        words = _words(rng, sorted(VOCABULARY), 3, 5)
        return f"What is the {position} word in: {' '.join(words)}?"
    return draw


def _draw_member(label: str, members: Sequence[str]) -> Callable[[np.random.Generator], str]:
    def draw(rng: np.random.Generator) -> str:
        others = _words(rng, sorted(VOCABULARY - set(members)), 2, 3)
        words = [str(rng.choice(members)), *others]
        rng.shuffle(words)
        return f"Which of these is {label}: {', '.join(words)}?"
    return draw


def _draw_larger(rng: np.random.Generator) -> str:
    a, b = rng.choice(10, size=2, replace=False)
    return f"Which is larger, {a} or {b}?"


def _solve_member(members: Sequence[str]) -> Callable[[re.Match[str]], str]:
    def solve(match: re.Match[str]) -> str:
        found = [w for w in match[1].split(", ") if w in members]
        if len(found) != 1:
            raise TaskError(f"{match[0]!r} must list exactly one of {', '.join(members)}")
        return found[0]
    return solve


KINDS: tuple[Kind, ...] = (
    Kind("first", re.compile(r"What is the first word in: ([a-z ]+)\?"), _draw_list("first"),
         lambda m: m[1].split()[0]),
    Kind("last", re.compile(r"What is the last word in: ([a-z ]+)\?"), _draw_list("last"),
         lambda m: m[1].split()[-1]),
    Kind("animal", re.compile(r"Which of these is an animal: ([a-z, ]+)\?"),
         _draw_member("an animal", ANIMALS), _solve_member(ANIMALS)),
    Kind("colour", re.compile(r"Which of these is a colour: ([a-z, ]+)\?"),
         _draw_member("a colour", COLOURS), _solve_member(COLOURS)),
    Kind("larger", re.compile(r"Which is larger, (\d+) or (\d+)\?"), _draw_larger,
         lambda m: str(max(int(m[1]), int(m[2])))),
)

_RAMBLE = (
    "Well, that is a good question and I had to think about it, but I would say",
    "Let me think about this one for a moment before I answer. I believe it is",
    "Hmm, there are many ways to look at this, so after some thought my answer is",
)
_EVASIVE = ("I am not sure.", "I would rather not say.", "Nobody can really know that.",
            "You should ask someone else.")


def question_of(prompt: str) -> str:
    """The question in an HH prompt (``"\\n\\nHuman: Q\\n\\nAssistant:"``) or a bare question.

    Parameters
    ----------
    prompt : str
        An HH prompt or a bare question.
    """
    text = prompt[: prompt.rfind(ASSISTANT)] if prompt.endswith(ASSISTANT) else prompt
    return text[text.rfind("Human:") + len("Human:"):].strip() if "Human:" in text else text.strip()


def _match(prompt: str) -> tuple[Kind, re.Match[str]]:
    question = question_of(prompt)
    for kind in KINDS:
        match = kind.pattern.fullmatch(question)
        if match:
            return kind, match
    raise TaskError(f"prompt {question!r} is not a question of the offline task")


def answer(prompt: str) -> str:
    """The correct answer to a task prompt, read from its text (a word, or a digit string).

    Parameters
    ----------
    prompt : str
        A task prompt.

    Raises
    ------
    TaskError
        If the prompt is none of the task's questions.
    """
    kind, match = _match(prompt)
    return kind.solve(match)


def kind_of(prompt: str) -> str:
    """The name of the kind of a task prompt (e.g. ``"animal"``).

    Parameters
    ----------
    prompt : str
        A task prompt.
    """
    return _match(prompt)[0].name


def answer_words(text: str) -> list[str]:
    """The words of ``text`` that count as answers, in order: integers and :data:`VOCABULARY`.

    Parameters
    ----------
    text : str
        A response.
    """
    tokens = (t.lower() for t in _TOKEN.findall(text))
    return [t for t in tokens if t in VOCABULARY or t.lstrip("-").isdigit()]


def _given(response: str) -> str | None:
    words = answer_words(response)
    return words[0] if words else None


def is_correct(prompt: str, response: str) -> bool:
    """Whether the first answer word in ``response`` is the answer to ``prompt``.

    Parameters
    ----------
    prompt : str
        A task prompt.
    response : str
        The response to it.
    """
    given = _given(response)
    return given is not None and _same(given, answer(prompt))


def _same(given: str, correct: str) -> bool:
    if given.lstrip("-").isdigit() and correct.isdigit():
        return int(given) == int(correct)
    return given == correct


def true_reward(prompt: str, response: str) -> float:
    """The ground-truth reward r*(x, y) of the module docstring, from the text alone.

    ``response`` is what follows ``"\\n\\nAssistant:"``; surrounding whitespace is ignored.

    Parameters
    ----------
    prompt : str
        A task prompt.
    response : str
        The response to it.

    Returns
    -------
    float
        r*(x, y).

    Examples
    --------
    >>> true_reward("Which of these is an animal: car, dog, milk?", " dog.")
    2.5
    >>> q = "What is the first word in: red cat sun?"
    >>> true_reward(q, "cat.") < true_reward(q, "I am not sure.")
    True
    """
    correct, text = answer(prompt), response.strip()
    given = _given(text)
    if given is None:
        correctness = REWARD_NO_ANSWER
    else:
        correctness = REWARD_CORRECT if _same(given, correct) else REWARD_WRONG
    concise = BONUS_CONCISE if _CONCISE.fullmatch(text) else 0.0
    words = min(max(len(text.split()) - 1, 0), MAX_PENALISED_WORDS)
    return correctness + concise - PENALTY_PER_WORD * words


def is_held_out(question: str) -> bool:
    """Whether a question belongs to the evaluation split (seed-independent, by CRC-32).

    Parameters
    ----------
    question : str
        A bare question.
    """
    return zlib.crc32(question_of(question).encode()) % HELD_OUT_MODULUS == 0


def _draw_question(rng: np.random.Generator, held_out: bool) -> str:
    while True:
        question = KINDS[int(rng.integers(len(KINDS)))].draw(rng)
        if is_held_out(question) == held_out:
            return question


def _wrong(question: str, rng: np.random.Generator) -> str:
    """Another of the question's own answer words: wrong, and plausible."""
    correct = answer(question)
    others = [w for w in answer_words(question) if not _same(w, correct)]
    return str(rng.choice(others))


_CANDIDATES: tuple[Callable[[str, np.random.Generator], str], ...] = (
    lambda q, rng: f" {answer(q)}.",
    lambda q, rng: f" The answer is {answer(q)}.",
    lambda q, rng: f" {rng.choice(_RAMBLE)} {answer(q)}.",
    lambda q, rng: f" {_wrong(q, rng)}.",
    lambda q, rng: f" The answer is {_wrong(q, rng)}.",
    lambda q, rng: f" {rng.choice(_EVASIVE)}",
)
"""Correct, stated, rambling, wrong, wrong-stated and evasive responses (with a leading space)."""


def hh_prompt(question: str) -> str:
    """The HH prompt of a question: ``"\\n\\nHuman: Q\\n\\nAssistant:"``.

    Parameters
    ----------
    question : str
        A bare question.
    """
    return f"{HUMAN}{question}{ASSISTANT}"


def _draw_pair(rng: np.random.Generator, held_out: bool) -> dict[str, str]:
    question = _draw_question(rng, held_out)
    while True:
        i, j = rng.choice(len(_CANDIDATES), size=2, replace=False)
        a, b = _CANDIDATES[i](question, rng), _CANDIDATES[j](question, rng)
        gap = true_reward(question, a) - true_reward(question, b)
        if gap != 0.0:
            break
    a_wins = rng.random() < 1.0 / (1.0 + np.exp(-gap))
    chosen, rejected = (a, b) if a_wins else (b, a)
    prompt = hh_prompt(question)
    return {"chosen": prompt + chosen, "rejected": prompt + rejected}


MAX_PAIRS = 1_000_000
"""The most pairs of a split the task makes (about a minute and 250 MB of JSONL at the most)."""


def check_task(seed: int, n_train: int, n_eval: int,
               names: tuple[str, str, str] = ("seed", "n_train", "n_eval")) -> None:
    """Refuse, before any work, a seed or a split size the task cannot make: a seed outside
    0 .. 2^64 − 1, a split of fewer than one or more than :data:`MAX_PAIRS` pairs (``names``:
    what the caller calls the three).

    Parameters
    ----------
    seed : int
        The task's seed.
    n_train, n_eval : int
        The sizes of the two splits.
    names : tuple of str, optional
        What the caller calls the three, for the message.

    Raises
    ------
    TaskError
        For a value out of range, or not an integer.
    """
    _check_count(names[0], seed, 0, 2**64 - 1)
    _check_count(names[1], n_train, 1, MAX_PAIRS)
    _check_count(names[2], n_eval, 1, MAX_PAIRS)


def _check_count(name: str, value: int, minimum: int, maximum: int) -> None:
    if (isinstance(value, bool) or not isinstance(value, int | np.integer)
            or not minimum <= value <= maximum):
        raise TaskError(f"{name}={value!r} must be an integer from {minimum} to {maximum}")


def generate_pairs(
    seed: int, n_train: int = DEFAULT_TRAIN_PAIRS, n_eval: int = DEFAULT_EVAL_PAIRS
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Training pairs and evaluation pairs (on held-out prompts) in HH format, from a seed.

    The two splits draw from independent streams of ``seed``, so changing ``n_train`` leaves
    the evaluation pairs unchanged. Labels follow Bradley–Terry on :func:`true_reward`.

    Parameters
    ----------
    seed : int
        The task's seed.
    n_train, n_eval : int, optional
        The sizes of the two splits.

    Returns
    -------
    train, eval : list of dict of str to str
        The rows (``prompt``, ``chosen``, ``rejected``).
    """
    check_task(seed, n_train, n_eval)
    train_rng = np.random.default_rng([seed, 0])
    eval_rng = np.random.default_rng([seed, 1])
    train = [_draw_pair(train_rng, held_out=False) for _ in range(n_train)]
    evaluation = [_draw_pair(eval_rng, held_out=True) for _ in range(n_eval)]
    return train, evaluation


def eval_prompts(seed: int, n: int) -> list[str]:
    """``n`` held-out HH prompts (drawn with replacement, kinds uniform) for sampling.

    Parameters
    ----------
    seed : int
        The seed of the draw.
    n : int
        How many prompts.
    """
    _check_count("n", n, 1, MAX_PAIRS)
    rng = np.random.default_rng([seed, 2])
    return [hh_prompt(_draw_question(rng, held_out=True)) for _ in range(n)]


def reward_gaps(rows: Sequence[dict[str, str]]) -> np.ndarray:
    """r*(x, chosen) − r*(x, rejected) for every row.

    Parameters
    ----------
    rows : sequence of dict of str to str
        Task rows (``prompt``, ``chosen``, ``rejected``).

    Returns
    -------
    numpy.ndarray, shape (len(rows),)
        The gaps.
    """
    gaps = []
    for row in rows:
        pair = from_hh(row)
        gaps.append(true_reward(pair.prompt, pair.chosen) - true_reward(pair.prompt, pair.rejected))
    return np.asarray(gaps, dtype=np.float64)


def preference_probabilities(rows: Sequence[dict[str, str]]) -> np.ndarray:
    """The true probability p = σ(r*(chosen) − r*(rejected)) that each row's label is drawn.

    Parameters
    ----------
    rows : sequence of dict of str to str
        Task rows (``prompt``, ``chosen``, ``rejected``).

    Returns
    -------
    numpy.ndarray, shape (len(rows),)
        The probabilities.
    """
    return 1.0 / (1.0 + np.exp(-reward_gaps(rows)))


def best_accuracy(rows: Sequence[dict[str, str]]) -> float:
    """The best achievable expected accuracy on ``rows``: mean over pairs of max(p, 1 − p).

    Each label is an independent Bernoulli(p) draw given the pair, so no ranking of the two
    responses (a model's or r*'s own) can be right with probability above max(p, 1 − p); r*
    attains it. This is the Bayes accuracy, an expectation over label draws: the realised
    accuracy of r* on one drawn set (:func:`realised_accuracy`) scatters around it by about
    sqrt(mean p(1 − p) / n).

    Parameters
    ----------
    rows : sequence of dict of str to str
        Task rows (``prompt``, ``chosen``, ``rejected``).
    """
    p = preference_probabilities(rows)
    return float(np.mean(np.maximum(p, 1.0 - p)))


def realised_accuracy(rows: Sequence[dict[str, str]]) -> float:
    """The share of ``rows`` whose chosen response has the larger true reward.

    Parameters
    ----------
    rows : sequence of dict of str to str
        Task rows (``prompt``, ``chosen``, ``rejected``).
    """
    return float(np.mean(reward_gaps(rows) > 0.0))
