"""Pairs rendered through the tokenizer's chat template, as TRL renders conversational data.

A :class:`~llm.data.pairs.PreferencePair` is text: HH and SHP prompts are transcripts of
``\\n\\nHuman: ...`` and ``\\n\\nAssistant: ...`` turns ending in ``\\n\\nAssistant:``, TRL rows a
plain prompt. Where the tokenizer has a chat template (a model tuned for chat: Llama, Qwen,
Mistral), :func:`chat_token_ids` turns each pair into messages (:func:`conversation`) and renders
them through ``tokenizer.apply_chat_template`` as TRL's ``DPOTrainer`` does for conversational
rows: the prompt with the generation prompt (``add_generation_prompt=True``), the prompt with each
response, and each response's tokens are those after the longest common prefix of the rendered
prompt and the rendered prompt + response. Only those are scored; no end-of-text token is
appended, as the template ends the turn itself. Without a chat template (GPT-2), pairs keep the
plain format (:func:`llm.data.batching.tokenize_pairs`).
"""

from __future__ import annotations

import re
from typing import Any

from .pairs import PreferencePair

TURN = re.compile(r"\n\n(Human|Assistant):")
ROLES = {"Human": "user", "Assistant": "assistant"}

Message = dict[str, str]


def has_chat_template(tokenizer: Any) -> bool:
    """Whether ``tokenizer`` carries a chat template (``tokenizer.chat_template``).

    Parameters
    ----------
    tokenizer : transformers tokenizer
        The tokenizer.
    """
    return bool(getattr(tokenizer, "chat_template", None))


def conversation(prompt: str, response: str) -> tuple[list[Message], list[Message]]:
    """The messages of ``prompt`` and of the ``response`` that follows it.

    An HH-style prompt (``\\n\\nHuman:`` / ``\\n\\nAssistant:`` turns) becomes one message per
    turn, text before the first turn a system message; its final ``\\n\\nAssistant:`` opens the
    response, whose own later turns (HH keeps a longer transcript's extra turns in its response)
    become messages too. Any other prompt is one user message, the response one assistant
    message. Contents are stripped of surrounding whitespace.

    Parameters
    ----------
    prompt : str
        The prompt, HH-style or plain.
    response : str
        The response that follows it.

    Returns
    -------
    prompt_messages, response_messages : list of dict
        The messages (``role``, ``content``).

    Examples
    --------
    >>> conversation("\\n\\nHuman: Hi\\n\\nAssistant:", " Hello.")
    ([{'role': 'user', 'content': 'Hi'}], [{'role': 'assistant', 'content': 'Hello.'}])
    >>> conversation("What is 1 + 1?", " 2.")
    ([{'role': 'user', 'content': 'What is 1 + 1?'}], [{'role': 'assistant', 'content': '2.'}])
    """
    if not TURN.search(prompt):
        return ([{"role": "user", "content": prompt.strip()}],
                [{"role": "assistant", "content": response.strip()}])
    turns = _turns(prompt + response)
    asked = len(_turns(prompt))
    if prompt.rstrip().endswith("Assistant:"):
        asked -= 1  # the empty assistant turn that ends the prompt is the response's
    return turns[:asked], turns[asked:]


def _turns(transcript: str) -> list[Message]:
    parts = TURN.split(transcript)  # [preamble, role, text, role, text, ...]
    messages = [{"role": "system", "content": parts[0].strip()}] if parts[0].strip() else []
    messages += [{"role": ROLES[role], "content": text.strip()}
                 for role, text in zip(parts[1::2], parts[2::2], strict=True)]
    return messages


def chat_token_ids(pairs: list[PreferencePair], tokenizer: Any
                   ) -> list[tuple[list[int], list[int], list[int]]]:
    """(prompt, chosen, rejected) token ids of each pair rendered through the chat template.

    Parameters
    ----------
    pairs : list of PreferencePair
        The pairs as text.
    tokenizer : transformers tokenizer
        A tokenizer with a chat template.

    Returns
    -------
    list of (list of int, list of int, list of int)
        The prompt's, the chosen and the rejected response's token ids of each pair.
    """
    out = []
    for pair in pairs:
        asked, chosen = conversation(pair.prompt, pair.chosen)
        _, rejected = conversation(pair.prompt, pair.rejected)
        prompt = _render(tokenizer, asked, add_generation_prompt=True)
        with_chosen = _render(tokenizer, asked + chosen)
        with_rejected = _render(tokenizer, asked + rejected)
        cut = min(_common_prefix(prompt, with_chosen), _common_prefix(prompt, with_rejected))
        out.append((prompt[:cut], with_chosen[cut:], with_rejected[cut:]))
    return out


def _render(tokenizer: Any, messages: list[Message], add_generation_prompt: bool = False
            ) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False,
                                         add_generation_prompt=add_generation_prompt)
    return tokenizer(text, add_special_tokens=False)["input_ids"]  # the template holds them


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def prompt_token_ids(tokenizer: Any, prompt: str, chat: bool) -> list[int]:
    """The token ids a model continues to answer ``prompt``: rendered with the generation prompt
    through the chat template (``chat``), else the plain text's.

    Parameters
    ----------
    tokenizer : transformers tokenizer
        The model's tokenizer.
    prompt : str
        The prompt.
    chat : bool
        Render through the chat template.

    Returns
    -------
    list of int
        The token ids.
    """
    if chat:
        return _render(tokenizer, conversation(prompt, "")[0], add_generation_prompt=True)
    return tokenizer(prompt, add_special_tokens=False)["input_ids"]
