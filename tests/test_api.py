"""API discipline: every public name is documented, typed and shaped alike.

Walks ``funnelkit.__all__`` (scikit-learn's ``test_public_functions``,
narwhals' ``check_api_reference``).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pandas as pd
import pytest

import funnelkit as fk

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = sorted(
    name
    for name in fk.__all__
    if inspect.isfunction(getattr(fk, name)) and not name.startswith("_")
)
PLOTS = [name for name in FUNCTIONS if name.startswith("plot_")]
#: Public functions that live in submodules, checked like the top-level ones.
SUBMODULE_FUNCTIONS = [
    "datasets.load_sample",
    "datasets.make_events",
    "datasets.load_bank_marketing",
    "datasets.export_sample",
    "crm.read_crm",
    "crm.read_hubspot",
    "crm.read_salesforce",
    "crm.read_pipedrive",
    "crm.read_amocrm",
    "crm.read_bitrix24",
]


def resolve(name: str):
    obj = fk
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def parse_sections(doc: str) -> dict[str, str]:
    """Split a numpydoc docstring into its sections."""
    lines = inspect.cleandoc(doc).splitlines()
    sections: dict[str, list[str]] = {"Summary": []}
    current = "Summary"
    i = 0
    while i < len(lines):
        if i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"} and lines[i].strip():
            current = lines[i].strip()
            sections[current] = []
            i += 2
            continue
        sections[current].append(lines[i])
        i += 1
    return {k: "\n".join(v) for k, v in sections.items()}


def parse_parameters(text: str) -> dict[str, str]:
    """Map each documented parameter to its description block (type line included)."""
    params: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            names = line.split(":")[0]
            current = names
            params[current] = [line]
        elif current is not None:
            params[current].append(line)
    out = {}
    for names, block in params.items():
        for name in names.split(","):
            out[name.strip().lstrip("*")] = "\n".join(block).strip()
    return out


def test_all_is_sorted_and_unique():
    assert len(set(fk.__all__)) == len(fk.__all__)
    assert list(fk.__all__) == sorted(fk.__all__, key=str)


def test_all_names_exist():
    for name in fk.__all__:
        assert hasattr(fk, name), name


@pytest.mark.parametrize("name", FUNCTIONS + SUBMODULE_FUNCTIONS)
def test_signature_data_first_then_keyword_only(name):
    sig = inspect.signature(resolve(name))
    positional = [
        p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    assert len(positional) <= 2, f"{name}: at most data + one defining argument may be positional"
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            assert name.startswith("plot_"), f"{name}: only plot functions take **kwargs"
        assert p.kind is not p.VAR_POSITIONAL, f"{name}: no *args"


@pytest.mark.parametrize("name", FUNCTIONS + SUBMODULE_FUNCTIONS)
def test_fully_typed(name):
    func = resolve(name)
    sig = inspect.signature(func)
    assert sig.return_annotation is not inspect.Signature.empty, f"{name}: no return type"
    for p in sig.parameters.values():
        assert p.annotation is not inspect.Parameter.empty, f"{name}({p.name}) has no type"


@pytest.mark.parametrize("name", FUNCTIONS + SUBMODULE_FUNCTIONS)
def test_numpydoc_sections(name):
    func = resolve(name)
    doc = func.__doc__
    assert doc, f"{name} has no docstring"
    sections = parse_sections(doc)
    expected = [p for p in inspect.signature(func).parameters if p != "kwargs"]
    # numpydoc: a function without parameters has no Parameters section
    required = ("Parameters", "Returns", "Examples") if expected else ("Returns", "Examples")
    for section in required:
        assert section in sections, f"{name}: docstring lacks {section}"
    assert ">>>" in sections["Examples"], f"{name}: Examples has no doctest"
    documented = parse_parameters(sections.get("Parameters", ""))
    missing = [p for p in expected if p not in documented]
    extra = [p for p in documented if p not in expected and p not in ("kwargs", "**kwargs")]
    assert not missing, f"{name}: parameters not documented: {missing}"
    assert not extra, f"{name}: documented but not in the signature: {extra}"


def test_shared_keywords_have_identical_docs():
    """The same keyword with the same default is described word for word the same."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for name in FUNCTIONS:
        func = getattr(fk, name)
        sig = inspect.signature(func)
        params = parse_parameters(parse_sections(func.__doc__ or "").get("Parameters", ""))
        for p in sig.parameters.values():
            if p.kind is not p.KEYWORD_ONLY or p.name in ("ax", "kwargs"):
                continue
            key = (p.name, repr(p.default))
            text = params.get(p.name)
            if text is None:
                continue
            if key in seen and seen[key][0] != text and p.name in SHARED:
                other, other_text = seen[key][1], seen[key][0]
                pytest.fail(
                    f"{name}({p.name}=) is documented differently from {other}:\n"
                    f"{text}\n---\n{other_text}"
                )
            seen.setdefault(key, (text, name))


#: Column-role keywords whose documentation must be shared word for word.
SHARED = {
    "entity",
    "time",
    "event",
    "deal",
    "created",
    "closed",
    "status",
    "won",
    "lost",
    "amount",
    "stage",
    "owner",
    "channel",
    "ci",
    "window",
    "order",
    "ties",
    "attribution",
}


def test_every_public_name_is_in_the_api_reference():
    api = (ROOT / "docs" / "api.md").read_text()
    names = [n for n in fk.__all__ if n != "__version__"] + SUBMODULE_FUNCTIONS
    missing = [n for n in names if not re.search(rf"\b{re.escape(n)}\b", api)]
    assert not missing, f"not listed in docs/api.md: {missing}"


@pytest.mark.parametrize("name", PLOTS)
def test_plot_signature(name):
    sig = inspect.signature(getattr(fk, name))
    assert "ax" in sig.parameters
    assert sig.parameters["ax"].default is None


def test_import_does_not_import_pyplot():
    import subprocess
    import sys

    code = "import sys, funnelkit; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


#: The data table (or what stands for it) each public function takes first.
FIRST = {
    *("events", "deals", "history", "touches", "prospects", "result"),
    *("opportunities", "leads"),  # the deal table of a Salesforce or amoCRM export
    "path",  # read_table
    "target",  # deals_needed, target_probability: no table to read
}
#: The only second positional parameters: required, and defining the question.
SECOND = {"events": {"steps"}, "history": {"stages"}, "deals": {"target"}}
#: Submodule functions whose positional parameters predate the rule (kept as they are).
POSITIONAL_EXCEPTIONS = {
    "crm.read_crm": ("crm", "deals"),  # the export format, then its deal table
    "datasets.export_sample": ("crm", "folder"),  # the format, then where to write
    "datasets.make_events": ("n_events",),  # a generator: the number of rows
}


def positional_parameters(func) -> list[inspect.Parameter]:
    return [
        p
        for p in inspect.signature(func).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


@pytest.mark.parametrize("name", FUNCTIONS + SUBMODULE_FUNCTIONS)
def test_positional_parameter_rule(name):
    """Data first; a second positional only when required and defining the question."""
    positional = positional_parameters(resolve(name))
    names = tuple(p.name for p in positional)
    if name in POSITIONAL_EXCEPTIONS:
        assert names == POSITIONAL_EXCEPTIONS[name]
        return
    if name.startswith("plot_"):
        assert names == ("result",), f"{name}: a plot takes the result first, all else by keyword"
        return
    if not positional:
        return  # no table to read (load_sample, load_bank_marketing)
    first = positional[0]
    assert first.name in FIRST, f"{name}: first positional {first.name!r} is not a data table"
    assert first.default is inspect.Parameter.empty, f"{name}: the data has no default"
    assert len(positional) <= 2, f"{name}: at most data + one defining argument is positional"
    if len(positional) == 2:
        second = positional[1]
        assert second.name in SECOND.get(first.name, set()), (
            f"{name}: {second.name!r} may not be positional after {first.name!r}"
        )
        assert second.default is inspect.Parameter.empty, (
            f"{name}: an optional {second.name!r} must be keyword-only"
        )


def _moved_calls():
    sample = fk.datasets.load_sample(n_leads=300)
    deals, history, stages = sample.deals, sample.history, list(sample.stages)
    as_of = sample.as_of
    return [
        ("pipeline", fk.pipeline, (deals, stages), {"stages": stages}, {"history": history}),
        (
            "deal_entities",
            fk.deal_entities,
            (deals, history),
            {"history": history},
            {"stages": stages, "as_of": as_of},
        ),
        ("lost_deals", fk.lost_deals, (deals, history), {"history": history}, {"stages": stages}),
        (
            "revival_candidates",
            fk.revival_candidates,
            (deals, history),
            {"history": history},
            {"stages": stages, "as_of": as_of},
        ),
    ]


MOVED = ["pipeline", "deal_entities", "lost_deals", "revival_candidates"]


@pytest.mark.parametrize("which", MOVED)
def test_former_second_positional_warns_and_gives_the_keyword_result(which):
    name, func, args, moved, rest = next(c for c in _moved_calls() if c[0] == which)
    (param,) = moved
    assert inspect.signature(func).parameters[param].kind is inspect.Parameter.KEYWORD_ONLY
    expected = func(args[0], **moved, **rest)
    with pytest.warns(FutureWarning) as record:
        got = func(*args, **rest)
    messages = [str(w.message) for w in record if issubclass(w.category, FutureWarning)]
    assert messages == [
        f"{name}(deals, {param}) is now {name}(deals, {param}=...): passing {param} "
        "positionally will stop working in the next release."
    ]
    assert record[0].filename == __file__  # points at the caller
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("which", MOVED)
def test_former_second_positional_given_twice_is_an_error(which):
    _, func, args, moved, rest = next(c for c in _moved_calls() if c[0] == which)
    with pytest.raises(fk.InvalidParameterError, match="both positionally and as"):
        func(*args, **moved, **rest)


def test_one_positional_too_many_is_a_type_error():
    deals = fk.datasets.load_sample(n_leads=200).deals
    with pytest.raises(TypeError, match="positional"):
        fk.pipeline(deals, None, None)


def test_dataset_seed_is_keyword_only_with_a_warning():
    with pytest.warns(
        FutureWarning, match=r"load_sample\(seed\) is now load_sample\(seed=\.\.\.\)"
    ):
        old = fk.datasets.load_sample(3, n_leads=200)
    new = fk.datasets.load_sample(seed=3, n_leads=200)
    pd.testing.assert_frame_equal(old.deals, new.deals)
    with pytest.warns(FutureWarning, match=r"make_events\(n_events, seed\) is now"):
        old_events = fk.datasets.make_events(500, 4)
    pd.testing.assert_frame_equal(old_events, fk.datasets.make_events(500, seed=4))
