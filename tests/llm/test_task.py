"""The offline preference task: determinism, HH format, held-out prompts, r* and Bradley–Terry."""

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

from llm import task
from llm.data.pairs import PreferencePair, from_hh

SEEDS = st.integers(0, 2**32 - 1)
ASSISTANT = "\n\nAssistant:"

# Answers worked out by hand, not by the code.
HAND_WORKED = [
    ("What is the first word in: red cat sun?", "red"),
    ("What is the first word in: moon dog cup bell ship?", "moon"),
    ("What is the last word in: red cat sun?", "sun"),
    ("What is the last word in: tree hat?", "hat"),
    ("Which of these is an animal: car, dog, milk?", "dog"),
    ("Which of these is an animal: blue, star, hat, frog?", "frog"),
    ("Which of these is a colour: cow, pink, door?", "pink"),
    ("Which is larger, 3 or 8?", "8"),
    ("Which is larger, 7 or 0?", "7"),
]


def hh_split(row):
    """get_hh's rule, written independently: the prompt is everything up to the last Assistant:."""
    cut = row["chosen"].rfind(ASSISTANT) + len(ASSISTANT)
    return row["chosen"][:cut], row["chosen"][cut:], row["rejected"][cut:]


@given(SEEDS)
@settings(max_examples=20)
def test_generation_is_deterministic_from_the_seed(seed):
    assert task.generate_pairs(seed, 15, 5) == task.generate_pairs(seed, 15, 5)
    assert task.eval_prompts(seed, 7) == task.eval_prompts(seed, 7)


def test_different_seeds_give_different_pairs():
    assert task.generate_pairs(0, 50, 20) != task.generate_pairs(1, 50, 20)


@given(SEEDS, st.integers(1, 25), st.integers(1, 25))
@settings(max_examples=20)
def test_train_size_leaves_the_evaluation_split_unchanged(seed, a, b):
    train_a, eval_a = task.generate_pairs(seed, a, 6)
    train_b, eval_b = task.generate_pairs(seed, b, 6)
    assert eval_a == eval_b
    assert train_a[: min(a, b)] == train_b[: min(a, b)]


@given(SEEDS)
@settings(max_examples=20)
def test_rows_are_exact_hh_transcripts(seed):
    train, evaluation = task.generate_pairs(seed, 25, 25)
    for row in train + evaluation:
        assert set(row) == {"chosen", "rejected"}
        for text in row.values():
            assert text.startswith("\n\nHuman: ")
            assert text.count("\n\nHuman: ") == 1 and text.count(ASSISTANT + " ") == 1
        prompt, chosen, rejected = hh_split(row)
        assert row["rejected"].startswith(prompt)
        assert prompt.endswith("?" + ASSISTANT)
        assert chosen != rejected
        for response in (chosen, rejected):
            assert response.startswith(" ") and response.strip() and "\n" not in response
        assert from_hh(row) == PreferencePair(prompt, chosen, rejected)


@given(SEEDS)
@settings(max_examples=10)
def test_held_out_prompts_never_appear_in_training(seed):
    train, evaluation = task.generate_pairs(seed, 300, 60)
    train_prompts = {hh_split(row)[0] for row in train}
    other_seed_train = {hh_split(row)[0] for row in task.generate_pairs(seed + 1, 300, 1)[0]}
    held_out = {hh_split(row)[0] for row in evaluation} | set(task.eval_prompts(seed, 60))
    assert train_prompts.isdisjoint(held_out)
    assert other_seed_train.isdisjoint(held_out)
    assert all(task.is_held_out(p) for p in held_out)
    assert not any(task.is_held_out(p) for p in train_prompts)


def test_every_kind_appears_in_both_splits():
    train, evaluation = task.generate_pairs(0, 500, 200)
    kinds = {kind.name for kind in task.KINDS}
    assert {task.kind_of(hh_split(row)[0]) for row in train} == kinds
    assert {task.kind_of(hh_split(row)[0]) for row in evaluation} == kinds
    assert {task.kind_of(p) for p in task.eval_prompts(0, 200)} == kinds


def test_default_sizes_are_a_few_thousand_training_pairs():
    assert task.DEFAULT_TRAIN_PAIRS >= 2000 and task.DEFAULT_EVAL_PAIRS >= 200


@pytest.mark.parametrize(("question", "correct"), HAND_WORKED)
def test_answers_worked_by_hand(question, correct):
    assert task.answer(question) == correct
    assert task.answer(task.hh_prompt(question)) == correct
    assert task.true_reward(question, f" {correct}.") == task.BEST_REWARD


def _a_wrong_answer(prompt):
    """Another word of the prompt's question (the test's own reading of the question text)."""
    question = task.question_of(prompt)
    words = question[question.index(":") + 1:] if ":" in question else question
    candidates = [w.strip(" ,?") for w in words.replace(" or ", " ").split()]
    return next(w for w in candidates if w and w != task.answer(prompt) and
                (w.isdigit() or w in task.VOCABULARY))


@given(SEEDS)
@settings(max_examples=30)
def test_reward_ranks_correct_above_stated_rambling_evasive_and_wrong(seed):
    prompt = task.eval_prompts(seed, 1)[0]
    a, wrong = task.answer(prompt), _a_wrong_answer(prompt)
    r = {
        "correct": task.true_reward(prompt, f" {a}."),
        "stated": task.true_reward(prompt, f" The answer is {a}."),
        "rambling": task.true_reward(
            prompt, f" Well, let me think about that for quite a while, but I would say {a}."),
        "evasive": task.true_reward(prompt, " I am not sure."),
        "wrong": task.true_reward(prompt, f" {wrong}."),
        "wrong_stated": task.true_reward(prompt, f" The answer is {wrong}."),
    }
    order = ["correct", "stated", "rambling", "evasive", "wrong", "wrong_stated"]
    assert all(r[x] > r[y] for x, y in itertools.pairwise(order)), r


@given(SEEDS)
@settings(max_examples=30)
def test_every_pair_answers_with_words_of_its_own_prompt(seed):
    """Correct and wrong answers alike are words of the question: it must be read to choose."""
    train, _ = task.generate_pairs(seed, 20, 1)
    for row in train:
        pair = from_hh(row)
        prompt, responses = pair.prompt, (pair.chosen, pair.rejected)
        offered = set(task.answer_words(task.question_of(prompt)))
        for response in responses:
            assert set(task.answer_words(response)) <= offered


@given(st.text(max_size=200))
def test_reward_is_bounded_for_any_text(response):
    value = task.true_reward("Which of these is an animal: car, dog, milk?", response)
    lowest = task.REWARD_WRONG - task.PENALTY_PER_WORD * task.MAX_PENALISED_WORDS
    assert lowest <= value <= task.BEST_REWARD
    assert (value == task.BEST_REWARD) == (response.strip().lower() == "dog.")


def test_unknown_prompt_is_an_error():
    with pytest.raises(task.TaskError, match="not a question"):
        task.true_reward("\n\nHuman: Tell me a joke.\n\nAssistant:", " No.")


@pytest.mark.parametrize("question", ["Which of these is an animal: car, milk?",
                                      "Which of these is a colour: red, blue, hat?"])
def test_membership_question_without_a_unique_answer_is_an_error(question):
    with pytest.raises(task.TaskError, match="exactly one"):
        task.answer(question)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_counts_are_errors(bad):
    with pytest.raises(task.TaskError, match="n_train"):
        task.generate_pairs(0, bad, 5)


def test_label_frequencies_match_bradley_terry():
    """Within each reward gap |g|, the better response is chosen with frequency σ(|g|)."""
    train, _ = task.generate_pairs(7, 6000, 1)
    gaps = task.reward_gaps(train)
    strengths = np.round(np.abs(gaps), 9)
    tested = 0
    for g in np.unique(strengths):
        rows = strengths == g
        if rows.sum() < 300:
            continue
        expected = scipy.special.expit(g)
        observed = np.mean(gaps[rows] > 0)
        se = np.sqrt(expected * (1 - expected) / rows.sum())
        assert abs(observed - expected) < 4 * se, (g, observed, expected)
        tested += 1
    assert tested >= 5


def test_best_accuracy_is_the_expected_accuracy_of_the_truth():
    _, evaluation = task.generate_pairs(11, 1, 4000)
    p = scipy.special.expit(task.reward_gaps(evaluation))
    best = task.best_accuracy(evaluation)
    assert best == pytest.approx(np.mean(np.maximum(p, 1 - p)), rel=1e-12)
    assert 0.6 < best < 0.95
    se = np.sqrt(np.mean(p * (1 - p)) / len(evaluation))
    assert abs(task.realised_accuracy(evaluation) - best) < 4 * se


@given(SEEDS)
@settings(max_examples=20)
def test_swapping_labels_flips_probabilities_but_not_the_best_accuracy(seed):
    rows, _ = task.generate_pairs(seed, 20, 1)
    swapped = [{"chosen": r["rejected"], "rejected": r["chosen"]} for r in rows]
    p, q = task.preference_probabilities(rows), task.preference_probabilities(swapped)
    np.testing.assert_allclose(p + q, 1.0, rtol=1e-12)
    assert task.best_accuracy(swapped) == pytest.approx(task.best_accuracy(rows), rel=1e-12)


def test_cli_writes_both_splits(tmp_path, capsys):
    path = tmp_path / "task.jsonl"
    assert task.main(["--write", str(path), "--seed", "3", "--n-train", "20", "--n-eval", "5"]) == 0
    train, evaluation = task.generate_pairs(3, 20, 5)
    assert [json.loads(line) for line in path.read_text().splitlines()] == train
    eval_path = tmp_path / "task.eval.jsonl"
    assert [json.loads(line) for line in eval_path.read_text().splitlines()] == evaluation
    assert "best achievable eval accuracy" in capsys.readouterr().out


def test_cli_user_error_exits_2_without_traceback():
    done = subprocess.run([sys.executable, "-m", "llm.task", "--n-train", "0"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "n_train=0" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(("argv", "message"), [
    (["--seed", "-1"], "seed=-1 must be an integer from 0"),
    (["--n-train", "1000000000"], "n_train=1000000000 must be an integer from 1 to 1000000"),
    (["--n-eval", "0"], "n_eval=0"),
])
def test_seeds_and_sizes_are_bounded_before_any_work(tmp_path, capsys, argv, message):
    """A negative seed was a NumPy traceback, 10^9 pairs an unbounded run (issue 28)."""
    with pytest.raises(SystemExit) as stop:
        task.main([*argv, "--write", str(tmp_path / "task.jsonl")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_the_trainer_bounds_the_offline_task_before_any_work(tmp_path):
    from llm.config import TrainConfig
    from llm.data.offline_task import TaskError
    from llm.run import run_training

    with pytest.raises(TaskError, match="offline_train_pairs=2000000"):
        run_training(TrainConfig(offline_train_pairs=2_000_000, out_dir=str(tmp_path)))
    assert not list(tmp_path.iterdir())
