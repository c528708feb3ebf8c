"""The bibliography: the works the site cites, each with a link, and :func:`cite` for pages."""

from __future__ import annotations

from ..html import esc
from ..site import Page

REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("sun", "Sun, H., Zheng, Y., Zhao, Y., Chang, Y. and Wang, X. Generalizing Offline Alignment "
     "Theoretical Paradigm with Diverse Divergence Constraints. The paper this project checks "
     "(UPO, IUPO).",
     "https://arxiv.org/search/?searchtype=title&query=Generalizing+Offline+Alignment+"
     "Theoretical+Paradigm+with+Diverse+Divergence+Constraints"),
    ("azar", "Azar, M. G., Rowland, M., Piot, B., Guo, D., Calandriello, D., Valko, M. and "
     "Munos, R. A General Theoretical Paradigm to Understand Learning from Human Preferences, "
     "2023 (ΨPO, IPO).", "https://arxiv.org/abs/2310.12036"),
    ("rafailov", "Rafailov, R., Sharma, A., Mitchell, E., Ermon, S., Manning, C. D. and Finn, C. "
     "Direct Preference Optimization: Your Language Model is Secretly a Reward Model, 2023 "
     "(DPO).", "https://arxiv.org/abs/2305.18290"),
    ("wang", "Wang, C., Jiang, Y., Yang, C., Liu, H. and Chen, Y. Beyond Reverse KL: "
     "Generalizing Direct Preference Optimization with Diverse Divergence Constraints, 2023 "
     "(f-DPO).", "https://arxiv.org/abs/2309.16240"),
    ("bradley-terry", "Bradley, R. A. and Terry, M. E. Rank Analysis of Incomplete Block "
     "Designs: I. The Method of Paired Comparisons. Biometrika 39, 1952.",
     "https://doi.org/10.2307/2334029"),
    ("bai", "Bai, Y. et al. Training a Helpful and Harmless Assistant with Reinforcement "
     "Learning from Human Feedback, 2022 (the Anthropic HH data).",
     "https://arxiv.org/abs/2204.05862"),
    ("ethayarajh", "Ethayarajh, K., Choi, Y. and Swayamdipta, S. Understanding Dataset "
     "Difficulty with V-Usable Information, ICML 2022 (the Stanford SHP data).",
     "https://arxiv.org/abs/2110.08420"),
    ("radford", "Radford, A., Wu, J., Child, R., Luan, D., Amodei, D. and Sutskever, I. "
     "Language Models are Unsupervised Multitask Learners, 2019 (GPT-2).",
     "https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_"
     "learners.pdf"),
    ("trl", "von Werra, L. et al. TRL: Transformer Reinforcement Learning (DPOTrainer, "
     "its IPO loss and f-divergences).", "https://github.com/huggingface/trl"),
    ("stix", "The STIX Fonts Project. STIX Two Math, the font of this site's mathematics "
     "(SIL Open Font License 1.1).", "https://github.com/stipub/stixfonts"),
)


def cite(key: str, text: str | None = None) -> str:
    """A link to the bibliography entry ``key`` (its number, or ``text``)."""
    keys = [k for k, _, _ in REFERENCES]
    if key not in keys:
        raise KeyError(f"no reference {key!r}; add it to REFERENCES")
    label = esc(text) if text else f"[{keys.index(key) + 1}]"
    return f'<a href="references.html#ref-{key}">{label}</a>'


def references_page() -> Page:
    """The numbered bibliography, each entry with its link."""
    items = "".join(
        f'<li id="ref-{key}">{esc(text)} <a href="{esc(url)}">{esc(_host(url))}</a></li>'
        for key, text, url in REFERENCES
    )
    body = ("<p>The works this site cites. Links lead outside the site; nothing on it needs "
            f'them to be read.</p><ol class="references">{items}</ol>')
    return Page("references.html", "References", "Reference", body,
                "the paper, the methods it builds on, the data and the tools, with links")


def _host(url: str) -> str:
    return url.split("/")[2]
