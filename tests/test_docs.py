"""The documentation site: it builds, every page exists, links and images resolve, the maths is
MathML (no LaTeX source left), and what the pages print is what the code derived."""

from __future__ import annotations

import html
import json
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from docs import markdown
from docs.__main__ import main
from docs.build import build
from docs.config import BuildConfig, BuildError
from docs.html import esc, math, readable
from upo_theory import U, derive, get_divergence, registered

LATEX = re.compile(r"\\(frac|left|right|mathbb|mathcal|begin|end|beta|pi|log|sum)\b|\\\(|\\\[|\$")


class _Scan(HTMLParser):
    """Collects links, image sources, element ids and the visible text outside pre/code."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.ids: set[str] = set()
        self.text: list[str] = []
        self.literal: list[str] = []
        self._literal_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if tag == "img":
            self.images.append(a.get("src") or "")
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag in ("pre", "code"):
            self._literal_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("pre", "code"):
            self._literal_depth -= 1

    def handle_data(self, data: str) -> None:
        (self.literal if self._literal_depth else self.text).append(data)


def _scan(path: Path) -> _Scan:
    scan = _Scan()
    scan.feed(path.read_text(encoding="utf-8"))
    return scan


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    report = build(BuildConfig(out=out, plots="none"))
    assert report.pages, "the build wrote no page"
    return out


def test_every_page_exists(site: Path) -> None:
    expected = ["index.html", "getting-started.html", "math.html", "walkthrough.html",
                "claims.html", "divergences.html", "bandit.html", "results.html", "cli.html",
                "api-upo_theory.html", "style.css"]
    expected += [f"divergence-{d.name}.html" for d in registered()]
    missing = [name for name in expected if not (site / name).is_file()]
    assert not missing, f"pages not built: {missing}"


def test_internal_links_and_images_resolve(site: Path) -> None:
    scans = {p.name: _scan(p) for p in site.glob("*.html")}
    broken = []
    for name, scan in scans.items():
        for href in scan.links:
            if re.match(r"[a-z]+:", href):
                continue
            target, _, anchor = href.partition("#")
            target = target or name
            if not target.endswith(".html"):
                if not (site / target).is_file():
                    broken.append(f"{name}: link {href}")
            elif target not in scans:
                broken.append(f"{name}: link {href}")
            elif anchor and anchor not in scans[target].ids:
                broken.append(f"{name}: anchor {href}")
        broken += [f"{name}: image {src}" for src in scan.images if not (site / src).is_file()]
    assert not broken, broken


def test_no_latex_source_and_mathml_present(site: Path) -> None:
    leftovers = []
    for page in site.glob("*.html"):
        scan = _scan(page)
        for chunk in scan.text:
            if LATEX.search(chunk):
                leftovers.append(f"{page.name}: {chunk.strip()[:80]!r}")
        for chunk in scan.literal:
            if re.search(r"\\(frac|mathbb|left|right|begin)\b", chunk):
                leftovers.append(f"{page.name} (code): {chunk.strip()[:80]!r}")
    assert not leftovers, leftovers
    for name in ("math.html", "walkthrough.html", "divergences.html", "divergence-js.html"):
        assert '<math xmlns="http://www.w3.org/1998/Math/MathML"' in (site / name).read_text()


@pytest.mark.parametrize("name", [d.name for d in registered()])
def test_divergence_page_prints_the_derivation(site: Path, name: str) -> None:
    """The page shows SymPy's own f and f′ and the verdict of Theorem 3.1 for that f."""
    d = derive(get_divergence(name))
    page = (site / f"divergence-{name}.html").read_text(encoding="utf-8")
    assert math(sp.Eq(sp.Symbol("f(u)"), d.f, evaluate=False)) in page
    if d.differentiable:
        assert math(sp.Eq(sp.Symbol("f′(u)"), d.f1, evaluate=False)) in page
    verdict = "admissible" if d.admissible else "not admissible"
    assert f"badge-{verdict.replace(' ', '-')}" in page
    assert len(re.findall(r"<td>", page)) >= 2 * len(d.checks)


def test_claims_page_lists_every_result(site: Path) -> None:
    page = (site / "claims.html").read_text(encoding="utf-8")
    total = int(re.search(r"(\d+) results", page).group(1))
    rows = page.count('<span class="badge badge-proven">PROVEN</span></td>') + page.count(
        '<span class="badge badge-refuted">REFUTED</span></td>') + page.count(
        '<span class="badge badge-not-applicable">NOT APPLICABLE</span></td>')
    assert rows == total > 0
    refuted = page.count('<span class="badge badge-refuted">REFUTED</span></td>')
    assert page.count('<td><div class="counterexample">') == refuted  # each with its values


def test_getting_started_quotes_the_readme(site: Path) -> None:
    """Every command of the README's quick start and tour is on the page, as the README has it."""
    from docs.pages.start import QUOTED_SECTIONS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    page = (site / "getting-started.html").read_text(encoding="utf-8")
    commands = []
    for title in QUOTED_SECTIONS:
        section = markdown.section(readme, title) or ""
        commands += re.findall(r"```[a-z]*\n(.*?)\n```", section, flags=re.S)
        commands += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", section, flags=re.S))
    assert commands, "the README has no quick-start command to quote"
    missing = [c for c in commands if esc(c) not in page]
    assert not missing, missing


def test_bad_runs_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path), "--runs", str(tmp_path / "nope")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope" in err


def test_unknown_plot_mode_is_refused() -> None:
    with pytest.raises(BuildError, match="plots='some'"):
        BuildConfig(plots="some")  # type: ignore[arg-type]


def _numeric_entity(m: re.Match[str]) -> str:
    """HTML's named entities (&InvisibleTimes;, &ExponentialE;) as XML character references."""
    if m.group(1) in ("lt", "gt", "amp", "quot", "apos"):
        return m.group(0)
    return "".join(f"&#{ord(c)};" for c in html.unescape(m.group(0)))


_COEFF = st.integers(min_value=-9, max_value=9)


@given(st.lists(_COEFF, min_size=1, max_size=4), st.sampled_from([sp.log, sp.sqrt, sp.exp]))
def test_mathml_is_well_formed(coeffs: list[int], func: sp.FunctionClass) -> None:
    """Any expression in u prints as one well-formed <math> element without LaTeX."""
    expr = sum(c * U**i for i, c in enumerate(coeffs)) + func(U + 1)
    out = math(expr, display=True)
    root = ET.fromstring(re.sub(r"&([A-Za-z]+);", _numeric_entity, out))
    assert root.tag.endswith("math") and root.get("display") == "block"
    assert not LATEX.search(out)


@given(st.text(alphabet=st.characters(blacklist_characters="`*[]!|#\\_", codec="utf-8"),
               max_size=60))
def test_markdown_paragraph_is_escaped_text(text: str) -> None:
    """Text without markup renders as itself, escaped: nothing in it becomes a tag."""
    html = markdown.inline(text)
    assert html == esc(text)


@given(st.text(max_size=60))
def test_readable_leaves_no_markup_but_subscripts(text: str) -> None:
    out = readable(text)
    assert re.sub(r"</?sub>", "", out).count("<") == 0


def _fake_run(folder: Path, loss: str, beta: float, reward: float, form: str = "paper") -> Path:
    """A run folder in llm.train's layout: config.json, metrics.jsonl and truth.json."""
    from llm.config import TrainConfig

    folder.mkdir(parents=True)
    config = TrainConfig(loss=loss, beta=beta, form=form, truth_eval_prompts=0)
    (folder / "config.json").write_text(config.to_json())
    rows = [{"step": s, "stage": "pref", "split": split, "loss": 1.0 / s,
             "rewards/accuracies": 0.5 + 0.01 * s, "rewards/margins": 0.1 * s}
            for s in (2, 4, 6) for split in ("train", "eval")]
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    truth = {"reward_policy": reward, "reward_policy_se": 0.1, "reward_reference": 0.0,
             "win_rate": 0.6, "kl": 0.2, "kl_se": 0.05, "f_divergence": 0.1,
             "f_divergence_se": 0.02}
    (folder / "truth.json").write_text(json.dumps(truth))
    return folder


def test_run_folders_become_curves_frontier_and_table(tmp_path: Path) -> None:
    from docs.figures import Figures
    from docs.pages.results import results_page
    from docs.plots import runs as run_plots

    _fake_run(tmp_path / "sweep" / "ipo", "ipo", 0.1, 0.25)
    _fake_run(tmp_path / "sweep" / "iupo", "iupo", 0.2, 0.75)
    (tmp_path / "sweep" / "not-a-run").mkdir()
    found = run_plots.find_runs([tmp_path])
    assert [p.name for p in found] == ["ipo", "iupo"]
    loaded = [run_plots.load_run(p) for p in found]
    assert [(r.name, r.beta) for r in loaded] == [("IPO", 0.1), ("IUPO[js, paper]", 0.2)]
    out = tmp_path / "site"
    figs = Figures()
    for name, draw in (("run_curves", lambda p: run_plots.plot_curves(found, p)),
                       ("run_frontier", lambda p: run_plots.plot_frontier(loaded, p))):
        assert draw(out / "img" / f"{name}.png").stat().st_size > 1000
        figs.paths[name] = f"img/{name}.png"
    page = results_page(figs, loaded, out, log=lambda _: None).body
    assert "<td>0.750</td>" in page and "<td>IUPO[js, paper]</td>" in page
    assert 'src="img/run_frontier.png"' in page and 'src="img/run_curves.png"' in page


def test_markdown_blocks() -> None:
    text = ("# Result\n\nIPO **wins** at `beta=0.1`; see [the plot](curves.png) and "
            "[the math](math.html).\n\n| β | acc |\n|---|---|\n| 0.1 | 0.6 |\n\n"
            "- one\n- two\n\n```\npython -m llm.experiment\n```\n")
    html_text = markdown.to_html(text)
    assert "<h2>Result</h2>" in html_text
    assert "<strong>wins</strong>" in html_text and "<code>beta=0.1</code>" in html_text
    assert '<a href="math.html">the math</a>' in html_text
    assert 'href="curves.png"' not in html_text  # a repository path is not a site link
    assert "<td>0.1</td><td>0.6</td>" in html_text
    assert "<li>one</li><li>two</li>" in html_text
    assert "<pre><code>python -m llm.experiment</code></pre>" in html_text


def test_theory_figures_are_drawn(tmp_path: Path) -> None:
    from docs.plots import theory

    for draw in (theory.plot_generators, theory.plot_reward, theory.plot_js_statistics):
        path = draw(tmp_path / f"{draw.__name__}.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


@given(st.floats(0.01, 0.99), st.floats(0.01, 0.99))
def test_js_paper_ceiling_is_log2_minus_reference_term(ref_w: float, ref_l: float) -> None:
    """The JS paper-form statistic is bounded by log 2 − f′(π_ref(y_w)/π_ref(y_l))."""
    from docs.plots.theory import js_paper_ceiling

    ratio = ref_w / ref_l
    expected = np.log(2.0) - np.log(2.0 * ratio / (1.0 + ratio))
    assert js_paper_ceiling(ref_w, ref_l) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_screenshot_renders_a_page(site: Path, tmp_path: Path) -> None:
    from docs.screenshot import screenshot

    png = screenshot(site / "math.html", tmp_path / "math.png", width=800, height=600)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000


def test_screenshot_without_a_site_exits_2(tmp_path: Path, capsys) -> None:
    from docs.screenshot import main as screenshot_main

    assert screenshot_main(["--site", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
