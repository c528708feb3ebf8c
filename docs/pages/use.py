"""The "Use it" pages: the loss in your own training loop and in TRL, the data formats with real
sample rows, run folders and their metrics, and how to choose f, Ψ and the form.

Nothing here is a second copy of a reference kept elsewhere: the TRL section and the run-folder
reference are rendered from ``llm/README.md`` when the site is built, the metric names from
``llm.metrics``' docstring, the sample rows from ``tests/fixtures``, and the snippet below is run
by ``tests/test_docs.py``.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path

from upo_theory import FORMS, PSIS, derive, registered

from .. import markdown, numpydoc
from ..html import code_block, esc, math, note, readable, table
from ..site import Page
from .divergences import admissibility, link, page_path

ROOT = Path(__file__).resolve().parents[2]
LLM_README = ROOT / "llm" / "README.md"
FIXTURES = ROOT / "tests" / "fixtures"
TRL_SECTION = "Inside TRL"
RUN_FOLDER_SECTION = "A run folder"
REPO_PAGES: dict[str, str] = {
    "llm/README.md": "use-runs.html",
    "docs/results/experiment.md": "results.html",
    "README.md": "getting-started.html",
}
"""Files of the repository that the site renders, and the page that shows each."""

LOOP_SNIPPET = '''\
import torch
from llm.losses import preference_loss

torch.manual_seed(0)
vocab, batch, length = 50, 8, 12
policy = torch.nn.Sequential(torch.nn.Embedding(vocab, 32), torch.nn.Linear(32, vocab))
reference = torch.nn.Sequential(torch.nn.Embedding(vocab, 32), torch.nn.Linear(32, vocab))
reference.load_state_dict(policy.state_dict())      # π_ref: the frozen starting point
reference.requires_grad_(False)
optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-2)


def sequence_logps(model, tokens):
    """Summed log-probability of each sequence's tokens after the first (the response)."""
    logps = model(tokens[:, :-1]).log_softmax(-1)
    return logps.gather(-1, tokens[:, 1:, None]).squeeze(-1).sum(-1)


chosen = torch.randint(vocab, (batch, length))        # token ids: prompt + chosen response
rejected = torch.randint(vocab, (batch, length))      # prompt + rejected response
with torch.no_grad():                                 # π_ref's log-probs, computed once
    ref_chosen = sequence_logps(reference, chosen)
    ref_rejected = sequence_logps(reference, rejected)

for step in range(20):
    losses, statistic = preference_loss(
        sequence_logps(policy, chosen), sequence_logps(policy, rejected),
        ref_chosen, ref_rejected,
        beta=0.1, psi="identity", f="js", form="per_response")   # JS-IUPO
    optimizer.zero_grad()
    losses.mean().backward()
    optimizer.step()
print(f"loss {losses.mean().item():.3f}, mean statistic {statistic.mean().item():.2f} "
      f"(IUPO's target 1/(2β) = 5)")
'''
"""A complete training loop with the loss: a toy policy, its frozen reference, random pairs."""

Log = Callable[[str], None]


def _readme_section(title: str, log: Log, shift: int = 0) -> str | None:
    text = LLM_README.read_text(encoding="utf-8") if LLM_README.is_file() else ""
    found = markdown.section(text, title)
    if found is None or not found.strip():
        log(f"llm/README.md has no “{title}” section yet")
        return None
    return markdown.to_html(found, shift=shift, pages=REPO_PAGES)


def loop_page(log: Log) -> Page:
    """The loss in your own loop (a runnable snippet) and inside TRL (from llm/README.md)."""
    trl = _readme_section(TRL_SECTION, log, shift=1)
    options = table(
        ["argument", "values", "meaning"],
        [["<code>psi</code>", ", ".join(f"<code>{p}</code>" for p in PSIS),
          readable("identity: the squared loss (s − 1/(2β))^2 (IPO eq. 10, IUPO eq. 24); "
                   "logit: −log σ(β s) (DPO eq. 4, f-DPO eq. 5)")],
         ["<code>f</code>", ", ".join(f'<a href="{page_path(d)}"><code>{esc(d.name)}</code></a>'
                                      for d in registered()) + ", or an expression in u",
          'the divergence generator; see <a href="use-choosing.html">choosing f and form</a>'],
         ["<code>form</code>", ", ".join(f"<code>{f}</code>" for f in FORMS),
          readable("the pair statistic s: per_response k(t_w) − k(t_l) with k(t) = f'(e^t) "
                   "(eq. 17), or paper, eq. 23")],
         ["<code>beta</code>", readable("β > 0"),
          "the regularisation strength (the paper: 0.1, 0.2, 0.5)"]])
    body = (
        "<p>The loss family is one function, <code>llm.losses.preference_loss</code>. It takes "
        "the sequence log-probabilities of the chosen and rejected responses under the policy "
        "and under the frozen reference, and returns per-pair losses and pair statistics. Any "
        "model that gives you log π(y|x) works; nothing else of <code>llm</code> is needed.</p>"
        "<h2>In your own training loop</h2>"
        "<p>A complete loop, runnable as it stands (the site's tests run it): a toy language "
        "model, its frozen copy as π<sub>ref</sub>, and eight random preference pairs.</p>"
        + code_block(LOOP_SNIPPET, "python")
        + "<p>Replace the toy model and <code>sequence_logps</code> by your model and its "
        "log-probabilities of the response tokens only (mask the prompt), summed over tokens "
        "as the paper does, or averaged per token as TRL does for IPO. Compute the "
        "reference's log-probabilities once, without gradients.</p>"
        + options
        + f'<p>Full reference: <a href="api-llm.losses.html#llm.losses.preference_loss">'
        "<code>preference_loss</code></a>. The trainer of this project "
        "(<code>python -m llm.train</code>) does the same with GPT-2, SFT first, checkpoints "
        'and metrics: see <a href="use-runs.html">run folders and metrics</a>.</p>'
        f"<h2>{TRL_SECTION}</h2>"
        + (trl if trl is not None else note(
            "The TRL integration (<code>llm.trl</code>) is not documented in this checkout "
            f"yet: <code>llm/README.md</code> has no “{TRL_SECTION}” section. Until it has, use "
            "the loop above; the TRL equivalences of the losses are in "
            '<a href="use-choosing.html#trl">choosing f and form</a>.', "warn"))
    )
    return Page("use-loop.html", "The loss in your code", "Use it", body,
                "preference_loss in your own training loop, and inside TRL")


def _rows(path: Path, count: int, convert: Callable | None) -> list[tuple[dict, object]]:
    """The first ``count`` rows of a fixture that the converter accepts, with what it made."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            pair = convert(row) if convert else None
        except Exception:  # a fixture's bad rows (kept there on purpose) are not samples
            continue
        if isinstance(row, dict):
            out.append((row, pair))
        if len(out) == count:
            break
    return out


_FORMATS = (
    ("hh", "hh.jsonl", "from_hh", "Anthropic HH",
     "One JSON object per line with two full transcripts, <code>chosen</code> and "
     "<code>rejected</code>. The prompt is the text up to the last "
     "<code>\\n\\nAssistant:</code> that both share; the rest of each is its response."),
    ("shp", "shp.json", "from_shp", "Stanford SHP",
     "SHP's rows as published: a post's <code>history</code>, two answers "
     "<code>human_ref_A</code> / <code>human_ref_B</code>, <code>labels</code> (1 when A is "
     "preferred) and the scores; pairs whose score ratio is below 2 are filtered out, as in "
     "the DPO paper."),
    ("jsonl", "trl.jsonl", "from_trl", "TRL's explicit-prompt format",
     "TRL's standard preference rows <code>{\"prompt\", \"chosen\", \"rejected\"}</code>, "
     "the responses without the prompt."),
)


def data_page(log: Log) -> Page:
    """Each data format with real rows from the test fixtures and the pair each becomes."""
    try:
        data = importlib.import_module("llm.data.pairs")
    except Exception as err:  # reported, not fatal
        log(f"data formats: llm.data.pairs not importable ({type(err).__name__}: {err})")
        data = None
    parts = []
    for kind, name, converter, title, text in _FORMATS:
        path = FIXTURES / name
        parts.append(f"<h2>{esc(title)} (<code>--data {kind}</code>)</h2><p>{text}</p>")
        if not path.is_file():
            parts.append(note(f"The sample file <code>tests/fixtures/{name}</code> is not in "
                              "this checkout.", "warn"))
            continue
        convert = getattr(data, converter, None) if data else None
        rows = _rows(path, 2, convert)
        parts.append(f"<p>Two rows of <code>tests/fixtures/{esc(name)}</code> (one JSON "
                     "object per line in the file, spread out here):</p>")
        parts.append(code_block("\n".join(json.dumps(r, ensure_ascii=False, indent=2)
                                          for r, _ in rows), "json"))
        pairs = [[esc(repr(p.prompt)), esc(repr(p.chosen)), esc(repr(p.rejected))]
                 for _, p in rows if p is not None]
        if pairs:
            parts.append(f"<p>What <code>llm.data.{converter}</code> makes of them "
                         "(<code>PreferencePair</code>, the one format the trainer uses):</p>"
                         + table(["prompt", "chosen", "rejected"],
                                 [[f"<code>{c}</code>" for c in row] for row in pairs], "wide"))
        parts.append(code_block(f"python -m llm.train --data {kind} --data-path "
                                f"tests/fixtures/{name}", "sh"))
    body = (
        "<p><code>python -m llm.train</code> and <code>python -m llm.experiment</code> read "
        "preference pairs with <code>--data KIND --data-path PATH</code>; without them they use "
        "the offline task of <code>llm.task</code> (HH rows generated with a known true "
        "reward). Every row is converted at the boundary into a "
        "<code>PreferencePair(prompt, chosen, rejected)</code>; rows that cannot be converted "
        "are counted with their line numbers, never silently used. The rows below are the "
        "project's own test fixtures, read when this page was built.</p>"
        + "".join(parts)
    )
    return Page("use-data.html", "Data formats", "Use it", body,
                "HH, SHP and TRL rows, with samples and what they become")


def runs_page(log: Log) -> Page:
    """The run folder and metrics reference, rendered from llm/README.md and llm.metrics."""
    folder = _readme_section(RUN_FOLDER_SECTION, log, shift=1)
    try:
        metrics = numpydoc.render(importlib.import_module("llm.engine.metrics").__doc__)
    except Exception as err:  # reported, not fatal
        log(f"run folders: llm.engine.metrics not importable ({type(err).__name__}: {err})")
        metrics = note(f"<code>llm.metrics</code> is not available: {esc(err)}", "warn")
    body = (
        "<p>Every <code>python -m llm.train</code> writes one run folder, "
        "<code>&lt;out_dir&gt;/&lt;run_name&gt;</code>. The two sections below are rendered "
        "from the trainer's own documentation when the site is built: the folder from "
        "<code>llm/README.md</code>, the metric names from the docstring of "
        "<code>llm.metrics</code>, which writes them.</p>"
        "<h2>What a run folder holds</h2>"
        + (folder if folder is not None else note(
            f"<code>llm/README.md</code> has no “{RUN_FOLDER_SECTION}” section.", "warn"))
        + "<h2>Metrics</h2>" + metrics
        + "<h2>Plotting runs</h2>"
        + code_block("python -m llm.plot runs/a runs/b --out curves.png   # the four curves\n"
                     "python -m docs --runs runs/                          # add them to this site",
                     "sh")
        + "<p>Runs of one loss at one β and several seeds are drawn as their mean with a band "
        'over the seeds. Details in the <a href="cli.html">CLI reference</a>.</p>'
        "<h2>The experiment command</h2>"
        "<p>The paper's experiment (Section 5) is one command: one SFT run, then IPO, "
        "JS-IUPO in the paper form and JS-IUPO in the per-response form at β ∈ {0.1, 0.2, "
        "0.5}, for each seed, all from the same SFT model. Finished runs are reused and a "
        "killed run resumes.</p>"
        + code_block("python -m llm.experiment --out-dir runs/experiment   # the full sweep\n"
                     "python -m llm.experiment --quick                      # the pipeline, in "
                     "seconds\n"
                     "python -m docs --runs runs/experiment                 # its curves here",
                     "sh")
        + '<p>Every option: <a href="cli.html#cli-llm-experiment">CLI reference</a>; what it '
        'measured: <a href="results.html">Experiments</a>.</p>'
    )
    return Page("use-runs.html", "Run folders and metrics", "Use it", body,
                "what llm.train writes, every metric's meaning, the experiment command")


def choosing_page(forms_measured: str) -> Page:
    """Guidance on f, Ψ and the form, from the derivations and what the simulator measured."""
    rows = []
    for div in registered():
        d = derive(div)
        if not d.differentiable:
            use = "not usable: f′ does not exist at u = 1"
        elif not d.admissible:
            use = ("allowed, outside Theorem 3.1: the optimum can put zero mass on responses "
                   "(inf f′ is finite)")
        elif d.sup_f1.is_finite:
            use = "admissible; its reward β f′ is bounded above, by β sup f′"
        else:
            use = "admissible"
        rows.append([link(div), f"<code>{esc(div.name)}</code>", admissibility(d),
                     math(d.sup_f1), esc(use)])
    body = (
        "<p>Three choices make a member of the loss family: Ψ (identity or logit), the "
        "divergence f and, for f other than reverse KL, the form of the pair statistic. What "
        "follows is what the derivations and the measurements of this project say about each; "
        "the defaults of <code>llm.train</code> (<code>--loss iupo --f js --form "
        "per_response</code>) follow it.</p>"
        "<h2>The form: per-response</h2>"
        "<p>Use <code>form=\"per_response\"</code>, s = f′(π(y<sub>w</sub>)/π<sub>ref</sub>("
        "y<sub>w</sub>)) − f′(π(y<sub>l</sub>)/π<sub>ref</sub>(y<sub>l</sub>)). It is the "
        "difference that the optimality conditions contain (eq. 17), so the minimiser of its "
        "loss is the UPO optimum. The paper form of eq. 23 is not antisymmetric in "
        "(y<sub>w</sub>, y<sub>l</sub>), and for a bounded f′ (JS) its target 1/(2β) can be "
        'out of reach (<a href="walkthrough.html#7-the-two-forms-for-jensen-shannon">the '
        "walk-through</a>). For reverse KL the two forms are the same, IPO's h. Measured on "
        "the simulator:</p>"
        + forms_measured
        + "<h2>The divergence f</h2>"
        "<p>Reverse KL (<code>rkl</code>) gives DPO and IPO. Any other f changes how the "
        "implicit reward β f′(π/π<sub>ref</sub>) grows: a bounded f′ (JS, α, Hellinger) caps "
        "how much a preferred response can be pushed up, which limits over-optimisation; an "
        "unbounded one does not. Theorem 3.1's closed-form optimum needs an admissible f.</p>"
        + table(["divergence", "name", "Theorem 3.1", "sup f′", "use"], rows, "wide")
        + "<h2>Ψ: identity or logit</h2>"
        "<p>Ψ = logit (DPO, f-DPO) assumes Bradley–Terry preferences; on a finite dataset with "
        "deterministic preferences it drives the policy to a deterministic one whatever β is. "
        "Ψ = identity (IPO, IUPO) regresses the statistic onto 1/(2β) and keeps the "
        'regularisation (<a href="bandit.html#the-azar-et-al-scenario">Azar et al.\'s '
        "scenario</a> on the simulator).</p>"
        "<h2>β</h2>"
        "<p>Smaller β lets the policy move further from π<sub>ref</sub>: a larger target "
        "1/(2β) and a larger divergence. The paper uses β ∈ {0.1, 0.2, 0.5}; "
        '<a href="results.html">the experiment</a> measures reward against divergence for each.'
        "</p>"
        '<h2 id="trl">In TRL\'s terms</h2>'
        "<p>TRL's <code>DPOTrainer</code> with <code>loss_type=\"ipo\"</code> and "
        "<code>f_divergence_type=\"js_divergence\"</code> is IUPO with f = JS in the "
        "per-response form on per-token mean log-probabilities (<code>--loss iupo --f js "
        "--form per_response --length mean</code> here), up to TRL's scale of JS. TRL has no "
        'paper form. See <a href="use-loop.html">the loss in your code</a>.</p>'
    )
    return Page("use-choosing.html", "Choosing f and form", "Use it", body,
                "which divergence, Ψ and form of the statistic to train with")
