"""The documentation site: it builds, every page exists, links and images resolve, the maths is
MathML (no LaTeX source, no ASCII formula, no raw reST or Markdown left), every page loads the
math font shipped with it, and what the pages print is what the code derived."""

from __future__ import annotations

import html
import json
import re
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
from upo_theory import CLAIM_GROUPS, U, derive, get_divergence, registered

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
                "api-upo_theory.html", "use-loop.html", "use-data.html", "use-runs.html",
                "use-choosing.html", "references.html", "style.css", "fonts/OFL.txt",
                "fonts/STIXTwoMath-Regular.ttf", "api-llm.losses.html",
                "api-upo_theory.derivation.html", "api-upo_theory.optimum.html",
                "api-sim.training.html"]
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


def test_claims_page_follows_the_report(site: Path) -> None:
    """The central claim, then the paper's claims, then the extended checks, each group headed
    by its count; every result a row, every REFUTED row with its counterexample."""
    from upo_theory import verify_all

    page = (site / "claims.html").read_text(encoding="utf-8")
    results = verify_all()
    order = [page.index(f'id="{name}"') for name in ("central-claim", "paper-claims",
                                                       "extended-claims")]
    assert order == sorted(order)
    totals = [int(n) for n in re.findall(r"<p>(\d+) results: ", page)]
    assert totals == [sum(r.group == g for r in results) for g in CLAIM_GROUPS]
    rows = sum(page.count(f'<span class="badge badge-{s}">{s.upper().replace("-", " ")}</span>'
                          "</td>") for s in ("proven", "refuted", "not-applicable", "undecided"))
    assert rows == len(results) > 0
    refuted = page.count('<span class="badge badge-refuted">REFUTED</span></td>')
    assert page.count('<td><div class="counterexample">') == refuted  # each with its values
    assert "every admissible f" in page[order[0]:order[1]]


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
    missing = [c for c in commands if c not in html.unescape(page)]
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


@given(st.text(alphabet=st.characters(blacklist_characters="`*[]!|#\\_<>&", codec="utf-8",
                                      blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
               max_size=60).filter(lambda s: s.strip() == s and not re.search(r"^[-+\d]|\s\s",
                                                                              s)))
def test_markdown_paragraph_keeps_its_text(text: str) -> None:
    """Text without markup comes out as itself: nothing added, nothing lost, no tag but MathML."""
    out = markdown.inline(text)
    visible = html.unescape(re.sub(r"<[^>]+>", "", out))
    assert re.sub(r"\s+", "", visible) == re.sub(r"\s+", "", text.replace("'", "′")) or \
        re.sub(r"\s+", "", visible) == re.sub(r"\s+", "", text)
    assert not re.search(r"<(?!/?(m[a-z]+|math)\b)[a-z]", out)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=60))
def test_readable_is_text_and_well_formed_mathml(text: str) -> None:
    """Any text becomes escaped prose and <math> elements, and the whole is well-formed XML."""
    out = readable(text)
    assert re.sub(r"<math\b.*?</math>", "", out, flags=re.S).count("<") == 0
    ET.fromstring(f"<p>{re.sub(r'&([A-Za-z]+);', _numeric_entity, out)}</p>")


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
    text = ("# Result\n\nIPO **wins** at `beta=0.1`; see [the plot](curves.png), "
            "[the math](math.html), [the trainer](llm/README.md) and `llm/README.md`.\n\n"
            "| β | acc |\n|---|---|\n| 0.1 | 0.6 |\n\n- one\n- two\n\n"
            "```\npython -m llm.experiment\n```\n\n![IPO against JS-IUPO](curves.png)\n")
    out = markdown.to_html(text, asset=lambda src: f"img/{src}",
                           pages={"llm/README.md": "use-runs.html"})
    assert "<h2>Result</h2>" in out
    assert "<strong>wins</strong>" in out and "<code>beta=0.1</code>" in out
    assert '<a href="math.html">the math</a>' in out
    assert 'href="curves.png"' not in out and "the plot" in out  # a repository path: text
    assert '<a href="use-runs.html">the trainer</a>' in out  # a rendered file: its page
    assert '<a href="use-runs.html"><code>llm/README.md</code></a>' in out
    assert re.search(r"<td>0\.1</td>\s*<td>0\.6</td>", out)
    assert re.search(r"<li>one</li>\s*<li>two</li>", out)
    assert "<pre><code>python -m llm.experiment\n</code></pre>" in out
    assert re.search(r'<figure><img src="img/curves.png" alt="IPO against JS-IUPO"\s*/?>'
                     r"<figcaption>IPO against JS-IUPO</figcaption></figure>", out)


def test_markdown_section_ends_at_the_next_heading_of_its_level() -> None:
    text = "# A\n\n## Inside TRL\n\ntext\n\n### deeper\n\nmore\n\n## Next\n\nother\n"
    assert markdown.section(text, "Inside TRL").strip() == "text\n\n### deeper\n\nmore"
    assert markdown.section(text, "Missing") is None


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




def test_screenshot_without_a_site_exits_2(tmp_path: Path, capsys) -> None:
    from docs.screenshot import main as screenshot_main

    assert screenshot_main(["--site", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


# --- what a reader sees: the font, no raw markup, no ASCII formulas, no reprs -----------------

class _Visible(HTMLParser):
    """The text a reader sees as prose: outside code, pre, math, scripts and signatures."""

    HIDDEN = ("pre", "code", "math", "script", "style")

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.text.append(data)


def _visible(path: Path) -> str:
    scan = _Visible()
    scan.feed(path.read_text(encoding="utf-8"))
    return " ".join(scan.text)


RAW_MARKUP = re.compile(r"``|:(?:func|class|mod|meth|attr|data|obj):`|\]\(|^\s*={4,}\s*$|\*\*\w|"
                        r"(?<![\w*])\*[A-Za-z][^*\n]*\*(?![\w*])|^#{1,6} ", re.M)
REPR = re.compile(r"<class '|PosixPath\(|WindowsPath\(|object at 0x|<function |<module ")
ASCII_MATH = re.compile(r"[A-Za-z]'\(|\^|\*\*|\bpi_|\b[A-Za-zπ]+_(?:ref|w|l)\b|\brbar\b|"
                        r"\bPsibar\b|\bd/d[a-z]|\boo\b")


def test_every_page_loads_the_math_font_shipped_with_the_site(site: Path) -> None:
    from docs.assets import FONT_FAMILY, FONT_FILE

    css = (site / "style.css").read_text(encoding="utf-8")
    assert f'url("{FONT_FILE}")' in css and FONT_FAMILY in css
    assert (site / FONT_FILE).read_bytes()[:4] in (b"\x00\x01\x00\x00", b"OTTO")
    assert "Open Font License" in (site / "fonts" / "OFL.txt").read_text(encoding="utf-8")
    for page in site.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert f'<link rel="preload" href="{FONT_FILE}" as="font"' in text, page.name
        assert '<link rel="stylesheet" href="style.css">' in text, page.name
        assert not re.search(r'(src|href)="(https?:)?//', text.split("<body>")[0]), page.name


def test_no_page_shows_raw_markup_a_repr_or_an_ascii_formula(site: Path) -> None:
    found = []
    for page in sorted(site.glob("*.html")):
        text = _visible(page)
        found += [f"{page.name}: markup {m.group(0)!r}" for m in RAW_MARKUP.finditer(text)]
        found += [f"{page.name}: repr {m.group(0)!r}" for m in REPR.finditer(
            page.read_text(encoding="utf-8"))]
        found += [f"{page.name}: ASCII formula {text[max(0, m.start() - 20):m.end() + 10]!r}"
                  for m in ASCII_MATH.finditer(text)]
    assert not found, found[:20]


def test_no_private_name_in_signatures_or_tables(site: Path) -> None:
    leaks = []
    for page in site.glob("api-*.html"):
        text = page.read_text(encoding="utf-8")
        for sig in re.findall(r'<div class="sig"><code>(.*?)</code></div>', text, flags=re.S):
            leaks += [f"{page.name}: {sig[:80]}" for _ in re.finditer(r"[(,*]\s*_\w", sig)]
        leaks += [f"{page.name}: field {m}" for m in re.findall(r"<td><code>(_\w+)</code>", text)]
    assert not leaks, leaks


def test_links_stay_in_the_site_and_ids_are_unique(site: Path) -> None:
    problems = []
    for page in site.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        ids = re.findall(r'\bid="([^"]+)"', text)
        problems += [f"{page.name}: duplicate id {i}" for i in {i for i in ids if ids.count(i) > 1}]
        for href in re.findall(r'href="([^"]+)"', text):
            if re.search(r"\.(md|py|toml)(#|$)", href) or "../" in href or href.startswith("/"):
                problems.append(f"{page.name}: {href}")
    assert not problems, problems
    external = {href for page in site.glob("*.html") if page.name != "references.html"
                for href in re.findall(r'href="(https?://[^"]+)"', page.read_text())}
    assert not external, f"narrative pages link outside the site: {external}"


def test_headings_and_numbered_equations_have_anchors(site: Path) -> None:
    math_page = (site / "math.html").read_text(encoding="utf-8")
    assert re.search(r'<div class="equation" id="eq-11">.*?<a class="eqno" href="#eq-11"',
                     math_page)
    for page in site.glob("*.html"):
        for tag in re.findall(r"<h[23][^>]*>", page.read_text(encoding="utf-8")):
            assert "id=" in tag, f"{page.name}: {tag}"


def test_divergence_pages_are_titled_by_name(site: Path) -> None:
    for div in registered():
        page = (site / f"divergence-{div.name}.html").read_text(encoding="utf-8")
        assert f"<h1>{esc(div.title)}</h1>" in page
        assert "admissible</span> admissible" not in page


def test_cli_page_lists_every_command_with_plain_defaults(site: Path) -> None:
    from docs.pages.reference import CLI_MODULES

    page = (site / "cli.html").read_text(encoding="utf-8")
    for name in CLI_MODULES:
        assert f"python -m {name.removesuffix('.__main__')}" in page
    assert "docs.screenshot" in page and "<code>build/docs</code>" in page
    assert not REPR.search(page)


def test_one_api_page_per_module(site: Path) -> None:
    import importlib
    import pkgutil

    from docs.pages.reference import API_PACKAGES

    for package in API_PACKAGES:
        root = importlib.import_module(package)
        names = [i.name for i in pkgutil.iter_modules(root.__path__) if not i.name.startswith("_")]
        index = (site / f"api-{package}.html").read_text(encoding="utf-8")
        for name in names:
            if (site / f"api-{package}.{name}.html").is_file():
                assert f'href="api-{package}.{name}.html"' in index


def test_use_pages_render_their_sources(site: Path) -> None:
    from docs.pages import use

    data = (site / "use-data.html").read_text(encoding="utf-8")
    for fixture in ("hh.jsonl", "shp.json", "trl.jsonl"):
        first = (use.FIXTURES / fixture).read_text(encoding="utf-8").splitlines()[0]
        row = json.loads(first)
        assert esc(json.dumps(row, ensure_ascii=False, indent=2)) in data, fixture
    runs = (site / "use-runs.html").read_text(encoding="utf-8")
    assert "rewards/margins" in runs and "metrics.jsonl" in runs and "llm.experiment" in runs
    loop = (site / "use-loop.html").read_text(encoding="utf-8")
    assert esc(use.LOOP_SNIPPET.splitlines()[1]) in loop
    readme = use.LLM_README.read_text(encoding="utf-8")
    has_trl = markdown.section(readme, use.TRL_SECTION) is not None
    assert (f'id="{use.TRL_SECTION.lower().replace(" ", "-")}"' in loop) and (
        ("no “Inside TRL” section" in loop) != has_trl)


def test_the_loop_snippet_runs_and_trains(capsys: pytest.CaptureFixture[str]) -> None:
    """The snippet on 'The loss in your code' runs as printed and moves the statistic up."""
    from docs.pages.use import LOOP_SNIPPET

    scope: dict = {}
    exec(compile(LOOP_SNIPPET, "use-loop.html", "exec"), scope)
    losses, statistic = scope["losses"], scope["statistic"]
    assert losses.shape == (8,) and bool(losses.isfinite().all())
    assert float(statistic.detach().mean()) > 0  # pushed towards the target 1/(2β) = 5 from 0
    assert "loss" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["file", "proc"])
def test_unwritable_out_exits_2_before_building(tmp_path: Path, where: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    if where == "file":
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "site"
    else:
        if not Path("/proc/self").is_dir():
            pytest.skip("no /proc here")
        out = Path("/proc/upo-docs-site")
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(out), "--no-plots"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err and "Traceback" not in err


def test_scientific_numbers_never_break() -> None:
    from docs.html import number

    small = number(5.1e-9)
    assert "e-" not in small and "<mn>10</mn><mn>−9</mn>" in small
    assert number(0.5) == '<span class="num">0.5</span>'
    assert number(-0.25) == '<span class="num">−0.25</span>'


@pytest.mark.parametrize(("text", "inside"), [
    ("f'(e^t)", "<msup><mrow><mi>e</mi></mrow><mrow><mi>t</mi></mrow></msup>"),
    ("x^2 + pi_ref", "<msub><mi>π</mi><mrow><mi>ref</mi></mrow></msub>"),
    ("d/dpi [pi_ref f(pi/pi_ref)]", "<mfrac><mi>d</mi><mrow><mi>d</mi><mi>π</mi></mrow></mfrac>"),
    ("lambda and rbar cancel", '<mover accent="true"><mi>r</mi><mo>‾</mo></mover>'),
    ("Ψ\u0304(y) − λ", '<mover accent="true"><mi>Ψ</mi><mo>‾</mo></mover>'),  # a macron
    ("lim_{u->0+} f'(u) = -oo", "<munder><mi>lim</mi>"),
])
def test_plain_text_formulas_become_mathml(text: str, inside: str) -> None:
    out = readable(text)
    assert inside in out
    prose = re.sub(r"<math\b.*?</math>", "", out)
    assert not ASCII_MATH.search(prose), prose


def test_prose_stays_prose() -> None:
    text = "a 3-action problem, 400 steps, the paper's f-DPO in log space (eq. 14), e.g. here"
    assert readable(text) == esc(text).replace("&#x27;", "'")


def test_plot_runs_draws_one_mean_per_method_with_a_band(tmp_path: Path) -> None:
    """Three seeds of two methods: two lines per panel (not six), a band, no accuracy at 0."""
    import matplotlib.pyplot as plt

    import llm.plot as plot

    folders = []
    for seed in range(3):
        for loss in ("ipo", "iupo"):
            folders.append(_fake_run(tmp_path / f"{loss}-{seed}", loss, 0.1, 0.5))
            rows = [{"step": s, "stage": "pref", "split": split, "loss": 1.0 / (s + 1) + seed,
                     "rewards/accuracies": 0.0 if s == 0 else 0.6, "rewards/margins": 0.1 * s}
                    for s in (0, 2, 4) for split in ("train", "eval")]
            (folders[-1] / "metrics.jsonl").write_text(
                "\n".join(json.dumps(r) for r in rows) + "\n")
    drawn = {}
    original = plt.Figure.savefig

    def keep(figure, *args, **kwargs):
        drawn["figure"] = figure
        return original(figure, *args, **kwargs)

    plt.Figure.savefig = keep  # type: ignore[method-assign]
    try:
        plot.plot_runs(folders, tmp_path / "curves.png")
    finally:
        plt.Figure.savefig = original  # type: ignore[method-assign]
    axes = drawn["figure"].axes
    loss_axis, accuracy_axis = axes[0], axes[2]
    assert len(loss_axis.lines) == 2 and len(loss_axis.collections) == 2
    for line in accuracy_axis.lines[:-1]:
        assert 0 not in line.get_xdata()
    assert loss_axis.get_legend() is None and drawn["figure"].legends
