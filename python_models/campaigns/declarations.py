"""Experiments as an analyst declares them in ``experiments.yml`` (in SEGMENTS_DATA_DIR), checked on load.

The file::

    experiments:
      - name: spring_winback            # letters, digits, _ and -; unique
        start: 2026-03-01               # customers are assigned from this date on
        control_share: 0.2              # the holdout: share of the audience kept as `control`
        arms:                           # the treatments share the rest by weight; weights sum to 1
          - {name: discount_10, weight: 0.5}
          - {name: free_shipping, weight: 0.5}
        audience: "rfm_segment in ('At Risk', 'Hibernating')"   # SQL filter on customer_360; all when absent
        stratify_by: segment_id         # a customer_360 column; segment_id by default

Every mistake is a :class:`DeclarationError` that names the file, the experiment and the field.
"""

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

CONTROL = "control"
DEFAULT_STRATIFY_BY = "segment_id"
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
WEIGHT_TOLERANCE = 1e-6
KNOWN_FIELDS = {"name", "start", "control_share", "arms", "audience", "stratify_by"}


class _Loader(yaml.SafeLoader):
    """YAML without implicit dates: `start` is checked here, so a bad date names its field."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class DeclarationError(ValueError):
    """A bad experiment declaration or outcomes file; the message names the file and the field."""


@dataclass(frozen=True)
class Experiment:
    """One declared experiment. ``arm_names`` and ``shares`` include the control arm (first).

    Examples
    --------
    >>> e = Experiment("x", dt.date(2026, 1, 1), 0.2, (("a", 0.5), ("b", 0.5)))
    >>> e.arm_names, [round(s, 2) for s in e.shares]
    (('control', 'a', 'b'), [0.2, 0.4, 0.4])
    """

    name: str
    start: dt.date
    control_share: float
    arms: tuple[tuple[str, float], ...]  # (name, weight) of the treatments; weights sum to 1
    audience: str | None = None
    stratify_by: str = DEFAULT_STRATIFY_BY

    @property
    def arm_names(self) -> tuple[str, ...]:
        return (CONTROL, *(name for name, _ in self.arms))

    @property
    def shares(self) -> tuple[float, ...]:
        """The share of the audience each arm gets: the control share, then the rest split by weight."""
        rest = 1.0 - self.control_share
        return (self.control_share, *(rest * weight for _, weight in self.arms))


def load_experiments(path: Path) -> list[Experiment]:
    """The experiments declared in ``path``; an empty list when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        document = yaml.load(path.read_text(), Loader=_Loader) or {}
    except yaml.YAMLError as error:
        raise DeclarationError(f"{path}: not valid YAML: {error}") from error
    return parse_experiments(document, str(path))


def parse_experiments(document: dict, source: str = "experiments.yml") -> list[Experiment]:
    """Check a parsed ``experiments.yml`` and return its experiments.

    Examples
    --------
    >>> doc = {"experiments": [{"name": "x", "start": "2026-01-01", "control_share": 0.5,
    ...                         "arms": [{"name": "a", "weight": 0.6}, {"name": "b", "weight": 0.3}]}]}
    >>> parse_experiments(doc)
    Traceback (most recent call last):
    ...
    python_models.campaigns.declarations.DeclarationError: experiments.yml: experiment 'x', field 'arms': weights sum to 0.9, not 1 (a: 0.6, b: 0.3)
    """
    if not isinstance(document, dict) or not isinstance(document.get("experiments", []), list):
        raise DeclarationError(f"{source}: expected a mapping with a list under 'experiments'")
    experiments = [_experiment(item, i, source) for i, item in enumerate(document.get("experiments") or [])]
    names = [e.name for e in experiments]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DeclarationError(f"{source}: experiment names must be unique; repeated: {', '.join(duplicated)}")
    return experiments


def _experiment(item, index: int, source: str) -> Experiment:
    if not isinstance(item, dict):
        raise DeclarationError(f"{source}: experiment #{index + 1}: expected a mapping")
    name = item.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise DeclarationError(f"{source}: experiment #{index + 1}, field 'name': {name!r} is not a name "
                               "(a letter, then letters, digits, _ or -)")
    where = f"{source}: experiment {name!r}"
    unknown = sorted(set(item) - KNOWN_FIELDS)
    if unknown:
        raise DeclarationError(f"{where}: unknown field(s) {', '.join(unknown)}; known: "
                               f"{', '.join(sorted(KNOWN_FIELDS))}")
    start = item.get("start")
    try:
        start = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
    except ValueError as error:
        raise DeclarationError(f"{where}, field 'start': {start!r} is not a date YYYY-MM-DD") from error
    control = item.get("control_share", 0.0)
    if not isinstance(control, (int, float)) or not 0 <= control < 1:
        raise DeclarationError(f"{where}, field 'control_share': {control!r} is not a share in [0, 1)")
    arms = item.get("arms")
    if not isinstance(arms, list) or not arms:
        raise DeclarationError(f"{where}, field 'arms': expected a list of {{name, weight}}")
    parsed = []
    for arm in arms:
        arm_name = arm.get("name") if isinstance(arm, dict) else None
        weight = arm.get("weight") if isinstance(arm, dict) else None
        if not isinstance(arm_name, str) or not NAME_PATTERN.match(arm_name) or arm_name == CONTROL:
            raise DeclarationError(f"{where}, field 'arms': {arm_name!r} is not an arm name "
                                   f"('{CONTROL}' is the holdout's)")
        if not isinstance(weight, (int, float)) or weight <= 0:
            raise DeclarationError(f"{where}, field 'arms': arm {arm_name!r} needs a positive weight, "
                                   f"got {weight!r}")
        parsed.append((arm_name, float(weight)))
    if len({n for n, _ in parsed}) < len(parsed):
        raise DeclarationError(f"{where}, field 'arms': arm names must be unique")
    total = sum(w for _, w in parsed)
    if abs(total - 1) > WEIGHT_TOLERANCE:
        listed = ", ".join(f"{n}: {w:g}" for n, w in parsed)
        raise DeclarationError(f"{where}, field 'arms': weights sum to {total:g}, not 1 ({listed})")
    audience = item.get("audience")
    if audience is not None and (not isinstance(audience, str) or not audience.strip()):
        raise DeclarationError(f"{where}, field 'audience': expected a SQL filter as text")
    stratify_by = item.get("stratify_by", DEFAULT_STRATIFY_BY)
    if not isinstance(stratify_by, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", stratify_by):
        raise DeclarationError(f"{where}, field 'stratify_by': {stratify_by!r} is not a column name")
    return Experiment(name, start, float(control), tuple(parsed), audience, stratify_by)
