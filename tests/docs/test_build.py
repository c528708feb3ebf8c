"""The documentation site: it builds with Sphinx, every page exists, links and images resolve, no
LaTeX or markup source is left in the prose (formulas are MathJax's, shipped with the site), what
the pages print is what the code derived, and the docs read the code through one module."""

from __future__ import annotations

import ast
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sympy as sp
from docs_helpers import PLAIN, QUOTED, RAW, ROOT

from docs.__main__ import main
from docs.build import build
from docs.config import BuildConfig, BuildError
from upo_theory import CENTRAL_PROOF, derive, get_divergence, registered


class _Scan(HTMLParser):
    """Links, image sources, ids, and the prose: text outside code, scripts and formulas."""

    HIDDEN = ("pre", "code", "script", "style", "kbd", "samp")

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.ids: set[str] = set()
        self.prose: list[str] = []
        self.math: list[str] = []
        self._stack: list[tuple[str, bool, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if tag == "img":
            self.images.append(a.get("src") or "")
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag in ("img", "br", "hr", "meta", "link", "input", "source", "wbr"):
            return
        classes = (a.get("class") or "").split()
        self._stack.append((tag, tag in self.HIDDEN, "math" in classes))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if any(math for _, _, math in self._stack):
            self.math.append(data)
        elif not any(hidden for _, hidden, _ in self._stack):
            self.prose.append(data)


def _scan(path: Path) -> _Scan:
    scan = _Scan()
    scan.feed(path.read_text(encoding="utf-8"))
    return scan


def _pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html")
                  if not p.relative_to(site).parts[0].startswith(("_", ".")))


def _article(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.find("<article")
    return text[start:text.find("</article>", start)] if start >= 0 else text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "site"
    report = build(BuildConfig(out=out, plots="none"))
    assert report.pages, "the build wrote no page"
    return out


def test_every_page_exists(site: Path) -> None:
    expected = ["index.html", "getting-started.html", "math.html", "walkthrough.html",
                "claims.html", "divergences/index.html", "bandit.html", "results/index.html",
                "reference/cli.html", "api/index.html", "api/upo_theory.html",
                "api/llm.losses.html", "api/upo_theory.derivation.html",
                "api/upo_theory.optimum.html",
                "use/loop.html", "use/data.html", "use/runs.html", "use/choosing.html",
                "references.html", "gallery/index.html", "search.html", "searchindex.js",
                "_static/mathjax/tex-chtml.js", "_modules/index.html"]
    expected += [f"divergences/{d.name}.html" for d in registered()]
    missing = [name for name in expected if not (site / name).is_file()]
    assert not missing, f"pages not built: {missing}"
    assert len(_pages(site)) >= 60


def test_internal_links_and_images_resolve(site: Path) -> None:
    scans = {p: _scan(p) for p in _pages(site)}
    broken = []
    for page, scan in scans.items():
        name = page.relative_to(site)
        for href in scan.links:
            if re.match(r"[a-z]+:", href):
                continue
            target, _, anchor = href.partition("#")
            path = (page.parent / target).resolve() if target else page
            if not path.is_file():
                broken.append(f"{name}: link {href}")
            elif anchor and path in scans and anchor not in scans[path].ids:
                broken.append(f"{name}: anchor {href}")
        broken += [f"{name}: image {src}" for src in scan.images
                   if not src.startswith("data:") and not (page.parent / src).is_file()]
    assert not broken, broken


def test_external_links_are_only_references(site: Path) -> None:
    """The site loads nothing from outside; links out are the bibliography's and the theme's."""
    for page in _pages(site):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"https?://", text), page


def test_no_latex_or_markup_source_in_prose(site: Path) -> None:
    leftovers = []
    for page in _pages(site):
        if page.relative_to(site).parts[0] in ("_modules",):
            continue
        scan = _scan(page)
        own = not str(page.relative_to(site)).startswith(QUOTED)
        for chunk in scan.prose:
            if RAW.search(chunk) or (own and PLAIN.search(chunk)):
                leftovers.append(f"{page.relative_to(site)}: {chunk.strip()[:80]!r}")
    assert not leftovers, leftovers[:20]


def test_formulas_are_latex_for_mathjax(site: Path) -> None:
    for name in ("math.html", "walkthrough.html", "divergences/index.html",
                 "divergences/js.html", "claims.html", "index.html"):
        scan = _scan(site / name)
        assert scan.math and all(m.strip().startswith(("\\(", "\\[", "\\begin{")) or not m.strip()
                                 for m in scan.math), name
        assert "_static/mathjax/tex-chtml.js" in (site / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [d.name for d in registered()])
def test_divergence_page_prints_the_derivation(site: Path, name: str) -> None:
    """The page shows SymPy's own f and f′ (its latex()) and Theorem 3.1's verdict for that f."""
    def latex(expr: sp.Expr) -> str:  # as docs.myst.math writes it: bars as \\vert
        return sp.latex(expr).replace("|", r"\vert ")

    d = derive(get_divergence(name))
    page = html.unescape((site / "divergences" / f"{name}.html").read_text(encoding="utf-8"))
    assert f"f(u) = {latex(d.f)}" in page
    if d.differentiable:
        assert f"f'(u) = {latex(d.f1)}" in page
    verdict = "admissible" if d.admissible else "not-admissible"
    assert f"badge-{verdict}" in page
    assert page.count("badge-holds") + page.count("badge-fails") + page.count(
        "badge-not-applicable") >= len(d.checks)


def test_claims_page_follows_the_report(site: Path) -> None:
    """The central claim with its proof (one step per step of the core's), then the paper's
    claims, then the extended checks; every result a row, every REFUTED one with its numbers."""
    from docs.pages.theory import numbers, quantity
    from upo_theory import verify_all

    page = _article(site / "claims.html")
    results = verify_all()
    order = [page.index(f'id="{name}"') for name in ("central-claim", "paper-claims",
                                                       "extended-claims")]
    assert order == sorted(order)
    proof = page[order[0]:order[1]]
    assert proof.count("<li>") >= len(CENTRAL_PROOF)
    statuses = ("PROVEN", "REFUTED", "NOT APPLICABLE", "UNDECIDED")
    rows = sum(len(re.findall(rf">{s}</span>(</p>)?</td>", page[order[1]:])) for s in statuses)
    assert rows == len(results) > 0
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for r in (r for r in results if r.status == "REFUTED"):
        key = next(iter(r.counterexample))
        assert f"\\({quantity(key)}\\)" in text and numbers(r.counterexample[key]) in text


def test_counterexamples_are_typeset_and_eq_22_written_out(site: Path) -> None:
    """No counterexample or witness value is in code type (each is a typeset quantity), eq. 22
    is written out on the report, and eq. 16 is one equation on every page that tags it."""
    page = _article(site / "claims.html")
    for block in re.findall(r"<details.*?</details>", page, flags=re.S):
        assert "<code" not in block and 'class="math' in block
    assert 'id="eq-22"' in page and "\\tag{22}" in page
    sixteen = set()
    for name in ("math.html", "walkthrough.html"):
        found = re.findall(r"\\\[(.*?)\\\]", _article(site / name), flags=re.S)
        sixteen |= {" ".join(html.unescape(f).split()) for f in found if "\\tag{16}" in f}
    assert len(sixteen) == 1, sixteen


def test_getting_started_quotes_the_readme(site: Path) -> None:
    """Every command of the README's quick start and tour is on the page, as the README has it."""
    from docs.myst import readme_section
    from docs.pages.usage import README_SECTIONS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = html.unescape(re.sub(r"<[^>]+>", "", _article(site / "getting-started.html")))
    commands = []
    for title in README_SECTIONS:
        section = readme_section(readme, title) or ""
        commands += re.findall(r"```[a-z]*\n(.*?)\n```", section, flags=re.S)
        commands += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", section, flags=re.S))
    assert commands, "the README has no quick-start command to quote"
    missing = [c for c in commands if c not in page]
    assert not missing, missing


def test_one_statement_of_the_trl_mapping(site: Path) -> None:
    """Every page that names TRL's JS divergence maps it to score_per_token, never to a mean."""
    pages = [p for p in _pages(site) if "js_divergence" in _article(p)]
    assert len(pages) >= 2
    for page in pages:
        text = html.unescape(_article(page))
        assert "score_per_token" in text, page
        assert "up to TRL" not in text and "--length mean" not in text, page


def test_equations_keep_the_papers_numbers(site: Path) -> None:
    for name, numbers in (("math.html", (11, 15, 16)),
                          ("walkthrough.html", (13, 17, 20, 23, 24))):
        page = (site / name).read_text(encoding="utf-8")
        for n in numbers:
            assert f'id="eq-{n}"' in page and f"\\tag{{{n}}}" in page, (name, n)


def test_cli_page_prints_every_help(site: Path) -> None:
    from docs.project import CLI_MODULES

    page = html.unescape(_article(site / "reference" / "cli.html"))
    for name in CLI_MODULES:
        assert f"usage: python -m {name.removesuffix('.__main__')}" in page
    assert "--f" in page and "−−f" not in page


def test_one_api_page_per_module(site: Path) -> None:
    import importlib
    import pkgutil

    from docs.project import API_PACKAGES

    for package in API_PACKAGES:
        root = importlib.import_module(package)
        index = (site / "api" / f"{package}.html").read_text(encoding="utf-8")
        for info in pkgutil.iter_modules(root.__path__):
            name = f"{package}.{info.name}"
            if not info.name.startswith("_") and (site / "api" / f"{name}.html").is_file():
                assert f'href="{name}.html"' in index, name
    losses = (site / "api" / "llm.losses.html").read_text(encoding="utf-8")
    assert 'id="llm.losses.preference_loss"' in losses and "viewcode-link" in losses


def test_use_pages_render_their_sources(site: Path) -> None:
    from docs.pages import usage

    data = html.unescape(_article(site / "use" / "data.html"))
    for fixture in ("hh.jsonl", "shp.json", "trl.jsonl"):
        row = json.loads((usage.FIXTURES / fixture).read_text(encoding="utf-8").splitlines()[0])
        first_key = next(iter(row))
        assert f'"{first_key}"' in data, fixture
    runs = html.unescape(_article(site / "use" / "runs.html"))
    assert "rewards/margins" in runs and "metrics.jsonl" in runs and "llm.experiment" in runs
    loop = html.unescape(re.sub(r"<[^>]+>", "", _article(site / "use" / "loop.html")))
    assert "from llm.losses import preference_loss" in loop


@pytest.mark.parametrize(("page", "targets"), [
    ("use/loop.html", ("llm.losses.html#llm.losses.preference_loss",)),
    ("use/runs.html", ("llm.engine.metrics.html#module-llm.engine.metrics",)),
    ("use/data.html", ("llm.data.pairs.html#llm.data.pairs.PreferencePair",
                       "llm.data.pairs.html#llm.data.pairs.from_hh",
                       "llm.task.html#module-llm.task")),
    ("math.html", ("upo_theory.kernels.html#module-upo_theory.kernels",)),
    ("divergences/index.html", ("upo_theory.derivation.html#upo_theory.derivation.derive",)),
    ("reference/cli.html", ("upo_theory.cli.html#upo_theory.cli.config_parser",)),
])
def test_the_guides_link_the_objects_they_name(site: Path, page: str, targets: tuple) -> None:
    """A guide that names a function, class or module links its API entry (issue 31: prose
    never linked the objects it named)."""
    hrefs = set(re.findall(r'href="(?:\.\./)*api/([^"]+)"', _article(site / page)))
    assert set(targets) <= hrefs, sorted(hrefs)


def test_results_page_is_computed_from_the_committed_csvs(site: Path) -> None:
    page = html.unescape(_article(site / "results" / "index.html"))
    assert "IPO against JS-IUPO" in page and "Against IPO, seed by seed" in page
    assert "2 job(s)" in page  # the report's own words, not a formula
    for image in ("curves-beta0.1.png", "curves-beta0.5.png", "frontier.png"):
        assert (site / "_images" / image).is_file(), image  # one curves figure per β


def test_the_loop_snippet_runs_and_trains(capsys: pytest.CaptureFixture[str]) -> None:
    """The snippet on 'The loss in your code' runs as printed and moves the statistic up."""
    source = (ROOT / "docs" / "source" / "_snippets" / "loop.py").read_text(encoding="utf-8")
    scope: dict = {}
    exec(compile(source, "loop.py", "exec"), scope)
    losses, statistic = scope["losses"], scope["statistic"]
    assert losses.shape == (8,) and bool(losses.isfinite().all())
    assert float(statistic.detach().mean()) > 0  # pushed towards the target 1/(2β) = 5 from 0
    assert "loss" in capsys.readouterr().out


def test_docs_read_the_code_through_one_module() -> None:
    """Only ``docs/project.py`` imports upo_theory, sim or llm (the gallery scripts, examples of
    the public API, aside, and the package's bare ``import upo_theory``, there so that Ctrl-C
    while ``python -m docs`` starts is one line: :mod:`upo_theory.interrupts`), and from
    upo_theory only the public names of its two faces."""
    import upo_theory
    import upo_theory.cli

    faces = {"upo_theory": upo_theory, "upo_theory.cli": upo_theory.cli}
    offenders = []
    for path in sorted((ROOT / "docs").rglob("*.py")):
        if "gallery" in path.parts or "source" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top = node.module.split(".")[0]
            elif isinstance(node, ast.Import):
                top = node.names[0].name.split(".")[0]
            else:
                continue
            startup = (path.name == "__init__.py" and isinstance(node, ast.Import)
                       and node.names[0].name == "upo_theory")
            if top in ("upo_theory", "sim", "llm") and path.name != "project.py" and not startup:
                offenders.append(f"{path.relative_to(ROOT)}: {top}")
            if isinstance(node, ast.ImportFrom) and node.module in faces:
                offenders += [f"{path.name}: {a.name}" for a in node.names
                              if a.name not in faces[node.module].__all__]
    assert not offenders, offenders


def test_run_folders_become_curves_frontier_and_table(tmp_path: Path) -> None:
    from docs.pages import results
    from docs.plots import runs as run_plots

    _fake_run(tmp_path / "sweep" / "ipo", "ipo", 0.1, 0.25)
    _fake_run(tmp_path / "sweep" / "iupo", "iupo", 0.2, 0.75)
    (tmp_path / "sweep" / "not-a-run").mkdir()
    found = run_plots.find_runs([tmp_path])
    assert [p.name for p in found] == ["ipo", "iupo"]
    assert [(r.name, r.beta) for r in map(run_plots.load_run, found)] == [
        ("IPO", 0.1), ("IUPO[js, paper]", 0.2)]
    text = results.runs_section([tmp_path], tmp_path / "img", log=lambda _: None)
    assert "| 0.750 |" in text and "`IUPO[js, paper]`" in text
    for name in ("run_curves.png", "run_frontier.png"):
        assert (tmp_path / "img" / name).stat().st_size > 1000 and f"runs/{name}" in text


def test_bad_runs_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path), "--runs", str(tmp_path / "nope")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope" in err


def test_unknown_plot_mode_is_refused() -> None:
    with pytest.raises(BuildError, match="plots='some'"):
        BuildConfig(plots="some")  # type: ignore[arg-type]


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


def test_screenshot_without_a_site_exits_2(tmp_path: Path, capsys) -> None:
    from docs.screenshot import main as screenshot_main

    assert screenshot_main(["--site", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_markdown_table_cells_keep_their_bars() -> None:
    """A bar inside a cell (an absolute value, code) never splits the cell."""
    from docs.myst import code, math, table

    out = table(["a", "b"], [[code("x | y"), math(sp.Abs(sp.Symbol("u")))]])
    body = out.splitlines()[2]
    assert body.count(" | ") == 1 and "\\vert" in body


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


def test_a_warning_fails_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sphinx runs with -W (nitpicky, nothing suppressed), and a warning it logs without
    failing still stops the build, naming it."""
    import sphinx.cmd.build

    from docs import conf
    from docs.build import SphinxError, _sphinx

    assert conf.nitpicky and not getattr(conf, "suppress_warnings", [])
    seen: list[list[str]] = []

    def fake(args: list[str]) -> int:
        seen.append(args)
        log = Path(args[args.index("-w") + 1])
        log.write_text("x.md:1: WARNING: py:func reference target not found: nowhere\n")
        return 0

    monkeypatch.setattr(sphinx.cmd.build, "build_main", fake)
    with pytest.raises(SphinxError, match=r"1 warning.*nowhere"):
        _sphinx(tmp_path, tmp_path / "out", "none")
    assert "-W" in seen[0]


def test_the_site_built_without_a_warning(site: Path) -> None:
    log = site.parent / f"{site.name}.sources" / "sphinx-warnings.log"
    assert log.read_text(encoding="utf-8").strip() == ""


def _api_ids(site: Path) -> set[str]:
    return {i for page in (site / "api").glob("*.html") for i in _scan(page).ids}


def test_every_public_object_has_an_api_entry(site: Path) -> None:
    """Each module's public objects (its ``__all__``, or what it defines under a public name)
    have an entry, where they are defined; every public module has a page."""
    import importlib
    import inspect

    from docs.pages.reference import api_modules, public_names
    from docs.project import API_PACKAGES

    ids, missing = _api_ids(site), []
    for package in API_PACKAGES:
        for name in [package, *api_modules(package)]:
            module = importlib.import_module(name)
            if not (site / "api" / f"{name}.html").is_file():
                missing.append(f"{name} (no page)")
                continue
            for public in public_names(module):
                obj = getattr(module, public)
                home = (f"{obj.__module__}.{obj.__qualname__}"
                        if inspect.isclass(obj) or inspect.isfunction(obj) else None)
                if f"{name}.{public}" not in ids and home not in ids and not any(
                        i.endswith(f".{public}") and i.startswith(package) for i in ids):
                    missing.append(f"{name}.{public}")
    assert not missing, missing
    assert (site / "api" / "llm.trl.html").is_file()
    assert 'id="llm.trl.UPOTrainer"' in (site / "api" / "llm.trl.html").read_text("utf-8")


def test_no_markup_or_repr_shown_to_readers(site: Path) -> None:
    """No API signature shows a Python repr, no escaped bar shows, and no ``--help`` prints
    reST markup."""
    import importlib

    from docs.project import CLI_MODULES

    reprs = re.compile(r"PosixPath\(|&lt;class '|<class '|&lt;factory&gt;|&lt;function |"
                       r" at 0x[0-9a-f]+")
    for page in (site / "api").glob("*.html"):
        text = _article(page)
        assert not reprs.search(text), (page.name, reprs.search(text).group(0))
        assert "\\|" not in html.unescape(re.sub(r"<[^>]+>", "", text)), page.name
    for name in CLI_MODULES:
        shown = importlib.import_module(name).build_parser().format_help()
        assert not re.search(r"``|:(func|class|mod|meth):`", shown), name


def test_api_index_lists_the_public_objects_by_topic(site: Path) -> None:
    index = _article(site / "api" / "index.html")
    for name in ("upo_theory.derivation.derive", "llm.losses.preference_loss",
                 "llm.trl.UPOTrainer"):
        assert f'href="{name.rsplit(".", 1)[0]}.html#{name}"' in index, name
    assert "genindex.html" in index and "py-modindex.html" in index


def test_home_page_gets_the_code_and_states_the_finding(site: Path) -> None:
    from upo_theory import CENTRAL_CLAIMS, verify_all

    text = html.unescape(re.sub(r"<[^>]+>", "", _article(site / "index.html")))
    refuted = next(r for r in verify_all() if r.claim == CENTRAL_CLAIMS[1]
                   and r.status == "REFUTED" and r.divergence == "js")
    assert refuted.counterexample["total variation"] in text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = next(line for line in readme.splitlines() if "pip install -e" in line
                   and "python -m llm.train" in line)
    assert "git clone" in text and install in text
    assert text.index("git clone") < text.index(install)
    for name in ("cite.html", "changelog.html", "genindex.html", "py-modindex.html"):
        assert (site / name).is_file() and name in _article(site / "index.html"), name


def test_results_page_opens_with_its_verdict(site: Path) -> None:
    text = html.unescape(re.sub(r"<[^>]+>", "", _article(site / "results" / "index.html")))
    assert text.index("What this says") < text.index("Learning rates")
    assert "No run folders" not in text
    assert not (site / "results" / "experiment" / "experiment.html").exists()


def test_the_study_has_a_page_with_its_preregistration(site: Path) -> None:
    """The site carries the study: its pre-registration as written, and its report once its
    CSV files are committed, or that it has no verdict yet (never a look at the endpoint)."""
    from docs.pages.results import INPUTS, STUDY

    text = html.unescape(re.sub(r"<[^>]+>", "", _article(site / "results" / "study.html")))
    registered = (STUDY / "PREREGISTRATION.md").read_text()
    for heading in re.findall(r"(?m)^## (.+)$", registered):
        assert heading in text, heading
    done = all((STUDY / name).is_file() for name in INPUTS)
    assert ("Primary endpoint:" in text) == done and ("The study is running" in text) != done
    index = html.unescape(_article(site / "index.html"))
    assert 'href="results/study.html' in index and "PREREGISTRATION.md" not in index


def test_the_study_page_puts_its_report_before_its_preregistration(tmp_path, monkeypatch):
    """With CSV files beside the pre-registration (here the pilot's, relabelled as a study, so
    nothing of the running study is looked at), the page computes the study's report, its
    primary verdict first, and its figures sit beside the page."""
    import shutil

    from docs.pages import results

    study = tmp_path / "study"
    study.mkdir()
    for name in results.INPUTS:
        shutil.copy(results.RESULTS / name, study / name)
    setup = json.loads((study / "setup.json").read_text())
    (study / "setup.json").write_text(json.dumps({**setup, "protocol": "study"}))
    shutil.copy(results.PREREGISTRATION, study / "PREREGISTRATION.md")
    monkeypatch.setattr(results, "STUDY", study)
    monkeypatch.setattr(results, "PREREGISTRATION", study / "PREREGISTRATION.md")
    text = results.study_page(tmp_path / "page", log=lambda _: None)
    assert text.index("**Primary endpoint:") < text.index("## Pre-registration")
    assert "The study is running" not in text
    assert "](study/frontier.png)" in text
    assert (tmp_path / "page" / "study" / "frontier.png").is_file()


def test_statements_with_latex_are_typeset(site: Path) -> None:
    """A claim that carries its statement in LaTeX (SymPy's) shows it typeset, not in code."""
    from upo_theory import verify_all

    page = html.unescape(_article(site / "claims.html"))
    typeset = {r.statement_latex for r in verify_all() if r.statement_latex}
    assert typeset
    for tex in typeset:
        for formula in re.findall(r"\$(.+?)\$", tex):
            assert formula in page, formula
    assert "f'(pi(y_w)/pi(y_l))" not in page


def test_a_running_study_says_which_units_are_finished_and_nothing_of_their_results(tmp_path):
    """The note of a running study names its finished units from its records' ``units.json``
    (names only); no records, or damaged ones, add nothing."""
    from docs.pages.results import _finished_so_far

    index = tmp_path / "units.json"
    assert _finished_so_far(index) == ""
    index.write_text("{not json")
    assert _finished_so_far(index) == ""
    index.write_text(json.dumps({"units": {"seed-10": {"files": {"x": "0"}}, "selection": {},
                                           "seed-2": {}}}))
    text = _finished_so_far(index)
    assert text.endswith("the learning-rate selection and seeds 2, 10.")
    index.write_text(json.dumps({"units": {"seed-3": {}}}))
    assert _finished_so_far(index).endswith(": seed 3.")
